//! Roles: named sets of permissions. Listing them with how many users hold
//! each, creating custom ones, and deleting those nobody needs any more —
//! never a built-in, the default role, or a role a user holds.

use std::collections::BTreeSet;

use serde_json::json;
use sqlx::error::ErrorKind;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::ceiling;
use super::scope::{self, Scope};
use super::{Error, Result};
use crate::api::roles::{CreateRoleRequest, Role, check_role_name};
use crate::store::mappings as mapping_rows;
use crate::store::roles::{self as role_rows, RoleRow};
use crate::store::settings as settings_rows;
use crate::store::users as user_rows;
use crate::store::{self, Conn, Store, StoreError};

/// The built-in role that means "every scope". What it grants is decided
/// here, in code, not by the list its row stores (which a migration seeded
/// once), so a scope added later can never be missing from it.
pub const ADMIN: &str = "admin";

/// What a role grants: its stored permissions, or every scope for
/// [`ADMIN`] whatever its stored list says.
pub fn grants(role: &RoleRow) -> BTreeSet<Scope> {
    if role.name == ADMIN {
        Scope::ALL.into_iter().collect()
    } else {
        scope::from_stored(&role.permissions).collect()
    }
}

/// What the user's roles grant together, by [`grants`]' rule.
pub async fn granted_to_user(
    conn: &mut Conn,
    user_id: &str,
) -> Result<BTreeSet<Scope>, StoreError> {
    let roles = user_rows::roles_of(conn, &[user_id])
        .await?
        .remove(user_id)
        .unwrap_or_default();
    let permissions = user_rows::permissions(conn, user_id).await?;
    Ok(granted_by(&roles, &permissions))
}

/// What a user holding `roles`, whose stored permissions are `permissions`,
/// is granted, by [`grants`]' rule.
pub fn granted_by(roles: &[String], permissions: &[String]) -> BTreeSet<Scope> {
    if roles.iter().any(|role| role == ADMIN) {
        Scope::ALL.into_iter().collect()
    } else {
        scope::from_stored(permissions).collect()
    }
}

/// Every role, by name, with its user count and whether it is the default.
pub async fn list(store: &Store) -> Result<Vec<Role>> {
    let mut conn = store.conn().await?;
    let rows = role_rows::list(&mut conn).await?;
    let counts = role_rows::user_counts(&mut conn).await?;
    let default_role = settings_rows::get(&mut conn).await?.default_role;
    Ok(rows
        .into_iter()
        .map(|row| {
            let users = counts.get(&row.name).copied().unwrap_or(0);
            let is_default = row.name == default_role;
            to_api(row, users, is_default)
        })
        .collect())
}

