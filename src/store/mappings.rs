//! The `role_mappings` table: a role granted for a source, a group or a
//! value of the SCIM `roles` attribute.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::users::LIVE;
use super::{Conn, StoreError, from_millis, to_millis};

/// What a mapping grants its role for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRow {
    /// Membership of the group `(id, display name)`.
    Group { id: String, display_name: String },
    /// A SCIM `roles` value as given, matched by its lower-cased key.
    ScimRole { value: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub id: String,
    pub source: SourceRow,
    pub role_name: String,
    pub created_at: OffsetDateTime,
    /// The actor's name.
    pub created_by: String,
}

/// The key a SCIM `roles` value is matched by.
pub fn scim_role_key(value: &str) -> String {
    value.to_lowercase()
}

const SELECT: &str = "SELECT m.id, m.group_id, g.display_name, m.scim_role, m.role_name, \
     m.created_at, m.created_by FROM role_mappings m LEFT JOIN groups g ON g.id = m.group_id";

fn from_row(row: &AnyRow) -> Result<MappingRow, StoreError> {
    let group_id: Option<String> = row.try_get("group_id")?;
    let source = match group_id {
        Some(id) => SourceRow::Group {
            id,
            display_name: row.try_get("display_name")?,
        },
        None => SourceRow::ScimRole {
            value: row.try_get("scim_role")?,
        },
    };
    Ok(MappingRow {
        id: row.try_get("id")?,
        source,
        role_name: row.try_get("role_name")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
    })
}

/// Every mapping, by role then id.
pub async fn list(conn: &mut Conn) -> Result<Vec<MappingRow>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} ORDER BY m.role_name, m.created_at, m.id"
    )))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<MappingRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("{SELECT} WHERE m.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The mappings of one group.
pub async fn for_group(conn: &mut Conn, group_id: &str) -> Result<Vec<MappingRow>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} WHERE m.group_id = $1 ORDER BY m.id"
    )))
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Whether any mapping has a SCIM `roles` value as its source: when none
/// does, a change of that attribute cannot change a role.
pub async fn any_scim_role(conn: &mut Conn) -> Result<bool, StoreError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM role_mappings WHERE scim_role_key IS NOT NULL")
            .fetch_one(conn)
            .await?;
    Ok(row.try_get::<i64, _>("n")? > 0)
}

/// The mappings that grant `role`.
pub async fn for_role(conn: &mut Conn, role: &str) -> Result<Vec<MappingRow>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} WHERE m.role_name = $1 ORDER BY m.id"
    )))
    .bind(role)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// The mapping from the same source to the same role, if there is one.
pub async fn find_same(
    conn: &mut Conn,
    source: &SourceRow,
    role: &str,
) -> Result<Option<MappingRow>, StoreError> {
    let (condition, value) = match source {
        SourceRow::Group { id, .. } => ("m.group_id = $1", id.clone()),
        SourceRow::ScimRole { value } => ("m.scim_role_key = $1", scim_role_key(value)),
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "{SELECT} WHERE {condition} AND m.role_name = $2"
    )))
    .bind(value)
    .bind(role)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Adds a mapping. The same source and role twice fails with the
/// database's unique violation; callers check first.
pub async fn insert(conn: &mut Conn, mapping: &MappingRow) -> Result<(), StoreError> {
    let (group_id, scim_role, scim_role_key) = match &mapping.source {
        SourceRow::Group { id, .. } => (Some(id.clone()), None, None),
        SourceRow::ScimRole { value } => {
            (None, Some(value.clone()), Some(self::scim_role_key(value)))
        }
    };
    sqlx::query(
        "INSERT INTO role_mappings (id, group_id, scim_role, scim_role_key, role_name, \
         created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&mapping.id)
    .bind(group_id)
    .bind(scim_role)
    .bind(scim_role_key)
    .bind(&mapping.role_name)
    .bind(to_millis(mapping.created_at))
    .bind(&mapping.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a mapping; `false` when there was none.
pub async fn delete(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM role_mappings WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ids of the live users whose stored attributes may hold the SCIM `roles`
/// value `value` (its JSON string, ignoring case, appears in them): a
/// superset the caller narrows by reading the attribute itself.
pub async fn users_mentioning(conn: &mut Conn, value: &str) -> Result<Vec<String>, StoreError> {
    let needle = serde_json::Value::from(scim_role_key(value)).to_string();
    let position = if conn.backend_name() == "PostgreSQL" {
        "strpos(lower(attributes), $1)"
    } else {
        "instr(lower(attributes), $1)"
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id FROM users WHERE {position} > 0 AND {LIVE} ORDER BY id"
    )))
    .bind(needle)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
}
