//! The `users` table and what hangs off a user: emails and roles.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::groups::Named;
use super::sql::{Conditions, contains_pattern, limit_offset};
use super::{
    Conn, StoreError, for_update, from_json_rows, from_millis, get_bool, grouped, json_rows,
    to_millis,
};
use crate::api::users::{DeprovisionState, Origin};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub origin: Origin,
    /// JSON object of the attributes no column holds.
    pub attributes: String,
    pub version: i64,
    pub deprovision_state: DeprovisionState,
    pub deprovisioned_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailRow {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// The key that makes emails and group names unique regardless of case.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The key that makes userNames unique: RFC 8265 UsernameCaseMapped (see
/// [`crate::text::user_name_key`]).
pub use crate::text::user_name_key;

/// How `origin` is stored.
fn origin_text(origin: Origin) -> &'static str {
    match origin {
        Origin::Scim => "scim",
        Origin::Manual => "manual",
    }
}

fn decode_origin(text: &str) -> Result<Origin, StoreError> {
    [Origin::Scim, Origin::Manual]
        .into_iter()
        .find(|origin| origin_text(*origin) == text)
        .ok_or_else(|| StoreError::Corrupt(format!("user origin {text:?}")))
}

/// How `deprovision_state` is stored.
pub(crate) fn state_text(state: DeprovisionState) -> &'static str {
    match state {
        DeprovisionState::None => "none",
        DeprovisionState::Pending => "pending",
        DeprovisionState::Done => "done",
    }
}

fn decode_state(text: &str) -> Result<DeprovisionState, StoreError> {
    [
        DeprovisionState::None,
        DeprovisionState::Pending,
        DeprovisionState::Done,
    ]
    .into_iter()
    .find(|state| state_text(*state) == text)
    .ok_or_else(|| StoreError::Corrupt(format!("user deprovisioning state {text:?}")))
}

const COLUMNS: &str = "id, user_name, external_id, given_name, family_name, formatted_name, \
     display_name, active, origin, attributes, version, deprovision_state, deprovisioned_at, \
     deleted_at, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<UserRow, StoreError> {
    let optional_time =
        |millis: Option<i64>| -> Result<_, StoreError> { millis.map(from_millis).transpose() };
    Ok(UserRow {
        id: row.try_get("id")?,
        user_name: row.try_get("user_name")?,
        external_id: row.try_get("external_id")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        formatted_name: row.try_get("formatted_name")?,
        display_name: row.try_get("display_name")?,
        active: get_bool(row, "active")?,
        origin: decode_origin(&row.try_get::<String, _>("origin")?)?,
        attributes: row.try_get("attributes")?,
        version: row.try_get("version")?,
        deprovision_state: decode_state(&row.try_get::<String, _>("deprovision_state")?)?,
        deprovisioned_at: optional_time(row.try_get("deprovisioned_at")?)?,
        deleted_at: optional_time(row.try_get("deleted_at")?)?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

/// A user with what SCIM shows beside their row, read in the same query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub row: UserRow,
    /// In their stored order.
    pub emails: Vec<EmailRow>,
    /// `(id, display name)` of each group, by name.
    pub groups: Vec<Named>,
}

/// [`COLUMNS`] and, as JSON arrays, the user's emails and groups: a user and
/// everything hanging off them in one round trip.
fn record_columns(conn: &Conn) -> String {
    let emails = json_rows(
        conn,
        "e.value, e.type, e.is_primary",
        "FROM user_emails e WHERE e.user_id = users.id",
        "e.position",
    );
    let groups = json_rows(
        conn,
        "g.id, g.display_name",
        "FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = users.id",
        "g.display_name_key",
    );
    format!("{COLUMNS}, {emails} AS emails_json, {groups} AS groups_json")
}

fn record_from_row(row: &AnyRow) -> Result<UserRecord, StoreError> {
    // `is_primary` is a JSON boolean on PostgreSQL, 0 or 1 on SQLite.
    let emails: Vec<(String, Option<String>, serde_json::Value)> =
        from_json_rows(row, "emails_json")?;
    Ok(UserRecord {
        row: from_row(row)?,
        emails: emails
            .into_iter()
            .map(|(value, kind, primary)| EmailRow {
                value,
                kind,
                primary: primary.as_bool().unwrap_or(primary.as_i64() == Some(1)),
            })
            .collect(),
        groups: from_json_rows(row, "groups_json")?,
    })
}

/// A user with their emails and groups; with `lock`, in a write transaction,
/// the user row stays locked until it commits (as [`get_for_update`]).
pub async fn load(conn: &mut Conn, id: &str, lock: bool) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(load_sql(conn, lock)))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// [`load`]'s query in `conn`'s dialect, with the user id as `$1`.
pub fn load_sql(conn: &Conn, lock: bool) -> String {
    let columns = record_columns(conn);
    let lock = if lock { for_update(conn) } else { "" };
    format!("SELECT {columns} FROM users WHERE id = $1 {lock}")
}

