//! Users in the admin API (`/admin/v1/users`): the user, its listing query,
//! manual creation, and deprovisioning, verification and reactivation.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::groups::GroupRef;
use super::rails::Held;

/// A user named in another resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct UserRef {
    pub id: String,
    pub user_name: String,
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
    pub groups: Vec<GroupRef>,
    pub deprovisioning: DeprovisionState,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deprovisioned_at: Option<OffsetDateTime>,
    /// Whether a lock blocks every credential of this user.
    pub locked: bool,
    /// Protected: SCIM never deprovisions, deletes or demotes this user.
    #[serde(default)]
    pub protected: bool,
    /// Changes the IdP asked for that were held instead of carried out.
    #[serde(default)]
    pub held: Vec<Held>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// `POST /admin/v1/users`: a manual user, for organisations without an IdP yet.
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
    /// Groups to join by display name. Each must exist unless
    /// `create_groups` is set; an unknown one is refused (`404`, naming it)
    /// and nothing is created.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Create the groups in `groups` that do not exist yet.
    #[serde(default)]
    pub create_groups: bool,
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
    /// A role's name; an unknown one is refused (`404`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A group's display name or id; an unknown one is refused (`404`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Case-insensitive substring of userName, displayName or an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// A SCIM filter on users (RFC 7644 §3.4.2.2), e.g. `userName sw "a"
    /// and active eq true`, read as `/scim/v2/Users?filter=` reads it; a bad
    /// one is refused (`400`) saying what is wrong and where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Page size, 1 to 1000 (default 100).
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
    pub groups: Vec<GroupRef>,
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
    /// `inactive`, `no_roles`, `no_groups`, `no_personal_keys`,
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
    /// Deprovisionings held for this user, and why: what keeps access in
    /// place although the IdP asked for it to go.
    #[serde(default)]
    pub held: Vec<Held>,
}

/// `POST /admin/v1/users/{user}/reactivate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactivateRequest {
    #[serde(default)]
    pub reason: Option<String>,
}
