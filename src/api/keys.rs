//! API keys: `/admin/v1/keys` and `/admin/v1/whoami`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::scope::Scope;
use super::users::UserRef;

/// `POST /admin/v1/keys`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub name: String,
    pub scopes: Vec<Scope>,
    /// When the key stops working; `None` means never.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Makes a personal key: the owner's id or userName. It can never exceed
    /// the owner's roles and dies with the owner's access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// An API key as the API shows it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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
    /// The user a personal key belongs to; `None` for a service key.
    #[serde(default)]
    pub owner: Option<UserRef>,
}

/// Answer to `POST /admin/v1/keys`: the key and, this once, its token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    /// `scimctl_<id>_<secret>`; the server keeps only a hash of the secret.
    pub token: String,
}

/// Answer to `GET /admin/v1/whoami`: the key that made the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub key: ApiKey,
    /// The address the server saw the request come from.
    pub source_ip: String,
}
