//! The `api_keys` table.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::{Conn, StoreError, concat_words, from_millis, get_bool, to_millis};

/// A key as stored. `scopes` are the wire names; the domain parses them.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub secret_hash: String,
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    /// The user a personal key belongs to, and their userName (read only).
    pub owner_user_id: Option<String>,
    pub owner_user_name: Option<String>,
}

/// Keys with their owner's userName; `k` is `api_keys`.
const SELECT: &str = "SELECT k.id, k.name, k.scopes, k.secret_hash, k.created_at, k.created_by, \
     k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip, k.owner_user_id, \
     u.user_name AS owner_user_name \
     FROM api_keys k LEFT JOIN users u ON u.id = k.owner_user_id";

fn optional_time(millis: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
    millis.map(from_millis).transpose()
}

fn from_row(row: &AnyRow) -> Result<KeyRow, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(KeyRow {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        secret_hash: row.try_get("secret_hash")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
        expires_at: optional_time(row.try_get("expires_at")?)?,
        revoked_at: optional_time(row.try_get("revoked_at")?)?,
        last_used_at: optional_time(row.try_get("last_used_at")?)?,
        last_used_ip: row.try_get("last_used_ip")?,
        owner_user_id: row.try_get("owner_user_id")?,
        owner_user_name: row.try_get("owner_user_name")?,
    })
}

pub async fn insert(conn: &mut Conn, key: &KeyRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, scopes, secret_hash, created_at, created_by, expires_at, \
         owner_user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(key.scopes.join(" "))
    .bind(&key.secret_hash)
    .bind(to_millis(key.created_at))
    .bind(&key.created_by)
    .bind(key.expires_at.map(to_millis))
    .bind(&key.owner_user_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<KeyRow>, StoreError> {
    // Built from constants only: nothing a caller sends reaches the SQL text.
    let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE k.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// A key's owner as authentication needs them: whether they may use
/// credentials now, and what their roles grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerAccess {
    pub active: bool,
    pub deleted: bool,
    pub locked: bool,
    /// Names of the roles the owner holds.
    pub roles: Vec<String>,
    /// The scope names those roles carry (not deduplicated).
    pub permissions: Vec<String>,
}

/// What authenticating one request reads, in one round trip.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The key with that id, and for a personal key its owner (`None` when
    /// the owner row is gone).
    pub key: Option<(KeyRow, Option<OwnerAccess>)>,
    /// The settings and allowlist version (see `config_version`).
    pub config_version: i64,
}

/// The key with id `id`, its owner's access, and the config version, in
/// one query: the whole cost of authenticating a request.
pub async fn present(conn: &mut Conn, id: &str) -> Result<Presented, StoreError> {
    let sql = present_sql(conn);
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_one(conn)
        .await?;
    let config_version = row.try_get("config_version")?;
    if row.try_get::<Option<String>, _>("id")?.is_none() {
        return Ok(Presented {
            key: None,
            config_version,
        });
    }
    let words = |column: &str| -> Result<Vec<String>, StoreError> {
        let text: Option<String> = row.try_get(column)?;
        Ok(text
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect())
    };
    let owner = match row.try_get::<Option<String>, _>("owner_id")? {
        Some(_) => Some(OwnerAccess {
            active: get_bool(&row, "owner_active")?,
            deleted: row.try_get::<Option<i64>, _>("owner_deleted_at")?.is_some(),
            locked: get_bool(&row, "owner_locked")?,
            roles: words("owner_roles")?,
            permissions: words("owner_permissions")?,
        }),
        None => None,
    };
    Ok(Presented {
        key: Some((from_row(&row)?, owner)),
        config_version,
    })
}

/// [`present`]'s query in `conn`'s dialect, with the key id as `$1`.
pub fn present_sql(conn: &Conn) -> String {
    let roles = concat_words(conn, "r.name");
    let permissions = concat_words(conn, "r.permissions");
    // `one LEFT JOIN` keeps a row, with the version, when no key matches.
    format!(
        "SELECT k.id, k.name, k.scopes, k.secret_hash, k.created_at, k.created_by, \
         k.expires_at, k.revoked_at, k.last_used_at, k.last_used_ip, k.owner_user_id, \
         u.user_name AS owner_user_name, u.id AS owner_id, u.active AS owner_active, \
         u.deleted_at AS owner_deleted_at, \
         EXISTS (SELECT 1 FROM locks l WHERE l.user_id = u.id) AS owner_locked, \
         (SELECT {roles} FROM roles r WHERE r.name IN \
          (SELECT g.role_name FROM role_grants g WHERE g.user_id = u.id)) AS owner_roles, \
         (SELECT {permissions} FROM roles r WHERE r.name IN \
          (SELECT g.role_name FROM role_grants g WHERE g.user_id = u.id)) AS owner_permissions, \
         (SELECT version FROM config_version WHERE id = 1) AS config_version \
         FROM (SELECT 1 AS one) one \
         LEFT JOIN api_keys k ON k.id = $1 \
         LEFT JOIN users u ON u.id = k.owner_user_id"
    )
}

/// Keys newest first; revoked ones only when asked.
pub async fn list(conn: &mut Conn, include_revoked: bool) -> Result<Vec<KeyRow>, StoreError> {
    let filter = if include_revoked {
        ""
    } else {
        "WHERE k.revoked_at IS NULL"
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} {filter} ORDER BY k.created_at DESC, k.id"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Marks the key revoked; `false` when it was already revoked.
pub async fn revoke(conn: &mut Conn, id: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_millis(at))
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn record_use(
    conn: &mut Conn,
    id: &str,
    at: OffsetDateTime,
    ip: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE api_keys SET last_used_at = $1, last_used_ip = $2 WHERE id = $3")
        .bind(to_millis(at))
        .bind(ip)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ids of the user's personal keys that are not revoked.
pub async fn owned_by(conn: &mut Conn, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM api_keys WHERE owner_user_id = $1 AND revoked_at IS NULL ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}

/// Deletes every personal key of the user, revoked ones too; returns the
/// ids of those that were still usable.
pub async fn delete_owned_by(conn: &mut Conn, user_id: &str) -> Result<Vec<String>, StoreError> {
    let usable = owned_by(conn, user_id).await?;
    sqlx::query("DELETE FROM api_keys WHERE owner_user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(usable)
}
