//! Identity mappings: a role granted to everyone who has a source, a group
//! or a value of the SCIM `roles` attribute. A user's roles are the union of
//! the default role, the roles mappings grant for the sources they have now,
//! and roles given by hand; each grant is a row with its source
//! (`store::grants`).
//!
//! [`follow`] is the one rule that keeps mapped grants exact: every change
//! of a membership or of the `roles` attribute calls it in the same
//! transaction, and adding or removing a mapping runs it over the users the
//! mapping concerns, so a dry run computes exactly what the change does.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Value, json};
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::deprovision::Trigger;
use super::guards;
use super::roles::{self, ADMIN};
use super::{Error, Result, ceiling, groups};
use crate::api::groups::GroupRef;
use crate::api::mappings::{
    CreateMappingRequest, Mapping, MappingChange, MappingSource, RoleChange,
};
use crate::api::rails::{HeldAction, HoldReason};
use crate::api::users::{DeprovisionState, UserRef};
use crate::store::grants::{self as grant_rows, GrantRow, Source};
use crate::store::mappings::{self as mapping_rows, MappingRow, SourceRow, scim_role_key};
use crate::store::rails::{self as rail_rows, HeldRow};
use crate::store::users::{self as user_rows, UserRecord, UserRow};
use crate::store::{self, Conn, Store, StoreError, groups as group_rows};
use crate::text;

/// Users read per query while following mappings: one `IN` list each.
const USERS_PER_READ: usize = 500;

/// What following the mappings changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// Roles users hold now and did not before.
    pub gained: BTreeSet<RoleChange>,
    /// Roles users no longer hold at all.
    pub lost: BTreeSet<RoleChange>,
    /// Revocations not made, each held (audited as `role.revoke_held`): the
    /// user is the last active holder of `admin`, or, for SCIM, protected.
    pub held: BTreeSet<RoleChange>,
}

/// The lower-cased `value`s of a user's SCIM `roles` attribute (stored in
/// `attributes`): what a `scim_role` mapping is matched against. Entra ID
/// sends `[{"value": "Admin", "type": "…", "primary": false}]`; plain
/// strings are read too.
pub fn scim_role_keys(attributes: &str) -> BTreeSet<String> {
    let Ok(Value::Object(attributes)) = serde_json::from_str::<Value>(attributes) else {
        return BTreeSet::new();
    };
    let Some((_, Value::Array(roles))) = attributes
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("roles"))
    else {
        return BTreeSet::new();
    };
    roles
        .iter()
        .filter_map(|role| match role {
            Value::String(value) => Some(value.as_str()),
            Value::Object(fields) => fields
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("value"))
                .and_then(|(_, value)| value.as_str()),
            _ => None,
        })
        .map(scim_role_key)
        .collect()
}

/// Makes the mapped grants of `user_ids` what the mappings say for the
/// memberships and `roles` values they have now: grants for sources they
/// gained (only while they are active and not deprovisioning), revocations
/// for sources they lost. Each change is audited (`role.grant`,
/// `role.revoke`) with its source. The users' rows should be locked by the
/// caller when grants may follow (joining users), so a deprovisioning
/// cannot interleave. `trigger` says who changed the source: SCIM never
/// demotes a protected user.
pub async fn follow(
    conn: &mut Conn,
    actor: &Actor,
    user_ids: &[String],
    trigger: Trigger,
) -> Result<Followed> {
    let mappings = mapping_rows::list(conn).await?;
    follow_with(conn, actor, user_ids, &mappings, None, trigger).await
}

/// [`follow`] for a membership change of `group_id`: nothing to do unless a
/// mapping has that group as its source.
pub async fn follow_group(
    conn: &mut Conn,
    actor: &Actor,
    group_id: &str,
    user_ids: &[String],
) -> Result<Followed> {
    if user_ids.is_empty() || mapping_rows::for_group(conn, group_id).await?.is_empty() {
        return Ok(Followed::default());
    }
    follow(conn, actor, user_ids, Trigger::Scim).await
}

