//! The settings and the IP allowlist as requests are judged by them, held in
//! memory by each replica. The database bumps a config version (by trigger)
//! with every change to either, and every authentication reads that version
//! in the same query as the key; a replica reloads when it moves. So no
//! request reads the allowlist or the settings, and a change made through
//! any replica, or by hand on the database, is in force on every replica
//! from its next request: there is no notification channel that could be
//! lost.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use ipnet::IpNet;

use super::Result;
use super::allowlist;
use crate::store::settings::{self as settings_rows, SettingsRow};
use crate::store::{Store, allowlist as allowlist_rows};

/// The settings and the allowlist at one config version.
#[derive(Debug)]
pub struct Policy {
    pub version: i64,
    pub settings: SettingsRow,
    allowlist: Vec<IpNet>,
}

impl Policy {
    /// Whether the allowlist lets `ip` in (an empty list allows everyone).
    pub fn admits(&self, ip: IpAddr) -> bool {
        allowlist::admits(&self.allowlist, ip)
    }
}

/// A replica's copy of the [`Policy`], brought up to date on demand.
#[derive(Debug, Default)]
pub struct PolicyCache {
    held: RwLock<Option<Arc<Policy>>>,
}

impl PolicyCache {
    /// The policy at `version` or later: the copy held when it is that
    /// recent, else a fresh one from the database. A request that read an
    /// older version than the copy held gets the newer copy, never an older
    /// one.
    pub async fn at(&self, store: &Store, version: i64) -> Result<Arc<Policy>> {
        if let Some(held) = self.held().filter(|held| held.version >= version) {
            return Ok(held);
        }
        // Read after `version` was: what is loaded is at least that recent,
        // and a change committed meanwhile moves the version again, so the
        // next request reloads.
        let mut conn = store.conn().await?;
        let settings = settings_rows::get(&mut conn).await?;
        let allowlist = allowlist::stored_nets(&allowlist_rows::cidrs(&mut conn).await?)?;
        let fresh = Arc::new(Policy {
            version,
            settings,
            allowlist,
        });
        let mut held = self
            .held
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if held.as_ref().is_none_or(|held| held.version < version) {
            *held = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    fn held(&self) -> Option<Arc<Policy>> {
        self.held
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
