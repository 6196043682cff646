//! What SCIM requests on Users do to the directory (DESIGN, "Behaviour"):
//! creation with the default role, adoption of manual users, uniqueness,
//! automatic provisioning switched off, updates, and deactivation, deletion
//! and reactivation through the deprovisioning engine.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use uuid::Uuid;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::deprovision::{self, Trigger};
use super::mappings;
use super::{Error, Result, rails};
use crate::api::rails::{HeldAction, HoldReason};
use crate::api::users::{DeprovisionState, Origin};
use crate::scim::diff;
use crate::scim::etag::{Preconditions, etag};
use crate::scim::list::ListParams;
use crate::scim::patch::{self, PatchRequest};
use crate::scim::resolve;
use crate::scim::resource::{
    BaseUrl, Email, EmailView, UserFields, UserView, user_from_scim, user_to_scim,
};
use crate::scim::schema::ResourceKind;
use crate::store::grants::{self, Source};
use crate::store::settings::SettingsRow;
use crate::store::users::{self as user_rows, EmailRow, UserRecord, UserRow};
use crate::store::{self, Conn, Store, StoreError, scim_query};

/// A user written by a request, and whether the request deprovisioned them
/// or had its deprovisioning held (for the metrics).
#[derive(Debug)]
pub struct Written {
    pub resource: Value,
    pub deprovisioned: bool,
    pub held: Option<HoldReason>,
}

/// What a `DELETE /Users/{id}` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deleted {
    /// The user lost their access.
    pub deprovisioned: bool,
    /// Held instead (no tombstone): the user stays, inactive and pending.
    pub held: Option<HoldReason>,
}

/// What the deprovisioning engine did after a change of `active`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Engine {
    deprovisioned: bool,
    held: Option<HoldReason>,
}

impl Engine {
    const TOUCHED: Engine = Engine {
        deprovisioned: false,
        held: None,
    };
}

/// A page of users as SCIM JSON, and how many match in all.
pub async fn list(store: &Store, params: &ListParams, base: &BaseUrl) -> Result<(i64, Vec<Value>)> {
    let (kind, backend) = (ResourceKind::User, store.backend());
    let filter = (params.filter.as_ref())
        .map(|filter| resolve::filter(filter, kind))
        .transpose()?;
    let filter = filter.as_ref();
    let mut conn = store.conn().await?;
    let count_all = async |conn: &mut Conn| -> Result<i64> {
        let conditions = scim_query::list_conditions(filter, backend);
        Ok(user_rows::count_live(conn, conditions).await?)
    };
    if params.count == 0 {
        return Ok((count_all(&mut conn).await?, Vec::new()));
    }
    // Resolved only when a page is read: `count=0` ignores `sortBy`.
    let sort = resolve::sort(kind, params.sort_by.as_ref(), params.descending)?;
    let order = scim_query::list_order(&sort, backend);
    let conditions = scim_query::list_conditions(filter, backend);
    let offset = params.offset();
    let records = user_rows::page_live(&mut conn, conditions, &order, offset, params.count).await?;
    let total = match params.total_from_page(records.len()) {
        Some(total) => total,
        None => count_all(&mut conn).await?,
    };
    let resources = records.iter().map(|record| to_scim(record, base)).collect();
    Ok((total, resources))
}

pub async fn get(store: &Store, id: &str, base: &BaseUrl) -> Result<Value> {
    get_in(&mut *store.conn().await?, id, base).await
}

/// [`get`] on the caller's connection (a transaction sees its own writes).
pub async fn get_in(conn: &mut Conn, id: &str, base: &BaseUrl) -> Result<Value> {
    Ok(to_scim(&live(conn, id, false).await?, base))
}

/// `POST /Users`: creates the user, or adopts a manual user of that name.
/// The userName of a user deleted before goes to a new person: see
/// [`retire_deleted`]. `settings` are those the request is judged by (the
/// replica's copy, as current as the request's authentication).
pub async fn create(
    store: &Store,
    actor: &Actor,
    settings: &SettingsRow,
    body: &Value,
    base: &BaseUrl,
) -> Result<Written> {
    let fields = user_from_scim(body)?;
    let user_name = fields.user_name.clone();
    let mut tx = store.begin().await?;
    match create_in(&mut tx, actor, settings, fields, base).await {
        Ok(written) => {
            tx.commit().await.map_err(StoreError::from)?;
            Ok(written)
        }
        Err(refused @ Error::ProvisioningDisabled(_)) => {
            // The refusal is audited on its own: the request's transaction
            // is abandoned.
            drop(tx);
            audit_provisioning_refused(store, actor, &user_name).await?;
            Err(refused)
        }
        Err(err) => Err(err),
    }
}

