//! Users as the admin API sees them: listing, showing, manual creation, and
//! the assembly of a user with its emails, roles, groups and lock.

use std::collections::HashSet;

use serde_json::json;
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::deprovision::Trigger;
use super::{Error, Result, ceiling, groups, mappings, roles};
use crate::api::Page;
use crate::api::groups::GroupRef;
use crate::api::mappings::MembershipVia;
use crate::api::rails::Held;
use crate::api::users::{
    CreateUserRequest, DeprovisionState, Email, Origin, User, UserListQuery, UserStatus,
};
use crate::scim::resolve::user_list_filter;
use crate::store::grants::{self, Source};
use crate::store::users::{self as user_rows, EmailRow, UserFilter, UserRow};
use crate::store::{
    self, Conn, Store, StoreError, groups as group_rows, locks, rails as rail_rows, scim_query,
    settings,
};
use crate::text;

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// A user by id or userName, or a not-found error that says how to find one.
pub async fn find(conn: &mut Conn, id_or_name: &str) -> Result<UserRow> {
    text::check("user", id_or_name, text::Kind::Name, usize::MAX)?;
    user_rows::resolve(conn, id_or_name).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "no user {id_or_name:?} (by id or userName); `scimctl users list --search …` finds users"
        ))
    })
}

/// [`find`] in a write transaction: the row stays locked until it commits,
/// so concurrent changes to one user queue instead of colliding.
pub async fn find_for_update(conn: &mut Conn, id_or_name: &str) -> Result<UserRow> {
    let id = find(conn, id_or_name).await?.id;
    user_rows::get_for_update(conn, &id).await?.ok_or_else(|| {
        Error::NotFound(format!(
            "user {id_or_name:?} was deleted while this request ran"
        ))
    })
}

pub async fn show(store: &Store, id_or_name: &str) -> Result<User> {
    let mut conn = store.conn().await?;
    let row = find(&mut conn, id_or_name).await?;
    Ok(assemble(&mut conn, vec![row]).await?.remove(0))
}

pub async fn list(store: &Store, query: &UserListQuery) -> Result<Page<User>> {
    let limit = page_size(query.limit)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let scim_filter = query
        .filter
        .as_deref()
        .map(|text| {
            user_list_filter(text).map_err(|err| Error::Invalid(format!("bad filter: {err}")))
        })
        .transpose()?;
    let filter = UserFilter {
        active: match query.status {
            Some(UserStatus::Active) => Some(true),
            Some(UserStatus::Inactive) => Some(false),
            Some(UserStatus::Pending) | None => None,
        },
        deprovision_state: (query.status == Some(UserStatus::Pending))
            .then_some(DeprovisionState::Pending),
        role: None,
        group: None,
        search: query.search.clone().filter(|text| !text.is_empty()),
    };
    let mut conn = store.conn().await?;
    let mut filter = filter;
    // An unknown role or group is a mistake to name, not an empty listing.
    if let Some(role) = &query.role {
        filter.role = Some(roles::require_exists(&mut conn, role).await?.name);
    }
    if let Some(group) = &query.group {
        filter.group = Some(groups::require(&mut conn, group).await?.id);
    }
    // One row more than the page tells whether another page follows.
    let scim = scim_query::list_conditions(scim_filter.as_ref(), store.backend());
    let mut rows = user_rows::list(&mut conn, scim, &filter, after.as_deref(), limit + 1).await?;
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last()
            .map(|row| encode_cursor(&user_rows::user_name_key(&row.user_name)))
    } else {
        None
    };
    Ok(Page {
        items: assemble(&mut conn, rows).await?,
        next_cursor,
    })
}

