//! Locks as operators see them: listing, and removing one by hand.

use serde_json::json;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::{Error, Result};
use crate::api::locks::Lock;
use crate::api::users::UserRef;
use crate::store::locks::{self as lock_rows, LockRow};
use crate::store::{Store, StoreError};

pub async fn list(store: &Store) -> Result<Vec<Lock>> {
    let rows = lock_rows::list(&mut *store.conn().await?).await?;
    Ok(rows.into_iter().map(to_api).collect())
}

/// Lifts a lock without reactivating the user: their credentials work again
/// only where the user is active.
pub async fn remove(store: &Store, actor: &Actor, id: &str) -> Result<Lock> {
    let mut tx = store.begin().await?;
    let lock = lock_rows::get(&mut tx, id).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "no lock with id {id}; `scimctl locks list` shows them"
        ))
    })?;
    lock_rows::remove_for_user(&mut tx, &lock.user_id).await?;
    audit::record(
        &mut tx,
        actor,
        "lock.remove",
        Some(&lock.user_name),
        Outcome::Success,
        json!({ "lock": lock.id, "reason": lock.reason }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(lock))
}

fn to_api(row: LockRow) -> Lock {
    Lock {
        id: row.id,
        user: UserRef {
            id: row.user_id,
            user_name: row.user_name,
        },
        reason: row.reason,
        created_at: row.created_at,
        created_by: row.created_by,
    }
}
