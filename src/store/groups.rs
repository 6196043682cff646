//! The `groups` table (SCIM groups) and `group_members`.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::sql::{Conditions, limit_offset};
use super::users::name_key;
use super::{
    Conn, StoreError, for_update, from_json_rows, from_millis, grouped, json_rows, to_millis,
};
use crate::api::mappings::MembershipVia;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRow {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// JSON object of the attributes no column holds.
    pub attributes: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A group together with how many members it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub group: GroupRow,
    pub member_count: i64,
}

/// `(id, name)` of a group or a user, as named from the other side.
pub type Named = (String, String);

const COLUMNS: &str = "id, display_name, external_id, attributes, version, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<GroupRow, StoreError> {
    Ok(GroupRow {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        attributes: row.try_get("attributes")?,
        version: row.try_get("version")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

pub async fn insert(conn: &mut Conn, group: &GroupRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO groups (id, display_name, display_name_key, external_id, attributes, version, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&group.id)
    .bind(&group.display_name)
    .bind(name_key(&group.display_name))
    .bind(&group.external_id)
    .bind(crate::text::storable_json(&group.attributes).as_ref())
    .bind(group.version)
    .bind(to_millis(group.created_at))
    .bind(to_millis(group.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// A group by id, else by display name (case-insensitive).
pub async fn resolve(conn: &mut Conn, id_or_name: &str) -> Result<Option<GroupRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM groups WHERE id = $1 OR display_name_key = $2 \
         ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
    )))
    .bind(id_or_name)
    .bind(name_key(id_or_name))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// One page of groups ordered by display name, after the name key `after`.
pub async fn list(
    conn: &mut Conn,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<GroupSummary>, StoreError> {
    let mut conditions = Conditions::default();
    if let Some(after) = after {
        let after = conditions.bind(after.to_owned());
        conditions.and(format!("display_name_key > {after}"));
    }
    let limit = conditions.bind(i64::from(limit));
    let sql = format!(
        "SELECT {COLUMNS}, \
         (SELECT COUNT(*) FROM group_members m WHERE m.group_id = groups.id) AS member_count \
         FROM groups {} ORDER BY display_name_key LIMIT {limit}",
        conditions.where_clause()
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(GroupSummary {
                group: from_row(row)?,
                member_count: row.try_get("member_count")?,
            })
        })
        .collect()
}

/// Members of a group as `(user id, userName)`, by userName.
pub async fn members(conn: &mut Conn, group_id: &str) -> Result<Vec<Named>, StoreError> {
    let rows = sqlx::query(
        "SELECT u.id, u.user_name FROM group_members m JOIN users u ON u.id = m.user_id \
         WHERE m.group_id = $1 ORDER BY u.user_name_key",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("user_name")?)))
        .collect()
}

/// Makes the user a member, recording how and by whom (`added_by`: the
/// actor's name); `false` when they already were (nothing changes then).
pub async fn add_member(
    conn: &mut Conn,
    group_id: &str,
    user_id: &str,
    via: MembershipVia,
    at: OffsetDateTime,
    added_by: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO group_members (group_id, user_id, via, added_at, added_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(user_id)
    .bind(via_stored(via))
    .bind(to_millis(at))
    .bind(added_by)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn via_stored(via: MembershipVia) -> &'static str {
    match via {
        MembershipVia::Scim => "scim",
        MembershipVia::Manual => "manual",
    }
}

/// One of a user's memberships, with how it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: String,
    pub display_name: String,
    pub via: MembershipVia,
    /// `None` for memberships from before this was recorded.
    pub added_at: Option<OffsetDateTime>,
    pub added_by: Option<String>,
}

/// The user's memberships, by group name.
pub async fn memberships_of(conn: &mut Conn, user_id: &str) -> Result<Vec<Membership>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.display_name, m.via, m.added_at, m.added_by FROM group_members m \
         JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.display_name_key",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|row| {
            let via: String = row.try_get("via")?;
            Ok(Membership {
                group_id: row.try_get("id")?,
                display_name: row.try_get("display_name")?,
                via: match via.as_str() {
                    "scim" => MembershipVia::Scim,
                    "manual" => MembershipVia::Manual,
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "unknown membership origin {other:?}"
                        )));
                    }
                },
                added_at: row
                    .try_get::<Option<i64>, _>("added_at")?
                    .map(from_millis)
                    .transpose()?,
                added_by: row.try_get("added_by")?,
            })
        })
        .collect()
}