pub async fn insert(conn: &mut Conn, user: &UserRow) -> Result<(), StoreError> {
    insert_returning_count(conn, user, "").await.map(drop)
}

/// [`insert`] unless the userName is taken: `false` then, and nothing
/// written (nor, on PostgreSQL, the transaction aborted).
pub async fn insert_if_name_free(conn: &mut Conn, user: &UserRow) -> Result<bool, StoreError> {
    let done = insert_returning_count(conn, user, "ON CONFLICT (user_name_key) DO NOTHING").await?;
    Ok(done == 1)
}

async fn insert_returning_count(
    conn: &mut Conn,
    user: &UserRow,
    on_conflict: &'static str,
) -> Result<u64, StoreError> {
    let done = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO users (id, user_name, user_name_key, external_id, given_name, family_name, \
         formatted_name, display_name, active, origin, attributes, version, deprovision_state, \
         deprovisioned_at, deleted_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         {on_conflict}"
    )))
    .bind(&user.id)
    .bind(&user.user_name)
    .bind(user_name_key(&user.user_name))
    .bind(&user.external_id)
    .bind(&user.given_name)
    .bind(&user.family_name)
    .bind(&user.formatted_name)
    .bind(&user.display_name)
    .bind(user.active)
    .bind(origin_text(user.origin))
    .bind(crate::text::storable_json(&user.attributes).as_ref())
    .bind(user.version)
    .bind(state_text(user.deprovision_state))
    .bind(user.deprovisioned_at.map(to_millis))
    .bind(user.deleted_at.map(to_millis))
    .bind(to_millis(user.created_at))
    .bind(to_millis(user.updated_at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Writes every column of `user` back and bumps its version; `false` when
/// the row's version is no longer `user.version` (a concurrent change won).
pub async fn update(conn: &mut Conn, user: &UserRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        // The key follows the name only when the name changes: a deleted
        // user's released key (see `release_user_name`) stays released.
        "UPDATE users SET user_name_key = CASE WHEN user_name = $1 THEN user_name_key ELSE $2 END, \
         user_name = $1, external_id = $3, given_name = $4, \
         family_name = $5, formatted_name = $6, display_name = $7, active = $8, origin = $9, \
         attributes = $10, version = version + 1, deprovision_state = $11, deprovisioned_at = $12, \
         deleted_at = $13, updated_at = $14 \
         WHERE id = $15 AND version = $16",
    )
    .bind(&user.user_name)
    .bind(user_name_key(&user.user_name))
    .bind(&user.external_id)
    .bind(&user.given_name)
    .bind(&user.family_name)
    .bind(&user.formatted_name)
    .bind(&user.display_name)
    .bind(user.active)
    .bind(origin_text(user.origin))
    .bind(crate::text::storable_json(&user.attributes).as_ref())
    .bind(state_text(user.deprovision_state))
    .bind(user.deprovisioned_at.map(to_millis))
    .bind(user.deleted_at.map(to_millis))
    .bind(to_millis(user.updated_at))
    .bind(&user.id)
    .bind(user.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Frees a deleted user's userName for a new person: the record keeps its
/// `user_name` for audit and verification by id, but no longer holds the
/// unique key (it gets one made of its id, which no userName lookup finds).
pub async fn release_user_name(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE users SET user_name_key = $1, version = version + 1 WHERE id = $2")
        .bind(format!("released:{id}"))
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_user_name(
    conn: &mut Conn,
    user_name: &str,
) -> Result<Option<UserRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE user_name_key = $1"
    )))
    .bind(user_name_key(user_name))
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// [`get`] in a write transaction: the row stays locked until it commits.
pub async fn get_for_update(conn: &mut Conn, id: &str) -> Result<Option<UserRow>, StoreError> {
    let lock = for_update(conn);
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1 {lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// A user by id, else by userName (case-insensitive).
pub async fn resolve(conn: &mut Conn, id_or_name: &str) -> Result<Option<UserRow>, StoreError> {
    match get(conn, id_or_name).await? {
        Some(user) => Ok(Some(user)),
        None => find_by_user_name(conn, id_or_name).await,
    }
}

/// Which users [`list`] returns.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub active: Option<bool>,
    pub deprovision_state: Option<DeprovisionState>,
    pub role: Option<String>,
    /// A group id or display name.
    pub group: Option<String>,
    pub search: Option<String>,
}

/// One page of users ordered by userName (case-insensitive), starting after
/// the userName key `after`. `conditions` holds any the caller has already
/// (a SCIM filter's, from `scim_query`); `filter`'s are added to them.
pub async fn list(
    conn: &mut Conn,
    mut conditions: Conditions,
    filter: &UserFilter,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<UserRow>, StoreError> {
    if let Some(active) = filter.active {
        let active = conditions.bind(active);
        conditions.and(format!("active = {active}"));
    }
    if let Some(state) = filter.deprovision_state {
        let state = conditions.bind(state_text(state).to_owned());
        conditions.and(format!("deprovision_state = {state}"));
    }
    if let Some(role) = &filter.role {
        let role = conditions.bind(role.clone());
        conditions.and(format!(
            "EXISTS (SELECT 1 FROM role_grants g WHERE g.user_id = users.id AND g.role_name = {role})"
        ));
    }
    if let Some(group) = &filter.group {
        let id = conditions.bind(group.clone());
        let key = conditions.bind(name_key(group));
        conditions.and(format!(
            "EXISTS (SELECT 1 FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id = users.id AND (g.id = {id} OR g.display_name_key = {key}))"
        ));
    }
    if let Some(search) = &filter.search {
        let pattern = conditions.bind(contains_pattern(&name_key(search)));
        conditions.and(format!(
            "(user_name_key LIKE {pattern} ESCAPE '\\' \
             OR LOWER(COALESCE(display_name, '')) LIKE {pattern} ESCAPE '\\' \
             OR EXISTS (SELECT 1 FROM user_emails e WHERE e.user_id = users.id \
                        AND e.value_key LIKE {pattern} ESCAPE '\\'))"
        ));
    }
    if let Some(after) = after {
        let after = conditions.bind(after.to_owned());
        conditions.and(format!("user_name_key > {after}"));
    }
    let limit = conditions.bind(i64::from(limit));
    let sql = format!(
        "SELECT {COLUMNS} FROM users {} ORDER BY user_name_key LIMIT {limit}",
        conditions.where_clause()
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces the user's emails with `emails`.
pub async fn replace_emails(
    conn: &mut Conn,
    user_id: &str,
    emails: &[EmailRow],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_emails WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    insert_emails(conn, user_id, emails).await
}

/// Stores the emails of a user who has none yet, in one statement.
pub async fn insert_emails(
    conn: &mut Conn,
    user_id: &str,
    emails: &[EmailRow],
) -> Result<(), StoreError> {
    if emails.is_empty() {
        return Ok(());
    }
    let mut values = Conditions::default();
    let rows: Vec<String> = emails
        .iter()
        .enumerate()
        .map(|(position, email)| {
            let row = [
                values.bind(user_id.to_owned()),
                values.bind(position as i64),
                values.bind(email.value.clone()),
                values.bind(email.value.to_lowercase()),
                values.bind(email.kind.clone()),
                values.bind(email.primary),
            ];
            format!("({})", row.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO user_emails (user_id, position, value, value_key, type, is_primary) \
         VALUES {}",
        rows.join(", ")
    );
    sqlx::query_with(AssertSqlSafe(sql), values.into_args())
        .execute(conn)
        .await?;
    Ok(())
}

/// Emails of each of `user_ids`, in their stored order.
pub async fn emails_of(
    conn: &mut Conn,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<EmailRow>>, StoreError> {
    let select = |ids: &str| {
        format!(
            "SELECT user_id AS owner, value, type, is_primary FROM user_emails \
             WHERE user_id IN ({ids}) ORDER BY user_id, position"
        )
    };
    grouped(conn, user_ids, select, |row| {
        Ok(EmailRow {
            value: row.try_get("value")?,
            kind: row.try_get("type")?,
            primary: get_bool(row, "is_primary")?,
        })
    })
    .await
}

/// Role names of each of `user_ids`, sorted.
pub async fn roles_of(
    conn: &mut Conn,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let select = |ids: &str| {
        format!(
            "SELECT DISTINCT user_id AS owner, role_name FROM role_grants WHERE user_id IN ({ids}) \
             ORDER BY user_id, role_name"
        )
    };
    grouped(conn, user_ids, select, |row| Ok(row.try_get("role_name")?)).await
}

/// The permissions the user's roles grant, as stored scope names.
pub async fn permissions(conn: &mut Conn, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.permissions FROM roles r WHERE r.name IN \
         (SELECT g.role_name FROM role_grants g WHERE g.user_id = $1)",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    let mut names = Vec::new();
    for row in rows {
        let permissions: String = row.try_get("permissions")?;
        names.extend(permissions.split_whitespace().map(str::to_owned));
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The condition that leaves out deleted users' tombstones, which SCIM
/// never shows.
pub(crate) const LIVE: &str = "users.deleted_at IS NULL";

/// Users matching `conditions` (built by `store::scim_query`), tombstones
/// left out: how many in all, then one page in `order_by` order.
pub async fn count_live(conn: &mut Conn, mut conditions: Conditions) -> Result<i64, StoreError> {
    conditions.and(LIVE);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM users {}",
        conditions.where_clause()
    );
    let row = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// One page of the users `count_live` counts, with their emails and groups
/// (read for the page's rows only). `order_by` is SQL built from constants
/// (a column or an expression `store::scim_query` chose).
pub async fn page_live(
    conn: &mut Conn,
    mut conditions: Conditions,
    order_by: &str,
    offset: i64,
    limit: i64,
) -> Result<Vec<UserRecord>, StoreError> {
    conditions.and(LIVE);
    let where_clause = conditions.where_clause();
    let columns = record_columns(conn);
    let page = limit_offset(limit, offset);
    let sql = format!("SELECT {columns} FROM users {where_clause} ORDER BY {order_by}, id {page}");
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// The users with these ids (a page's worth: one `IN` list), with their
/// emails and groups, in no particular order; tombstones, and ids no user
/// has, left out.
pub async fn live_with_ids(conn: &mut Conn, ids: &[String]) -> Result<Vec<UserRecord>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Conditions::default();
    let list = conditions.bind_all(ids.iter().cloned());
    conditions.and(format!("id IN ({list})"));
    conditions.and(LIVE);
    let columns = record_columns(conn);
    let sql = format!("SELECT {columns} FROM users {}", conditions.where_clause());
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Which of `ids` are users that are not tombstones, each locked until the
/// transaction commits (as [`get_for_update`] locks one): taken in id
/// order, so that two transactions locking overlapping sets never wait on
/// each other in a cycle.
pub async fn lock_live_ids(conn: &mut Conn, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut sorted: Vec<&String> = ids.iter().collect();
    sorted.sort();
    sorted.dedup();
    let lock = for_update(conn);
    // In slices: SQLite binds at most 32,766 values in one statement.
    let mut live = Vec::new();
    for chunk in sorted.chunks(IN_LIST_CHUNK) {
        let mut conditions = Conditions::default();
        let list = conditions.bind_all(chunk.iter().map(|id| (*id).clone()));
        let sql =
            format!("SELECT id FROM users WHERE id IN ({list}) AND {LIVE} ORDER BY id {lock}");
        let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
            .fetch_all(&mut *conn)
            .await?;
        for row in &rows {
            live.push(row.try_get("id")?);
        }
    }
    Ok(live)
}

/// How many values one `IN (…)` binds, well below every backend's limit.
const IN_LIST_CHUNK: usize = 1000;
