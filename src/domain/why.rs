//! `users why`: each role a user holds with every source that gives it,
//! and each group membership with how it came.

use std::collections::HashMap;

use super::Result;
use super::mappings::source_to_api;
use super::users::find;
use crate::api::groups::GroupRef;
use crate::api::mappings::{GrantSource, WhyGroup, WhyReport, WhyRole};
use crate::api::users::UserRef;
use crate::store::grants::{self as grant_rows, GrantRow, Source};
use crate::store::mappings::{self as mapping_rows, MappingRow};
use crate::store::{Conn, Store, StoreError, groups as group_rows, keys};

pub async fn why(store: &Store, id_or_name: &str) -> Result<WhyReport> {
    let mut conn = store.conn().await?;
    let user = find(&mut conn, id_or_name).await?;
    let grants = grant_rows::of_users(&mut conn, &[user.id.as_str()])
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let mappings: HashMap<String, MappingRow> = mapping_rows::list(&mut conn)
        .await?
        .into_iter()
        .map(|mapping| (mapping.id.clone(), mapping))
        .collect();
    let mut roles: Vec<WhyRole> = Vec::new();
    for grant in grants {
        let source = grant_source(&mut conn, &grant, &mappings).await?;
        match roles.last_mut() {
            Some(last) if last.role == grant.role_name => last.sources.push(source),
            _ => roles.push(WhyRole {
                role: grant.role_name,
                sources: vec![source],
            }),
        }
    }
    let groups = group_rows::memberships_of(&mut conn, &user.id)
        .await?
        .into_iter()
        .map(|membership| WhyGroup {
            group: GroupRef {
                id: membership.group_id,
                display_name: membership.display_name,
            },
            via: membership.via,
            added_at: membership.added_at,
            added_by: membership.added_by,
        })
        .collect();
    Ok(WhyReport {
        user: UserRef {
            id: user.id,
            user_name: user.user_name,
        },
        roles,
        groups,
    })
}

/// One grant as `why` shows it: a mapping with its source, a manual grant
/// with the key's name.
pub(super) async fn grant_source(
    conn: &mut Conn,
    grant: &GrantRow,
    mappings: &HashMap<String, MappingRow>,
) -> Result<GrantSource, StoreError> {
    let granted_at = grant.granted_at;
    Ok(match &grant.source {
        Source::Default => GrantSource::Default { granted_at },
        Source::Mapping(id) => GrantSource::Mapping {
            mapping_id: id.clone(),
            source: mappings
                .get(id)
                .map(|mapping| source_to_api(mapping.source.clone())),
            granted_at,
        },
        Source::Manual => {
            let key = match grant.granted_by.as_deref() {
                Some(id) => keys::get(conn, id).await?,
                None => None,
            };
            GrantSource::Manual {
                granted_by: match &key {
                    Some(key) => Some(key.name.clone()),
                    None => grant.granted_by.clone(),
                },
                key_id: key.map(|key| key.id),
                granted_at,
            }
        }
    })
}
