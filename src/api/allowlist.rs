//! The IP allowlist: `/admin/v1/allowlist`. Requests carry CIDRs as the
//! text people typed (the server diagnoses bad ones precisely); answers carry
//! them normalised.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

/// An entry to add: a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a bare
/// address (meaning /32 or /128), with an optional note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    pub cidr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `POST /admin/v1/allowlist`: adds entries. Entries already present are
/// left as they are and reported.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEntriesRequest {
    pub entries: Vec<NewEntry>,
    /// Make the change even if it shuts out the caller's own address.
    #[serde(default)]
    pub force: bool,
}

/// `POST /admin/v1/allowlist/remove`: removes entries. Each must be in the
/// list (after normalisation), or nothing is removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveEntriesRequest {
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub force: bool,
}

/// `PUT /admin/v1/allowlist`: the whole list. Empty means allow every address.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceAllowlistRequest {
    pub entries: Vec<NewEntry>,
    #[serde(default)]
    pub force: bool,
}

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllowlistEntry {
    /// Normalised: host bits cleared (`10.0.0.0/8`).
    #[schema(value_type = String)]
    pub cidr: IpNet,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The actor that added it: a key name or `system`.
    pub created_by: String,
}

/// What a note about one requested entry says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryNoteKind {
    /// Host bits were set (`10.1.2.3/8`): the network (`10.0.0.0/8`) is used.
    Normalised,
    /// Given more than once in the request: used once.
    Duplicate,
    /// Already in the list: left as it is.
    AlreadyPresent,
    /// Another entry of the list contains it, so it adds nothing.
    Covered,
    /// It contains another entry of the list, which now adds nothing.
    Covers,
}

/// A remark about one requested entry: not an error, the change went ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EntryNote {
    /// The entry, normalised.
    #[schema(value_type = String)]
    pub cidr: IpNet,
    pub kind: EntryNoteKind,
    /// For people, e.g. `10.1.2.3/8 has host bits set: stored as 10.0.0.0/8`.
    pub message: String,
}

/// Answer to add, remove and replace: what changed and the list now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllowlistChange {
    #[schema(value_type = Vec<String>)]
    pub added: Vec<IpNet>,
    #[schema(value_type = Vec<String>)]
    pub removed: Vec<IpNet>,
    /// Entries kept whose note changed (replace only).
    #[schema(value_type = Vec<String>)]
    pub updated: Vec<IpNet>,
    pub notes: Vec<EntryNote>,
    /// The whole list after the change, ordered by address.
    pub entries: Vec<AllowlistEntry>,
    /// The address the server sees the caller at.
    #[schema(value_type = Option<String>)]
    pub caller_ip: Option<IpAddr>,
    /// Whether the list after the change lets the caller in; `false` only
    /// after a forced change.
    pub caller_allowed: bool,
}

/// Query of `GET /admin/v1/allowlist/check`.
#[derive(Debug, Clone, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AllowlistCheckQuery {
    pub ip: String,
}

/// Answer to `GET /admin/v1/allowlist/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AllowlistCheck {
    #[schema(value_type = String)]
    pub ip: IpAddr,
    pub allowed: bool,
    /// The most specific entry containing the address, if any.
    pub matched: Option<AllowlistEntry>,
    /// An empty list allows every address.
    pub allowlist_empty: bool,
}
