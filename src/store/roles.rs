//! The `roles` table: named sets of permissions.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::{Conn, StoreError, get_bool, to_millis};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub name: String,
    /// Scope names, as stored.
    pub permissions: Vec<String>,
    pub builtin: bool,
}

const COLUMNS: &str = "name, permissions, builtin";

fn from_row(row: &AnyRow) -> Result<RoleRow, StoreError> {
    let permissions: String = row.try_get("permissions")?;
    Ok(RoleRow {
        name: row.try_get("name")?,
        permissions: permissions.split_whitespace().map(str::to_owned).collect(),
        builtin: get_bool(row, "builtin")?,
    })
}

pub async fn get(conn: &mut Conn, name: &str) -> Result<Option<RoleRow>, StoreError> {
    // Built from constants only: nothing a caller sends reaches the SQL text.
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM roles WHERE name = $1"
    )))
    .bind(name)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every role, by name.
pub async fn list(conn: &mut Conn) -> Result<Vec<RoleRow>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM roles ORDER BY name"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Adds a custom role. A taken name fails with the database's unique
/// violation; callers check first and treat that as a lost race.
pub async fn insert(
    conn: &mut Conn,
    role: &RoleRow,
    created_at: OffsetDateTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO roles (name, permissions, builtin, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&role.name)
    .bind(role.permissions.join(" "))
    .bind(role.builtin)
    .bind(to_millis(created_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a role; `false` when there was none by that name. Fails with a
/// foreign-key violation while a user holds it or it is the default role.
pub async fn delete(conn: &mut Conn, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM roles WHERE name = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How many users hold each role; roles nobody holds are absent.
pub async fn user_counts(conn: &mut Conn) -> Result<BTreeMap<String, u64>, StoreError> {
    let rows = sqlx::query(
        "SELECT role_name, COUNT(DISTINCT user_id) AS users FROM role_grants GROUP BY role_name",
    )
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let users: i64 = row.try_get("users")?;
            Ok((row.try_get("role_name")?, count(users)?))
        })
        .collect()
}

/// How many users hold `name`.
pub async fn user_count(conn: &mut Conn, name: &str) -> Result<u64, StoreError> {
    let users: i64 = sqlx::query(
        "SELECT COUNT(DISTINCT user_id) AS users FROM role_grants WHERE role_name = $1",
    )
    .bind(name)
    .fetch_one(conn)
    .await?
    .try_get("users")?;
    count(users)
}

fn count(users: i64) -> Result<u64, StoreError> {
    u64::try_from(users).map_err(|_| StoreError::Corrupt(format!("negative user count {users}")))
}
