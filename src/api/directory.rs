//! The directory: users, teams (SCIM groups), sessions, locks,
//! deprovisioning and introspection.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::scope::Scope;

/// A user named in another resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    pub user_name: String,
}

/// A team named in another resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TeamRef {
    pub id: String,
    pub display_name: String,
}

/// Who created a user: an identity provider over SCIM, or an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Scim,
    Manual,
}

/// Where a user stands in deprovisioning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeprovisionState {
    /// Not deprovisioned.
    None,
    /// Deactivated by the IdP while auto-deprovisioning was off: access
    /// stays until an operator runs `scimctl users deprovision`.
    Pending,
    /// Access torn down.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Email {
    pub value: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub emails: Vec<Email>,
    pub active: bool,
    pub origin: Origin,
    pub roles: Vec<String>,
    pub teams: Vec<TeamRef>,
    pub deprovisioning: DeprovisionState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deprovisioned_at: Option<OffsetDateTime>,
    /// Whether a lock blocks every credential of this user.
    pub locked: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /admin/v1/users`: a manual user, for teams without an IdP yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub user_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    /// Roles to give; empty means the default role.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Teams to join by display name; missing ones are created.
    #[serde(default)]
    pub teams: Vec<String>,
}

/// Which users `GET /admin/v1/users` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Inactive,
    /// Deactivated but not yet deprovisioned.
    Pending,
}

/// Query of `GET /admin/v1/users`. Results are ordered by userName.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub status: Option<UserStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A team's display name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Case-insensitive substring of userName, displayName or an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub member_count: u64,
    /// Filled by `GET /admin/v1/groups/{id}`, empty in listings.
    #[serde(default)]
    pub members: Vec<UserRef>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Query of `GET /admin/v1/groups`, ordered by display name.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TeamListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `POST /admin/v1/users/{user}/deprovision`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprovisionRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// Report what would be removed and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a deprovisioning removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeprovisionReport {
    pub user: UserRef,
    pub dry_run: bool,
    /// The user was already fully deprovisioned: nothing was changed.
    pub already_deprovisioned: bool,
    /// Whether the user was active before.
    pub was_active: bool,
    pub roles: Vec<String>,
    pub teams: Vec<TeamRef>,
    /// Ids of the personal API keys deleted.
    pub personal_keys: Vec<String>,
    /// Ids of the live sessions revoked.
    pub sessions: Vec<String>,
    /// Id of the lock created (or kept).
    pub lock: Option<String>,
}

/// One line of the verification checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Check {
    /// `inactive`, `no_roles`, `no_teams`, `no_personal_keys`,
    /// `no_live_sessions`, `lock_present`.
    pub name: String,
    pub passed: bool,
    /// What was found, e.g. `roles: admin, member`.
    pub evidence: String,
}

/// `GET /admin/v1/users/{user}/deprovision`: proof that a user has no access
/// left, or what remains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VerificationReport {
    pub user: UserRef,
    /// Every check passed.
    pub deprovisioned: bool,
    pub checks: Vec<Check>,
}

/// `POST /admin/v1/users/{user}/reactivate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivateRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

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
    pub teams: Vec<String>,
    /// For an API key: the scopes it may use now.
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Why it is not active: revoked, expired, user locked, user inactive, unknown.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lock {
    pub id: String,
    pub user: UserRef,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The actor that created it: a key name or `system`.
    pub created_by: String,
}
