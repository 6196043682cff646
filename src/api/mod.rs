//! Request and response bodies of the admin API (`/admin/v1`) and the auth
//! API (`/auth/v1`), one module per resource, shared by the server that
//! produces them and the client that consumes them. The CLI's `-o json`
//! output is these types serialized, so they are its stable format.
//! Their `ToSchema` derives are the schemas of the OpenAPI document
//! (`GET /openapi.json`).
//!
//! This is the bottom layer: it imports nothing else of this crate, so the
//! client and the server both build on it and it can never depend on them.

pub mod allowlist;
pub mod audit;
pub mod cidr;
pub mod directory;
pub mod grants;
pub mod groups;
pub mod journal;
pub mod keys;
pub mod locks;
pub mod mappings;
pub mod rails;
pub mod roles;
pub mod scope;
pub mod sessions;
pub mod settings;
pub mod users;
pub mod when;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

pub use keys::{ApiKey, CreateKeyRequest, CreatedKey, WhoAmI};

/// Prefix of every admin API path.
pub const ADMIN_PREFIX: &str = "/admin/v1";
/// Prefix of the auth API used by apps and SSO front doors.
pub const AUTH_PREFIX: &str = "/auth/v1";

/// A list answer. `next_cursor` is set when more items follow; pass it back
/// as `?cursor=` to get them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Body of every non-2xx answer on `/admin/v1` and `/auth/v1`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
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
