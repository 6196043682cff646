//! Groups as the admin API sees them.

use uuid::Uuid;

use super::users::{decode_cursor, encode_cursor, page_size};
use super::{Error, Result};
use crate::api::Page;
use crate::api::groups::{Group, GroupListQuery};
use crate::api::users::UserRef;
use crate::store::groups::{self as group_rows, GroupRow, GroupSummary};
use crate::store::users::name_key;
use crate::store::{self, Conn, Store, StoreError};

pub async fn list(store: &Store, query: &GroupListQuery) -> Result<Page<Group>> {
    let limit = page_size(query.limit)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut conn = store.conn().await?;
    let mut rows = group_rows::list(&mut conn, after.as_deref(), limit + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|row| encode_cursor(&name_key(&row.group.display_name)))
    } else {
        None
    };
    Ok(Page {
        items: rows
            .into_iter()
            .map(|summary| to_api(summary, Vec::new()))
            .collect(),
        next_cursor,
    })
}

pub async fn show(store: &Store, id_or_name: &str) -> Result<Group> {
    let mut conn = store.conn().await?;
    let group = require(&mut conn, id_or_name).await?;
    let members = group_rows::members(&mut conn, &group.id).await?;
    let summary = GroupSummary {
        member_count: members.len() as i64,
        group,
    };
    Ok(to_api(summary, members))
}

/// The group with this id or display name (any case), or a not-found
/// error naming it.
pub async fn require(conn: &mut Conn, id_or_name: &str) -> Result<GroupRow> {
    group_rows::resolve(conn, id_or_name)
        .await?
        .ok_or_else(|| unknown(&[id_or_name], ""))
}

/// Refuses the display names in `names` that are no group's (any case),
/// naming every one of them.
pub async fn require_all_exist(conn: &mut Conn, names: &[String]) -> Result<()> {
    let mut missing = Vec::new();
    for name in names {
        if group_rows::find_by_name(conn, name).await?.is_none() {
            missing.push(name.as_str());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        let them = if missing.len() == 1 { "it" } else { "them" };
        Err(unknown(
            &missing,
            &format!(", or pass --create-groups to create {them}"),
        ))
    }
}

/// `no group X`: a not-found error (exit 3 on the CLI), with what to do
/// (`more` adds to it).
fn unknown(names: &[&str], more: &str) -> Error {
    let noun = if names.len() == 1 { "group" } else { "groups" };
    Error::NotFound(format!(
        "no {noun} {}; `scimctl groups list` shows the groups{more}",
        names.join(", ")
    ))
}

/// The group with this display name, created when there is none; `true`
/// when it was created.
pub async fn ensure(conn: &mut Conn, display_name: &str) -> Result<(GroupRow, bool), StoreError> {
    if let Some(group) = group_rows::resolve(conn, display_name).await?
        && name_key(&group.display_name) == name_key(display_name)
    {
        return Ok((group, false));
    }
    let now = store::now();
    let group = GroupRow {
        id: Uuid::new_v4().to_string(),
        display_name: display_name.trim().to_owned(),
        external_id: None,
        attributes: "{}".to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    group_rows::insert(conn, &group).await?;
    Ok((group, true))
}

fn to_api(summary: GroupSummary, members: Vec<(String, String)>) -> Group {
    let group = summary.group;
    Group {
        id: group.id,
        display_name: group.display_name,
        external_id: group.external_id,
        member_count: summary.member_count.max(0) as u64,
        members: members
            .into_iter()
            .map(|(id, user_name)| UserRef { id, user_name })
            .collect(),
        created_at: group.created_at,
        updated_at: group.updated_at,
    }
}
