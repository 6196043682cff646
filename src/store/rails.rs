//! The safety rails' tables (migration 0007): `protected_users`,
//! `held_changes`, the one-row `breaker` and its window, `breaker_events`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::sql::Conditions;
use super::users::state_text;
use super::{Conn, StoreError, from_millis, to_millis};
use crate::api::rails::{HeldAction, HoldReason};
use crate::api::users::DeprovisionState;

/// Whether `user_id` is protected.
pub async fn is_protected(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS one FROM protected_users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(row.is_some())
}

/// Which of `ids` are protected.
pub async fn protected_among(conn: &mut Conn, ids: &[&str]) -> Result<Vec<String>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Conditions::default();
    let list = conditions.bind_all(ids.iter().map(|id| (*id).to_owned()));
    let sql = format!("SELECT user_id FROM protected_users WHERE user_id IN ({list})");
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(row.try_get("user_id")?)).collect()
}

/// Protects the user; `false` when they already were (nothing written).
pub async fn protect(
    conn: &mut Conn,
    user_id: &str,
    by: &str,
    at: OffsetDateTime,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO protected_users (user_id, protected_at, protected_by) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(to_millis(at))
    .bind(by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts the protection; `false` when there was none.
pub async fn unprotect(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM protected_users WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// One row of `held_changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRow {
    pub id: String,
    pub user_id: String,
    pub action: HeldAction,
    pub role_name: Option<String>,
    pub source: Option<String>,
    pub reason: HoldReason,
    pub created_at: OffsetDateTime,
    pub actor_name: String,
    pub request_id: Option<String>,
}

const HELD_COLUMNS: &str =
    "id, user_id, action, role_name, source, reason, created_at, actor_name, request_id";

fn held_from_row(row: &AnyRow) -> Result<HeldRow, StoreError> {
    let action: String = row.try_get("action")?;
    let reason: String = row.try_get("reason")?;
    Ok(HeldRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        action: HeldAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("held change action {action:?}")))?,
        role_name: row.try_get("role_name")?,
        source: row.try_get("source")?,
        reason: HoldReason::parse(&reason)
            .ok_or_else(|| StoreError::Corrupt(format!("held change reason {reason:?}")))?,
        created_at: from_millis(row.try_get("created_at")?)?,
        actor_name: row.try_get("actor_name")?,
        request_id: row.try_get("request_id")?,
    })
}

pub async fn insert_held(conn: &mut Conn, held: &HeldRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO held_changes \
         (id, user_id, action, role_name, source, reason, created_at, actor_name, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&held.id)
    .bind(&held.user_id)
    .bind(held.action.as_str())
    .bind(held.role_name.as_deref())
    .bind(held.source.as_deref())
    .bind(held.reason.as_str())
    .bind(to_millis(held.created_at))
    .bind(&held.actor_name)
    .bind(held.request_id.as_deref())
    .execute(conn)
    .await?;
    Ok(())
}

/// The held changes of `ids`, by user, oldest first.
pub async fn held_of(
    conn: &mut Conn,
    ids: &[&str],
) -> Result<HashMap<String, Vec<HeldRow>>, StoreError> {
    let mut by_user: HashMap<String, Vec<HeldRow>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_user);
    }
    let mut conditions = Conditions::default();
    let list = conditions.bind_all(ids.iter().map(|id| (*id).to_owned()));
    let sql = format!(
        "SELECT {HELD_COLUMNS} FROM held_changes WHERE user_id IN ({list}) \
         ORDER BY created_at, id"
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    for row in &rows {
        let held = held_from_row(row)?;
        by_user.entry(held.user_id.clone()).or_default().push(held);
    }
    Ok(by_user)
}

/// A held deprovisioning (deactivate or delete) and its user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldUserRow {
    pub user_name: String,
    pub held: HeldRow,
}

/// The deprovisionings held for `reason`, oldest first, with the users' names.
pub async fn held_for(conn: &mut Conn, reason: HoldReason) -> Result<Vec<HeldUserRow>, StoreError> {
    let sql = format!(
        "SELECT u.user_name, {} FROM held_changes h JOIN users u ON u.id = h.user_id \
         WHERE h.reason = $1 AND h.action IN ('deactivate', 'delete') \
         ORDER BY h.created_at, h.id",
        HELD_COLUMNS
            .split(", ")
            .map(|column| format!("h.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(reason.as_str())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(HeldUserRow {
                user_name: row.try_get("user_name")?,
                held: held_from_row(row)?,
            })
        })
        .collect()
}

/// Removes the user's held deprovisionings (deactivate, delete); returns
/// what was removed.
pub async fn clear_held_deprovisionings(
    conn: &mut Conn,
    user_id: &str,
) -> Result<Vec<HeldRow>, StoreError> {
    clear(conn, user_id, "AND action IN ('deactivate', 'delete')").await
}