/// [`create`] in the caller's transaction, which it leaves uncommitted.
pub async fn create_in(
    conn: &mut Conn,
    actor: &Actor,
    settings: &SettingsRow,
    fields: UserFields,
    base: &BaseUrl,
) -> Result<Written> {
    // A name nobody holds, the common case, costs no lookup: the insert
    // claims it, or finds it taken and the cases below decide.
    if settings.auto_provisioning
        && let Some(row) = insert(conn, actor, &fields, &settings.default_role).await?
    {
        return provisioned(conn, actor, settings, fields, row, None, base).await;
    }
    let existing = user_rows::find_by_user_name(conn, &fields.user_name).await?;
    match existing {
        Some(row) if row.origin == Origin::Manual && row.deleted_at.is_none() => {
            let id = row.id.clone();
            let was_active = row.active;
            let roles_before = mappings::scim_role_keys(&row.attributes);
            let row = write(conn, row, &fields, None).await?;
            audit::record(
                conn,
                actor,
                "user.adopt",
                Some(&row.user_name),
                Outcome::Success,
                json!({ "id": row.id }),
            )
            .await?;
            let followed = follow(
                conn,
                actor,
                &row,
                (was_active, fields.active),
                &roles_before,
                Rails::Judge,
            )
            .await?;
            // A manual user may be in groups: read back, not assembled.
            let resource = resource(conn, &id, followed, None, base).await?;
            Ok(written(resource, followed))
        }
        Some(row) if row.deleted_at.is_none() => Err(Error::Uniqueness(format!(
            "userName {:?} is already taken (id {})",
            fields.user_name, row.id
        ))),
        deleted => {
            if !settings.auto_provisioning {
                return Err(Error::ProvisioningDisabled(format!(
                    "automatic provisioning is disabled on this service: {:?} was not created; \
                     an administrator can enable it with `scimctl provisioning enable`",
                    fields.user_name
                )));
            }
            let replaces = match deleted {
                Some(row) => Some(retire_deleted(conn, actor, row).await?),
                None => None,
            };
            // Released above; only a concurrent creation can hold it now.
            let row = insert(conn, actor, &fields, &settings.default_role)
                .await?
                .ok_or_else(|| {
                    Error::Uniqueness(format!(
                        "userName {:?} was taken meanwhile",
                        fields.user_name
                    ))
                })?;
            provisioned(conn, actor, settings, fields, row, replaces, base).await
        }
    }
}

fn written(resource: Value, followed: Option<Engine>) -> Written {
    Written {
        resource,
        deprovisioned: followed.is_some_and(|engine| engine.deprovisioned),
        held: followed.and_then(|engine| engine.held),
    }
}

/// The rest of a creation once the row is in: its audit entry, and the
/// deprovisioning engine when it arrives inactive.
async fn provisioned(
    conn: &mut Conn,
    actor: &Actor,
    settings: &SettingsRow,
    fields: UserFields,
    row: UserRow,
    replaces: Option<String>,
    base: &BaseUrl,
) -> Result<Written> {
    audit::record(
        conn,
        actor,
        "user.create",
        Some(&row.user_name),
        Outcome::Success,
        json!({
            "id": row.id,
            "origin": "scim",
            "roles": [settings.default_role],
            "replaces": replaces,
        }),
    )
    .await?;
    let id = row.id.clone();
    // A user created inactive had no access to guard: the safety rails
    // (and the breaker's count) are for people who leave.
    let no_roles = BTreeSet::new();
    let followed = follow(
        conn,
        actor,
        &row,
        (true, fields.active),
        &no_roles,
        Rails::Skip,
    )
    .await?;
    let record = UserRecord {
        row,
        emails: email_rows(&fields.emails),
        groups: Vec::new(),
    };
    let resource = resource(conn, &id, followed, Some(record), base).await?;
    Ok(written(resource, followed))
}

/// A deleted user whose userName is provisioned again: the newcomer is a
/// new person (a reused e-mail address is common), so the old record must
/// stay dead and give up the name. A deprovisioning still pending on it is
/// completed now, whatever the toggles say, so none of its credentials can
/// pass to the newcomer or come back. Returns the old record's id.
async fn retire_deleted(conn: &mut Conn, actor: &Actor, row: UserRow) -> Result<String> {
    let id = row.id.clone();
    let reason = "its userName was provisioned again, as a new user";
    deprovision::deprovision_in(conn, actor, row, Some(reason), Trigger::Scim).await?;
    user_rows::release_user_name(conn, &id).await?;
    Ok(id)
}

