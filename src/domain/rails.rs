//! Safety rails on SCIM deprovisioning (issue 10): the one decision every
//! SCIM deactivation and deletion goes through — carried out, or held with a
//! reason (protected user, last admin, open circuit breaker) — and what
//! operators do about it: protecting users, and showing, releasing or
//! resetting the breaker.
//!
//! A held change leaves the user inactive to the IdP and pending, with
//! everything they had (nothing is torn down), and a `held_changes` row that
//! says why. `users deprovision` applies it, an IdP reactivation or `users
//! reactivate` discards it.

use std::collections::BTreeSet;

use serde_json::json;
use time::Duration;
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::deprovision::{self, Trigger};
use super::users::{self, find, find_for_update};
use super::{Error, Result, ceiling, guards};
use crate::api::rails::{
    BREAKER_PERCENT as PERCENT, BREAKER_WINDOW_SECONDS as WINDOW_SECONDS, BreakerChange,
    BreakerOutcome, BreakerState, BreakerStatus, Held, HeldAction, HeldUser, HoldReason,
};
use crate::api::users::{DeprovisionState, User, UserRef};
use crate::store::rails::{self as rail_rows, BreakerRow, HeldRow};
use crate::store::users::{self as user_rows, UserRow};
use crate::store::{self, Conn, Store, StoreError, settings};

/// Whether a SCIM deprovisioning of `user` must be held, and if so holds
/// it: the user inactive and pending, nothing torn down, a held row and an
/// audit entry. `None`: carry it out (and it now counts in the breaker's
/// window). Runs in the request's transaction, under the breaker row lock,
/// which serialises this decision across requests and replicas.
pub async fn judge_scim(
    conn: &mut Conn,
    actor: &Actor,
    user: &UserRow,
    action: HeldAction,
) -> Result<Option<HoldReason>> {
    rail_rows::lock_breaker(conn).await?;
    // A user already held stays held, for the same reason: a DELETE after a
    // held deactivation is the same change pushed further, and only an
    // operator or the IdP's reactivation ends a hold.
    let already = rail_rows::held_of(conn, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default()
        .into_iter()
        .find(|row| row.action != HeldAction::RevokeRole)
        .map(|row| row.reason);
    let reason = if already.is_some() {
        already
    } else if rail_rows::is_protected(conn, &user.id).await? {
        Some(HoldReason::Protected)
    } else if guards::is_last_admin(conn, &user.id).await? {
        Some(HoldReason::LastAdmin)
    } else if user.deprovision_state == DeprovisionState::None {
        // Only a user not yet on their way out counts: a DELETE after a
        // deactivation is one leaver, not two.
        breaker_allows(conn, actor, user).await?
    } else {
        None
    };
    if let Some(reason) = reason {
        hold(conn, actor, user, action, reason).await?;
    }
    Ok(reason)
}

/// Counts one SCIM deprovisioning against the window, or opens the breaker
/// (and answers [`HoldReason::Breaker`]) when it would exceed the limit.
async fn breaker_allows(
    conn: &mut Conn,
    actor: &Actor,
    user: &UserRow,
) -> Result<Option<HoldReason>> {
    let breaker = rail_rows::breaker(conn).await?;
    if breaker.opened_at.is_some() {
        return Ok(Some(HoldReason::Breaker));
    }
    let now = store::now();
    let since = now - Duration::seconds(breaker.window_seconds);
    let in_window = rail_rows::events_since(conn, since).await?;
    let base = rail_rows::count_active_users(conn).await? + in_window;
    let limit = limit(&breaker, base);
    if in_window >= limit {
        rail_rows::set_opened_at(conn, Some(now)).await?;
        audit::record(
            conn,
            actor,
            "provisioning.breaker_open",
            Some("breaker"),
            Outcome::Success,
            json!({
                "in_window": in_window,
                "limit": limit,
                "window_seconds": breaker.window_seconds,
                "first_held": user.user_name,
            }),
        )
        .await?;
        return Ok(Some(HoldReason::Breaker));
    }
    let event = Uuid::new_v4().to_string();
    rail_rows::record_event(conn, &event, &user.id, now, since).await?;
    Ok(None)
}

/// How many SCIM deprovisionings a window allows: the threshold, or the
/// percentage of `base` users (rounded down) when that is larger.
fn limit(breaker: &BreakerRow, base: i64) -> i64 {
    breaker.threshold.max(base * breaker.percent / 100)
}

/// Holds `action` on `user` for `reason`. One held deprovisioning per user:
/// a DELETE after a held deactivation replaces it.
async fn hold(
    conn: &mut Conn,
    actor: &Actor,
    user: &UserRow,
    action: HeldAction,
    reason: HoldReason,
) -> Result<()> {
    let now = store::now();
    rail_rows::clear_held_deprovisionings(conn, &user.id).await?;
    rail_rows::insert_held(
        conn,
        &HeldRow {
            id: Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            action,
            role_name: None,
            source: None,
            reason,
            created_at: now,
            actor_name: actor.name.clone(),
            request_id: actor.request_id.clone(),
        },
    )
    .await?;
    if user.active || user.deprovision_state == DeprovisionState::None {
        let updated = UserRow {
            active: false,
            deprovision_state: DeprovisionState::Pending,
            updated_at: now,
            ..user.clone()
        };
        if !user_rows::update(conn, &updated).await? {
            return Err(Error::PreconditionFailed(format!(
                "user {} changed while this request ran; read it again and retry",
                user.id
            )));
        }
    }
    audit::record(
        conn,
        actor,
        "user.deprovision_held",
        Some(&user.user_name),
        Outcome::Success,
        json!({
            "id": user.id,
            "action": action.as_str(),
            "reason": reason.as_str(),
            "why": why(reason),
        }),
    )
    .await?;
    Ok(())
}

/// The reason in words, for the audit log.
fn why(reason: HoldReason) -> &'static str {
    match reason {
        HoldReason::Protected => {
            "the user is protected: `scimctl users deprovision` applies it, `scimctl users unprotect` lets the IdP's next change through"
        }
        HoldReason::LastAdmin => {
            "the user is the last active admin: give another user the admin role, then `scimctl users deprovision`"
        }
        HoldReason::Breaker => {
            "the circuit breaker is open: `scimctl provisioning breaker release` applies the held deprovisionings, `reset` discards them"
        }
    }
}