/// [`follow`] for a change of one user's SCIM `roles` values: nothing to do
/// when they did not change or no mapping reads them.
pub async fn follow_scim_roles(
    conn: &mut Conn,
    actor: &Actor,
    user_id: &str,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Result<Followed> {
    if before == after || !mapping_rows::any_scim_role(conn).await? {
        return Ok(Followed::default());
    }
    follow(conn, actor, &[user_id.to_owned()], Trigger::Scim).await
}

/// [`follow`] with the mappings given; `removed` is a mapping deleted in
/// this transaction, still needed to describe the grants it gave.
async fn follow_with(
    conn: &mut Conn,
    actor: &Actor,
    user_ids: &[String],
    mappings: &[MappingRow],
    removed: Option<&MappingRow>,
    trigger: Trigger,
) -> Result<Followed> {
    let described: HashMap<&str, &MappingRow> = mappings
        .iter()
        .chain(removed)
        .map(|mapping| (mapping.id.as_str(), mapping))
        .collect();
    let mut ids: Vec<String> = user_ids.to_vec();
    ids.sort();
    ids.dedup();
    let mut followed = Followed::default();
    for chunk in ids.chunks(USERS_PER_READ) {
        let records = user_rows::live_with_ids(conn, chunk).await?;
        let chunk_ids: Vec<&str> = records
            .iter()
            .map(|record| record.row.id.as_str())
            .collect();
        let mut grants = grant_rows::of_users(conn, &chunk_ids).await?;
        for record in &records {
            let current = grants.remove(&record.row.id).unwrap_or_default();
            let sources = Sources {
                mappings,
                described: &described,
            };
            follow_user(
                conn,
                actor,
                record,
                &current,
                sources,
                trigger,
                &mut followed,
            )
            .await?;
        }
    }
    Ok(followed)
}

/// The mappings followed, and every mapping a grant may name (a removed
/// one included) by id, to describe it.
#[derive(Clone, Copy)]
struct Sources<'a> {
    mappings: &'a [MappingRow],
    described: &'a HashMap<&'a str, &'a MappingRow>,
}

/// One user's part of [`follow_with`].
async fn follow_user(
    conn: &mut Conn,
    actor: &Actor,
    record: &UserRecord,
    current: &[GrantRow],
    Sources {
        mappings,
        described,
    }: Sources<'_>,
    trigger: Trigger,
    followed: &mut Followed,
) -> Result<()> {
    let user = &record.row;
    let groups: BTreeSet<&str> = record.groups.iter().map(|(id, _)| id.as_str()).collect();
    let keys = scim_role_keys(&user.attributes);
    let wanted: BTreeSet<(&str, &str)> = mappings
        .iter()
        .filter(|mapping| match &mapping.source {
            SourceRow::Group { id, .. } => groups.contains(id.as_str()),
            SourceRow::ScimRole { value } => keys.contains(&scim_role_key(value)),
        })
        .map(|mapping| (mapping.role_name.as_str(), mapping.id.as_str()))
        .collect();
    let mapped: BTreeSet<(&str, &str)> = current
        .iter()
        .filter_map(|grant| match &grant.source {
            Source::Mapping(id) => Some((grant.role_name.as_str(), id.as_str())),
            _ => None,
        })
        .collect();
    let mut held: BTreeMap<&str, usize> = BTreeMap::new();
    for grant in current {
        *held.entry(grant.role_name.as_str()).or_default() += 1;
    }
    let held_before: BTreeSet<&str> = held.keys().copied().collect();
    let who = UserRef {
        id: user.id.clone(),
        user_name: user.user_name.clone(),
    };
    let change = |role: &str| RoleChange {
        user: who.clone(),
        role: role.to_owned(),
    };

    for &(role, mapping_id) in mapped.difference(&wanted) {
        let last_source = held.get(role) == Some(&1);
        if last_source && let Some(reason) = hold_reason(conn, &user.id, role, trigger).await? {
            hold_revocation(conn, actor, user, role, mapping_id, reason, described).await?;
            followed.held.insert(change(role));
            continue;
        }
        let source = Source::Mapping(mapping_id.to_owned());
        // A revocation held before is made now: it is no longer pending.
        rail_rows::clear_held_revocation(conn, &user.id, role, &source.to_stored()).await?;
        if grant_rows::revoke(conn, &user.id, role, &source).await? {
            let count = held
                .get_mut(role)
                .expect("a role held by the grant revoked");
            *count -= 1;
            audit::record(
                conn,
                actor,
                "role.revoke",
                Some(&user.user_name),
                Outcome::Success,
                json!({
                    "id": user.id,
                    "role": role,
                    "source": source_details(mapping_id, described),
                    "still_held": *count > 0,
                }),
            )
            .await?;
        }
    }

    let eligible = user.active
        && user.deprovision_state == DeprovisionState::None
        && user.deleted_at.is_none();
    if eligible {
        let by = actor.grantor();
        for &(role, mapping_id) in wanted.difference(&mapped) {
            let source = Source::Mapping(mapping_id.to_owned());
            if grant_rows::grant(conn, &user.id, role, &source, store::now(), &by).await? {
                let count = held.entry(role).or_default();
                *count += 1;
                audit::record(
                    conn,
                    actor,
                    "role.grant",
                    Some(&user.user_name),
                    Outcome::Success,
                    json!({
                        "id": user.id,
                        "role": role,
                        "source": source_details(mapping_id, described),
                        "newly_held": *count == 1,
                    }),
                )
                .await?;
            }
        }
    }

    let held_after: BTreeSet<&str> = held
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(role, _)| *role)
        .collect();
    followed
        .gained
        .extend(held_after.difference(&held_before).map(|role| change(role)));
    followed
        .lost
        .extend(held_before.difference(&held_after).map(|role| change(role)));
    Ok(())
}