/// Audits a creation refused because automatic provisioning is off.
async fn audit_provisioning_refused(store: &Store, actor: &Actor, user_name: &str) -> Result<()> {
    let mut conn = store.write_conn().await?;
    audit::record(
        &mut conn,
        actor,
        "user.provision_rejected",
        Some(user_name),
        Outcome::Denied,
        json!({ "why": "automatic provisioning is disabled" }),
    )
    .await?;
    Ok(())
}

/// `PUT /Users/{id}`: the body replaces the user.
pub async fn replace(
    store: &Store,
    actor: &Actor,
    id: &str,
    body: &Value,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Written> {
    let fields = user_from_scim(body)?;
    let mut tx = store.begin().await?;
    let written = replace_in(&mut tx, actor, id, fields, preconditions, base).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(written)
}

/// [`replace`] in the caller's transaction, which it leaves uncommitted.
pub async fn replace_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    fields: UserFields,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Written> {
    update(conn, actor, id, preconditions, base, |_| Ok(fields)).await
}

/// `PATCH /Users/{id}`: the operations apply to the user as GET shows it.
pub async fn patch(
    store: &Store,
    actor: &Actor,
    id: &str,
    body: &Value,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Written> {
    let request = PatchRequest::from_json(body)?;
    let mut tx = store.begin().await?;
    let written = patch_in(&mut tx, actor, id, &request, preconditions, base).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(written)
}

/// [`patch`] in the caller's transaction, which it leaves uncommitted.
pub async fn patch_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    request: &PatchRequest,
    preconditions: &Preconditions,
    base: &BaseUrl,
) -> Result<Written> {
    update(conn, actor, id, preconditions, base, |mut current| {
        let active = current.get("active").cloned();
        patch::apply(&mut current, request, ResourceKind::User)?;
        // Removing `active` leaves the user as they were: only `false`
        // deactivates, only `true` reactivates.
        if let (Some(object), Some(active)) = (current.as_object_mut(), active) {
            object.entry("active").or_insert(active);
        }
        Ok(user_from_scim(&current)?)
    })
    .await
}

/// The one path of PUT and PATCH: `change` turns the current resource into
/// the new fields; then the row is written, and a change of `active` goes
/// through the deprovisioning engine. A request that leaves the user as
/// they were writes nothing: no new version, no audit entry (the journal
/// still shows it was sent).
async fn update(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    preconditions: &Preconditions,
    base: &BaseUrl,
    change: impl FnOnce(Value) -> Result<UserFields>,
) -> Result<Written> {
    let UserRecord {
        row,
        emails,
        groups,
    } = live(conn, id, true).await?;
    preconditions.check_write(&etag(row.version))?;
    let before = render(&row, &emails, &groups, base);
    let fields = change(before.clone())?;
    let after = render(
        &UserRow {
            active: fields.active,
            ..updated(row.clone(), &fields)
        },
        &email_rows(&fields.emails),
        &groups,
        base,
    );
    let changed: Vec<String> = diff::changes(&before, &after)
        .into_iter()
        .map(|change| change.path)
        .collect();
    if fields.user_name.to_lowercase() != row.user_name.to_lowercase()
        && let Some(other) = user_rows::find_by_user_name(conn, &fields.user_name).await?
    {
        return Err(Error::Uniqueness(format!(
            "userName {:?} is already taken (id {})",
            fields.user_name, other.id
        )));
    }
    let was_active = row.active;
    let roles_before = mappings::scim_role_keys(&row.attributes);
    // An adopted manual user becomes the IdP's even when every value is
    // the same.
    let row = if changed.is_empty() && row.origin == Origin::Scim {
        row
    } else {
        let row = write(conn, row, &fields, Some(&emails)).await?;
        audit::record(
            conn,
            actor,
            "user.update",
            Some(&row.user_name),
            Outcome::Success,
            json!({ "id": row.id, "changed": changed }),
        )
        .await?;
        row
    };
    let followed = follow(
        conn,
        actor,
        &row,
        (was_active, fields.active),
        &roles_before,
        Rails::Judge,
    )
    .await?;
    let record = UserRecord {
        row,
        emails: email_rows(&fields.emails),
        groups,
    };
    let resource = resource(conn, id, followed, Some(record), base).await?;
    Ok(written(resource, followed))
}

/// `DELETE /Users/{id}`: deactivation (deprovisioning or pending, as the
/// setting says), and a tombstone: gone from SCIM, kept for audit and
/// verification. A deletion the safety rails hold leaves no tombstone: the
/// user stays, inactive and pending, until an operator decides.
pub async fn delete(
    store: &Store,
    actor: &Actor,
    id: &str,
    preconditions: &Preconditions,
) -> Result<Deleted> {
    let mut tx = store.begin().await?;
    let deleted = delete_in(&mut tx, actor, id, preconditions).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(deleted)
}

/// [`delete`] in the caller's transaction, which it leaves uncommitted.
pub async fn delete_in(
    conn: &mut Conn,
    actor: &Actor,
    id: &str,
    preconditions: &Preconditions,
) -> Result<Deleted> {
    let row = live(conn, id, true).await?.row;
    preconditions.check_write(&etag(row.version))?;
    if let Some(reason) = rails::judge_scim(conn, actor, &row, HeldAction::Delete).await? {
        return Ok(Deleted {
            deprovisioned: false,
            held: Some(reason),
        });
    }
    let deprovisioned = deprovision::deactivate_in(conn, actor, row, Trigger::Scim)
        .await?
        .is_some_and(|report| !report.already_deprovisioned);
    let row = live(conn, id, true).await?.row;
    let now = store::now();
    let tombstone = UserRow {
        deleted_at: Some(now),
        updated_at: now,
        ..row
    };
    save(conn, &tombstone).await?;
    audit::record(
        conn,
        actor,
        "user.delete",
        Some(&tombstone.user_name),
        Outcome::Success,
        json!({ "id": tombstone.id }),
    )
    .await?;
    Ok(Deleted {
        deprovisioned,
        held: None,
    })
}

/// Whether a deactivation goes past the safety rails (`domain::rails`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rails {
    Judge,
    Skip,
}

