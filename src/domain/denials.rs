//! Refused requests in the audit log (`auth.denied`), kept bounded: what a
//! client sent is cut to a fixed length, and past a number of entries per
//! address per minute further refusals from that address are counted in one
//! aggregate entry for the minute instead of one entry each.
//!
//! The window of counts is in this replica's memory; the aggregate entry is
//! in the database from the first refusal it counts, and its count grows
//! (an `UPDATE` of that one row — the only audit entry ever changed) until
//! the minute ends. A second replica keeps its own window and rows.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use super::Result;
use super::actor::Actor;
use super::audit::Outcome;
use crate::store::audit::{self as rows, NewEntry};
use crate::store::{self, Store};

/// Longest path kept in an entry's target, in characters.
pub const MAX_PATH: usize = 256;
/// Longest client-chosen key id or request id kept, in characters.
pub const MAX_ID: usize = 64;
/// Addresses tracked in one minute; past it, refusals from new addresses
/// share one window (keyed by no address) so memory stays bounded even when
/// every request comes from a new address.
const MAX_ADDRESSES: usize = 10_000;

/// The per-minute window of refusals, by address.
pub struct DenialLog {
    individual_per_minute: u32,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    minute: i64,
    by_address: HashMap<Option<IpAddr>, Tally>,
}

#[derive(Default)]
struct Tally {
    refusals: u32,
    /// The aggregate entry of this minute, once written, and its details.
    aggregate: Option<(i64, serde_json::Value)>,
}

impl DenialLog {
    /// Writes the first `individual_per_minute` refusals from an address in
    /// a minute one entry each; counts the rest in an aggregate entry.
    pub fn new(individual_per_minute: u32) -> DenialLog {
        DenialLog {
            individual_per_minute,
            window: Mutex::new(Window::default()),
        }
    }
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Audits a refused request in a transaction of its own: nothing else
/// happened that it could share one with.
pub async fn record(
    store: &Store,
    log: &DenialLog,
    actor: &Actor,
    reason: &str,
    method: &str,
    path: &str,
) -> Result<()> {
    let now = store::now();
    let minute = now.unix_timestamp().div_euclid(60);
    let target = truncate(path, MAX_PATH);
    let key_id = actor.key_id.as_deref().map(|id| truncate(id, MAX_ID));
    let request_id = actor.request_id.as_deref().map(|id| truncate(id, MAX_ID));
    let method = truncate(method, MAX_ID);
    let entry = |details| NewEntry {
        at: now,
        actor_key_id: key_id.as_deref(),
        actor_name: &actor.name,
        source_ip: actor.source_ip.map(|ip| ip.to_string()),
        request_id: request_id.as_deref(),
        action: "auth.denied",
        target: Some(&target),
        outcome: Outcome::Denied.as_str(),
        details,
    };

    let mut window = log.window.lock().await;
    if window.minute != minute {
        window.minute = minute;
        window.by_address.clear();
    }
    let address = if window.by_address.len() < MAX_ADDRESSES
        || window.by_address.contains_key(&actor.source_ip)
    {
        actor.source_ip
    } else {
        None
    };
    let tally = window.by_address.entry(address).or_default();
    tally.refusals = tally.refusals.saturating_add(1);
    if tally.refusals <= log.individual_per_minute {
        // Written without holding the window: entries one by one need no
        // order among themselves.
        drop(window);
        let mut conn = store.write_conn().await?;
        rows::append(
            &mut conn,
            &entry(json!({ "reason": reason, "method": method })),
        )
        .await?;
        return Ok(());
    }
    // Past the individual entries: one aggregate entry for the minute. The
    // window stays locked while it is written, so there is only ever one.
    let count = tally.refusals - log.individual_per_minute;
    let details = json!({
        "reason": reason,
        "method": method,
        "aggregated": true,
        "count": count,
        "minute": crate::api::rfc3339(minute_start(minute)),
        "note": format!(
            "further refusals from this address in this minute, after the first {}; \
             reason, method and target are the first one's",
            log.individual_per_minute
        ),
    });
    let mut conn = store.write_conn().await?;
    match &mut tally.aggregate {
        None => {
            let id = rows::append_returning_id(&mut conn, &entry(details.clone())).await?;
            tally.aggregate = Some((id, details));
        }
        Some((id, stored)) => {
            // The first refusal's reason, method and target stay; only the
            // count changes.
            stored["count"] = json!(count);
            rows::update_aggregate_details(&mut conn, *id, stored).await?;
        }
    }
    Ok(())
}

fn minute_start(minute: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(minute * 60).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_and_marks_the_cut() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("ééééé", 2), "éé…");
        assert_eq!(
            truncate(&"/x".repeat(40_000), MAX_PATH).chars().count(),
            MAX_PATH + 1
        );
    }
}
