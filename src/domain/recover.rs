//! Break-glass recovery on the server's host (`scimctl server recover`):
//! for an operator locked out by the allowlist or by a revoked last admin
//! key. It works on the database directly, so whoever runs it already holds
//! the keys to everything; it is audited as `system.recover` all the same.

use serde_json::json;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::{Error, Result, allowlist, keys};
use crate::api::CreatedKey;
use crate::store::{Store, StoreError};

/// What to repair.
#[derive(Debug, Clone, Copy, Default)]
pub struct Recovery {
    /// Mint a new key with every scope.
    pub new_admin_key: bool,
    /// Empty the IP allowlist (every address allowed).
    pub clear_allowlist: bool,
}

/// What was repaired.
#[derive(Debug)]
pub struct Recovered {
    pub key: Option<CreatedKey>,
    /// The allowlist entries removed.
    pub cleared: Vec<String>,
}

/// Does what `what` asks, in one transaction with its audit entry.
pub async fn recover(store: &Store, what: Recovery) -> Result<Recovered> {
    if !what.new_admin_key && !what.clear_allowlist {
        return Err(Error::Invalid(
            "nothing to recover: ask for --new-admin-key, --clear-allowlist or both".to_owned(),
        ));
    }
    let mut tx = store.begin().await?;
    let key = if what.new_admin_key {
        Some(keys::mint_admin_in(&mut tx, "recovery admin").await?)
    } else {
        None
    };
    let cleared = if what.clear_allowlist {
        allowlist::clear_in(&mut tx).await?
    } else {
        Vec::new()
    };
    audit::record(
        &mut tx,
        &Actor::system(),
        "system.recover",
        Some("server"),
        Outcome::Success,
        json!({
            "new_admin_key": key.as_ref().map(|created| &created.key.id),
            "allowlist_cleared": what.clear_allowlist,
            "allowlist_removed": cleared,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Recovered { key, cleared })
}
