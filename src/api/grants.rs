//! Roles given to a user by hand (`/admin/v1/users/{user}/roles`): giving
//! and taking them away, and what that changed. Where each of a user's
//! roles comes from is `users why` ([`super::mappings::WhyReport`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::mappings::GrantSource;
use super::users::UserRef;

/// `POST /admin/v1/users/{user}/roles` (give) and
/// `POST /admin/v1/users/{user}/roles/remove` (take away): each role by
/// name. All or nothing: one refused role changes none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRolesRequest {
    /// Existing roles' names; a repeat counts once.
    pub roles: Vec<String>,
    /// Answer what would change, and change nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

/// What became of one requested role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleOutcome {
    /// Given by hand now. The user may have held it already from another
    /// source (`also_from`): the grant by hand outlives that source.
    Granted,
    /// Already given by hand: nothing changed.
    AlreadyGranted,
    /// The grant by hand was taken away; `held` says whether another source
    /// still gives the role.
    Revoked,
    /// The user did not hold the role at all: nothing changed.
    NotHeld,
}

/// One requested role, after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RoleGrantChange {
    pub role: String,
    pub outcome: RoleOutcome,
    /// Whether the user holds the role now (after a dry run: would hold it).
    pub held: bool,
    /// The role's sources other than the grant by hand: the default role,
    /// mappings. `scimctl users why` shows the same.
    pub also_from: Vec<GrantSource>,
}

/// The answer to giving or taking away roles by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserRolesChange {
    pub user: UserRef,
    pub dry_run: bool,
    /// One entry per requested role, in the order asked.
    pub changes: Vec<RoleGrantChange>,
    /// Every role the user holds after the change, by name.
    pub roles: Vec<String>,
}

impl UserRolesChange {
    /// Whether anything changed (or would, for a dry run).
    pub fn changed(&self) -> bool {
        self.changes
            .iter()
            .any(|change| matches!(change.outcome, RoleOutcome::Granted | RoleOutcome::Revoked))
    }
}
