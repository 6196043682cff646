//! Roles given to a user by hand (source `manual`) and taken away again:
//! `users grant` and `users revoke`. Only the grant by hand is touched: a
//! role the default role or a mapping gives stays with its source, and the
//! answer names that source (as `users why` does).
//!
//! Each request is one transaction under the user's row lock, all or
//! nothing, each change audited (`role.grant`, `role.revoke`, source
//! `manual`). Giving needs a user who can use it (active, not pending,
//! deprovisioned, deleted or locked); taking away is refused where it would
//! leave the service without an active admin; both are capped by the
//! privilege ceiling.

use std::collections::HashMap;

use serde_json::json;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::roles::{self, ADMIN};
use super::users::find_for_update;
use super::why::grant_source;
use super::{Error, Result, ceiling, guards};
use crate::api::grants::{RoleGrantChange, RoleOutcome, UserRolesChange, UserRolesRequest};
use crate::api::mappings::GrantSource;
use crate::api::users::{DeprovisionState, UserRef};
use crate::store::grants::{self as grant_rows, GrantRow, Source};
use crate::store::mappings::{self as mapping_rows, MappingRow};
use crate::store::users::{self as user_rows, UserRow};
use crate::store::{self, Conn, Store, StoreError, locks, rails as rail_rows};
use crate::text;

/// `POST /admin/v1/users/{user}/roles`: gives each role by hand. A role
/// already given by hand changes nothing; one held from another source is
/// given by hand too, so it outlives that source.
pub async fn grant(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
    request: UserRolesRequest,
) -> Result<UserRolesChange> {
    let names = requested(&request.roles)?;
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    roles::require_all_exist(&mut tx, &names).await?;
    let what = format!("give {} the role(s) {}", user.user_name, names.join(", "));
    ceiling::check_roles(&mut tx, actor, &names, &what).await?;
    if let Some(why) = unusable(&mut tx, &user).await? {
        return Err(Error::Conflict(format!(
            "cannot give {} a role: {why}; `scimctl users reactivate {}` gives access back \
             first (the default role and what mappings grant), then grant",
            user.user_name, user.user_name
        )));
    }
    let current = grants_of(&mut tx, &user.id).await?;
    let by = actor.grantor();
    let mut outcomes = Vec::new();
    for role in &names {
        let held = of_role(&current, role);
        if held.iter().any(|grant| grant.source == Source::Manual) {
            outcomes.push((role.clone(), RoleOutcome::AlreadyGranted));
            continue;
        }
        grant_rows::grant(&mut tx, &user.id, role, &Source::Manual, store::now(), &by).await?;
        audit::record(
            &mut tx,
            actor,
            "role.grant",
            Some(&user.user_name),
            Outcome::Success,
            json!({
                "id": user.id,
                "role": role,
                "source": Source::Manual.to_stored(),
                "granted_by": by,
                "newly_held": held.is_empty(),
            }),
        )
        .await?;
        outcomes.push((role.clone(), RoleOutcome::Granted));
    }
    finish(tx, &user, outcomes, request.dry_run).await
}

/// `POST /admin/v1/users/{user}/roles/remove`: takes away each role given
/// by hand. A role the user does not hold changes nothing; one only the
/// default role or a mapping gives is refused with that source, and so is
/// `admin` from the last active admin.
pub async fn revoke(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
    request: UserRolesRequest,
) -> Result<UserRolesChange> {
    let names = requested(&request.roles)?;
    let mut tx = store.begin().await?;
    let user = find_for_update(&mut tx, id_or_name).await?;
    roles::require_all_exist(&mut tx, &names).await?;
    let what = format!(
        "take the role(s) {} from {}",
        names.join(", "),
        user.user_name
    );
    ceiling::check_roles(&mut tx, actor, &names, &what).await?;
    let current = grants_of(&mut tx, &user.id).await?;
    let mappings = mappings_by_id(&mut tx).await?;
    let mut outcomes = Vec::new();
    for role in &names {
        let held = of_role(&current, role);
        let Some(manual) = held.iter().find(|grant| grant.source == Source::Manual) else {
            if held.is_empty() {
                outcomes.push((role.clone(), RoleOutcome::NotHeld));
                continue;
            }
            return Err(not_by_hand(&user, role, &held, &mappings));
        };
        let still_held = held.len() > 1;
        if role == ADMIN && !still_held {
            // Serialises with every other change that may take the last
            // admin (SCIM deprovisionings, mappings), as guards asks.
            rail_rows::lock_breaker(&mut tx).await?;
            if guards::is_last_admin(&mut tx, &user.id).await? {
                return Err(Error::Conflict(format!(
                    "cannot take admin from {}: they are the last active admin, and the \
                     service would have nobody left to administer it; give another user \
                     admin first (`scimctl users grant USER admin`)",
                    user.user_name
                )));
            }
        }
        grant_rows::revoke(&mut tx, &user.id, role, &Source::Manual).await?;
        audit::record(
            &mut tx,
            actor,
            "role.revoke",
            Some(&user.user_name),
            Outcome::Success,
            json!({
                "id": user.id,
                "role": role,
                "source": Source::Manual.to_stored(),
                "granted_by": manual.granted_by,
                "granted_at": crate::api::rfc3339(manual.granted_at),
                "still_held": still_held,
            }),
        )
        .await?;
        outcomes.push((role.clone(), RoleOutcome::Revoked));
    }
    finish(tx, &user, outcomes, request.dry_run).await
}

