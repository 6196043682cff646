//! The deprovisioning engine: the one code path, used by the admin API and
//! by SCIM, that takes all access away from a user in one transaction — and
//! the verification that proves it, and reactivation that undoes it.

use serde_json::json;
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::users::{self, find, find_for_update};
use super::{Result, access, mappings, rails};
use crate::api::groups::GroupRef;
use crate::api::rails::HeldAction;
use crate::api::users::{
    Check, DeprovisionReport, DeprovisionState, User, UserRef, VerificationReport,
};
use crate::store::grants::{self, Source};
use crate::store::rails::{self as rail_rows, HeldRow};
use crate::store::users::{self as user_rows, UserRow};
use crate::store::{self, Conn, Store, StoreError, groups, keys, locks, sessions, settings};

/// What started a deprovisioning, for the audit log and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// An operator, through the admin API.
    Admin,
    /// The identity provider, through SCIM.
    Scim,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Admin => "admin",
            Trigger::Scim => "scim",
        }
    }
}

/// `POST /admin/v1/users/{user}/deprovision`.
pub async fn deprovision(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
    reason: Option<&str>,
    dry_run: bool,
) -> Result<DeprovisionReport> {
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    let report = if dry_run {
        plan(&mut tx, &user).await?
    } else {
        deprovision_in(&mut tx, actor, user, reason, Trigger::Admin).await?
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

/// What deprovisioning `user` would remove. Changes nothing.
async fn plan(conn: &mut Conn, user: &UserRow) -> Result<DeprovisionReport, StoreError> {
    let ids = [user.id.as_str()];
    let roles = user_rows::roles_of(conn, &ids)
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let groups = groups::groups_of(conn, &ids)
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let personal_keys = keys::owned_by(conn, &user.id).await?;
    let sessions = sessions::live_for_user(conn, &user.id, store::now()).await?;
    let lock = locks::for_user(conn, &user.id).await?.map(|lock| lock.id);
    let already_deprovisioned = !user.active
        && user.deprovision_state == DeprovisionState::Done
        && roles.is_empty()
        && groups.is_empty()
        && personal_keys.is_empty()
        && sessions.is_empty()
        && lock.is_some();
    Ok(DeprovisionReport {
        user: user_ref(user),
        dry_run: true,
        already_deprovisioned,
        was_active: user.active,
        roles,
        groups: groups
            .into_iter()
            .map(|(id, display_name)| GroupRef { id, display_name })
            .collect(),
        personal_keys,
        sessions,
        lock,
    })
}

/// Deprovisions `user` on `conn` (the caller's transaction): inactive, no
/// roles, no groups, no personal keys, no live sessions, locked; audited with
/// what was removed. A user already fully deprovisioned is left untouched.
pub async fn deprovision_in(
    conn: &mut Conn,
    actor: &Actor,
    user: UserRow,
    reason: Option<&str>,
    trigger: Trigger,
) -> Result<DeprovisionReport> {
    let mut report = plan(conn, &user).await?;
    report.dry_run = false;
    if report.already_deprovisioned {
        return Ok(report);
    }
    let now = store::now();
    let reason = reason.unwrap_or("deprovisioned").to_owned();
    // What was held is what this carries out (or goes further than).
    let held_cleared = rail_rows::clear_all_held(conn, &user.id).await?;
    report.roles = grants::remove_all(conn, &user.id).await?;
    let left: Vec<String> = groups::remove_from_all(conn, &user.id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    groups::touch(conn, &left, now).await?;
    report.personal_keys = keys::delete_owned_by(conn, &user.id).await?;
    report.sessions = sessions::revoke_for_user(conn, &user.id, now).await?;
    let lock_id = Uuid::new_v4().to_string();
    report.lock = Some(locks::ensure(conn, &lock_id, &user.id, &reason, &actor.name, now).await?);
    // A held SCIM DELETE, carried out now, leaves the tombstone it would
    // have left (gone from SCIM, kept for audit and verification).
    let held_delete = held_cleared
        .iter()
        .any(|row| row.action == HeldAction::Delete);
    let updated = UserRow {
        active: false,
        deprovision_state: DeprovisionState::Done,
        deprovisioned_at: Some(now),
        deleted_at: if held_delete {
            Some(now)
        } else {
            user.deleted_at
        },
        updated_at: now,
        ..user
    };
    save(conn, &updated).await?;
    audit::record(
        conn,
        actor,
        "user.deprovision",
        Some(&updated.user_name),
        Outcome::Success,
        json!({
            "id": updated.id,
            "trigger": trigger.as_str(),
            "reason": reason,
            "roles_removed": report.roles,
            "groups_removed": report.groups,
            "personal_keys_deleted": report.personal_keys,
            "sessions_revoked": report.sessions,
            "lock": report.lock,
            "held_cleared": held_reasons(&held_cleared),
            "deleted": held_delete,
        }),
    )
    .await?;
    Ok(report)
}

/// An IdP deactivated `user`: deprovision at once when auto-deprovisioning is
/// on; otherwise mark the user inactive and pending, keeping their access
/// until an operator deprovisions. Returns the report when it deprovisioned.
pub async fn deactivate_in(
    conn: &mut Conn,
    actor: &Actor,
    user: UserRow,
    trigger: Trigger,
) -> Result<Option<DeprovisionReport>> {
    if settings::get(conn).await?.auto_deprovisioning {
        let reason = format!("deactivated by {}", trigger.as_str());
        return deprovision_in(conn, actor, user, Some(&reason), trigger)
            .await
            .map(Some);
    }
    if user.deprovision_state != DeprovisionState::None && !user.active {
        return Ok(None);
    }
    let now = store::now();
    let updated = UserRow {
        active: false,
        deprovision_state: DeprovisionState::Pending,
        updated_at: now,
        ..user
    };
    save(conn, &updated).await?;
    audit::record(
        conn,
        actor,
        "user.deprovision_pending",
        Some(&updated.user_name),
        Outcome::Success,
        json!({
            "id": updated.id,
            "trigger": trigger.as_str(),
            "why": "auto-deprovisioning is off: access stays until `scimctl users deprovision`",
        }),
    )
    .await?;
    Ok(None)
}

/// `POST /admin/v1/users/{user}/deactivate`: what an IdP deactivation does,
/// for operators and tests. The report is there when it deprovisioned.
pub async fn deactivate(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
) -> Result<(User, Option<DeprovisionReport>)> {
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    let id = user.id.clone();
    let report = deactivate_in(&mut tx, actor, user, Trigger::Admin).await?;
    let user = reload(&mut tx, &id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok((user, report))
}

/// Reactivates `user` on `conn`: active, the lock lifted, the default role
/// given again, and the roles current mappings grant. Memberships come back
/// only as the IdP pushes them.
pub async fn reactivate_in(
    conn: &mut Conn,
    actor: &Actor,
    user: UserRow,
    reason: Option<&str>,
    trigger: Trigger,
) -> Result<()> {
    if user.deleted_at.is_some()
        && let Some(holder) = user_rows::find_by_user_name(conn, &user.user_name).await?
        && holder.id != user.id
    {
        return Err(super::Error::Conflict(format!(
            "user {} was deleted and its userName {:?} now belongs to another user ({}); \
             a deleted record whose name was reused cannot come back",
            user.id, user.user_name, holder.id
        )));
    }
    let now = store::now();
    // Back to active: whatever was held for the user no longer applies.
    let held_cleared = rail_rows::clear_all_held(conn, &user.id).await?;
    let lock_lifted = locks::remove_for_user(conn, &user.id).await?;
    let default_role = settings::get(conn).await?.default_role;
    let had_roles = !user_rows::roles_of(conn, &[user.id.as_str()])
        .await?
        .is_empty();
    if !had_roles {
        let by = actor.grantor();
        grants::grant(conn, &user.id, &default_role, &Source::Default, now, &by).await?;
    }
    let updated = UserRow {
        active: true,
        deprovision_state: DeprovisionState::None,
        deprovisioned_at: None,
        deleted_at: None,
        updated_at: now,
        ..user
    };
    save(conn, &updated).await?;
    audit::record(
        conn,
        actor,
        "user.reactivate",
        Some(&updated.user_name),
        Outcome::Success,
        json!({
            "id": updated.id,
            "trigger": trigger.as_str(),
            "reason": reason,
            "lock_lifted": lock_lifted,
            "role_given": (!had_roles).then_some(default_role),
            "held_cleared": held_reasons(&held_cleared),
        }),
    )
    .await?;
    // The roles mappings grant for the memberships and SCIM roles the user
    // has now (memberships pushed while they were inactive count).
    mappings::follow(conn, actor, std::slice::from_ref(&updated.id), trigger).await?;
    Ok(())
}

/// `POST /admin/v1/users/{user}/reactivate`.
pub async fn reactivate(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
    reason: Option<&str>,
) -> Result<User> {
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    let id = user.id.clone();
    reactivate_in(&mut tx, actor, user, reason, Trigger::Admin).await?;
    let user = reload(&mut tx, &id).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(user)
}

/// `GET /admin/v1/users/{user}/deprovision`: each thing a deprovisioned user
/// must have lost, checked against the database now, with what was found.
pub async fn verify(store: &Store, id_or_name: &str) -> Result<VerificationReport> {
    let mut conn = store.conn().await?;
    let user = find(&mut conn, id_or_name).await?;
    let plan = plan(&mut conn, &user).await?;
    let access = access::of_user(&mut conn, &user).await?;
    let listed = |label: &str, items: &[String]| {
        if items.is_empty() {
            format!("{label}: none")
        } else {
            format!("{label}: {}", items.join(", "))
        }
    };
    let group_names: Vec<String> = plan
        .groups
        .iter()
        .map(|group| group.display_name.clone())
        .collect();
    let checks = vec![
        Check {
            name: "inactive".to_owned(),
            passed: !access.active,
            evidence: format!("active: {}", user.active && user.deleted_at.is_none()),
        },
        Check {
            name: "no_roles".to_owned(),
            passed: plan.roles.is_empty(),
            evidence: listed("roles", &plan.roles),
        },
        Check {
            name: "no_groups".to_owned(),
            passed: plan.groups.is_empty(),
            evidence: listed("groups", &group_names),
        },
        Check {
            name: "no_personal_keys".to_owned(),
            passed: plan.personal_keys.is_empty(),
            evidence: listed("usable personal keys", &plan.personal_keys),
        },
        Check {
            name: "no_live_sessions".to_owned(),
            passed: plan.sessions.is_empty(),
            evidence: listed("live sessions", &plan.sessions),
        },
        Check {
            name: "lock_present".to_owned(),
            passed: access.locked,
            evidence: match &plan.lock {
                Some(id) => format!("lock {id}"),
                None => "no lock".to_owned(),
            },
        },
    ];
    let held = rail_rows::held_of(&mut conn, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    Ok(VerificationReport {
        user: user_ref(&user),
        deprovisioned: checks.iter().all(|check| check.passed),
        checks,
        held: rails::to_api(held),
    })
}

/// `["deactivate: protected", …]`, for the audit details.
fn held_reasons(held: &[HeldRow]) -> Vec<String> {
    held.iter()
        .map(|row| format!("{}: {}", row.action.as_str(), row.reason.as_str()))
        .collect()
}

/// Writes the user back; the row was read in this transaction, so a
/// version mismatch means a concurrent writer — refuse rather than overwrite.
async fn save(conn: &mut Conn, user: &UserRow) -> Result<()> {
    if user_rows::update(conn, user).await? {
        Ok(())
    } else {
        Err(super::Error::Conflict(format!(
            "user {} changed while this request ran; retry it",
            user.user_name
        )))
    }
}

async fn reload(conn: &mut Conn, id: &str) -> Result<User> {
    let row = find(conn, id).await?;
    Ok(users::assemble(conn, vec![row]).await?.remove(0))
}

fn user_ref(user: &UserRow) -> UserRef {
    UserRef {
        id: user.id.clone(),
        user_name: user.user_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::scope::Scope;
    use crate::api::users::DeprovisionState;
    use crate::domain::test_store::TestStore;
    use crate::domain::{sessions as session_rules, users as user_rules};

    /// A user with everything deprovisioning takes away: a role, a group, a
    /// personal key and a live session. Their session token.
    async fn gus(test: &TestStore) -> String {
        test.user("gus", &["auditor"], &["Ops"]).await;
        test.key(&[Scope::UsersRead], Some("gus")).await;
        session_rules::issue(&test.store, &Actor::system(), "gus", None)
            .await
            .expect("a session")
            .token
    }

    async fn deprovisions_recorded(store: &Store) -> usize {
        let rows = sqlx::query("SELECT id FROM audit_log WHERE action = 'user.deprovision'")
            .fetch_all(&mut *store.conn().await.expect("connection"))
            .await
            .expect("audit entries");
        rows.len()
    }

    #[tokio::test]
    async fn deprovisioning_takes_everything_at_once_and_verify_proves_it() {
        let test = TestStore::new().await;
        let session = gus(&test).await;
        let store = &test.store;
        let before = verify(store, "gus").await.expect("verify");
        assert!(!before.deprovisioned);

        let report = deprovision(store, &Actor::system(), "gus", Some("left"), false)
            .await
            .expect("deprovision");
        assert!(!report.already_deprovisioned && report.was_active);
        assert_eq!(report.roles, ["auditor"]);
        assert_eq!(report.groups.len(), 1);
        assert_eq!((report.personal_keys.len(), report.sessions.len()), (1, 1));
        assert!(report.lock.is_some());
        let after = verify(store, "gus").await.expect("verify");
        assert!(after.deprovisioned, "{:?}", after.checks);
        let introspected = session_rules::introspect(store, &session)
            .await
            .expect("introspect");
        assert!(!introspected.active);
        assert_eq!(deprovisions_recorded(store).await, 1);

        // Again: nothing left to take, nothing written.
        let again = deprovision(store, &Actor::system(), "gus", None, false)
            .await
            .expect("deprovision again");
        assert!(again.already_deprovisioned);
        assert_eq!(deprovisions_recorded(store).await, 1);
    }

    #[tokio::test]
    async fn a_dry_run_reports_and_changes_nothing() {
        let test = TestStore::new().await;
        gus(&test).await;
        let store = &test.store;
        let report = deprovision(store, &Actor::system(), "gus", None, true)
            .await
            .expect("dry run");
        assert!(report.dry_run);
        assert_eq!(report.roles, ["auditor"]);
        assert!(report.lock.is_none());
        assert!(!verify(store, "gus").await.expect("verify").deprovisioned);
        assert_eq!(deprovisions_recorded(store).await, 0);
    }

    #[tokio::test]
    async fn with_auto_deprovisioning_off_deactivation_is_held_as_pending() {
        let test = TestStore::new().await;
        gus(&test).await;
        let store = &test.store;
        sqlx::query("UPDATE settings SET auto_deprovisioning = FALSE WHERE id = 1")
            .execute(&mut *store.conn().await.expect("connection"))
            .await
            .expect("turn auto-deprovisioning off");
        let (user, report) = deactivate(store, &Actor::system(), "gus")
            .await
            .expect("deactivate");
        assert!(report.is_none());
        assert!(!user.active);
        assert_eq!(user.deprovisioning, DeprovisionState::Pending);
        assert_eq!(
            user.roles,
            ["auditor"],
            "access stays until an operator acts"
        );
        deprovision(store, &Actor::system(), "gus", None, false)
            .await
            .expect("the operator deprovisions");
        assert!(verify(store, "gus").await.expect("verify").deprovisioned);
    }

    #[tokio::test]
    async fn reactivation_lifts_the_lock_and_gives_the_default_role_only() {
        let test = TestStore::new().await;
        gus(&test).await;
        let store = &test.store;
        deprovision(store, &Actor::system(), "gus", None, false)
            .await
            .expect("deprovision");
        let user = reactivate(store, &Actor::system(), "gus", None)
            .await
            .expect("reactivate");
        assert!(user.active && !user.locked);
        assert_eq!(user.roles, ["member"]);
        assert!(
            user.groups.is_empty(),
            "groups come back only as the IdP pushes them"
        );
        let shown = user_rules::show(store, "gus").await.expect("show");
        assert_eq!(shown.deprovisioning, DeprovisionState::None);
    }
}
