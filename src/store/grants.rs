//! The `role_grants` table: each role a user holds, once per source that
//! gives it; a user holds a role while any grant of it exists. Queries read
//! this table, not the `user_roles` view over it (kept for whoever reads
//! the database by hand): SQLite materialises a `DISTINCT` view whole, and
//! reading it on every request cost five times the SCIM read rate.

use std::collections::HashMap;

use sqlx::Row;
use time::OffsetDateTime;

use super::{Conn, StoreError, from_millis, grouped, to_millis};

/// Why a user holds a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// The default role, given at provisioning or reactivation.
    Default,
    /// An operator gave it.
    Manual,
    /// A mapping (by id) whose source the user has.
    Mapping(String),
}

const MAPPING_PREFIX: &str = "mapping:";

impl Source {
    pub fn to_stored(&self) -> String {
        match self {
            Source::Default => "default".to_owned(),
            Source::Manual => "manual".to_owned(),
            Source::Mapping(id) => format!("{MAPPING_PREFIX}{id}"),
        }
    }

    pub fn from_stored(stored: &str) -> Result<Source, StoreError> {
        match stored {
            "default" => Ok(Source::Default),
            "manual" => Ok(Source::Manual),
            other => other
                .strip_prefix(MAPPING_PREFIX)
                .map(|id| Source::Mapping(id.to_owned()))
                .ok_or_else(|| StoreError::Corrupt(format!("unknown role grant source {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub role_name: String,
    pub source: Source,
    pub granted_at: OffsetDateTime,
    /// The granting key's id, or `system`; `None` for grants from before
    /// sources were recorded.
    pub granted_by: Option<String>,
}

/// Records that `source` gives `user_id` the role; `false` when it already
/// did (nothing changes then).
pub async fn grant(
    conn: &mut Conn,
    user_id: &str,
    role: &str,
    source: &Source,
    at: OffsetDateTime,
    granted_by: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO role_grants (user_id, role_name, source, granted_at, granted_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(role)
    .bind(source.to_stored())
    .bind(to_millis(at))
    .bind(granted_by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Withdraws one source's grant; `false` when there was none.
pub async fn revoke(
    conn: &mut Conn,
    user_id: &str,
    role: &str,
    source: &Source,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM role_grants WHERE user_id = $1 AND role_name = $2 AND source = $3",
    )
    .bind(user_id)
    .bind(role)
    .bind(source.to_stored())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes every grant of the user; returns the roles they held, sorted.
pub async fn remove_all(conn: &mut Conn, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("DELETE FROM role_grants WHERE user_id = $1 RETURNING role_name")
        .bind(user_id)
        .fetch_all(conn)
        .await?;
    let mut removed = rows
        .iter()
        .map(|row| row.try_get("role_name"))
        .collect::<Result<Vec<String>, _>>()?;
    removed.sort();
    removed.dedup();
    Ok(removed)
}

/// The grants of each of `user_ids`, by role then source.
pub async fn of_users(
    conn: &mut Conn,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<GrantRow>>, StoreError> {
    let select = |ids: &str| {
        format!(
            "SELECT user_id AS owner, role_name, source, granted_at, granted_by \
             FROM role_grants WHERE user_id IN ({ids}) ORDER BY user_id, role_name, source"
        )
    };
    grouped(conn, user_ids, select, |row| {
        Ok(GrantRow {
            role_name: row.try_get("role_name")?,
            source: Source::from_stored(&row.try_get::<String, _>("source")?)?,
            granted_at: from_millis(row.try_get("granted_at")?)?,
            granted_by: row.try_get("granted_by")?,
        })
    })
    .await
}

/// The users `source` gives a role to, with the role.
pub async fn holders(
    conn: &mut Conn,
    source: &Source,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT user_id, role_name FROM role_grants WHERE source = $1 ORDER BY user_id",
    )
    .bind(source.to_stored())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("user_id")?, row.try_get("role_name")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_back_as_stored() {
        for source in [
            Source::Default,
            Source::Manual,
            Source::Mapping("0b7c".to_owned()),
        ] {
            assert_eq!(Source::from_stored(&source.to_stored()).ok(), Some(source));
        }
        assert!(Source::from_stored("group:eng").is_err());
    }
}
