//! The `server_state` table: one-time facts about this database, such as
//! whether the initial admin key was ever created.

use super::{Conn, StoreError};

/// Records `name` unless it is already recorded. `true` when this call
/// recorded it, so exactly one of several racing replicas sees `true`.
pub async fn claim(conn: &mut Conn, name: &str, value: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO server_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
