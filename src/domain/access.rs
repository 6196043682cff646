//! What a user's credentials are worth right now: whether they work at all
//! (active, not locked) and what the user's roles grant.

use std::collections::BTreeSet;

use super::roles;
use super::scope::Scope;
use crate::store::keys::OwnerAccess;
use crate::store::users::UserRow;
use crate::store::{Conn, StoreError, locks};

#[derive(Debug, Clone)]
pub struct Access {
    pub active: bool,
    pub locked: bool,
    pub permissions: BTreeSet<Scope>,
}

impl Access {
    /// Why the user's credentials must be refused, if they must.
    pub fn blocked_because(&self) -> Option<&'static str> {
        if self.locked {
            Some("the user is locked")
        } else if !self.active {
            Some("the user is inactive")
        } else {
            None
        }
    }
}

impl Access {
    /// A personal key's owner as authentication read them (`keys::present`).
    pub fn of_owner(owner: &OwnerAccess) -> Access {
        Access {
            active: owner.active && !owner.deleted,
            locked: owner.locked,
            permissions: roles::granted_by(&owner.roles, &owner.permissions),
        }
    }
}

pub async fn of_user(conn: &mut Conn, user: &UserRow) -> Result<Access, StoreError> {
    let locked = locks::for_user(conn, &user.id).await?.is_some();
    let permissions = roles::granted_to_user(conn, &user.id).await?;
    Ok(Access {
        active: user.active && user.deleted_at.is_none(),
        locked,
        permissions,
    })
}