/// What follows a SCIM write of `row`: a change of `active` (was, is) goes
/// through the deprovisioning engine, a change of the `roles` attribute
/// through the mappings. `None` when the engine had nothing to do.
async fn follow(
    conn: &mut Conn,
    actor: &Actor,
    row: &UserRow,
    (was_active, active): (bool, bool),
    roles_before: &BTreeSet<String>,
    guard: Rails,
) -> Result<Option<Engine>> {
    let roles_after = mappings::scim_role_keys(&row.attributes);
    let followed = follow_active(conn, actor, row.clone(), was_active, active, guard).await?;
    mappings::follow_scim_roles(conn, actor, &row.id, roles_before, &roles_after).await?;
    Ok(followed)
}

/// `active` changed: false deactivates through the engine (unless the
/// safety rails hold it), true reactivates. `None` when the engine had
/// nothing to do.
async fn follow_active(
    conn: &mut Conn,
    actor: &Actor,
    row: UserRow,
    was_active: bool,
    active: bool,
    guard: Rails,
) -> Result<Option<Engine>> {
    let deprovisioning = row.deprovision_state != DeprovisionState::None;
    if !active && (was_active || !deprovisioning) {
        let held = match guard {
            Rails::Judge => rails::judge_scim(conn, actor, &row, HeldAction::Deactivate).await?,
            Rails::Skip => None,
        };
        if let Some(reason) = held {
            return Ok(Some(Engine {
                deprovisioned: false,
                held: Some(reason),
            }));
        }
        let report = deprovision::deactivate_in(conn, actor, row, Trigger::Scim).await?;
        Ok(Some(Engine {
            deprovisioned: report.is_some_and(|report| !report.already_deprovisioned),
            held: None,
        }))
    } else if active && (!was_active || deprovisioning) {
        let reason = Some("reactivated by the identity provider");
        deprovision::reactivate_in(conn, actor, row, reason, Trigger::Scim).await?;
        Ok(Some(Engine::TOUCHED))
    } else {
        Ok(None)
    }
}

