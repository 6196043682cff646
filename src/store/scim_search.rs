//! A search across resource types (`POST /.search` at the SCIM root): which
//! users and groups one page holds, in one order, and how many match in all.
//! One `SELECT` per table, joined by `UNION ALL`, so the database orders and
//! pages both tables together however far the page is; filters and orders
//! arrive resolved (`scim::resolve::filter_across`, `sort_across`) and are
//! compiled by `scim_query`. Reading the resources of a page is
//! `users::live_with_ids` and `groups::with_ids`.

use sqlx::{AssertSqlSafe, Row};

use super::sql::{Conditions, limit_offset};
use super::{Backend, Conn, StoreError, scim_query, users};
use crate::scim::resolved::{ResolvedFilter, ResolvedSort, Table};

/// One table's part of a search: the table and its filter, if any.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    pub table: Table,
    pub filter: Option<&'a ResolvedFilter>,
}

/// How the rows of the parts are put in one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Part after part, each in its own sort order: without `sortBy`, every
    /// user, then every group.
    PartByPart,
    /// By the sort value alone, whichever table a row is in; equal values
    /// keep part order, then go by id.
    Interleaved,
}

/// How many rows of all the parts match.
pub async fn count(
    conn: &mut Conn,
    backend: Backend,
    parts: &[Part<'_>],
) -> Result<i64, StoreError> {
    let mut conditions = Conditions::default();
    let counts: Vec<String> = parts
        .iter()
        .map(|part| {
            let (table, condition) = part_condition(part, backend, &mut conditions);
            format!("(SELECT COUNT(*) FROM {table} WHERE {condition})")
        })
        .collect();
    let sql = format!("SELECT {} AS n", counts.join(" + "));
    let row = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("n")?)
}

/// The table and id of each row of one page, in `order`. `sorts` holds
/// each part's order, in the order of `parts`; their direction is the
/// first's (they share one `sortOrder`).
pub async fn page(
    conn: &mut Conn,
    backend: Backend,
    parts: &[Part<'_>],
    sorts: &[ResolvedSort],
    order: Order,
    offset: i64,
    limit: i64,
) -> Result<Vec<(Table, String)>, StoreError> {
    debug_assert!(
        parts.len() == sorts.len()
            && parts
                .iter()
                .zip(sorts)
                .all(|(part, sort)| part.table == sort.table),
        "one sort per part, on the part's table"
    );
    let mut conditions = Conditions::default();
    let selects: Vec<String> = parts
        .iter()
        .zip(sorts)
        .enumerate()
        .map(|(position, (part, sort))| {
            let (table, condition) = part_condition(part, backend, &mut conditions);
            let value = scim_query::sort_value(sort, backend);
            // BIGINT on both engines, so the part decodes as an i64.
            format!(
                "SELECT CAST({position} AS BIGINT) AS part, {table}.id AS id, {value} AS sort_value \
                 FROM {table} WHERE {condition}"
            )
        })
        .collect();
    let direction = sorts.first().map_or("ASC", scim_query::sort_direction);
    // `id` last, as in a list of one type: the order is total, so pages
    // never overlap or skip.
    let order_by = match order {
        Order::PartByPart => format!("part, sort_value {direction}, id"),
        Order::Interleaved => format!("sort_value {direction}, part, id"),
    };
    let sql = format!(
        "SELECT part, id FROM ({}) AS found ORDER BY {order_by} {}",
        selects.join(" UNION ALL "),
        limit_offset(limit, offset)
    );
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| {
            let part: i64 = row.try_get("part")?;
            let table = usize::try_from(part)
                .ok()
                .and_then(|part| parts.get(part))
                .map(|part| part.table)
                .ok_or_else(|| StoreError::Corrupt(format!("search row of no part: {part}")))?;
            Ok((table, row.try_get("id")?))
        })
        .collect()
}

/// The part's table name and its `WHERE` condition: the filter's, and for
/// users, no tombstones.
fn part_condition(
    part: &Part<'_>,
    backend: Backend,
    conditions: &mut Conditions,
) -> (&'static str, String) {
    let condition = scim_query::condition(part.filter, backend, conditions);
    let condition = match part.table {
        Table::Users => format!("{condition} AND {}", users::LIVE),
        Table::Groups => condition,
    };
    (scim_query::table_name(part.table), condition)
}