/// Adds a custom role. A key may only put into a role permissions it holds
/// itself, or `roles:manage` alone would be a path to every other one.
pub async fn create(store: &Store, actor: &Actor, request: CreateRoleRequest) -> Result<Role> {
    check_name(&request.name)?;
    let permissions: BTreeSet<Scope> = request.permissions.into_iter().collect();
    if permissions.is_empty() {
        return Err(Error::Invalid(format!(
            "a role needs at least one permission (the built-in role `member` is the one \
             with none); known permissions: {}",
            scope::known_scopes()
        )));
    }
    ceiling::check(actor, &permissions, "put these permissions into a role")?;
    let row = RoleRow {
        name: request.name,
        permissions: permissions.iter().map(|s| s.as_str().to_owned()).collect(),
        builtin: false,
    };
    let taken = || {
        Error::Conflict(format!(
            "a role named {} already exists; `scimctl roles list` shows the roles",
            row.name
        ))
    };

    let mut tx = store.begin().await?;
    if role_rows::get(&mut tx, &row.name).await?.is_some() {
        return Err(taken());
    }
    match role_rows::insert(&mut tx, &row, store::now()).await {
        Err(err) if violation(&err) == Some(ErrorKind::UniqueViolation) => return Err(taken()),
        other => other?,
    }
    audit::record(
        &mut tx,
        actor,
        "role.create",
        Some(&row.name),
        Outcome::Success,
        json!({ "permissions": row.permissions }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(row, 0, false))
}

/// Deletes a custom role nobody holds that is not the default, and answers
/// it as it was. Each refusal says why and what to do first.
pub async fn delete(store: &Store, actor: &Actor, name: &str) -> Result<Role> {
    let mut tx = store.begin().await?;
    // Under the settings lock the default role cannot change between the
    // check below and the delete.
    settings_rows::lock(&mut tx).await?;
    let Some(row) = role_rows::get(&mut tx, name).await? else {
        return Err(Error::NotFound(format!(
            "no role {name}; `scimctl roles list` shows the roles"
        )));
    };
    if row.builtin {
        return Err(Error::Conflict(format!(
            "{name} is a built-in role and cannot be deleted"
        )));
    }
    ceiling::check(actor, &grants(&row), &format!("delete role {name}"))?;
    if settings_rows::get(&mut tx).await?.default_role == name {
        return Err(Error::Conflict(format!(
            "{name} is the default role, given to every new user, so it cannot be deleted; \
             make another role the default first (`scimctl default-role set ROLE`)"
        )));
    }
    let mapped = mapping_rows::for_role(&mut tx, name).await?;
    if let Some(mapping) = mapped.first() {
        return Err(Error::Conflict(format!(
            "role {name} is granted by {} mapping(s) and cannot be deleted; remove them first \
             (`scimctl mappings remove {}`; `scimctl mappings list` shows them all)",
            mapped.len(),
            mapping.id
        )));
    }
    let users = role_rows::user_count(&mut tx, name).await?;
    if users > 0 {
        return Err(in_use(name, Some(users)));
    }
    match role_rows::delete(&mut tx, name).await {
        // A user was given the role after the count: the foreign key holds.
        Err(err) if violation(&err) == Some(ErrorKind::ForeignKeyViolation) => {
            return Err(in_use(name, None));
        }
        other => other?,
    };
    audit::record(
        &mut tx,
        actor,
        "role.delete",
        Some(name),
        Outcome::Success,
        json!({ "permissions": row.permissions }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(row, 0, false))
}

/// The role named `name`, or an [`Error::NotFound`] that lists the roles
/// there are: for any request that names a role (the default role, a new
/// user's roles, a listing's filter).
pub async fn require_exists(conn: &mut Conn, name: &str) -> Result<RoleRow> {
    if let Some(row) = role_rows::get(conn, name).await? {
        return Ok(row);
    }
    Err(unknown(conn, &[name]).await?)
}

/// Refuses every name in `names` that is not a role, listing the roles
/// there are.
pub async fn require_all_exist(conn: &mut Conn, names: &[String]) -> Result<()> {
    let known = known_names(conn).await?;
    let missing: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|name| !known.iter().any(|known| known == name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(unknown(conn, &missing).await?)
}

/// `no role X; the roles are: …`: a not-found error (exit 3 on the CLI),
/// like every other unknown name.
async fn unknown(conn: &mut Conn, names: &[&str]) -> Result<Error, StoreError> {
    let noun = if names.len() == 1 { "role" } else { "roles" };
    Ok(Error::NotFound(format!(
        "no {noun} {}; the roles are: {}",
        names.join(", "),
        known_names(conn).await?.join(", ")
    )))
}

async fn known_names(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    Ok(role_rows::list(conn)
        .await?
        .into_iter()
        .map(|row| row.name)
        .collect())
}

/// Checks a new role's name by the rule the CLI checks too.
pub fn check_name(name: &str) -> Result<()> {
    check_role_name(name).map_err(Error::Invalid)
}

fn in_use(name: &str, users: Option<u64>) -> Error {
    let holders = match users {
        Some(1) => "1 user holds it".to_owned(),
        Some(n) => format!("{n} users hold it"),
        None => "a user holds it".to_owned(),
    };
    Error::Conflict(format!(
        "role {name} is in use ({holders}) and cannot be deleted; take it away from them \
         first (`scimctl users list --role {name}` shows who, `scimctl users revoke USER \
         {name}` takes a role given by hand)"
    ))
}

/// Which constraint a failed statement broke, if that is why it failed.
fn violation(err: &StoreError) -> Option<ErrorKind> {
    match err {
        StoreError::Database(sqlx::Error::Database(db)) => Some(db.kind()),
        _ => None,
    }
}

fn to_api(row: RoleRow, user_count: u64, default: bool) -> Role {
    Role {
        permissions: grants(&row).into_iter().collect(),
        name: row.name,
        builtin: row.builtin,
        default,
        user_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(name: &str, stored: &[&str]) -> RoleRow {
        RoleRow {
            name: name.to_owned(),
            permissions: stored.iter().map(|&s| s.to_owned()).collect(),
            builtin: true,
        }
    }

    /// A scope added to the table reaches `admin` without a migration: its
    /// stored list (seeded once, so missing anything added since) does not
    /// count.
    #[test]
    fn admin_grants_every_scope_whatever_its_stored_list_says() {
        let all: BTreeSet<Scope> = Scope::ALL.into_iter().collect();
        for stored in [&[][..], &["users:read"], &["no:such-scope"]] {
            assert_eq!(grants(&role(ADMIN, stored)), all, "{stored:?}");
        }
        let shown = to_api(role(ADMIN, &["users:read"]), 1, false);
        assert_eq!(shown.permissions, Scope::ALL.to_vec());
    }

    #[test]
    fn other_roles_grant_what_they_store() {
        assert_eq!(
            grants(&role(
                "auditor",
                &["audit:read", "users:read", "gone:scope"]
            )),
            [Scope::UsersRead, Scope::AuditRead].into_iter().collect()
        );
        assert!(grants(&role("member", &[])).is_empty());
    }

    #[test]
    fn in_use_says_how_many_and_what_to_do() {
        let one = in_use("ops", Some(1)).to_string();
        assert!(one.contains("1 user holds it"), "{one}");
        let many = in_use("ops", Some(3)).to_string();
        assert!(many.contains("3 users hold it"), "{many}");
        assert!(many.contains("scimctl users list --role ops"), "{many}");
        assert!(many.contains("scimctl users revoke USER ops"), "{many}");
    }
}