/// Creates a user by hand (origin `manual`), for organisations without an IdP and
/// for tests. Unknown roles are refused; unknown groups are refused too,
/// unless `create_groups` asks for them to be created. All in one
/// transaction: a refusal writes nothing.
pub async fn create_manual(
    store: &Store,
    actor: &Actor,
    request: CreateUserRequest,
) -> Result<User> {
    let user_name = request.user_name.trim().to_owned();
    validate_user_name(&user_name)?;
    if let Some(display_name) = &request.display_name {
        text::check(
            "displayName",
            display_name,
            text::Kind::Name,
            text::MAX_NAME,
        )?;
    }
    for group in &request.groups {
        text::check_name("group", group, text::MAX_NAME)?;
    }
    let emails = request
        .emails
        .iter()
        .enumerate()
        .map(|(position, value)| {
            let value = value.trim();
            text::check_name(&format!("email {}", position + 1), value, text::MAX_NAME)?;
            if !value.contains('@') {
                return Err(Error::Invalid(format!("{value:?} is not an email address")));
            }
            Ok(EmailRow {
                value: value.to_owned(),
                kind: Some("work".to_owned()),
                primary: position == 0,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let mut tx = store.begin().await?;
    if user_rows::find_by_user_name(&mut tx, &user_name)
        .await?
        .is_some()
    {
        return Err(Error::Conflict(format!(
            "a user named {user_name:?} already exists (userNames are unique regardless of case)"
        )));
    }
    let role_names = if request.roles.is_empty() {
        vec![settings::get(&mut tx).await?.default_role]
    } else {
        request.roles.clone()
    };
    roles::require_all_exist(&mut tx, &role_names).await?;
    let what = format!("give {user_name} the role(s) {}", role_names.join(", "));
    ceiling::check_roles(&mut tx, actor, &role_names, &what).await?;
    if !request.create_groups {
        // Before anything is written: a typo (`--group engg`) must not make
        // a group, nor a user outside the group meant.
        groups::require_all_exist(&mut tx, &request.groups).await?;
    }

    let now = store::now();
    let row = UserRow {
        id: Uuid::new_v4().to_string(),
        user_name,
        external_id: None,
        given_name: None,
        family_name: None,
        formatted_name: None,
        display_name: request
            .display_name
            .clone()
            .filter(|name| !name.trim().is_empty()),
        active: true,
        origin: Origin::Manual,
        attributes: "{}".to_owned(),
        version: 1,
        deprovision_state: DeprovisionState::None,
        deprovisioned_at: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    };
    user_rows::insert(&mut tx, &row).await?;
    user_rows::replace_emails(&mut tx, &row.id, &emails).await?;
    // Without --role, the default role, as a provisioned user gets it.
    let source = match request.roles.is_empty() {
        true => Source::Default,
        false => Source::Manual,
    };
    let by = actor.grantor();
    for role in &role_names {
        grants::grant(&mut tx, &row.id, role, &source, now, &by).await?;
    }
    let mut created_groups = Vec::new();
    for group_name in &request.groups {
        let (group, created) = groups::ensure(&mut tx, group_name).await?;
        if created {
            created_groups.push(group.display_name.clone());
        }
        let via = MembershipVia::Manual;
        group_rows::add_member(&mut tx, &group.id, &row.id, via, now, &actor.name).await?;
    }
    audit::record(
        &mut tx,
        actor,
        "user.create",
        Some(&row.user_name),
        Outcome::Success,
        json!({
            "id": row.id,
            "origin": "manual",
            "roles": role_names,
            "groups": request.groups,
            "groups_created": created_groups,
        }),
    )
    .await?;
    if !request.groups.is_empty() {
        let id = std::slice::from_ref(&row.id);
        mappings::follow(&mut tx, actor, id, Trigger::Admin).await?;
    }
    let user = assemble(&mut tx, vec![row]).await?.remove(0);
    tx.commit().await.map_err(StoreError::from)?;
    Ok(user)
}

/// The one rule for userNames, shared with SCIM ([`crate::text`]).
fn validate_user_name(user_name: &str) -> Result<()> {
    Ok(text::check_user_name("userName", user_name)?)
}

/// Users with their emails, roles, groups and lock state, in the order given.
/// A fixed number of queries whatever the number of users.
pub async fn assemble(conn: &mut Conn, rows: Vec<UserRow>) -> Result<Vec<User>, StoreError> {
    let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
    let mut emails = user_rows::emails_of(conn, &ids).await?;
    let mut roles = user_rows::roles_of(conn, &ids).await?;
    let mut groups = group_rows::groups_of(conn, &ids).await?;
    let locked: HashSet<String> = locks::locked_among(conn, &ids).await?.into_iter().collect();
    let protected: HashSet<String> = rail_rows::protected_among(conn, &ids)
        .await?
        .into_iter()
        .collect();
    let mut held = rail_rows::held_of(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let emails = emails.remove(&row.id).unwrap_or_default();
            let roles = roles.remove(&row.id).unwrap_or_default();
            let groups = groups.remove(&row.id).unwrap_or_default();
            let locked = locked.contains(&row.id);
            let rails = Rails {
                protected: protected.contains(&row.id),
                held: super::rails::to_api(held.remove(&row.id).unwrap_or_default()),
            };
            to_api(row, emails, roles, groups, locked, rails)
        })
        .collect())
}

/// A user's protection and held changes (`domain::rails`).
struct Rails {
    protected: bool,
    held: Vec<Held>,
}

fn to_api(
    row: UserRow,
    emails: Vec<EmailRow>,
    roles: Vec<String>,
    groups: Vec<(String, String)>,
    locked: bool,
    rails: Rails,
) -> User {
    User {
        id: row.id,
        user_name: row.user_name,
        external_id: row.external_id,
        display_name: row.display_name,
        given_name: row.given_name,
        family_name: row.family_name,
        emails: emails
            .into_iter()
            .map(|email| Email {
                value: email.value,
                kind: email.kind,
                primary: email.primary,
            })
            .collect(),
        active: row.active,
        origin: row.origin,
        roles,
        groups: groups
            .into_iter()
            .map(|(id, display_name)| GroupRef { id, display_name })
            .collect(),
        deprovisioning: row.deprovision_state,
        deprovisioned_at: row.deprovisioned_at,
        locked,
        protected: rails.protected,
        held: rails.held,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub(crate) fn page_size(requested: Option<u32>) -> Result<u32> {
    match requested.unwrap_or(DEFAULT_PAGE) {
        limit @ 1..=MAX_PAGE => Ok(limit),
        limit => Err(Error::Invalid(format!(
            "limit {limit} is out of range: use 1 to {MAX_PAGE}"
        ))),
    }
}

/// Cursors are opaque to clients: the hex of the last sort key returned.
pub(crate) fn encode_cursor(key: &str) -> String {
    hex::encode(key)
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<String> {
    hex::decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "cursor {cursor:?} is not one this server handed out; pass `next_cursor` back as it came"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = encode_cursor("alice@example.com");
        assert_eq!(decode_cursor(&cursor).expect("valid"), "alice@example.com");
        assert!(matches!(decode_cursor("zz"), Err(Error::Invalid(_))));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(page_size(None).expect("default"), DEFAULT_PAGE);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(MAX_PAGE + 1)).is_err());
    }

    #[test]
    fn user_names_are_checked() {
        assert!(validate_user_name("alice").is_ok());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("a\nb").is_err());
        assert!(validate_user_name(&"x".repeat(text::MAX_USER_NAME + 1)).is_err());
    }
}
