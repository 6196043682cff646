//! `scim replay --dry-run`: what a journaled SCIM request would do if the
//! identity provider sent it again now. The request goes through the same
//! checks and the same domain code as a real one, in a transaction that is
//! rolled back: the answer is what applying it would be, and nothing is
//! changed.

use serde_json::Value;
use uuid::Uuid;

use super::actor::Actor;
use super::audit;
use super::journal;
use super::keys::{self, KeyCheck};
use super::scope::Scope;
use super::{Error, Result, allowlist, scim_groups, scim_users};
use crate::api::audit::AuditEntry;
use crate::api::journal::JournalExchange;
use crate::scim::diff::{self, Change};
use crate::scim::etag::Preconditions;
use crate::scim::patch::PatchRequest;
use crate::scim::resource::{BaseUrl, group_from_scim, user_from_scim};
use crate::store::{self, Conn, Store, StoreError, audit as audit_rows, keys as key_rows};

/// What replaying a request would do now.
#[derive(Debug)]
pub struct Rehearsal {
    pub exchange: JournalExchange,
    /// The resource it is about, `Users/{id}` or `Groups/{id}`, when it
    /// names one.
    pub resource: Option<String>,
    pub run: Run,
}

#[derive(Debug)]
pub enum Run {
    /// A GET or a search: reading changes nothing.
    Read,
    /// The journal did not keep what it would take to send it again.
    NotReplayable(String),
    /// The gate would turn it away now (key, scope, allowlist).
    Refused { status: u16, reason: String },
    /// The request would fail now, as this error says.
    Failed(Error),
    /// It would succeed, answered `status`, with these changes to the
    /// resource and these audit entries (none: it changes nothing now).
    Done {
        status: u16,
        changes: Vec<Change>,
        effects: Vec<AuditEntry>,
    },
}

/// What replaying the exchange with this request id would do now.
pub async fn rehearse(store: &Store, request_id: &str) -> Result<Rehearsal> {
    let exchange = journal::show(store, request_id).await?;
    let request = match Request::read(&exchange) {
        Asked::Write(request) => request,
        Asked::Read => return Ok(Rehearsal::without_resource(exchange, Run::Read)),
        Asked::NotReplayable(why) => {
            let run = Run::NotReplayable(why.to_owned());
            return Ok(Rehearsal::without_resource(exchange, run));
        }
    };
    let resource = request.resource();
    let run = match admit(store, &exchange).await? {
        Err(refused) => refused,
        Ok(actor) => run(store, &actor, request.kind, request.operation).await?,
    };
    Ok(Rehearsal {
        exchange,
        resource,
        run,
    })
}

impl Rehearsal {
    fn without_resource(exchange: JournalExchange, run: Run) -> Rehearsal {
        Rehearsal {
            exchange,
            resource: None,
            run,
        }
    }
}

