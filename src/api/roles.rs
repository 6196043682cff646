//! Roles: `/admin/v1/roles`, and the rule for a role's name that the CLI
//! and the server both check.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::scope::Scope;

/// A role: a named set of permissions given to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub name: String,
    pub permissions: Vec<Scope>,
    /// `admin`, `provisioner`, `auditor` and `member` come with the service
    /// and cannot be deleted.
    pub builtin: bool,
    /// Whether this is the default role, given to every new user.
    pub default: bool,
    /// How many users hold the role.
    pub user_count: u64,
}

/// `POST /admin/v1/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// Lowercase letters, digits, `-` and `_`; at most 64 characters.
    pub name: String,
    /// At least one.
    pub permissions: Vec<Scope>,
}

/// The longest role name accepted.
pub const MAX_ROLE_NAME_LEN: usize = 64;

/// Checks a new role's name: 1 to 64 lowercase ASCII letters, digits, `-`
/// or `_`, so that it is safe in URLs, shells and audit targets as is. The
/// CLI checks it before sending, the server again on receipt.
pub fn check_role_name(name: &str) -> Result<(), String> {
    const RULE: &str = "use 1 to 64 lowercase letters, digits, '-' or '_'";
    if name.is_empty() {
        return Err(format!("a role name is required: {RULE}"));
    }
    if name.chars().count() > MAX_ROLE_NAME_LEN {
        return Err(format!(
            "role name {name:?} is {} characters long: {RULE}",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
    {
        return Err(format!("role name {name:?} contains {bad:?}: {RULE}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_lowercase_words() {
        for good in ["ops", "read-only", "group_lead", "l2", &"a".repeat(64)] {
            assert!(check_role_name(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("", "required"),
            ("Ops", "'O'"),
            ("read only", "' '"),
            ("ops/admin", "'/'"),
            ("café", "'é'"),
            (&"a".repeat(65), "65 characters"),
        ] {
            let err = check_role_name(bad).expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains("lowercase letters"), "{bad}: {err}");
        }
    }
}
