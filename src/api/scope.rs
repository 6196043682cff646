//! The permission scopes an API key or a role can carry, defined once: one
//! table gives each scope's wire name and its one-line doc, and the enum,
//! [`Scope::ALL`], `Display`, `FromStr`, serde, the CLI's possible values
//! (with their help) and the scope table in `docs/security.md` all come
//! from it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Expands the scope table into the enum and its name and doc lookups, so a
/// scope cannot be added without its wire name and doc, or missed by `ALL`.
macro_rules! scopes {
    ($($variant:ident => $name:literal, $doc:literal;)+) => {
        /// A permission. Its wire form (`users:read`) is what keys and roles
        /// store, the API speaks and the CLI accepts.
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            PartialOrd,
            Ord,
            Hash,
            Serialize,
            Deserialize,
            clap::ValueEnum,
            utoipa::ToSchema,
        )]
        pub enum Scope {
            $(
                #[doc = $doc]
                #[serde(rename = $name)]
                #[value(name = $name)]
                $variant,
            )+
        }

        impl Scope {
            /// Every scope, in the canonical order (the table's).
            pub const ALL: [Scope; [$($name),+].len()] = [$(Scope::$variant),+];

            /// The wire name: `users:read`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $name,)+
                }
            }

            /// What the scope lets a key do, in one line.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Scope::$variant => $doc,)+
                }
            }
        }
    };
}

scopes! {
    ScimProvision => "scim:provision",
        "everything under /scim/v2: create, change, deactivate and delete users and groups; provisioned users get the default role";
    UsersRead => "users:read",
        "list and show users, verification reports, locks, the circuit breaker's state";
    UsersWrite => "users:write",
        "create users by hand, and give or take away their roles by hand, within its own scopes";
    UsersDeprovision => "users:deprovision",
        "deprovision, deactivate and reactivate users; remove locks; protect and unprotect users; release or reset the circuit breaker";
    GroupsRead => "groups:read",
        "list and show groups";
    KeysManage => "keys:manage",
        "create, list and revoke API keys, within its own scopes";
    SettingsManage => "settings:manage",
        "the auto-provisioning and auto-deprovisioning switches, the circuit breaker's thresholds and the default role (within its own scopes)";
    AllowlistManage => "allowlist:manage",
        "change and check the IP allowlist";
    RolesManage => "roles:manage",
        "list, create and delete roles, within its own scopes";
    AuditRead => "audit:read",
        "read the audit log";
    SessionsIssue => "sessions:issue",
        "start a session for any active, unlocked user: the SSO front door's power, so a key holding it can act as anyone";
    SessionsIntrospect => "sessions:introspect",
        "ask whether a session token or API key is live, and for whom";
}

impl Scope {
    /// The scope table as Markdown rows (`| name | doc |`), as
    /// `docs/security.md` shows it.
    pub fn markdown_table() -> String {
        let mut table = String::from("| scope | lets a key |\n|---|---|\n");
        for scope in Scope::ALL {
            table.push_str(&format!("| `{}` | {} |\n", scope.as_str(), scope.doc()));
        }
        table
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {name:?}; known scopes: {}", known_scopes())]
pub struct UnknownScope {
    pub name: String,
}

/// Every scope's wire name, comma-separated: for messages that list them.
pub fn known_scopes() -> String {
    Scope::ALL.map(Scope::as_str).join(", ")
}

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == name)
            .ok_or_else(|| UnknownScope {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip_through_serde_and_from_str() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).expect("serialize");
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
            assert_eq!(
                clap::ValueEnum::to_possible_value(&scope)
                    .expect("every scope is offered")
                    .get_name(),
                scope.as_str()
            );
        }
    }

    #[test]
    fn unknown_scope_error_names_it_and_lists_the_known_ones() {
        let err = "users:delete".parse::<Scope>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"users:delete\""), "{message}");
        assert!(message.contains("keys:manage"), "{message}");
    }

    /// The security guide's scope table is this table: a new or reworded
    /// scope fails here until the guide shows it.
    #[test]
    fn the_security_guide_lists_every_scope_as_the_table_says() {
        let guide = include_str!("../../docs/security.md");
        let table = Scope::markdown_table();
        assert!(
            guide.contains(&table),
            "docs/security.md must contain this scope table:\n{table}"
        );
    }
}
