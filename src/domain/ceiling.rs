//! The privilege ceiling, one rule for every path that grants something: a
//! caller may only grant, assign, revoke or delete what it holds itself.
//! Key scopes, personal keys, role assignment, the default role, role
//! definitions and key revocation all ask here, so that `keys:manage`,
//! `users:write`, `settings:manage` or `roles:manage` alone is never a way
//! to more.
//!
//! The identity provider's `scim:provision` is the one deliberate
//! exception: a provisioned user gets the default role, which someone
//! holding its permissions chose.

use std::collections::BTreeSet;

use super::actor::Actor;
use super::scope::Scope;
use super::{Error, Result};
use crate::store::{Conn, roles as role_rows};

/// Refuses unless `actor` holds every scope in `needed`. `what` says what
/// was attempted, for the message ("assign role admin").
pub fn check(actor: &Actor, needed: &BTreeSet<Scope>, what: &str) -> Result<()> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|scope| !actor.has(**scope))
        .map(|scope| scope.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "cannot {what}: your key lacks {}, and a key can only hand out, take away or \
         delete what it holds itself; use a key that has {}",
        missing.join(", "),
        if missing.len() == 1 { "it" } else { "them" }
    )))
}

/// [`check`] for the permissions `roles` carry together (roles that do
/// not exist carry none: the caller refuses those with its own message).
pub async fn check_roles(
    conn: &mut Conn,
    actor: &Actor,
    roles: &[String],
    what: &str,
) -> Result<()> {
    let mut needed = BTreeSet::new();
    for name in roles {
        if let Some(role) = role_rows::get(conn, name).await? {
            needed.extend(super::roles::grants(&role));
        }
    }
    check(actor, &needed, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(scopes: &[Scope]) -> Actor {
        Actor {
            scopes: scopes.iter().copied().collect(),
            ..Actor::system()
        }
    }

    #[test]
    fn a_caller_holding_everything_needed_passes() {
        let needed = [Scope::UsersRead, Scope::AuditRead].into_iter().collect();
        assert!(
            check(
                &actor(&[Scope::UsersRead, Scope::AuditRead, Scope::KeysManage]),
                &needed,
                "x"
            )
            .is_ok()
        );
        assert!(check(&actor(&[]), &BTreeSet::new(), "x").is_ok());
    }

    #[test]
    fn the_refusal_names_every_missing_scope_and_what_was_attempted() {
        let needed = [Scope::UsersRead, Scope::SettingsManage, Scope::KeysManage]
            .into_iter()
            .collect();
        let Err(Error::Forbidden(message)) =
            check(&actor(&[Scope::UsersRead]), &needed, "assign role admin")
        else {
            panic!("refused");
        };
        assert!(
            message.starts_with("cannot assign role admin: your key lacks "),
            "{message}"
        );
        assert!(
            message.contains("keys:manage, settings:manage"),
            "{message}"
        );
        assert!(!message.contains("users:read"), "{message}");
    }
}
