//! A SCIM search at the server root (`POST /.search`, RFC 7644 §3.4.3): Users
//! and Groups in one list, filtered, sorted and paged as one.
//!
//! - The filter applies to both types; an attribute one type does not have
//!   has no value there (`scim::resolve::filter_across`): `userName eq "x"`
//!   matches no group, `meta.resourceType eq "Group"` only groups.
//! - Without `sortBy`: every user, in the order `/Users` lists them, then
//!   every group, in the order `/Groups` lists them (`sortOrder` reverses
//!   each, not which comes first). Paging from `startIndex=1` reads the
//!   users, then the groups.
//! - With `sortBy`: one order across both types by that attribute. A type
//!   without the attribute has no value for it, so its resources come last
//!   ascending and first descending (RFC 7644 §3.4.2.3); equal values put
//!   users before groups, then go by id.
//! - `totalResults` counts both types; `count=0` asks for it alone.

use std::collections::HashMap;

use serde_json::Value;

use super::{Result, scim_groups, scim_users};
use crate::scim::list::ListParams;
use crate::scim::resolve;
use crate::scim::resolved::Table;
use crate::scim::resource::BaseUrl;
use crate::scim::schema::ResourceKind;
use crate::store::scim_search::{self, Order, Part};
use crate::store::{Store, groups, users};

/// A page of users and groups as SCIM JSON, and how many match in all.
/// Groups' members are read only when `with_members`.
pub async fn search(
    store: &Store,
    params: &ListParams,
    with_members: bool,
    base: &BaseUrl,
) -> Result<(i64, Vec<Value>)> {
    let backend = store.backend();
    let filters = (params.filter.as_ref())
        .map(resolve::filter_across)
        .transpose()?;
    let parts: Vec<Part<'_>> = ResourceKind::ALL
        .into_iter()
        .enumerate()
        .map(|(position, kind)| Part {
            table: resolve::table(kind),
            filter: filters.as_ref().map(|filters| &filters[position]),
        })
        .collect();
    let mut conn = store.conn().await?;
    if params.count == 0 {
        return Ok((
            scim_search::count(&mut conn, backend, &parts).await?,
            Vec::new(),
        ));
    }
    // Resolved only when a page is read: `count=0` ignores `sortBy`, as the
    // searches of one type do.
    let sorts = resolve::sort_across(params.sort_by.as_ref(), params.descending)?;
    let order = match params.sort_by {
        Some(_) => Order::Interleaved,
        None => Order::PartByPart,
    };
    let page = scim_search::page(
        &mut conn,
        backend,
        &parts,
        &sorts,
        order,
        params.offset(),
        params.count,
    )
    .await?;
    let total = match params.total_from_page(page.len()) {
        Some(total) => total,
        None => scim_search::count(&mut conn, backend, &parts).await?,
    };
    let ids = |wanted: Table| -> Vec<String> {
        (page.iter())
            .filter(|(table, _)| *table == wanted)
            .map(|(_, id)| id.clone())
            .collect()
    };
    let mut found: HashMap<(Table, String), Value> = HashMap::new();
    for record in users::live_with_ids(&mut conn, &ids(Table::Users)).await? {
        let resource = scim_users::render(&record.row, &record.emails, &record.groups, base);
        found.insert((Table::Users, record.row.id), resource);
    }
    for (row, members) in groups::with_ids(&mut conn, &ids(Table::Groups), with_members).await? {
        let resource = scim_groups::render(&row, members.as_deref(), base);
        found.insert((Table::Groups, row.id), resource);
    }
    // A resource deleted between the two reads is left out of its page.
    let resources = page
        .into_iter()
        .filter_map(|key| found.remove(&key))
        .collect();
    Ok((total, resources))
}
