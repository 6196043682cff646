//! The `sessions` table: tokens issued to users, stored as hashes.

use sqlx::Row;
use time::OffsetDateTime;

use super::{Conn, StoreError, from_millis, to_millis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub secret_hash: String,
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    pub expires_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

pub async fn insert(conn: &mut Conn, session: &SessionRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, secret_hash, created_at, created_by, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.id)
    .bind(&session.user_id)
    .bind(&session.secret_hash)
    .bind(to_millis(session.created_at))
    .bind(&session.created_by)
    .bind(to_millis(session.expires_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, secret_hash, created_at, created_by, expires_at, revoked_at \
         FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(SessionRow {
            id: row.try_get("id")?,
            user_id: row.try_get("user_id")?,
            secret_hash: row.try_get("secret_hash")?,
            created_at: from_millis(row.try_get("created_at")?)?,
            created_by: row.try_get("created_by")?,
            expires_at: from_millis(row.try_get("expires_at")?)?,
            revoked_at: row
                .try_get::<Option<i64>, _>("revoked_at")?
                .map(from_millis)
                .transpose()?,
        })
    })
    .transpose()
}

/// Ids of the user's sessions that are neither revoked nor expired at `now`.
pub async fn live_for_user(
    conn: &mut Conn,
    user_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         ORDER BY id",
    )
    .bind(user_id)
    .bind(to_millis(now))
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

/// Revokes every live session of the user; returns their ids.
pub async fn revoke_for_user(
    conn: &mut Conn,
    user_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "UPDATE sessions SET revoked_at = $1 \
         WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1 RETURNING id",
    )
    .bind(to_millis(now))
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    let mut ids = rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<Vec<String>, _>>()?;
    ids.sort();
    Ok(ids)
}