/// Removes the held revocation of `role` from `source`, once it is made or
/// no longer wanted; `true` when there was one.
pub async fn clear_held_revocation(
    conn: &mut Conn,
    user_id: &str,
    role: &str,
    source: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM held_changes WHERE user_id = $1 AND action = 'revoke_role' \
         AND role_name = $2 AND source = $3",
    )
    .bind(user_id)
    .bind(role)
    .bind(source)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes every held change of the user; returns what was removed.
pub async fn clear_all_held(conn: &mut Conn, user_id: &str) -> Result<Vec<HeldRow>, StoreError> {
    clear(conn, user_id, "").await
}

async fn clear(conn: &mut Conn, user_id: &str, and: &str) -> Result<Vec<HeldRow>, StoreError> {
    let select = format!(
        "SELECT {HELD_COLUMNS} FROM held_changes WHERE user_id = $1 {and} ORDER BY created_at, id"
    );
    let rows = sqlx::query(AssertSqlSafe(select))
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    let held = rows
        .iter()
        .map(held_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let delete = format!("DELETE FROM held_changes WHERE user_id = $1 {and}");
    sqlx::query(AssertSqlSafe(delete))
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(held)
}

/// The breaker's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerRow {
    pub threshold: i64,
    pub percent: i64,
    pub window_seconds: i64,
    pub opened_at: Option<OffsetDateTime>,
}

/// Takes the breaker row's write lock for the rest of the transaction (a
/// no-op write, as `settings::lock`): every SCIM deprovisioning decides
/// under it, so two requests, on any replicas, never both see room for one
/// more.
pub async fn lock_breaker(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE breaker SET id = id WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn breaker(conn: &mut Conn) -> Result<BreakerRow, StoreError> {
    let row = sqlx::query(
        "SELECT threshold, percent, window_seconds, opened_at FROM breaker WHERE id = 1",
    )
    .fetch_one(conn)
    .await?;
    let opened_at: Option<i64> = row.try_get("opened_at")?;
    Ok(BreakerRow {
        threshold: row.try_get("threshold")?,
        percent: row.try_get("percent")?,
        window_seconds: row.try_get("window_seconds")?,
        opened_at: opened_at.map(from_millis).transpose()?,
    })
}

/// Writes the thresholds. Call [`lock_breaker`] first.
pub async fn set_thresholds(conn: &mut Conn, breaker: &BreakerRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE breaker SET threshold = $1, percent = $2, window_seconds = $3 WHERE id = 1",
    )
    .bind(breaker.threshold)
    .bind(breaker.percent)
    .bind(breaker.window_seconds)
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens (`Some`) or closes (`None`) the breaker.
pub async fn set_opened_at(
    conn: &mut Conn,
    opened_at: Option<OffsetDateTime>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE breaker SET opened_at = $1 WHERE id = 1")
        .bind(opened_at.map(to_millis))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records one SCIM deprovisioning carried out, and forgets those older
/// than `since` (they can never count again).
pub async fn record_event(
    conn: &mut Conn,
    id: &str,
    user_id: &str,
    at: OffsetDateTime,
    since: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM breaker_events WHERE at < $1")
        .bind(to_millis(since))
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO breaker_events (id, user_id, at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(user_id)
        .bind(to_millis(at))
        .execute(conn)
        .await?;
    Ok(())
}

/// SCIM deprovisionings carried out since `since`.
pub async fn events_since(conn: &mut Conn, since: OffsetDateTime) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM breaker_events WHERE at >= $1")
        .bind(to_millis(since))
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// Empties the window: after a release or reset the burst is dealt with,
/// and only what comes next counts.
pub async fn clear_events(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM breaker_events")
        .execute(conn)
        .await?;
    Ok(())
}

/// Users who count as active for the breaker's percentage: active, not
/// deleted, not deprovisioned or pending.
pub async fn count_active_users(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users \
         WHERE active = $1 AND deleted_at IS NULL AND deprovision_state = $2",
    )
    .bind(true)
    .bind(state_text(DeprovisionState::None))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// Active, not deleted, not deprovisioned users holding `role`, optionally
/// leaving one user out.
pub async fn count_active_holders(
    conn: &mut Conn,
    role: &str,
    except: Option<&str>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users u WHERE EXISTS \
         (SELECT 1 FROM role_grants g WHERE g.user_id = u.id AND g.role_name = $1) \
         AND u.active = $2 AND u.deleted_at IS NULL AND u.deprovision_state = $3 AND u.id <> $4",
    )
    .bind(role)
    .bind(true)
    .bind(state_text(DeprovisionState::None))
    .bind(except.unwrap_or(""))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}
