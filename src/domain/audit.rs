//! Writing audit entries: who did what to which target, with what outcome.

use serde_json::Value;
use time::OffsetDateTime;

use super::actor::Actor;
use crate::store::{Conn, StoreError, audit};

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Denied,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
        }
    }
}

/// Appends an entry on `conn`: pass the transaction of the change so the two
/// commit together.
pub async fn record(
    conn: &mut Conn,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    details: Value,
) -> Result<(), StoreError> {
    let entry = audit::NewEntry {
        at: OffsetDateTime::now_utc(),
        actor_key_id: actor.key_id.as_deref(),
        actor_name: &actor.name,
        source_ip: actor.source_ip.map(|ip| ip.to_string()),
        request_id: actor.request_id.as_deref(),
        action,
        target,
        outcome: outcome.as_str(),
        details,
    };
    audit::append(conn, &entry).await
}
