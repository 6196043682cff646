//! Sessions: issuing one for a user (`/admin/v1/users/{user}/sessions`) and
//! asking whether a session token or API key is live (`/auth/v1/introspect`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::scope::Scope;
use super::users::UserRef;

/// `POST /admin/v1/users/{user}/sessions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueSessionRequest {
    /// Lifetime in seconds, 60 to 2,592,000 (30 days); default 28,800 (8 h).
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

/// A new session; the token is shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedSession {
    pub id: String,
    pub user: UserRef,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub token: String,
}

/// `POST /auth/v1/introspect`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// A session token or an API key.
    pub token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    Session,
    ApiKey,
}

/// Whether a credential is live, and for whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// Unset when the token is not recognised at all.
    pub kind: Option<CredentialKind>,
    pub user: Option<UserRef>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    /// For an API key: the scopes it may use now.
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Why it is not active: revoked, expired, user locked, user inactive, unknown.
    pub reason: Option<String>,
}
