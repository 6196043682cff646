//! The permission scopes an API key can carry: the one list the server
//! enforces and the CLI offers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A permission. Its wire form (`users:read`) is what keys store, the API
/// speaks and the CLI accepts.
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
    #[serde(rename = "scim:provision")]
    #[value(name = "scim:provision")]
    ScimProvision,
    #[serde(rename = "users:read")]
    #[value(name = "users:read")]
    UsersRead,
    #[serde(rename = "users:write")]
    #[value(name = "users:write")]
    UsersWrite,
    #[serde(rename = "users:deprovision")]
    #[value(name = "users:deprovision")]
    UsersDeprovision,
    #[serde(rename = "groups:read")]
    #[value(name = "groups:read")]
    GroupsRead,
    #[serde(rename = "keys:manage")]
    #[value(name = "keys:manage")]
    KeysManage,
    #[serde(rename = "settings:manage")]
    #[value(name = "settings:manage")]
    SettingsManage,
    #[serde(rename = "allowlist:manage")]
    #[value(name = "allowlist:manage")]
    AllowlistManage,
    #[serde(rename = "roles:manage")]
    #[value(name = "roles:manage")]
    RolesManage,
    #[serde(rename = "audit:read")]
    #[value(name = "audit:read")]
    AuditRead,
    #[serde(rename = "sessions:issue")]
    #[value(name = "sessions:issue")]
    SessionsIssue,
    #[serde(rename = "sessions:introspect")]
    #[value(name = "sessions:introspect")]
    SessionsIntrospect,
}

impl Scope {
    pub const ALL: [Scope; 12] = [
        Scope::ScimProvision,
        Scope::UsersRead,
        Scope::UsersWrite,
        Scope::UsersDeprovision,
        Scope::GroupsRead,
        Scope::KeysManage,
        Scope::SettingsManage,
        Scope::AllowlistManage,
        Scope::RolesManage,
        Scope::AuditRead,
        Scope::SessionsIssue,
        Scope::SessionsIntrospect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ScimProvision => "scim:provision",
            Scope::UsersRead => "users:read",
            Scope::UsersWrite => "users:write",
            Scope::UsersDeprovision => "users:deprovision",
            Scope::GroupsRead => "groups:read",
            Scope::KeysManage => "keys:manage",
            Scope::SettingsManage => "settings:manage",
            Scope::AllowlistManage => "allowlist:manage",
            Scope::RolesManage => "roles:manage",
            Scope::AuditRead => "audit:read",
            Scope::SessionsIssue => "sessions:issue",
            Scope::SessionsIntrospect => "sessions:introspect",
        }
    }
}

/// Scopes from their stored names. A name this version does not know (a
/// scope a later version removed) grants nothing.
pub fn from_stored(names: &[String]) -> impl Iterator<Item = Scope> + '_ {
    names.iter().filter_map(|name| name.parse().ok())
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

fn known_scopes() -> String {
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
        }
    }

    #[test]
    fn unknown_scope_error_names_it_and_lists_the_known_ones() {
        let err = "users:delete".parse::<Scope>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"users:delete\""), "{message}");
        assert!(message.contains("keys:manage"), "{message}");
    }
}
