//! Request and response bodies of the admin API (`/admin/v1`), shared by the
//! server that produces them and the client that consumes them. The CLI's
//! `-o json` output is these types serialized, so they are its stable format.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::scope::Scope;

/// Prefix of every admin API path.
pub const ADMIN_PREFIX: &str = "/admin/v1";

/// `POST /admin/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// When the key stops working; `None` means never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key as the API shows it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Id of the key that created this one; `None` for the initial key.
    pub created_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    pub last_used_ip: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Answer to `POST /admin/v1/keys`: the key and, this once, its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// `scimctl_<id>_<secret>`; the server keeps only a hash of the secret.
    pub token: String,
}

/// Answer to `GET /admin/v1/whoami`: the key that made the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhoAmI {
    pub key: ApiKey,
    /// The address the server saw the request come from.
    pub source_ip: String,
}

/// A list answer. `next_cursor` is set when more items follow; pass it back
/// as `?cursor=` to get them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Body of every non-2xx answer on `/admin/v1` and `/auth/v1`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable: `unauthorized`, `forbidden`, `not_found`,
    /// `bad_request`, `conflict`, `payload_too_large`, `internal`.
    pub code: String,
    /// For people: what was wrong and, where there is one, what to do.
    pub message: String,
}

/// Formats a time the way the API does: RFC 3339, UTC.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