/// The role names asked for, checked, each once in the order given.
fn requested(roles: &[String]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        let role = role.trim();
        text::check_name("role", role, text::MAX_NAME)?;
        if !names.iter().any(|name| name == role) {
            names.push(role.to_owned());
        }
    }
    if names.is_empty() {
        return Err(Error::Invalid(
            "name at least one role (`roles`); `scimctl roles list` shows them".to_owned(),
        ));
    }
    Ok(names)
}

/// Why `user` may not be given anything now, if they may not: a role given
/// to someone who cannot use it would come back to life with them.
async fn unusable(conn: &mut Conn, user: &UserRow) -> Result<Option<String>, StoreError> {
    let why = if user.deleted_at.is_some() {
        "the user was deleted by the identity provider"
    } else if user.deprovision_state == DeprovisionState::Done {
        "the user is deprovisioned"
    } else if user.deprovision_state == DeprovisionState::Pending {
        "the user is pending deprovisioning (deactivated by the identity provider)"
    } else if !user.active {
        "the user is inactive"
    } else if locks::for_user(conn, &user.id).await?.is_some() {
        "the user is locked"
    } else {
        return Ok(None);
    };
    Ok(Some(why.to_owned()))
}

async fn grants_of(conn: &mut Conn, user_id: &str) -> Result<Vec<GrantRow>, StoreError> {
    Ok(grant_rows::of_users(conn, &[user_id])
        .await?
        .remove(user_id)
        .unwrap_or_default())
}

fn of_role<'a>(grants: &'a [GrantRow], role: &str) -> Vec<&'a GrantRow> {
    grants
        .iter()
        .filter(|grant| grant.role_name == role)
        .collect()
}

async fn mappings_by_id(conn: &mut Conn) -> Result<HashMap<String, MappingRow>, StoreError> {
    Ok(mapping_rows::list(conn)
        .await?
        .into_iter()
        .map(|mapping| (mapping.id.clone(), mapping))
        .collect())
}

/// The refusal of a revocation whose role no grant by hand gives: what
/// does give it, and what to do instead.
fn not_by_hand(
    user: &UserRow,
    role: &str,
    held: &[&GrantRow],
    mappings: &HashMap<String, MappingRow>,
) -> Error {
    let name = &user.user_name;
    let mapped: Vec<(&str, Option<&MappingRow>)> = held
        .iter()
        .filter_map(|grant| match &grant.source {
            Source::Mapping(id) => Some((id.as_str(), mappings.get(id))),
            _ => None,
        })
        .collect();
    let by_default = held.iter().any(|grant| grant.source == Source::Default);
    let mut sources: Vec<String> = mapped
        .iter()
        .map(|(id, mapping)| match mapping {
            Some(mapping) => format!(
                "mapping {id} (from {})",
                super::mappings::describe(&mapping.source)
            ),
            None => format!("mapping {id} (removed; kept for the last admin)"),
        })
        .collect();
    if by_default {
        sources.push("the default role".to_owned());
    }
    let mut message = format!(
        "{name} holds {role} from {}, not by hand: there is no grant by hand to take away",
        sources.join(" and ")
    );
    if let Some((id, _)) = mapped.first() {
        message.push_str(&format!(
            "; a mapped role goes when {name} leaves the mapping's source (the group or SCIM \
             role, in the identity provider), or with the mapping for everyone it gives the \
             role to (`scimctl mappings remove {id}`)"
        ));
    }
    if by_default {
        message.push_str(&format!(
            "; the default role stays until {name} is deprovisioned (`scimctl users \
             deprovision`)"
        ));
    }
    message.push_str(&format!("; `scimctl users why {name}` shows every source"));
    Error::Conflict(message)
}

/// The answer, read back in the transaction; then commits, or rolls back
/// for a dry run.
async fn finish(
    mut tx: store::Tx,
    user: &UserRow,
    outcomes: Vec<(String, RoleOutcome)>,
    dry_run: bool,
) -> Result<UserRolesChange> {
    let after = grants_of(&mut tx, &user.id).await?;
    let mappings = mappings_by_id(&mut tx).await?;
    let mut changes = Vec::with_capacity(outcomes.len());
    for (role, outcome) in outcomes {
        let mut also_from: Vec<GrantSource> = Vec::new();
        let held = of_role(&after, &role);
        for grant in held.iter().filter(|grant| grant.source != Source::Manual) {
            also_from.push(grant_source(&mut tx, grant, &mappings).await?);
        }
        changes.push(RoleGrantChange {
            held: !held.is_empty(),
            role,
            outcome,
            also_from,
        });
    }
    let roles = user_rows::roles_of(&mut tx, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    if dry_run {
        tx.rollback().await.map_err(StoreError::from)?;
    } else {
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(UserRolesChange {
        user: UserRef {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
        },
        dry_run,
        changes,
        roles,
    })
}
