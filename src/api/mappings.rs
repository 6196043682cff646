//! Identity mappings (`/admin/v1/mappings`): a role granted to everyone who
//! has a source, a group or a value of the SCIM `roles` attribute; and
//! `users why`, where each of a user's roles and groups comes from.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::groups::GroupRef;
use super::users::UserRef;

/// What a mapping grants its role for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum MappingSource {
    /// Membership of a group (pushed by the IdP over SCIM, or made by hand).
    Group { group: GroupRef },
    /// A value of the user's SCIM `roles` attribute (how Entra ID sends app
    /// role assignments), compared ignoring case.
    ScimRole { value: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Mapping {
    pub id: String,
    pub source: MappingSource,
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The key (name) that added it, or `system`.
    pub created_by: String,
}

/// `POST /admin/v1/mappings`: exactly one of `group` and `scim_role`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMappingRequest {
    /// A group's display name or id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// A value of the SCIM `roles` attribute, e.g. an Entra app role's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_role: Option<String>,
    /// The role to grant: an existing role's name.
    pub role: String,
    /// Answer what would change, and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// Query of `DELETE /admin/v1/mappings/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RemoveMappingQuery {
    /// Answer what would change, and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// A user who gains or loses a role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
pub struct RoleChange {
    pub user: UserRef,
    pub role: String,
}

/// What adding or removing a mapping changes (or would, with `dry_run`):
/// the users who gain a role they did not hold, and those who lose one no
/// other source gives them. A user who holds the role for another reason
/// too is in neither list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MappingChange {
    pub mapping: Mapping,
    pub dry_run: bool,
    pub gained: Vec<RoleChange>,
    pub lost: Vec<RoleChange>,
}

impl MappingChange {
    /// How many users gain or lose a role.
    pub fn users_changed(&self) -> usize {
        let mut users: Vec<&str> = (self.gained.iter().chain(&self.lost))
            .map(|change| change.user.id.as_str())
            .collect();
        users.sort_unstable();
        users.dedup();
        users.len()
    }
}

/// Why a user holds a role: one entry per source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum GrantSource {
    /// The default role, given when the user was provisioned (or
    /// reactivated, or created by hand without roles).
    Default {
        #[serde(with = "time::serde::rfc3339")]
        granted_at: OffsetDateTime,
    },
    /// A mapping whose source the user has.
    Mapping {
        mapping_id: String,
        /// `None` when the mapping is gone but the grant was kept (the last
        /// active admin keeps `admin`).
        source: Option<MappingSource>,
        #[serde(with = "time::serde::rfc3339")]
        granted_at: OffsetDateTime,
    },
    /// Given by hand, by a key.
    Manual {
        /// The key's name (or `system`); `None` when it was given before
        /// sources were recorded.
        granted_by: Option<String>,
        /// The key's id, when a key gave it.
        key_id: Option<String>,
        #[serde(with = "time::serde::rfc3339")]
        granted_at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhyRole {
    pub role: String,
    pub sources: Vec<GrantSource>,
}

/// How a membership came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MembershipVia {
    /// Pushed by the identity provider over SCIM.
    Scim,
    /// Made by an operator (`users create --group`).
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhyGroup {
    pub group: GroupRef,
    pub via: MembershipVia,
    /// When and by whom, where recorded (not for memberships from before
    /// that was recorded).
    #[serde(with = "time::serde::rfc3339::option")]
    pub added_at: Option<OffsetDateTime>,
    pub added_by: Option<String>,
}

/// `GET /admin/v1/users/{user}/why`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhyReport {
    pub user: UserRef,
    pub roles: Vec<WhyRole>,
    pub groups: Vec<WhyGroup>,
}
