//! The audit log: `GET /admin/v1/audit`, its query and its entries, and the
//! time forms its `since`/`until` accept (shared so the CLI can check a value
//! before sending it).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// Entries per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most entries one page may hold.
pub const MAX_LIMIT: u32 = 1000;

/// One audit entry: who did what to which target, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Grows with every entry; `after=<id>` reads what came later.
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub actor: AuditActor,
    /// The address the request came from; `None` for the server itself.
    pub source_ip: Option<String>,
    /// The request's `X-Request-Id`, to find it in the server log.
    pub request_id: Option<String>,
    /// What happened: `key.create`, `user.deprovision`, `auth.denied`, …
    pub action: String,
    /// What it happened to (a key id, a user id, a path); `None` when
    /// nothing in particular.
    pub target: Option<String>,
    /// `success` or `denied`.
    pub outcome: String,
    /// What changed, as a JSON object.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Who made the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditActor {
    /// The API key behind the request; `None` for the server itself.
    pub key_id: Option<String>,
    /// The key's name, or `system`, or `unauthenticated` for a refused key.
    pub name: String,
}

/// The query of `GET /admin/v1/audit`. Every field is optional and they
/// combine with AND. Values stay text here: the server checks them and
/// answers `400` naming the one it cannot use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries at or after this time: a duration ago (`1h`, `30m`, `7d`,
    /// `1h 30m`) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Entries before this time; the same forms as `since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// The acting key's id or name (`system` for the server itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// An action (`key.create`) or a prefix ending in `.*` (`user.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What the entry is about, as recorded (a key id, a group's name, a
    /// path); a user's id or userName (any case) matches every entry about
    /// that user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `success` or `denied`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Entries per page, 1 to 1000 [default: 100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Only entries with a greater id, oldest first (instead of newest
    /// first): what `audit list --follow` polls with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl AuditQuery {
    /// The query as `(name, value)` pairs, for a URL.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("since", &self.since),
            ("until", &self.until),
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("outcome", &self.outcome),
            ("limit", &self.limit),
            ("cursor", &self.cursor),
            ("after", &self.after),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name, value)))
        .collect()
    }
}

/// Reads a `since`/`until` value: a duration means that long before `now`.
pub fn parse_time_bound(value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    super::when::parse(value, now, super::when::Direction::Ago)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_becomes_pairs_without_empty_fields() {
        let query = AuditQuery {
            action: Some("user.*".into()),
            after: Some("42".into()),
            ..AuditQuery::default()
        };
        assert_eq!(
            query.pairs(),
            vec![("action", "user.*".to_owned()), ("after", "42".to_owned())]
        );
    }
}
