//! The SCIM request journal: `GET /admin/v1/scim/requests` (what identity
//! providers sent and what they were answered, redacted) and one exchange
//! with the audit entries it produced.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::audit::AuditEntry;

/// Exchanges per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most exchanges one page may hold.
pub const MAX_LIMIT: u32 = 1000;

/// One SCIM request and its answer, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JournalEntry {
    /// The request's `X-Request-Id`: what `scim show` and `scim explain` take.
    pub request_id: String,
    /// Grows with every exchange; `after=<seq>` reads what came later.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The key id the bearer token named (checked or not); `None` without one.
    pub key_id: Option<String>,
    pub source_ip: Option<String>,
    pub method: String,
    /// The path as sent, with its query.
    pub path: String,
    pub status: u16,
    pub duration_ms: f64,
    /// The user the request was about, when it was about one.
    pub user_id: Option<String>,
}

/// `GET /admin/v1/scim/requests/{request_id}`: the whole exchange,
/// redacted (no `password`, no `Authorization`, tokens masked), and the
/// audit entries it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JournalExchange {
    #[serde(flatten)]
    pub entry: JournalEntry,
    /// The request headers kept (`Content-Type`, `User-Agent`, `If-Match`, …).
    #[schema(value_type = Object)]
    pub request_headers: Map<String, Value>,
    /// The request body: JSON when it was JSON, else text; `None` when
    /// there was none.
    #[schema(value_type = Object)]
    pub request_body: Option<Value>,
    #[schema(value_type = Object)]
    pub response_body: Option<Value>,
    pub audit: Vec<AuditEntry>,
}

/// `GET /admin/v1/scim/requests/{request_id}/explanation`: why a SCIM
/// request was answered as it was, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    pub request: JournalEntry,
    /// A stable word for scripts: `no_key`, `key_unknown`, `key_revoked`,
    /// `key_expired`, `key_secret_wrong`, `allowlist`, `missing_scope`,
    /// `provisioning_off`, `forbidden`, `uniqueness`, `deleted`, `not_found`,
    /// `etag`, `invalid`, `too_large`, `server_error`, `held`, `pending`,
    /// `read`, `unchanged`, `changed`, `other`.
    pub cause: String,
    /// What happened, in words, with the state it came from.
    pub explanation: String,
    /// What to do, when there is something to do.
    pub fix: Option<String>,
    /// What the service read differently from the letter of SCIM (Entra
    /// ID's and Okta's ways), and how.
    pub notes: Vec<String>,
}

/// `GET /admin/v1/scim/requests/{request_id}/replay`: what the request
/// would do if the identity provider sent it again now. Worked out by the
/// same code as a real request, in a transaction that is rolled back:
/// nothing is changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Replay {
    pub request: JournalEntry,
    pub outcome: ReplayOutcome,
    /// The status it would be answered with now; `None` for a read and for
    /// a request the journal cannot send again.
    pub status: Option<u16>,
    /// Why it would be refused or fail, or cannot be sent again.
    pub detail: Option<String>,
    /// The resource it is about, `Users/{id}` or `Groups/{id}`; `None` for
    /// a creation.
    pub resource: Option<String>,
    /// The resource's attributes it would change.
    pub changes: Vec<AttributeChange>,
    /// The audit entries it would write: the user's deactivation, roles
    /// revoked, sessions ended…
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayOutcome {
    /// A GET or a search: reading changes nothing.
    Read,
    /// The journal did not keep what it would take (a body cut or not JSON).
    NotReplayable,
    /// The key, its scope or the allowlist would turn it away now.
    Refused,
    /// It would be answered with an error.
    Failed,
    /// It would succeed and change nothing: everything it sets is so already.
    Unchanged,
    /// It would succeed and change what `changes` and `audit` say.
    Changed,
}

/// One attribute a request changes, by its SCIM path (`name.givenName`,
/// `members[value eq "…"]`); `None` where it is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttributeChange {
    pub path: String,
    #[schema(value_type = Object)]
    pub before: Option<Value>,
    #[schema(value_type = Object)]
    pub after: Option<Value>,
}

/// The query of `GET /admin/v1/scim/requests`; every field is optional and
/// they combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Only answers with status 400 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
    /// A status (`409`) or a class (`4xx`, `5xx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Requests about this user: id or userName (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// At or after this time: a duration ago (`1h`) or an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Per page, 1 to 1000 [default: 100].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Only exchanges with a greater `seq`, oldest first: what
    /// `scim log --follow` polls with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

impl JournalQuery {
    /// The query as `(name, value)` pairs, for a URL.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(failed) = self.failed {
            pairs.push(("failed", failed.to_string()));
        }
        for (name, value) in [
            ("status", &self.status),
            ("user", &self.user),
            ("since", &self.since),
            ("cursor", &self.cursor),
        ] {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(after) = self.after {
            pairs.push(("after", after.to_string()));
        }
        pairs
    }
}

/// Reads `--status`: `409`, or a class `4xx`; the range of statuses it
/// means.
pub fn parse_status(text: &str) -> Result<(u16, u16), String> {
    let text = text.trim().to_ascii_lowercase();
    let bad = || {
        format!(
            "{text:?} is not a status: give one (409) or a class (4xx, 5xx) between 100 and 599"
        )
    };
    if let Some(class) = text.strip_suffix("xx") {
        let class: u16 = class.parse().map_err(|_| bad())?;
        return match class {
            1..=5 => Ok((class * 100, class * 100 + 99)),
            _ => Err(bad()),
        };
    }
    match text.parse::<u16>() {
        Ok(status @ 100..=599) => Ok((status, status)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_classes_read_as_ranges() {
        assert_eq!(parse_status("409"), Ok((409, 409)));
        assert_eq!(parse_status("4xx"), Ok((400, 499)));
        assert_eq!(parse_status(" 5XX "), Ok((500, 599)));
        for bad in ["", "6xx", "0", "99", "600", "4x", "abc"] {
            assert!(parse_status(bad).is_err(), "{bad}");
        }
    }
}