/// Held rows as the API shows them.
pub fn to_api(rows: Vec<HeldRow>) -> Vec<Held> {
    rows.into_iter()
        .map(|row| Held {
            action: row.action,
            reason: row.reason,
            role: row.role_name,
            source: row.source,
            since: row.created_at,
        })
        .collect()
}

/// `POST /admin/v1/users/{user}/protect`.
pub async fn protect(store: &Store, actor: &Actor, id_or_name: &str) -> Result<User> {
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    if rail_rows::protect(&mut tx, &user.id, &actor.name, store::now()).await? {
        audit::record(
            &mut tx,
            actor,
            "user.protect",
            Some(&user.user_name),
            Outcome::Success,
            json!({ "id": user.id }),
        )
        .await?;
    }
    let shown = reload(&mut tx, &user.id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(shown)
}

/// `POST /admin/v1/users/{user}/unprotect`. Lifting the protection lets
/// the IdP take the user's roles away: the caller must hold what those
/// roles grant (the privilege ceiling). Changes already held stay held.
pub async fn unprotect(store: &Store, actor: &Actor, id_or_name: &str) -> Result<User> {
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    let roles = user_rows::roles_of(&mut tx, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let what = format!("unprotect user {}", user.user_name);
    ceiling::check_roles(&mut tx, actor, &roles, &what).await?;
    if rail_rows::unprotect(&mut tx, &user.id).await? {
        audit::record(
            &mut tx,
            actor,
            "user.unprotect",
            Some(&user.user_name),
            Outcome::Success,
            json!({ "id": user.id }),
        )
        .await?;
    }
    let shown = reload(&mut tx, &user.id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(shown)
}

async fn reload(conn: &mut Conn, id: &str) -> Result<User> {
    let row = find(conn, id).await?;
    Ok(users::assemble(conn, vec![row]).await?.remove(0))
}

/// `GET /admin/v1/provisioning/breaker`.
pub async fn status(store: &Store) -> Result<BreakerStatus> {
    let mut conn = store.conn().await?;
    let breaker = rail_rows::breaker(&mut conn).await?;
    let since = store::now() - Duration::seconds(breaker.window_seconds);
    let in_window = rail_rows::events_since(&mut conn, since).await?;
    let base = rail_rows::count_active_users(&mut conn).await? + in_window;
    let held = held_users(&mut conn).await?;
    Ok(BreakerStatus {
        state: state_of(&breaker),
        opened_at: breaker.opened_at,
        threshold: to_u32(breaker.threshold),
        percent: to_u32(breaker.percent),
        window_seconds: to_u32(breaker.window_seconds),
        base_users: to_u64(base),
        limit: to_u64(limit(&breaker, base)),
        in_window: to_u64(in_window),
        held,
    })
}

/// Whether the breaker is open, for `/metrics`.
pub async fn is_open(store: &Store) -> Result<bool> {
    let mut conn = store.conn().await?;
    Ok(rail_rows::breaker(&mut conn).await?.opened_at.is_some())
}

fn state_of(breaker: &BreakerRow) -> BreakerState {
    match breaker.opened_at {
        Some(_) => BreakerState::Open,
        None => BreakerState::Closed,
    }
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

async fn held_users(conn: &mut Conn) -> Result<Vec<HeldUser>, StoreError> {
    Ok(rail_rows::held_for(conn, HoldReason::Breaker)
        .await?
        .into_iter()
        .map(|row| HeldUser {
            user: UserRef {
                id: row.held.user_id.clone(),
                user_name: row.user_name,
            },
            held: to_api(vec![row.held]).remove(0),
        })
        .collect())
}

/// `POST /admin/v1/provisioning/breaker/release`: carries out exactly the
/// deprovisionings the breaker holds, as they would have been (with
/// auto-deprovisioning on, the users lose their access; off, they stay
/// pending; a held DELETE becomes a tombstone), then closes the breaker and
/// empties its window. `dry_run` lists them and changes nothing.
pub async fn release(store: &Store, actor: &Actor, dry_run: bool) -> Result<BreakerChange> {
    let (held, state, auto) = {
        let mut conn = store.conn().await?;
        let breaker = rail_rows::breaker(&mut conn).await?;
        let auto = settings::get(&mut conn).await?.auto_deprovisioning;
        (held_users(&mut conn).await?, state_of(&breaker), auto)
    };
    let outcome = if auto {
        BreakerOutcome::Deprovisioned
    } else {
        BreakerOutcome::Pending
    };
    if dry_run {
        return Ok(BreakerChange {
            dry_run,
            outcome,
            users: held.into_iter().map(|held| held.user).collect(),
            state,
        });
    }
    // One transaction per user, each locking only that user: the breaker
    // row is locked last, on its own, so this never waits in the opposite
    // order of a SCIM request (user, then breaker).
    let mut done = Vec::new();
    for held in held {
        let mut tx = store.begin().await?;
        let Some(user) = user_rows::get_for_update(&mut tx, &held.user.id).await? else {
            continue;
        };
        let cleared = rail_rows::clear_held_deprovisionings(&mut tx, &user.id).await?;
        // Gone meanwhile (the IdP reactivated them, an operator acted).
        let Some(row) = cleared.iter().find(|row| row.reason == HoldReason::Breaker) else {
            continue;
        };
        let action = row.action;
        carry_out(&mut tx, actor, user, action).await?;
        tx.commit().await.map_err(StoreError::from)?;
        done.push(held.user);
    }
    close(store, actor, "provisioning.breaker_release", &done, outcome).await?;
    Ok(BreakerChange {
        dry_run,
        outcome,
        users: done,
        state: BreakerState::Closed,
    })
}

/// What the held SCIM request would have done: the deactivation through
/// the engine and, for a DELETE, the tombstone.
async fn carry_out(
    conn: &mut Conn,
    actor: &Actor,
    user: UserRow,
    action: HeldAction,
) -> Result<()> {
    let id = user.id.clone();
    let reason = "released from the circuit breaker";
    if settings::get(conn).await?.auto_deprovisioning {
        deprovision::deprovision_in(conn, actor, user, Some(reason), Trigger::Admin).await?;
    }
    if action == HeldAction::Delete {
        let row = user_rows::get(conn, &id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {id} was removed meanwhile")))?;
        let now = store::now();
        let tombstone = UserRow {
            deleted_at: Some(now),
            updated_at: now,
            ..row
        };
        if !user_rows::update(conn, &tombstone).await? {
            return Err(Error::Conflict(format!(
                "user {} changed while this request ran; retry",
                tombstone.user_name
            )));
        }
        audit::record(
            conn,
            actor,
            "user.delete",
            Some(&tombstone.user_name),
            Outcome::Success,
            json!({ "id": tombstone.id, "released": true }),
        )
        .await?;
    }
    Ok(())
}

/// `POST /admin/v1/provisioning/breaker/reset`: discards the held
/// deprovisionings. Nothing was torn down, so the users are made active
/// again with the access they kept (as `users reactivate` does); if the IdP
/// meant it, its next push deactivates them again, and counts anew. Giving
/// access back is a grant: the caller must hold what the users' roles grant.
pub async fn reset(store: &Store, actor: &Actor) -> Result<BreakerChange> {
    let held = {
        let mut conn = store.conn().await?;
        let held = held_users(&mut conn).await?;
        let ids: Vec<&str> = held.iter().map(|held| held.user.id.as_str()).collect();
        let roles: BTreeSet<String> = user_rows::roles_of(&mut conn, &ids)
            .await?
            .into_values()
            .flatten()
            .collect();
        let roles: Vec<String> = roles.into_iter().collect();
        ceiling::check_roles(
            &mut conn,
            actor,
            &roles,
            "give the held users their access back",
        )
        .await?;
        held
    };
    let mut done = Vec::new();
    for held in held {
        let mut tx = store.begin().await?;
        let Some(user) = user_rows::get_for_update(&mut tx, &held.user.id).await? else {
            continue;
        };
        let still_held = rail_rows::held_of(&mut tx, &[user.id.as_str()])
            .await?
            .remove(&user.id)
            .unwrap_or_default()
            .iter()
            .any(|row| row.reason == HoldReason::Breaker);
        if !still_held {
            continue;
        }
        let reason = Some("circuit breaker reset: the held deprovisioning was discarded");
        deprovision::reactivate_in(&mut tx, actor, user, reason, Trigger::Admin).await?;
        tx.commit().await.map_err(StoreError::from)?;
        done.push(held.user);
    }
    close(
        store,
        actor,
        "provisioning.breaker_reset",
        &done,
        BreakerOutcome::Restored,
    )
    .await?;
    Ok(BreakerChange {
        dry_run: false,
        outcome: BreakerOutcome::Restored,
        users: done,
        state: BreakerState::Closed,
    })
}

/// Closes the breaker and empties its window, audited with the users dealt
/// with.
async fn close(
    store: &Store,
    actor: &Actor,
    action: &str,
    users: &[UserRef],
    outcome: BreakerOutcome,
) -> Result<()> {
    let mut tx = store.begin().await?;
    rail_rows::lock_breaker(&mut tx).await?;
    let was_open = rail_rows::breaker(&mut tx).await?.opened_at.is_some();
    rail_rows::set_opened_at(&mut tx, None).await?;
    rail_rows::clear_events(&mut tx).await?;
    let names: Vec<&str> = users.iter().map(|user| user.user_name.as_str()).collect();
    audit::record(
        &mut tx,
        actor,
        action,
        Some("breaker"),
        Outcome::Success,
        json!({
            "was_open": was_open,
            "outcome": outcome,
            "users": names,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// The breaker's thresholds after `PATCH /settings`, checked: a bad value
/// is refused with what would be accepted.
pub fn thresholds(
    old: &BreakerRow,
    threshold: Option<u32>,
    percent: Option<u32>,
    window_seconds: Option<u32>,
) -> Result<BreakerRow> {
    if threshold == Some(0) {
        return Err(Error::Invalid(
            "breaker_threshold 0 would hold every SCIM deprovisioning: use 1 or more".to_owned(),
        ));
    }
    if let Some(percent) = percent.filter(|percent| !PERCENT.contains(percent)) {
        return Err(Error::Invalid(format!(
            "breaker_percent {percent} is out of range: use {} to {}",
            PERCENT.start(),
            PERCENT.end()
        )));
    }
    if let Some(window) = window_seconds.filter(|window| !WINDOW_SECONDS.contains(window)) {
        return Err(Error::Invalid(format!(
            "breaker_window_seconds {window} is out of range: use {} (a minute) to {} (a day)",
            WINDOW_SECONDS.start(),
            WINDOW_SECONDS.end()
        )));
    }
    Ok(BreakerRow {
        threshold: threshold.map_or(old.threshold, i64::from),
        percent: percent.map_or(old.percent, i64::from),
        window_seconds: window_seconds.map_or(old.window_seconds, i64::from),
        opened_at: old.opened_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim_users;
    use crate::domain::test_store::TestStore;
    use crate::scim::etag::Preconditions;
    use crate::scim::resource::BaseUrl;
    use serde_json::Value;

    fn base() -> BaseUrl {
        BaseUrl("http://scim.test/scim/v2".to_owned())
    }

    /// Creates `name` over SCIM, active or not; its id.
    async fn scim_user(store: &Store, name: &str, active: bool) -> String {
        let settings = settings::get(&mut store.conn().await.expect("connection"))
            .await
            .expect("settings");
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
            "active": active,
        });
        let written = scim_users::create(store, &Actor::system(), &settings, &body, &base())
            .await
            .expect("create");
        written.resource["id"].as_str().expect("id").to_owned()
    }

    async fn deactivate(store: &Store, id: &str) -> scim_users::Written {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "active", "value": false }],
        });
        scim_users::patch(
            store,
            &Actor::system(),
            id,
            &body,
            &Preconditions::default(),
            &base(),
        )
        .await
        .expect("patch")
    }

    async fn scalar(store: &Store, sql: &str) -> Value {
        use sqlx::Row as _;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *store.conn().await.expect("connection"))
            .await
            .expect("query");
        json!(row.try_get::<i64, _>(0).expect("a number"))
    }

    #[tokio::test]
    async fn users_created_inactive_are_not_leavers_and_the_rest_count() {
        let test = TestStore::new().await;
        let store = &test.store;
        sqlx::query("UPDATE breaker SET threshold = 1, percent = 1 WHERE id = 1")
            .execute(&mut *store.conn().await.expect("connection"))
            .await
            .expect("a low threshold");
        for name in ["imported1", "imported2", "imported3"] {
            scim_user(store, name, false).await;
        }
        let count = "SELECT COUNT(*) FROM breaker_events";
        assert_eq!(scalar(store, count).await, json!(0));
        let first = scim_user(store, "dan", true).await;
        let second = scim_user(store, "eve", true).await;
        let written = deactivate(store, &first).await;
        assert!(written.deprovisioned && written.held.is_none());
        let written = deactivate(store, &second).await;
        assert_eq!(
            (written.deprovisioned, written.held),
            (false, Some(HoldReason::Breaker))
        );
        assert_eq!(written.resource["active"], false);
        let status = status(store).await.expect("status");
        assert_eq!(status.state, BreakerState::Open);
        assert_eq!(
            status
                .held
                .iter()
                .map(|held| held.user.user_name.as_str())
                .collect::<Vec<_>>(),
            ["eve"]
        );

        // A DELETE of the held user is held for the same reason, replaces
        // the held deactivation, and leaves no tombstone.
        let deleted =
            scim_users::delete(store, &Actor::system(), &second, &Preconditions::default())
                .await
                .expect("delete");
        assert_eq!(deleted.held, Some(HoldReason::Breaker));
        assert!(
            scim_users::get(store, &second, &base()).await.is_ok(),
            "no tombstone"
        );
        let held = super::status(store).await.expect("status").held;
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].held.action, HeldAction::Delete);
    }

    fn breaker(threshold: i64, percent: i64) -> BreakerRow {
        BreakerRow {
            threshold,
            percent,
            window_seconds: 600,
            opened_at: None,
        }
    }

    #[test]
    fn the_limit_is_the_larger_of_threshold_and_share() {
        assert_eq!(limit(&breaker(25, 10), 220), 25);
        assert_eq!(limit(&breaker(25, 10), 1000), 100);
        assert_eq!(limit(&breaker(25, 10), 259), 25, "25.9 rounds down");
        assert_eq!(limit(&breaker(1, 100), 7), 7);
    }

    #[test]
    fn bad_thresholds_are_refused_with_the_range() {
        let old = breaker(25, 10);
        for (threshold, percent, window, says) in [
            (Some(0), None, None, "use 1 or more"),
            (None, Some(0), None, "use 1 to 100"),
            (None, Some(101), None, "use 1 to 100"),
            (None, None, Some(59), "use 60 (a minute) to 86400"),
        ] {
            let err = thresholds(&old, threshold, percent, window).expect_err(says);
            assert!(err.to_string().contains(says), "{err}");
        }
        let new = thresholds(&old, Some(5), Some(50), Some(60)).expect("in range");
        assert_eq!(
            (new.threshold, new.percent, new.window_seconds),
            (5, 50, 60)
        );
    }
}