/// Takes the user out of every group; returns the groups left as `(id, name)`.
pub async fn remove_from_all(conn: &mut Conn, user_id: &str) -> Result<Vec<Named>, StoreError> {
    let groups = groups_of(conn, &[user_id])
        .await?
        .remove(user_id)
        .unwrap_or_default();
    sqlx::query("DELETE FROM group_members WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(groups)
}

/// Groups of each of `user_ids` as `(id, name)`, by name.
pub async fn groups_of(
    conn: &mut Conn,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<Named>>, StoreError> {
    let select = |ids: &str| {
        format!(
            "SELECT m.user_id AS owner, g.id, g.display_name FROM group_members m \
             JOIN groups g ON g.id = m.group_id WHERE m.user_id IN ({ids}) \
             ORDER BY m.user_id, g.display_name_key"
        )
    };
    grouped(conn, user_ids, select, |row| {
        Ok((row.try_get("id")?, row.try_get("display_name")?))
    })
    .await
}

/// Bumps the version of groups whose membership changed, so their ETags do.
pub async fn touch(
    conn: &mut Conn,
    group_ids: &[String],
    at: OffsetDateTime,
) -> Result<(), StoreError> {
    if group_ids.is_empty() {
        return Ok(());
    }
    let mut conditions = Conditions::default();
    let at = conditions.bind(to_millis(at));
    let ids = conditions.bind_all(group_ids.iter().cloned());
    let sql =
        format!("UPDATE groups SET version = version + 1, updated_at = {at} WHERE id IN ({ids})");
    sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .execute(conn)
        .await?;
    Ok(())
}

/// A group by id, locked until the write transaction commits (see
/// `store::for_update`).
pub async fn get_for_update(conn: &mut Conn, id: &str) -> Result<Option<GroupRow>, StoreError> {
    let lock = for_update(conn);
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM groups WHERE id = $1 {lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A group by display name, case-insensitively.
pub async fn find_by_name(conn: &mut Conn, name: &str) -> Result<Option<GroupRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM groups WHERE display_name_key = $1"
    )))
    .bind(name_key(name))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Writes the group back and bumps its version; `false` when its version is
/// no longer `group.version` (a concurrent change won).
pub async fn update(conn: &mut Conn, group: &GroupRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE groups SET display_name = $1, display_name_key = $2, external_id = $3, \
         attributes = $4, version = version + 1, updated_at = $5 WHERE id = $6 AND version = $7",
    )
    .bind(&group.display_name)
    .bind(name_key(&group.display_name))
    .bind(&group.external_id)
    .bind(crate::text::storable_json(&group.attributes).as_ref())
    .bind(to_millis(group.updated_at))
    .bind(&group.id)
    .bind(group.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the group and its memberships; `false` when there was none.
pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one member; `true` when they were a member.
pub async fn remove_member(
    conn: &mut Conn,
    group_id: &str,
    user_id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of the group's members.
pub async fn member_ids(conn: &mut Conn, group_id: &str) -> Result<Vec<String>, StoreError> {
    let rows =
        sqlx::query("SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id")
            .bind(group_id)
            .fetch_all(conn)
            .await?;
    rows.iter().map(|row| Ok(row.try_get("user_id")?)).collect()
}

/// Groups matching `conditions` (built by `store::scim_query`): how many.
pub async fn count_where(conn: &mut Conn, conditions: Conditions) -> Result<i64, StoreError> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM groups {}",
        conditions.where_clause()
    );
    let row = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// One page of the groups `count_where` counts, in `order_by` order (SQL from
/// constants).
pub async fn page_where(
    conn: &mut Conn,
    conditions: Conditions,
    order_by: &str,
    offset: i64,
    limit: i64,
    with_members: bool,
) -> Result<Vec<GroupWithMembers>, StoreError> {
    let where_clause = conditions.where_clause();
    let columns = columns_with(conn, with_members);
    let page = limit_offset(limit, offset);
    let sql = format!("SELECT {columns} FROM groups {where_clause} ORDER BY {order_by}, id {page}");
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| with_members_from_row(row, with_members))
        .collect()
}

/// The groups with these ids (a page's worth: one `IN` list), with their
/// members when `with_members`, in no particular order; ids no group has
/// left out.
pub async fn with_ids(
    conn: &mut Conn,
    ids: &[String],
    with_members: bool,
) -> Result<Vec<GroupWithMembers>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Conditions::default();
    let list = conditions.bind_all(ids.iter().cloned());
    conditions.and(format!("id IN ({list})"));
    let columns = columns_with(conn, with_members);
    let sql = format!("SELECT {columns} FROM groups {}", conditions.where_clause());
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| with_members_from_row(row, with_members))
        .collect()
}

/// A group and, when asked for, its members as `(user id, userName)` by
/// userName, read in the same query.
pub type GroupWithMembers = (GroupRow, Option<Vec<Named>>);

/// [`COLUMNS`], and the members as a JSON array when `with_members`.
fn columns_with(conn: &Conn, with_members: bool) -> String {
    if !with_members {
        return COLUMNS.to_owned();
    }
    let members = json_rows(
        conn,
        "u.id, u.user_name",
        "FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = groups.id",
        "u.user_name_key",
    );
    format!("{COLUMNS}, {members} AS members_json")
}

fn with_members_from_row(row: &AnyRow, with_members: bool) -> Result<GroupWithMembers, StoreError> {
    let members = if with_members {
        Some(from_json_rows(row, "members_json")?)
    } else {
        None
    };
    Ok((from_row(row)?, members))
}

/// A group by id, with its members when `with_members`.
pub async fn load(
    conn: &mut Conn,
    id: &str,
    with_members: bool,
) -> Result<Option<GroupWithMembers>, StoreError> {
    let columns = columns_with(conn, with_members);
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {columns} FROM groups WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(|row| with_members_from_row(&row, with_members))
        .transpose()
}

/// Members of each of `group_ids` as `(user id, userName)`.
pub async fn members_of(
    conn: &mut Conn,
    group_ids: &[&str],
) -> Result<HashMap<String, Vec<Named>>, StoreError> {
    let select = |ids: &str| {
        format!(
            "SELECT m.group_id AS owner, u.id, u.user_name FROM group_members m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id IN ({ids}) \
             ORDER BY m.group_id, u.user_name_key"
        )
    };
    grouped(conn, group_ids, select, |row| {
        Ok((row.try_get("id")?, row.try_get("user_name")?))
    })
    .await
}