/// Why taking `role` (its last source) from the user must wait, if it
/// must: the last active admin keeps `admin`, and SCIM never demotes a
/// protected user.
async fn hold_reason(
    conn: &mut Conn,
    user_id: &str,
    role: &str,
    trigger: Trigger,
) -> Result<Option<HoldReason>, StoreError> {
    if trigger == Trigger::Scim && rail_rows::is_protected(conn, user_id).await? {
        return Ok(Some(HoldReason::Protected));
    }
    if role == ADMIN {
        // Serialises with every other change that may take the last admin.
        rail_rows::lock_breaker(conn).await?;
        if guards::is_last_admin(conn, user_id).await? {
            return Ok(Some(HoldReason::LastAdmin));
        }
    }
    Ok(None)
}

/// Keeps the grant, records the held revocation once (listed by `users
/// verify` and `users list --pending`) and audits it.
async fn hold_revocation(
    conn: &mut Conn,
    actor: &Actor,
    user: &UserRow,
    role: &str,
    mapping_id: &str,
    reason: HoldReason,
    described: &HashMap<&str, &MappingRow>,
) -> Result<()> {
    let source = Source::Mapping(mapping_id.to_owned()).to_stored();
    let already = rail_rows::held_of(conn, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default()
        .into_iter()
        .any(|held| {
            held.action == HeldAction::RevokeRole
                && held.role_name.as_deref() == Some(role)
                && held.source.as_deref() == Some(source.as_str())
        });
    if !already {
        let row = HeldRow {
            id: Uuid::new_v4().to_string(),
            user_id: user.id.clone(),
            action: HeldAction::RevokeRole,
            role_name: Some(role.to_owned()),
            source: Some(source),
            reason,
            created_at: store::now(),
            actor_name: actor.name.clone(),
            request_id: actor.request_id.clone(),
        };
        rail_rows::insert_held(conn, &row).await?;
    }
    audit::record(
        conn,
        actor,
        "role.revoke_held",
        Some(&user.user_name),
        Outcome::Success,
        json!({
            "id": user.id,
            "role": role,
            "source": source_details(mapping_id, described),
            "reason": reason.as_str(),
        }),
    )
    .await?;
    Ok(())
}

/// What the audit log says of a grant's source.
fn source_details(mapping_id: &str, described: &HashMap<&str, &MappingRow>) -> Value {
    match described.get(mapping_id).map(|mapping| &mapping.source) {
        Some(SourceRow::Group { id, display_name }) => {
            json!({ "mapping": mapping_id, "group": { "id": id, "display_name": display_name } })
        }
        Some(SourceRow::ScimRole { value }) => {
            json!({ "mapping": mapping_id, "scim_role": value })
        }
        None => json!({ "mapping": mapping_id }),
    }
}

/// Every mapping.
pub async fn list(store: &Store) -> Result<Vec<Mapping>> {
    let mut conn = store.conn().await?;
    Ok(mapping_rows::list(&mut conn)
        .await?
        .into_iter()
        .map(to_api)
        .collect())
}

/// Adds a mapping and grants its role to everyone who has the source, in
/// one transaction; with `dry_run`, answers the same and changes nothing.
/// A key may only map to a role whose permissions it holds itself.
pub async fn add(
    store: &Store,
    actor: &Actor,
    request: CreateMappingRequest,
) -> Result<MappingChange> {
    let mut tx = store.begin().await?;
    let role = roles::require_exists(&mut tx, &request.role).await?;
    let source = match (&request.group, &request.scim_role) {
        (Some(group), None) => {
            let group = groups::require(&mut tx, group).await?;
            SourceRow::Group {
                id: group.id,
                display_name: group.display_name,
            }
        }
        (None, Some(value)) => {
            let value = value.trim();
            text::check_name("scim_role", value, text::MAX_NAME)?;
            SourceRow::ScimRole {
                value: value.to_owned(),
            }
        }
        _ => {
            return Err(Error::Invalid(
                "a mapping needs exactly one source: a group (`group`) or a SCIM roles value \
                 (`scim_role`)"
                    .to_owned(),
            ));
        }
    };
    let what = format!("map {} to role {}", describe(&source), role.name);
    ceiling::check(actor, &roles::grants(&role), &what)?;
    if let Some(same) = mapping_rows::find_same(&mut tx, &source, &role.name).await? {
        return Err(Error::Conflict(format!(
            "{} is already mapped to role {} (mapping {}); `scimctl mappings list` shows the \
             mappings",
            describe(&source),
            role.name,
            same.id
        )));
    }
    let concerned = match &source {
        SourceRow::Group { id, .. } => group_rows::member_ids(&mut tx, id).await?,
        SourceRow::ScimRole { value } => mapping_rows::users_mentioning(&mut tx, value).await?,
    };
    // Before anything is written: the same order as a membership change
    // (users, then the rest), so a concurrent deprovisioning waits.
    user_rows::lock_live_ids(&mut tx, &concerned).await?;
    let mapping = MappingRow {
        id: Uuid::new_v4().to_string(),
        source,
        role_name: role.name,
        created_at: store::now(),
        created_by: actor.name.clone(),
    };
    if let Err(err) = mapping_rows::insert(&mut tx, &mapping).await {
        return Err(match err.is_unique_violation() {
            true => Error::Conflict(format!(
                "{} was mapped to role {} meanwhile; `scimctl mappings list` shows it",
                describe(&mapping.source),
                mapping.role_name
            )),
            false => err.into(),
        });
    }
    audit::record(
        &mut tx,
        actor,
        "mapping.create",
        Some(&mapping.id),
        Outcome::Success,
        json!({ "source": source_json(&mapping.source), "role": mapping.role_name }),
    )
    .await?;
    let mappings = mapping_rows::list(&mut tx).await?;
    let followed = follow_with(&mut tx, actor, &concerned, &mappings, None, Trigger::Admin).await?;
    finish(tx, mapping, followed, request.dry_run).await
}

/// Removes a mapping and takes its role from everyone who has it from no
/// other source, in one transaction; with `dry_run`, answers the same and
/// changes nothing. Refused when it would take `admin` from the last
/// active admin.
pub async fn remove(
    store: &Store,
    actor: &Actor,
    id: &str,
    dry_run: bool,
) -> Result<MappingChange> {
    let mut tx = store.begin().await?;
    let Some(mapping) = mapping_rows::get(&mut tx, id).await? else {
        return Err(Error::NotFound(format!(
            "no mapping {id}; `scimctl mappings list` shows the mappings and their ids"
        )));
    };
    let role = roles::require_exists(&mut tx, &mapping.role_name).await?;
    let what = format!(
        "remove the mapping of {} to role {}",
        describe(&mapping.source),
        role.name
    );
    ceiling::check(actor, &roles::grants(&role), &what)?;
    let concerned: Vec<String> = grant_rows::holders(&mut tx, &Source::Mapping(mapping.id.clone()))
        .await?
        .into_iter()
        .map(|(user_id, _)| user_id)
        .collect();
    user_rows::lock_live_ids(&mut tx, &concerned).await?;
    let followed = unmap(&mut tx, actor, &mapping, &concerned, None, Trigger::Admin).await?;
    if let Some(kept) = followed.held.first() {
        return Err(Error::Conflict(format!(
            "removing mapping {} would take the admin role from {}, the last active admin; \
             give another user admin first",
            mapping.id, kept.user.user_name
        )));
    }
    finish(tx, mapping, followed, dry_run).await
}

/// The mappings of a group being deleted go with it, each audited, their
/// grants revoked; the group's members are `members`. Called by SCIM's
/// `DELETE /Groups/{id}` before the group row goes.
pub async fn remove_for_group(
    conn: &mut Conn,
    actor: &Actor,
    group_id: &str,
    members: &[String],
) -> Result<()> {
    for mapping in mapping_rows::for_group(conn, group_id).await? {
        let why = "its group was deleted";
        unmap(conn, actor, &mapping, members, Some(why), Trigger::Scim).await?;
    }
    Ok(())
}

/// Deletes `mapping` (audited, with `why` when it was not asked for) and
/// follows the mappings left for `users`.
async fn unmap(
    conn: &mut Conn,
    actor: &Actor,
    mapping: &MappingRow,
    users: &[String],
    why: Option<&str>,
    trigger: Trigger,
) -> Result<Followed> {
    mapping_rows::delete(conn, &mapping.id).await?;
    audit::record(
        conn,
        actor,
        "mapping.remove",
        Some(&mapping.id),
        Outcome::Success,
        json!({
            "source": source_json(&mapping.source),
            "role": mapping.role_name,
            "why": why,
        }),
    )
    .await?;
    let mappings = mapping_rows::list(conn).await?;
    follow_with(conn, actor, users, &mappings, Some(mapping), trigger).await
}

/// Commits, or rolls back for a dry run; the answer is the same.
async fn finish(
    tx: store::Tx,
    mapping: MappingRow,
    followed: Followed,
    dry_run: bool,
) -> Result<MappingChange> {
    if dry_run {
        tx.rollback().await.map_err(StoreError::from)?;
    } else {
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(MappingChange {
        mapping: to_api(mapping),
        dry_run,
        gained: followed.gained.into_iter().collect(),
        lost: followed.lost.into_iter().collect(),
    })
}

/// `group eng` or `SCIM role "Admin"`, for messages.
pub(super) fn describe(source: &SourceRow) -> String {
    match source {
        SourceRow::Group { display_name, .. } => format!("group {display_name}"),
        SourceRow::ScimRole { value } => format!("SCIM role {value:?}"),
    }
}

fn source_json(source: &SourceRow) -> Value {
    match source {
        SourceRow::Group { id, display_name } => {
            json!({ "group": { "id": id, "display_name": display_name } })
        }
        SourceRow::ScimRole { value } => json!({ "scim_role": value }),
    }
}

/// A source as the API shows it.
pub fn source_to_api(source: SourceRow) -> MappingSource {
    match source {
        SourceRow::Group { id, display_name } => MappingSource::Group {
            group: GroupRef { id, display_name },
        },
        SourceRow::ScimRole { value } => MappingSource::ScimRole { value },
    }
}

fn to_api(row: MappingRow) -> Mapping {
    Mapping {
        id: row.id,
        source: source_to_api(row.source),
        role: row.role_name,
        created_at: row.created_at,
        created_by: row.created_by,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_roles_are_read_as_entra_and_plain_clients_send_them() {
        let entra = r#"{"roles":[{"primary":false,"type":"WindowsAzureActiveDirectoryRole","value":"Admin"},{"value":"Reader"}]}"#;
        assert_eq!(
            scim_role_keys(entra),
            BTreeSet::from(["admin".to_owned(), "reader".to_owned()])
        );
        assert_eq!(
            scim_role_keys(r#"{"Roles":["Support"]}"#),
            BTreeSet::from(["support".to_owned()])
        );
        for none in [
            "{}",
            r#"{"roles":"Admin"}"#,
            "not json",
            r#"{"roles":[{"display":"x"}]}"#,
        ] {
            assert!(scim_role_keys(none).is_empty(), "{none}");
        }
    }
}