/// Inserts a new SCIM user with the default role; `None` when the
/// userName is taken (nothing is written then).
async fn insert(
    conn: &mut Conn,
    actor: &Actor,
    fields: &UserFields,
    default_role: &str,
) -> Result<Option<UserRow>> {
    let now = store::now();
    let row = UserRow {
        id: Uuid::new_v4().to_string(),
        user_name: fields.user_name.clone(),
        external_id: fields.external_id.clone(),
        given_name: fields.given_name.clone(),
        family_name: fields.family_name.clone(),
        formatted_name: fields.formatted_name.clone(),
        display_name: fields.display_name.clone(),
        // Active until `follow_active` says otherwise, so deactivation on
        // creation goes through the engine like any other.
        active: true,
        origin: Origin::Scim,
        attributes: Value::Object(fields.attributes.clone()).to_string(),
        version: 1,
        deprovision_state: DeprovisionState::None,
        deprovisioned_at: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    };
    if !user_rows::insert_if_name_free(conn, &row).await? {
        return Ok(None);
    }
    user_rows::insert_emails(conn, &row.id, &email_rows(&fields.emails)).await?;
    let by = actor.grantor();
    grants::grant(conn, &row.id, default_role, &Source::Default, now, &by).await?;
    Ok(Some(row))
}

/// Writes `fields` over `row` (keeping `active`, which `follow_active`
/// changes) and returns the row as stored. The emails are rewritten unless
/// they are known to be `emails` already.
async fn write(
    conn: &mut Conn,
    row: UserRow,
    fields: &UserFields,
    emails: Option<&[EmailRow]>,
) -> Result<UserRow> {
    let updated = updated(row, fields);
    save(conn, &updated).await?;
    let written = email_rows(&fields.emails);
    if emails != Some(written.as_slice()) {
        user_rows::replace_emails(conn, &updated.id, &written).await?;
    }
    Ok(UserRow {
        version: updated.version + 1,
        ..updated
    })
}

/// `row` with `fields` written over it, as [`write`] stores it.
fn updated(row: UserRow, fields: &UserFields) -> UserRow {
    UserRow {
        user_name: fields.user_name.clone(),
        external_id: fields.external_id.clone(),
        given_name: fields.given_name.clone(),
        family_name: fields.family_name.clone(),
        formatted_name: fields.formatted_name.clone(),
        display_name: fields.display_name.clone(),
        origin: Origin::Scim,
        attributes: Value::Object(fields.attributes.clone()).to_string(),
        deleted_at: None,
        updated_at: store::now(),
        ..row
    }
}

async fn save(conn: &mut Conn, row: &UserRow) -> Result<()> {
    if user_rows::update(conn, row).await? {
        Ok(())
    } else {
        Err(Error::PreconditionFailed(format!(
            "user {} changed while this request ran; read it again and retry",
            row.id
        )))
    }
}

/// A user that is not a tombstone, with their emails and groups, or not found;
/// with `lock`, locked until the write transaction commits.
async fn live(conn: &mut Conn, id: &str, lock: bool) -> Result<UserRecord> {
    match user_rows::load(conn, id, lock).await? {
        Some(record) if record.row.deleted_at.is_none() => Ok(record),
        _ => Err(Error::NotFound(format!("no user with id {id}"))),
    }
}

/// The answer to a write: the user as `written` when the deprovisioning
/// engine did not touch them after (`followed` is `None`), else read back,
/// since the engine changes groups and state.
async fn resource(
    conn: &mut Conn,
    id: &str,
    followed: Option<Engine>,
    written: Option<UserRecord>,
    base: &BaseUrl,
) -> Result<Value> {
    match written.filter(|_| followed.is_none()) {
        Some(record) => Ok(to_scim(&record, base)),
        None => Ok(to_scim(&live(conn, id, true).await?, base)),
    }
}

fn to_scim(record: &UserRecord, base: &BaseUrl) -> Value {
    render(&record.row, &record.emails, &record.groups, base)
}

/// A user's rows as SCIM shows them; `groups` are `(id, display name)`.
pub fn render(
    row: &UserRow,
    emails: &[EmailRow],
    groups: &[(String, String)],
    base: &BaseUrl,
) -> Value {
    let emails: Vec<EmailView<'_>> = emails
        .iter()
        .map(|email| EmailView {
            value: &email.value,
            kind: email.kind.as_deref(),
            primary: email.primary,
        })
        .collect();
    let view = UserView {
        id: &row.id,
        user_name: &row.user_name,
        external_id: row.external_id.as_deref(),
        given_name: row.given_name.as_deref(),
        family_name: row.family_name.as_deref(),
        formatted_name: row.formatted_name.as_deref(),
        display_name: row.display_name.as_deref(),
        active: row.active,
        attributes: &row.attributes,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
        emails: &emails,
        groups,
    };
    user_to_scim(&view, base)
}

