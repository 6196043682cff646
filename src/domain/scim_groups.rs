//! What SCIM requests on Groups do to the directory: groups and their
//! memberships, as the IdP pushes them. Membership changes are row changes,
//! so a PATCH on a 10,000-member group touches only the members named.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::mappings;
use super::{Error, Result};
use crate::api::mappings::MembershipVia;
use crate::scim::diff;
use crate::scim::etag::{Preconditions, etag};
use crate::scim::list::ListParams;
use crate::scim::patch::{self, MemberChange, PatchRequest};
use crate::scim::resolve;
use crate::scim::resource::{BaseUrl, GroupFields, GroupView, group_from_scim, group_to_scim};
use crate::scim::schema::ResourceKind;
use crate::store::groups::{self as group_rows, GroupRow};
use crate::store::mappings as mapping_rows;
use crate::store::{self, Conn, Store, StoreError, scim_query, users};

/// A page of groups as SCIM JSON, and how many match in all. Members are
/// read only when `with_members`.
pub async fn list(
    store: &Store,
    params: &ListParams,
    with_members: bool,
    base: &BaseUrl,
) -> Result<(i64, Vec<Value>)> {
    let (kind, backend) = (ResourceKind::Group, store.backend());
    let filter = (params.filter.as_ref())
        .map(|filter| resolve::filter(filter, kind))
        .transpose()?;
    let filter = filter.as_ref();
    let mut conn = store.conn().await?;
    let count_all = async |conn: &mut Conn| -> Result<i64> {
        let conditions = scim_query::list_conditions(filter, backend);
        Ok(group_rows::count_where(conn, conditions).await?)
    };
    if params.count == 0 {
        return Ok((count_all(&mut conn).await?, Vec::new()));
    }
    // Resolved only when a page is read: `count=0` ignores `sortBy`.
    let sort = resolve::sort(kind, params.sort_by.as_ref(), params.descending)?;
    let order = scim_query::list_order(&sort, backend);
    let conditions = scim_query::list_conditions(filter, backend);
    let offset = params.offset();
    let page = group_rows::page_where(
        &mut conn,
        conditions,
        &order,
        offset,
        params.count,
        with_members,
    )
    .await?;
    let total = match params.total_from_page(page.len()) {
        Some(total) => total,
        None => count_all(&mut conn).await?,
    };
    let resources = page
        .iter()
        .map(|(row, members)| render(row, members.as_deref(), base))
        .collect();
    Ok((total, resources))
}

pub async fn get(store: &Store, id: &str, with_members: bool, base: &BaseUrl) -> Result<Value> {
    get_in(&mut *store.conn().await?, id, with_members, base).await
}

/// [`get`] on the caller's connection (a transaction sees its own writes).
pub async fn get_in(
    conn: &mut Conn,
    id: &str,
    with_members: bool,
    base: &BaseUrl,
) -> Result<Value> {
    let (row, members) = group_rows::load(conn, id, with_members)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(render(&row, members.as_deref(), base))
}

/// `POST /Groups`.
pub async fn create(store: &Store, actor: &Actor, body: &Value, base: &BaseUrl) -> Result<Value> {
    let fields = group_from_scim(body)?;
    let mut tx = store.begin().await?;
    let resource = create_in(&mut tx, actor, fields, base).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(resource)
}

