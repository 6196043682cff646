//! Teams (SCIM groups) as the admin API sees them.

use uuid::Uuid;

use super::users::{decode_cursor, encode_cursor, page_size};
use super::{Error, Result};
use crate::api::Page;
use crate::api::groups::{Team, TeamListQuery};
use crate::api::users::UserRef;
use crate::store::teams::{self as team_rows, TeamRow, TeamSummary};
use crate::store::users::name_key;
use crate::store::{self, Conn, Store, StoreError};

pub async fn list(store: &Store, query: &TeamListQuery) -> Result<Page<Team>> {
    let limit = page_size(query.limit)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let mut conn = store.conn().await?;
    let mut rows = team_rows::list(&mut conn, after.as_deref(), limit + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|row| encode_cursor(&name_key(&row.team.display_name)))
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

pub async fn show(store: &Store, id_or_name: &str) -> Result<Team> {
    let mut conn = store.conn().await?;
    let team = team_rows::resolve(&mut conn, id_or_name)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no group {id_or_name:?} (by id or display name); `scimctl groups list` shows them"
            ))
        })?;
    let members = team_rows::members(&mut conn, &team.id).await?;
    let summary = TeamSummary {
        member_count: members.len() as i64,
        team,
    };
    Ok(to_api(summary, members))
}

/// The team with this display name, created when there is none; `true`
/// when it was created.
pub async fn ensure(conn: &mut Conn, display_name: &str) -> Result<(TeamRow, bool), StoreError> {
    if let Some(team) = team_rows::resolve(conn, display_name).await?
        && name_key(&team.display_name) == name_key(display_name)
    {
        return Ok((team, false));
    }
    let now = store::now();
    let team = TeamRow {
        id: Uuid::new_v4().to_string(),
        display_name: display_name.trim().to_owned(),
        external_id: None,
        attributes: "{}".to_owned(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    team_rows::insert(conn, &team).await?;
    Ok((team, true))
}

fn to_api(summary: TeamSummary, members: Vec<(String, String)>) -> Team {
    let team = summary.team;
    Team {
        id: team.id,
        display_name: team.display_name,
        external_id: team.external_id,
        member_count: summary.member_count.max(0) as u64,
        members: members
            .into_iter()
            .map(|(id, user_name)| UserRef { id, user_name })
            .collect(),
        created_at: team.created_at,
        updated_at: team.updated_at,
    }
}
