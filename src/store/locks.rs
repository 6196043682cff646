//! The `locks` table: at most one per user, blocking all its credentials.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::sql::Conditions;
use super::{Conn, StoreError, from_millis, to_millis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRow {
    pub id: String,
    pub user_id: String,
    pub user_name: String,
    pub reason: String,
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

const SELECT: &str = "SELECT l.id, l.user_id, u.user_name, l.reason, l.created_at, l.created_by \
                      FROM locks l JOIN users u ON u.id = l.user_id";

fn from_row(row: &AnyRow) -> Result<LockRow, StoreError> {
    Ok(LockRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        user_name: row.try_get("user_name")?,
        reason: row.try_get("reason")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
    })
}

/// Locks the user unless already locked; returns the lock's id either way.
pub async fn ensure(
    conn: &mut Conn,
    id: &str,
    user_id: &str,
    reason: &str,
    created_by: &str,
    at: OffsetDateTime,
) -> Result<String, StoreError> {
    sqlx::query(
        "INSERT INTO locks (id, user_id, reason, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(reason)
    .bind(to_millis(at))
    .bind(created_by)
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query("SELECT id FROM locks WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("id")?)
}

pub async fn for_user(conn: &mut Conn, user_id: &str) -> Result<Option<LockRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE l.user_id = $1")))
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Which of `user_ids` are locked.
pub async fn locked_among(conn: &mut Conn, user_ids: &[&str]) -> Result<Vec<String>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Conditions::default();
    let ids = conditions.bind_all(user_ids.iter().map(|id| id.to_string()));
    let sql = format!("SELECT user_id FROM locks WHERE user_id IN ({ids})");
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| Ok(row.try_get("user_id")?)).collect()
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<LockRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE l.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every lock, newest first.
pub async fn list(conn: &mut Conn) -> Result<Vec<LockRow>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} ORDER BY l.created_at DESC, l.id"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Removes the user's lock; `true` when there was one.
pub async fn remove_for_user(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM locks WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