/// [`create`] in the caller's transaction, which it leaves uncommitted.
pub async fn create_in(
    conn: &mut Conn,
    actor: &Actor,
    fields: GroupFields,
    base: &BaseUrl,
) -> Result<Value> {
    check_name_free(conn, &fields.display_name, None).await?;
    let now = store::now();
    let row = GroupRow {
        id: Uuid::new_v4().to_string(),
        display_name: fields.display_name.clone(),
        external_id: fields.external_id.clone(),
        attributes: Value::Object(fields.attributes.clone()).to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    group_rows::insert(conn, &row).await?;
    let added = add_members(conn, actor, &row.id, &fields.members).await?;
    audit::record(
        conn,
        actor,
        "group.create",
        Some(&row.display_name),
        Outcome::Success,
        json!({ "id": row.id, "members_added": added }),
    )
    .await?;
    Ok(to_scim(conn, &[row], true, base).await?.remove(0))
}

/// `PUT /Groups/{id}`: name, externalId, attributes and the member list
/// all replaced.
pub async fn replace(
    store: &Store,
    actor: &Actor,
    id: &str,
    body: &Value,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Value> {
    let fields = group_from_scim(body)?;
    let mut tx = store.begin().await?;
    let resource = replace_in(&mut tx, actor, id, fields, preconditions, base).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(resource)
}

/// [`replace`] in the caller's transaction, which it leaves uncommitted.
pub async fn replace_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    fields: GroupFields,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Value> {
    let changes = [MemberChange::Replace(fields.members.clone())];
    lock_members(conn, id, &changes).await?;
    let row = existing(conn, id).await?;
    preconditions.check_write(&etag(row.version))?;
    check_name_free(conn, &fields.display_name, Some(&row.id)).await?;
    let (row, written) = update(conn, actor, row, &fields).await?;
    if apply_member_changes(conn, actor, &row, &changes).await? && !written {
        group_rows::touch(conn, std::slice::from_ref(&row.id), store::now()).await?;
    }
    let row = existing(conn, id).await?;
    Ok(to_scim(conn, &[row], true, base).await?.remove(0))
}

/// `PATCH /Groups/{id}`: member operations become row changes; the rest
/// applies to the group as GET shows it without its members.
pub async fn patch(
    store: &Store,
    actor: &Actor,
    id: &str,
    body: &Value,
    preconditions: &Preconditions,
) -> Result<()> {
    let request = PatchRequest::from_json(body)?;
    let mut tx = store.begin().await?;
    patch_in(&mut tx, actor, id, request, preconditions).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// [`patch`] in the caller's transaction, which it leaves uncommitted.
pub async fn patch_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    mut request: PatchRequest,
    preconditions: &Preconditions,
) -> Result<()> {
    let member_changes = patch::take_member_changes(&mut request)?;
    lock_members(conn, id, &member_changes).await?;
    let mut row = existing(conn, id).await?;
    preconditions.check_write(&etag(row.version))?;
    let mut written = false;
    if !request.operations.is_empty() {
        let mut current = render(&row, None, &BaseUrl(String::new()));
        patch::apply(&mut current, &request, ResourceKind::Group)?;
        let fields = group_from_scim(&current)?;
        check_name_free(conn, &fields.display_name, Some(&row.id)).await?;
        (row, written) = update(conn, actor, row, &fields).await?;
    }
    if apply_member_changes(conn, actor, &row, &member_changes).await? && !written {
        group_rows::touch(conn, std::slice::from_ref(&row.id), store::now()).await?;
    }
    Ok(())
}

/// `DELETE /Groups/{id}`: the group and its memberships go.
pub async fn delete(
    store: &Store,
    actor: &Actor,
    id: &str,
    preconditions: &Preconditions,
) -> Result<()> {
    let mut tx = store.begin().await?;
    delete_in(&mut tx, actor, id, preconditions).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// [`delete`] in the caller's transaction, which it leaves uncommitted.
pub async fn delete_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    preconditions: &Preconditions,
) -> Result<()> {
    lock_members(conn, id, &[MemberChange::RemoveAll]).await?;
    let row = existing(conn, id).await?;
    preconditions.check_write(&etag(row.version))?;
    let members = group_rows::member_ids(conn, id).await?;
    mappings::remove_for_group(conn, actor, id, &members).await?;
    group_rows::delete(conn, id).await?;
    audit::record(
        conn,
        actor,
        "group.delete",
        Some(&row.display_name),
        Outcome::Success,
        json!({ "id": row.id, "members_removed": members }),
    )
    .await?;
    Ok(())
}

/// Writes `fields` (all but the members) over the group and audits it,
/// unless they leave it as it was; `true` when written.
async fn update(
    conn: &mut Conn,
    actor: &Actor,
    row: GroupRow,
    fields: &GroupFields,
) -> Result<(GroupRow, bool)> {
    let base = BaseUrl(String::new());
    let before = render(&row, None, &base);
    let after = render(&updated(row.clone(), fields), None, &base);
    let changed: Vec<String> = diff::changes(&before, &after)
        .into_iter()
        .map(|change| change.path)
        .collect();
    if changed.is_empty() {
        return Ok((row, false));
    }
    let row = write(conn, row, fields).await?;
    audit::record(
        conn,
        actor,
        "group.update",
        Some(&row.display_name),
        Outcome::Success,
        json!({ "id": row.id, "changed": changed }),
    )
    .await?;
    Ok((row, true))
}

/// Locks the users `changes` may add, before the group's own row: joining a
/// group serialises with the user's deprovisioning, which locks the user and
/// then the groups it leaves — the same order, so the two cannot deadlock.
/// When a mapping has the group as its source, leaving users are locked
/// too: their roles change with the membership.
async fn lock_members(conn: &mut Conn, group_id: &str, changes: &[MemberChange]) -> Result<()> {
    let mapped = !mapping_rows::for_group(conn, group_id).await?.is_empty();
    let mut users: Vec<String> = Vec::new();
    for change in changes {
        match change {
            MemberChange::Add(ids) => users.extend(ids.iter().cloned()),
            MemberChange::Replace(ids) => {
                users.extend(ids.iter().cloned());
                if mapped {
                    users.extend(group_rows::member_ids(conn, group_id).await?);
                }
            }
            MemberChange::Remove(ids) if mapped => users.extend(ids.iter().cloned()),
            MemberChange::RemoveAll if mapped => {
                users.extend(group_rows::member_ids(conn, group_id).await?);
            }
            MemberChange::Remove(_) | MemberChange::RemoveAll => {}
        }
    }
    users::lock_live_ids(conn, &users).await?;
    Ok(())
}

/// Applies member changes in order; `true` when membership changed.
async fn apply_member_changes(
    conn: &mut Conn,
    actor: &Actor,
    group: &GroupRow,
    changes: &[MemberChange],
) -> Result<bool> {
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for change in changes {
        match change {
            MemberChange::Add(ids) => added.extend(add_members(conn, actor, &group.id, ids).await?),
            MemberChange::Remove(ids) => {
                for id in ids {
                    if group_rows::remove_member(conn, &group.id, id).await? {
                        removed.push(id.clone());
                    }
                }
            }
            MemberChange::RemoveAll => {
                for id in group_rows::member_ids(conn, &group.id).await? {
                    group_rows::remove_member(conn, &group.id, &id).await?;
                    removed.push(id);
                }
            }
            MemberChange::Replace(ids) => {
                let wanted: BTreeSet<&String> = ids.iter().collect();
                let current: BTreeSet<String> = group_rows::member_ids(conn, &group.id)
                    .await?
                    .into_iter()
                    .collect();
                for id in current.iter().filter(|id| !wanted.contains(id)) {
                    group_rows::remove_member(conn, &group.id, id).await?;
                    removed.push(id.clone());
                }
                let missing: Vec<String> = ids
                    .iter()
                    .filter(|id| !current.contains(*id))
                    .cloned()
                    .collect();
                added.extend(add_members(conn, actor, &group.id, &missing).await?);
            }
        }
    }
    for (action, ids) in [
        ("group.member.add", &added),
        ("group.member.remove", &removed),
    ] {
        if !ids.is_empty() {
            audit::record(
                conn,
                actor,
                action,
                Some(&group.display_name),
                Outcome::Success,
                json!({ "id": group.id, "members": ids }),
            )
            .await?;
        }
    }
    let changed: Vec<String> = added.iter().chain(&removed).cloned().collect();
    // Whether the group is mapped is read again, after the change: a
    // mapping added meanwhile on another replica is seen here.
    mappings::follow_group(conn, actor, &group.id, &changed).await?;
    Ok(!changed.is_empty())
}

/// Adds members by user id; returns those added. Unknown ids are refused.
/// A locked (deprovisioned) user is added like any other, so the directory
/// stays what the IdP pushed: the lock still blocks every credential, and
/// `users verify` reports the membership for an operator to see.
async fn add_members(
    conn: &mut Conn,
    actor: &Actor,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    let live: BTreeSet<String> = users::lock_live_ids(conn, ids).await?.into_iter().collect();
    if let Some(unknown) = ids.iter().find(|id| !live.contains(*id)) {
        return Err(Error::Invalid(format!(
            "member {unknown:?} is not a user of this service; provision the user first"
        )));
    }
    let (via, now) = (MembershipVia::Scim, store::now());
    let mut added = Vec::new();
    for id in ids {
        if group_rows::add_member(conn, group_id, id, via, now, &actor.name).await? {
            added.push(id.clone());
        }
    }
    Ok(added)
}

async fn check_name_free(conn: &mut Conn, display_name: &str, except: Option<&str>) -> Result<()> {
    match group_rows::find_by_name(conn, display_name).await? {
        Some(other) if Some(other.id.as_str()) != except => Err(Error::Uniqueness(format!(
            "displayName {display_name:?} is already taken (id {})",
            other.id
        ))),
        _ => Ok(()),
    }
}

/// Writes the fields over the row; returns the row as stored.
async fn write(conn: &mut Conn, row: GroupRow, fields: &GroupFields) -> Result<GroupRow> {
    let updated = updated(row, fields);
    if !group_rows::update(conn, &updated).await? {
        return Err(Error::PreconditionFailed(format!(
            "group {} changed while this request ran; read it again and retry",
            updated.id
        )));
    }
    Ok(GroupRow {
        version: updated.version + 1,
        ..updated
    })
}

/// `row` with `fields` (all but the members) written over it.
fn updated(row: GroupRow, fields: &GroupFields) -> GroupRow {
    GroupRow {
        display_name: fields.display_name.clone(),
        external_id: fields.external_id.clone(),
        attributes: Value::Object(fields.attributes.clone()).to_string(),
        updated_at: store::now(),
        ..row
    }
}

/// The group, locked until a write transaction commits; else not found.
async fn existing(conn: &mut Conn, id: &str) -> Result<GroupRow> {
    group_rows::get_for_update(conn, id)
        .await?
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no group with id {id}"))
}

async fn to_scim(
    conn: &mut Conn,
    rows: &[GroupRow],
    with_members: bool,
    base: &BaseUrl,
) -> Result<Vec<Value>, StoreError> {
    let mut members = if with_members {
        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        Some(group_rows::members_of(conn, &ids).await?)
    } else {
        None
    };
    Ok(rows
        .iter()
        .map(|row| {
            let row_members = members
                .as_mut()
                .map(|by_group| by_group.remove(&row.id).unwrap_or_default());
            render(row, row_members.as_deref(), base)
        })
        .collect())
}

/// A group as SCIM shows it; `members` are `(id, userName)`, or `None` when
/// they were not read.
pub fn render(row: &GroupRow, members: Option<&[(String, String)]>, base: &BaseUrl) -> Value {
    let view = GroupView {
        id: &row.id,
        display_name: &row.display_name,
        external_id: row.external_id.as_deref(),
        attributes: &row.attributes,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    };
    group_to_scim(&view, members, base)
}