/// What a journaled request asked for.
enum Asked {
    Read,
    Write(Request),
    /// The journal did not keep what it would take to send it again.
    NotReplayable(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

#[derive(Debug)]
enum Operation {
    Create(Value),
    Replace(String, Value, Preconditions),
    Patch(String, Value, Preconditions),
    Delete(String, Preconditions),
}

/// A write, read back from the journal.
struct Request {
    kind: Kind,
    operation: Operation,
}

impl Request {
    fn read(exchange: &JournalExchange) -> Asked {
        let entry = &exchange.entry;
        let path = entry.path.split('?').next().unwrap_or_default();
        // `/scim/v2/{Users|Groups}[/{id}]`, spelled in any case.
        let segments: Vec<&str> = path.split('/').filter(|part| !part.is_empty()).collect();
        let method = entry.method.to_ascii_uppercase();
        let resource = segments.iter().position(|segment| {
            segment.eq_ignore_ascii_case("users") || segment.eq_ignore_ascii_case("groups")
        });
        let Some(at) = resource else {
            // Discovery endpoints and `/.search` only read.
            return match method.as_str() {
                "GET" | "HEAD" | "POST" => Asked::Read,
                _ => Asked::NotReplayable("it named no resource this service changes"),
            };
        };
        let kind = match segments[at].eq_ignore_ascii_case("users") {
            true => Kind::Users,
            false => Kind::Groups,
        };
        let id = segments.get(at + 1).map(|id| (*id).to_owned());
        let preconditions = || {
            let header = |name: &str| {
                exchange
                    .request_headers
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let (if_match, if_none_match) = (header("if-match"), header("if-none-match"));
            Preconditions::new(if_match.as_deref(), if_none_match.as_deref())
        };
        let body = match &exchange.request_body {
            Some(body @ Value::Object(_)) => Ok(body.clone()),
            Some(_) => Err(
                "the journal kept its body only as text (it was not JSON, or longer than the \
                 64 KB the journal keeps)",
            ),
            // The gate answers before the handler reads a body, so the
            // journal has none to keep.
            None if matches!(entry.status, 401 | 403 | 429) => Err(
                "it was turned away before its body was read (by the key, the allowlist or \
                 the rate limit), so the journal has no body to send again; the IdP retries \
                 it on its own, and `scimctl scim explain` says why it was refused",
            ),
            None => Err("it had no body"),
        };
        let operation = match (method.as_str(), id, body) {
            ("GET" | "HEAD", ..) => return Asked::Read,
            ("POST", Some(id), _) if id == ".search" => return Asked::Read,
            ("POST" | "PUT" | "PATCH", _, Err(why)) => return Asked::NotReplayable(why),
            ("POST", None, Ok(body)) => Operation::Create(body),
            ("PUT", Some(id), Ok(body)) => Operation::Replace(id, body, preconditions()),
            ("PATCH", Some(id), Ok(body)) => {
                Operation::Patch(id, without_password(body), preconditions())
            }
            ("DELETE", Some(id), _) => Operation::Delete(id, preconditions()),
            _ => return Asked::NotReplayable("this service does not answer that method there"),
        };
        Asked::Write(Request { kind, operation })
    }

    fn resource(&self) -> Option<String> {
        let id = match &self.operation {
            Operation::Replace(id, ..) | Operation::Patch(id, ..) | Operation::Delete(id, _) => id,
            Operation::Create(_) => return None,
        };
        let kind = match self.kind {
            Kind::Users => "Users",
            Kind::Groups => "Groups",
        };
        Some(format!("{kind}/{id}"))
    }
}

/// The journal keeps a PATCH on `password` without its value; passwords
/// are never stored, so the operation changes nothing and is left out.
fn without_password(mut body: Value) -> Value {
    if let Some(operations) = body
        .as_object_mut()
        .and_then(|body| body.get_mut("Operations"))
        .and_then(Value::as_array_mut)
    {
        operations
            .retain(|operation| !operation.get("path").is_some_and(journal::path_is_password));
    }
    body
}

/// The gate as it stands now, for the key the request's token named and
/// the address it came from: the caller to act as, or the refusal.
async fn admit(
    store: &Store,
    exchange: &JournalExchange,
) -> Result<std::result::Result<Actor, Run>> {
    let entry = &exchange.entry;
    let refused = |status: u16, reason: String| Err(Run::Refused { status, reason });
    if let Some(ip) = entry.source_ip.as_deref() {
        let check = allowlist::check(store, ip).await?;
        if !check.allowed {
            return Ok(refused(
                403,
                format!("address {ip} is not in the IP allowlist now"),
            ));
        }
    }
    let Some(key_id) = entry.key_id.as_deref() else {
        return Ok(refused(401, "it carried no scimctl key".to_owned()));
    };
    let found = key_rows::present(&mut *store.conn().await?, key_id).await?;
    let (row, scopes) = match keys::judge_without_secret(found.key, store::now()) {
        KeyCheck::Unknown => {
            return Ok(refused(
                401,
                format!("its token names key {key_id}, which this server does not have"),
            ));
        }
        KeyCheck::Refused { reason } => return Ok(refused(401, reason)),
        KeyCheck::Live { .. } if entry.status == 401 => {
            // The key is live, yet the request was refused: the token's
            // secret did not match it, and the IdP sends the same token.
            return Ok(refused(
                401,
                format!(
                    "key {key_id} is live, but the request was refused with it; `scimctl scim \
                     explain {}` says why",
                    entry.request_id
                ),
            ));
        }
        KeyCheck::Live { row, scopes } => (row, scopes),
    };
    if !scopes.contains(&Scope::ScimProvision) {
        return Ok(refused(
            403,
            format!(
                "key {key_id} ({}) lacks scope {}",
                row.name,
                Scope::ScimProvision
            ),
        ));
    }
    Ok(Ok(Actor {
        key_id: Some(row.id.clone()),
        name: row.name.clone(),
        scopes,
        source_ip: entry.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
        // Its own id, to find the audit entries it writes.
        request_id: Some(format!("replay-{}", Uuid::new_v4())),
    }))
}

/// Runs the operation in a transaction, reads what it did, and rolls back.
async fn run(store: &Store, actor: &Actor, kind: Kind, operation: Operation) -> Result<Run> {
    let base = BaseUrl(String::new());
    let mut tx = store.begin().await?;
    let done = apply(&mut tx, actor, kind, operation, &base).await;
    let run = match done {
        Ok((status, before, after)) => {
            let request_id = actor.request_id.as_deref().unwrap_or_default();
            let effects = audit_rows::by_request_id(&mut tx, request_id)
                .await?
                .into_iter()
                .map(audit::to_api)
                .collect();
            Run::Done {
                status,
                changes: diff::changes(&before, &after),
                effects,
            }
        }
        Err(Error::Store(err)) => return Err(err.into()),
        Err(err) => Run::Failed(err),
    };
    tx.rollback().await.map_err(StoreError::from)?;
    Ok(run)
}

/// The operation, as the SCIM handlers do it: the status it answers, and
/// the resource before and after (`Null` where there is none).
async fn apply(
    conn: &mut Conn,
    actor: &Actor,
    kind: Kind,
    operation: Operation,
    base: &BaseUrl,
) -> Result<(u16, Value, Value)> {
    let settings = store::settings::get(conn).await?;
    match (kind, operation) {
        (Kind::Users, Operation::Create(body)) => {
            let fields = user_from_scim(&body)?;
            let written = scim_users::create_in(conn, actor, &settings, fields, base).await?;
            Ok((201, Value::Null, without_id(written.resource)))
        }
        (Kind::Users, Operation::Replace(id, body, preconditions)) => {
            let before = scim_users::get_in(conn, &id, base).await?;
            let fields = user_from_scim(&body)?;
            scim_users::replace_in(conn, actor, &id, fields, &preconditions, base).await?;
            Ok((200, before, user_after(conn, &id, base).await?))
        }
        (Kind::Users, Operation::Patch(id, body, preconditions)) => {
            let before = scim_users::get_in(conn, &id, base).await?;
            let request = PatchRequest::from_json(&body)?;
            scim_users::patch_in(conn, actor, &id, &request, &preconditions, base).await?;
            Ok((200, before, user_after(conn, &id, base).await?))
        }
        (Kind::Users, Operation::Delete(id, preconditions)) => {
            let before = scim_users::get_in(conn, &id, base).await?;
            scim_users::delete_in(conn, actor, &id, &preconditions).await?;
            Ok((204, before, user_after(conn, &id, base).await?))
        }
        (Kind::Groups, Operation::Create(body)) => {
            let fields = group_from_scim(&body)?;
            let resource = scim_groups::create_in(conn, actor, fields, base).await?;
            Ok((201, Value::Null, without_id(resource)))
        }
        (Kind::Groups, Operation::Replace(id, body, preconditions)) => {
            let before = scim_groups::get_in(conn, &id, true, base).await?;
            let fields = group_from_scim(&body)?;
            scim_groups::replace_in(conn, actor, &id, fields, &preconditions, base).await?;
            Ok((200, before, group_after(conn, &id, base).await?))
        }
        (Kind::Groups, Operation::Patch(id, body, preconditions)) => {
            let before = scim_groups::get_in(conn, &id, true, base).await?;
            let request = PatchRequest::from_json(&body)?;
            scim_groups::patch_in(conn, actor, &id, request, &preconditions).await?;
            Ok((204, before, group_after(conn, &id, base).await?))
        }
        (Kind::Groups, Operation::Delete(id, preconditions)) => {
            let before = scim_groups::get_in(conn, &id, true, base).await?;
            scim_groups::delete_in(conn, actor, &id, &preconditions).await?;
            Ok((204, before, Value::Null))
        }
    }
}

/// A created resource's id is drawn for the rehearsal and rolled back:
/// the real one would have another.
fn without_id(mut resource: Value) -> Value {
    if let Some(object) = resource.as_object_mut() {
        object.remove("id");
    }
    resource
}

/// The user after the operation; `Null` once deleted.
async fn user_after(conn: &mut Conn, id: &str, base: &BaseUrl) -> Result<Value> {
    match scim_users::get_in(conn, id, base).await {
        Err(Error::NotFound(_)) => Ok(Value::Null),
        other => other,
    }
}

async fn group_after(conn: &mut Conn, id: &str, base: &BaseUrl) -> Result<Value> {
    match scim_groups::get_in(conn, id, true, base).await {
        Err(Error::NotFound(_)) => Ok(Value::Null),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::api::journal::JournalEntry;

    fn exchange(method: &str, path: &str, status: u16, body: Option<Value>) -> JournalExchange {
        JournalExchange {
            entry: JournalEntry {
                request_id: "r".to_owned(),
                seq: 1,
                time: OffsetDateTime::UNIX_EPOCH,
                key_id: Some("k".to_owned()),
                source_ip: Some("127.0.0.1".to_owned()),
                method: method.to_owned(),
                path: path.to_owned(),
                status,
                duration_ms: 1.0,
                user_id: None,
            },
            request_headers: serde_json::Map::new(),
            request_body: body,
            response_body: None,
            audit: Vec::new(),
        }
    }

    fn asked(method: &str, path: &str, status: u16, body: Option<Value>) -> Asked {
        Request::read(&exchange(method, path, status, body))
    }

    #[test]
    fn writes_are_read_back_from_any_spelling_of_the_path() {
        let body = Some(json!({ "Operations": [] }));
        let Asked::Write(request) = asked("PATCH", "/scim/v2/users/abc?attributes=id", 200, body)
        else {
            panic!("a PATCH of a user is a write");
        };
        assert_eq!(request.kind, Kind::Users);
        assert_eq!(request.resource().as_deref(), Some("Users/abc"));
        let created = asked("POST", "/scim/v2/Groups", 201, Some(json!({})));
        assert!(matches!(
            created,
            Asked::Write(Request {
                kind: Kind::Groups,
                ..
            })
        ));
    }

    #[test]
    fn reads_and_searches_change_nothing() {
        for (method, path) in [
            ("GET", "/scim/v2/Users"),
            ("POST", "/scim/v2/Users/.search"),
            ("POST", "/scim/v2/.search"),
            ("GET", "/scim/v2/ServiceProviderConfig"),
        ] {
            assert!(
                matches!(asked(method, path, 200, None), Asked::Read),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn what_the_journal_did_not_keep_is_said() {
        let refused = asked("PATCH", "/scim/v2/Users/abc", 403, None);
        assert!(matches!(refused, Asked::NotReplayable(why) if why.contains("before its body")));
        let cut = asked(
            "PUT",
            "/scim/v2/Users/abc",
            200,
            Some(json!("{\"userName\"… [cut")),
        );
        assert!(matches!(cut, Asked::NotReplayable(why) if why.contains("64 KB")));
        let nowhere = asked("DELETE", "/scim/v2/Users", 405, None);
        assert!(matches!(nowhere, Asked::NotReplayable(_)));
    }

    #[test]
    fn a_patch_on_password_is_left_out() {
        let body = json!({ "Operations": [
            { "op": "replace", "path": "password" },
            { "op": "replace", "path": "displayName", "value": "A" },
        ] });
        assert_eq!(
            without_password(body)["Operations"],
            json!([{ "op": "replace", "path": "displayName", "value": "A" }])
        );
    }
}
