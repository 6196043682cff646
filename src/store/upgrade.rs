//! One-time data upgrades that SQL migrations cannot express because they
//! need this program's rules (Unicode tables), run at start-up after the
//! migrations. Each is recorded in `server_state` by name, in the same
//! transaction as its changes, so it runs once per database even when
//! replicas start together (the claim makes the others wait, then skip).

use std::collections::HashSet;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, Store, StoreError, state};
use crate::text::{storable_json, user_name_key};

/// userName keys by RFC 8265 (they were `to_lowercase()`), and stored JSON
/// without `\u0000` (which breaks PostgreSQL's `jsonb` for every query).
pub const TEXT_RULES_V1: &str = "data_upgrade:text_rules_v1";

pub async fn run(store: &Store) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if !state::claim(&mut tx, TEXT_RULES_V1, "done").await? {
        return Ok(());
    }
    rekey_user_names(&mut tx).await?;
    for table in ["users", "groups"] {
        scrub_nul_from_json(&mut tx, table).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Gives every user the key [`user_name_key`] computes now. Keys released
/// by a deleted user (`released:<id>`) stay. Where two users' names now
/// share a key (they were told apart only by look-alike characters), the
/// older one gets it and the newer keeps its old key, with a warning: no
/// row is lost and each stays reachable by id.
async fn rekey_user_names(conn: &mut Conn) -> Result<(), StoreError> {
    let rows =
        sqlx::query("SELECT id, user_name, user_name_key FROM users ORDER BY created_at, id")
            .fetch_all(&mut *conn)
            .await?;
    let rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|row: &AnyRow| {
            Ok((
                row.try_get("id")?,
                row.try_get("user_name")?,
                row.try_get("user_name_key")?,
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    let changing: Vec<&(String, String, String)> = rows
        .iter()
        .filter(|(_, name, key)| !key.starts_with("released:") && user_name_key(name) != *key)
        .collect();
    if changing.is_empty() {
        return Ok(());
    }
    let moving: HashSet<&str> = changing.iter().map(|(id, _, _)| id.as_str()).collect();
    let mut taken: HashSet<String> = rows
        .iter()
        .filter(|(id, _, _)| !moving.contains(id.as_str()))
        .map(|(_, _, key)| key.clone())
        .collect();
    // Out of the way first, so no intermediate state breaks the unique index.
    for (id, _, _) in &changing {
        set_key(conn, id, &format!("rekey:{id}")).await?;
    }
    let mut kept_old = Vec::new();
    for (id, name, _) in &changing {
        let key = user_name_key(name);
        if taken.insert(key.clone()) {
            set_key(conn, id, &key).await?;
        } else {
            kept_old.push((id, name));
        }
    }
    for (id, name) in kept_old {
        let old = rows
            .iter()
            .find(|(row_id, _, _)| row_id == id)
            .map(|(_, _, key)| key.clone())
            .unwrap_or_default();
        let key = if taken.insert(old.clone()) {
            old
        } else {
            format!("collision:{id}")
        };
        tracing::warn!(
            user.id = %id, user.name = %name, key = %key,
            "another user's userName is the same under RFC 8265; this user keeps a key of its own"
        );
        set_key(conn, id, &key).await?;
    }
    Ok(())
}

async fn set_key(conn: &mut Conn, id: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET user_name_key = $1 WHERE id = $2")
        .bind(key)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Rewrites `attributes` that hold a `\u0000` escape (see [`storable_json`]).
async fn scrub_nul_from_json(conn: &mut Conn, table: &'static str) -> Result<(), StoreError> {
    // `u0000` without the backslash: `LIKE` escapes differ by backend, and
    // `storable_json` decides exactly.
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, attributes FROM {table} WHERE attributes LIKE '%u0000%'"
    )))
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let id: String = row.try_get("id")?;
        let attributes: String = row.try_get("attributes")?;
        let fixed = storable_json(&attributes);
        if fixed != attributes {
            sqlx::query(AssertSqlSafe(format!(
                "UPDATE {table} SET attributes = $1 WHERE id = $2"
            )))
            .bind(fixed.as_ref())
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}