/// The emails a body set, as the store keeps them.
fn email_rows(emails: &[Email]) -> Vec<EmailRow> {
    emails
        .iter()
        .map(|email| EmailRow {
            value: email.value.clone(),
            kind: email.kind.clone(),
            primary: email.primary,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_store::TestStore;
    use crate::scim::etag::Preconditions;

    fn base() -> BaseUrl {
        BaseUrl("http://scim.test/scim/v2".to_owned())
    }

    fn everyone() -> ListParams {
        ListParams::parse(None, None, None, None, None).expect("no parameters")
    }

    async fn settings(store: &Store) -> SettingsRow {
        store::settings::get(&mut store.conn().await.expect("connection"))
            .await
            .expect("settings")
    }

    fn user(user_name: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "displayName": "Before",
            "emails": [{ "value": format!("{user_name}@example.com"), "type": "work", "primary": true }],
        })
    }

    fn patch(operations: Value) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        })
    }

    /// What a write answered must be what a read shows next: the write
    /// path assembles its answer instead of reading it back.
    async fn assert_answer_is_stored(store: &Store, answer: &Value) {
        let id = answer["id"].as_str().expect("an id");
        let read = get(store, id, &base()).await.expect("read back");
        assert_eq!(answer, &read);
    }

    #[tokio::test]
    async fn writes_answer_what_a_read_then_shows() {
        let test = TestStore::new().await;
        let (store, actor) = (&test.store, &Actor::system());
        let settings = settings(store).await;
        let created = create(store, actor, &settings, &user("dave"), &base())
            .await
            .expect("create dave");
        assert_answer_is_stored(store, &created.resource).await;

        // A manual user in a group is adopted, group and all.
        test.user("carol", &["member"], &["Engineering"]).await;
        let adopted = create(store, actor, &settings, &user("carol"), &base())
            .await
            .expect("adopt carol");
        assert_eq!(adopted.resource["groups"][0]["display"], "Engineering");
        assert_answer_is_stored(store, &adopted.resource).await;

        let id = adopted.resource["id"].as_str().expect("an id").to_owned();
        let renamed = patch_user(
            store,
            actor,
            &id,
            &patch(json!([
                { "op": "replace", "path": "displayName", "value": "After" },
                { "op": "add", "path": "emails", "value": [{ "value": "c2@example.com" }] },
            ])),
        )
        .await;
        assert_eq!(renamed.resource["displayName"], "After");
        assert_eq!(renamed.resource["groups"][0]["display"], "Engineering");
        assert!(!renamed.deprovisioned);
        assert_answer_is_stored(store, &renamed.resource).await;

        // Deactivation goes through the engine: no more groups.
        let deactivated = patch_user(
            store,
            actor,
            &id,
            &patch(json!([
                { "op": "replace", "path": "active", "value": false },
            ])),
        )
        .await;
        assert!(deactivated.deprovisioned);
        assert_eq!(deactivated.resource["active"], false);
        assert!(
            deactivated
                .resource
                .get("groups")
                .is_none_or(|groups| groups == &json!([]))
        );
        assert_answer_is_stored(store, &deactivated.resource).await;
    }

    async fn patch_user(store: &Store, actor: &Actor, id: &str, body: &Value) -> Written {
        super::patch(store, actor, id, body, &Preconditions::default(), &base())
            .await
            .expect("patch")
    }

    #[tokio::test]
    async fn a_taken_user_name_is_refused_and_nothing_is_written() {
        let test = TestStore::new().await;
        let (store, actor) = (&test.store, &Actor::system());
        let settings = settings(store).await;
        let first = create(store, actor, &settings, &user("erin"), &base())
            .await
            .expect("create erin");
        let again = create(store, actor, &settings, &user("ERIN"), &base())
            .await
            .expect_err("taken");
        assert!(again.to_string().contains("already taken"), "{again}");
        let (total, users) = list(store, &everyone(), &base()).await.expect("list");
        assert_eq!((total, users), (1, vec![first.resource]));
    }

    #[tokio::test]
    async fn with_provisioning_off_a_new_user_is_refused() {
        let test = TestStore::new().await;
        let (store, actor) = (&test.store, &Actor::system());
        let settings = SettingsRow {
            auto_provisioning: false,
            ..settings(store).await
        };
        let refused = create(store, actor, &settings, &user("finn"), &base())
            .await
            .expect_err("provisioning is off");
        assert!(
            refused
                .to_string()
                .contains("automatic provisioning is disabled"),
            "{refused}"
        );
        let (total, _) = list(store, &everyone(), &base()).await.expect("list");
        assert_eq!(total, 0);
    }
}
