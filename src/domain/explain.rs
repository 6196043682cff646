//! `scim explain`: the cause of a journaled SCIM exchange and the fix, in
//! words. The journal says what was sent and answered; the explanation
//! reads the state the answer came from (the key, the allowlist, the user a
//! name belongs to, the audit entries the request wrote) and says what to
//! do about it.

use serde_json::Value;

use super::Result;
use super::journal;
use crate::api::journal::{Explanation, JournalExchange};
use crate::store::{Conn, Store, allowlist, keys, users};

/// The key an identity provider needs, as the fix for any key problem says.
const NEW_KEY: &str = "scimctl keys create --name okta --scope scim:provision";

/// Explains the exchange with this request id.
pub async fn explain(store: &Store, request_id: &str) -> Result<Explanation> {
    let exchange = journal::show(store, request_id).await?;
    let mut conn = store.conn().await?;
    let found = cause(&mut conn, &exchange).await?;
    Ok(Explanation {
        notes: quirks(&exchange),
        request: exchange.entry,
        cause: found.cause.to_owned(),
        explanation: found.explanation,
        fix: found.fix,
    })
}

/// What went on, and what to do.
struct Found {
    /// A stable word for scripts: `key_revoked`, `allowlist`, `uniqueness`…
    cause: &'static str,
    explanation: String,
    fix: Option<String>,
}

fn found(cause: &'static str, explanation: String, fix: Option<String>) -> Result<Found> {
    Ok(Found {
        cause,
        explanation,
        fix,
    })
}

async fn cause(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    match exchange.entry.status {
        401 => unauthenticated(conn, exchange).await,
        403 => forbidden(conn, exchange).await,
        409 => conflict(conn, exchange).await,
        404 => not_found(conn, exchange).await,
        412 => precondition(conn, exchange).await,
        400 => bad_request(exchange),
        413 => found(
            "too_large",
            format!(
                "The body was larger than the server accepts. {}",
                detail(exchange)
            ),
            Some(
                "Raise `body_limit` in the server's config, or have the IdP send smaller \
                  requests (fewer members per group PATCH)."
                    .to_owned(),
            ),
        ),
        status if status >= 500 => found(
            "server_error",
            format!(
                "The server failed on this request ({status}). {}",
                detail(exchange)
            ),
            Some(format!(
                "Look for request id {} in the server's log; the IdP retries such errors.",
                exchange.entry.request_id
            )),
        ),
        status if status < 300 => succeeded(exchange),
        status => found(
            "other",
            format!("The server answered {status}. {}", detail(exchange)),
            None,
        ),
    }
}

/// The server's own words: the SCIM error's `detail`.
fn detail(exchange: &JournalExchange) -> String {
    exchange
        .response_body
        .as_ref()
        .and_then(|body| body.get("detail"))
        .and_then(Value::as_str)
        .map(|detail| format!("The server said: {detail}"))
        .unwrap_or_default()
}

async fn unauthenticated(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    let fix = format!(
        "Make a key with `{NEW_KEY}` (its token is shown once) and set it as the IdP's bearer \
         token (Okta: API Token; Entra ID: Secret Token)."
    );
    let Some(key_id) = exchange.entry.key_id.as_deref() else {
        return found(
            "no_key",
            "The request carried no scimctl key: no `Authorization: Bearer scimctl_…` header, \
             or a token of another form."
                .to_owned(),
            Some(fix),
        );
    };
    let Some(key) = keys::get(conn, key_id).await? else {
        return found(
            "key_unknown",
            format!(
                "The token names key {key_id}, which this server does not have: a key of \
                 another server, or of a database since replaced."
            ),
            Some(fix),
        );
    };
    let named = format!("key {key_id} ({})", key.name);
    if let Some(revoked) = key.revoked_at {
        return found(
            "key_revoked",
            format!("{named} was revoked at {}.", crate::api::rfc3339(revoked)),
            Some(fix),
        );
    }
    if let Some(expires) = key.expires_at.filter(|at| *at <= exchange.entry.time) {
        return found(
            "key_expired",
            format!("{named} expired at {}.", crate::api::rfc3339(expires)),
            Some(fix),
        );
    }
    if detail(exchange).contains("belongs to") {
        return found(
            "key_owner",
            format!(
                "{named} is a personal key, and its owner may not use it now. {}",
                detail(exchange)
            ),
            Some(format!(
                "A personal key lives and dies with its owner's access: give the IdP a service \
                 key instead (`{NEW_KEY}`)."
            )),
        );
    }
    found(
        "key_secret_wrong",
        format!(
            "{named} exists and is live, but the token's secret does not match it: it was \
             mistyped, cut short when pasted, or belongs to an older key of that id."
        ),
        Some(format!(
            "Paste the whole token again in the IdP; if it is lost, {}",
            lowercase_first(&fix)
        )),
    )
}

async fn forbidden(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    let audit = |action: &str| exchange.audit.iter().any(|entry| entry.action == action);
    if audit("user.provision_rejected") {
        return found(
            "provisioning_off",
            "Automatic provisioning is off: the IdP may not create users. Updates to users who \
             exist still apply."
                .to_owned(),
            Some("`scimctl provisioning enable`, or create the user by hand.".to_owned()),
        );
    }
    // The gate's own words say it was the allowlist: the list may have
    // changed since, so what it holds now is shown, not judged.
    if detail(exchange).contains("allowlist") {
        let ip = exchange.entry.source_ip.as_deref().unwrap_or("its address");
        let entries = allowlist::list(conn).await?;
        let now = match entries.is_empty() {
            true => "it is empty now, which admits every address".to_owned(),
            false => {
                let listed: Vec<&str> = entries.iter().map(|entry| entry.cidr.as_str()).collect();
                format!("it holds {} now", listed.join(", "))
            }
        };
        let single = ip
            .parse::<std::net::IpAddr>()
            .map_or_else(|_| ip.to_owned(), |ip| ipnet::IpNet::from(ip).to_string());
        return found(
            "allowlist",
            format!("The request came from {ip}, which the IP allowlist did not admit ({now})."),
            Some(format!(
                "`scimctl allowlist add {single} --note \"IdP egress\"`, or better the IdP's \
                 published egress ranges (`scimctl doctor --ranges FILE` checks them)."
            )),
        );
    }
    if let Some(key_id) = exchange.entry.key_id.as_deref()
        && let Some(key) = keys::get(conn, key_id).await?
        && !key.scopes.iter().any(|scope| scope == "scim:provision")
    {
        return found(
            "missing_scope",
            format!(
                "Key {key_id} ({}) has the scopes {}, not scim:provision, which every SCIM \
                 request needs.",
                key.name,
                key.scopes.join(", ")
            ),
            Some(format!("Give the IdP a key made with `{NEW_KEY}`.")),
        );
    }
    found(
        "forbidden",
        format!("The request was refused. {}", detail(exchange)),
        None,
    )
}

async fn conflict(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    let user_name = exchange
        .request_body
        .as_ref()
        .and_then(|body| body.get("userName"))
        .and_then(Value::as_str);
    let Some(user_name) = user_name else {
        return found(
            "uniqueness",
            format!("A name in the request is taken. {}", detail(exchange)),
            None,
        );
    };
    let Some(holder) = users::find_by_user_name(conn, user_name).await? else {
        return found(
            "uniqueness",
            format!(
                "userName {user_name:?} was taken when the request came; it is free now, so \
                 the IdP's next attempt succeeds."
            ),
            None,
        );
    };
    let origin = match holder.origin {
        crate::api::users::Origin::Scim => "provisioned by SCIM",
        crate::api::users::Origin::Manual => "made by hand",
    };
    found(
        "uniqueness",
        format!(
            "userName {user_name:?} belongs to user {} ({origin}, created {}): the IdP tried to \
             create a user who exists, under a record it does not know.",
            holder.id,
            crate::api::rfc3339(holder.created_at)
        ),
        Some(
            "Have the IdP match the existing user instead of creating one (Okta: import users \
             and confirm the match; Entra ID: match on userName, which its default mapping \
             does), or remove the duplicate here if it is stale."
                .to_owned(),
        ),
    )
}

async fn not_found(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    let path = exchange.entry.path.split('?').next().unwrap_or_default();
    let id = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    if let Some(row) = users::get(conn, id).await?
        && let Some(deleted) = row.deleted_at
    {
        return found(
            "deleted",
            format!(
                "User {id} ({}) was deleted at {}; SCIM no longer shows it.",
                row.user_name,
                crate::api::rfc3339(deleted)
            ),
            Some(format!(
                "Let the IdP create the user again (a new POST of {:?}), or see who deleted it: \
                 `scimctl audit list --target {id} --action user.delete`.",
                row.user_name
            )),
        );
    }
    found(
        "not_found",
        format!(
            "Nothing at {path}: the IdP holds an id this server never had or no longer has. {}",
            detail(exchange)
        ),
        Some(
            "The IdP's record of this resource is stale: Okta re-imports or re-pushes it; Entra \
             ID recreates it on its next cycle, or after Restart provisioning."
                .to_owned(),
        ),
    )
}

async fn precondition(conn: &mut Conn, exchange: &JournalExchange) -> Result<Found> {
    let sent = exchange
        .request_headers
        .get("if-match")
        .and_then(Value::as_str)
        .unwrap_or("(none)");
    let now = match exchange.entry.user_id.as_deref() {
        Some(id) => users::get(conn, id)
            .await?
            .map(|row| crate::scim::etag::etag(row.version)),
        None => None,
    };
    found(
        "etag",
        format!(
            "The IdP sent If-Match: {sent}, but the resource had changed since it read it{}.",
            now.map(|etag| format!(" (its ETag is now {etag})"))
                .unwrap_or_default()
        ),
        Some("Nothing to fix here: the IdP reads the resource again and retries.".to_owned()),
    )
}

fn bad_request(exchange: &JournalExchange) -> Result<Found> {
    let scim_type = exchange
        .response_body
        .as_ref()
        .and_then(|body| body.get("scimType"))
        .and_then(Value::as_str)
        .unwrap_or("invalidSyntax");
    let fix = match scim_type {
        "invalidFilter" => {
            "The filter in the query is wrong where the detail says; in the IdP, \
                            check the attribute it matches users on."
        }
        "invalidPath" | "noTarget" => {
            "A PATCH operation names a path this service does not \
                                       have; check the IdP's attribute mappings."
        }
        "invalidValue" => {
            "A value has the wrong type or form; check the IdP's attribute \
                           mappings for that attribute."
        }
        _ => {
            "The body is not what SCIM expects where the detail says; check the IdP's \
              attribute mappings."
        }
    };
    found(
        "invalid",
        format!(
            "The request was malformed ({scim_type}). {}",
            detail(exchange)
        ),
        Some(fix.to_owned()),
    )
}

/// What a successful exchange did, and what it held back.
fn succeeded(exchange: &JournalExchange) -> Result<Found> {
    let entry = |action: &str| exchange.audit.iter().find(|entry| entry.action == action);
    if let Some(held) = entry("user.deprovision_held") {
        let reason = held
            .details
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("held");
        let why = match reason {
            "protected" => "the user is protected (`scimctl users protect`)",
            "breaker" => "the mass-deprovisioning circuit breaker is open",
            "last_admin" => "the user is the last active admin",
            _ => "a safety rail held it",
        };
        return found(
            "held",
            format!(
                "The IdP deactivated or deleted {}; it was answered as usual but nothing was \
                 torn down: {why}.",
                held.target.as_deref().unwrap_or("the user")
            ),
            Some(format!(
                "`scimctl users deprovision {}` applies it; `scimctl provisioning breaker \
                 status` shows the breaker.",
                held.target.as_deref().unwrap_or("USER")
            )),
        );
    }
    if let Some(pending) = entry("user.deprovision_pending") {
        let user = pending.target.as_deref().unwrap_or("USER");
        return found(
            "pending",
            format!(
                "The IdP deactivated {user}; auto-deprovisioning is off, so the user is pending: \
                 inactive, access not yet torn down."
            ),
            Some(format!("`scimctl users deprovision {user}` finishes it.")),
        );
    }
    if exchange.audit.is_empty() {
        return match exchange.entry.method.as_str() {
            "PUT" | "PATCH" => found(
                "unchanged",
                format!(
                    "The {} succeeded and changed nothing: the resource already had every value \
                     it sets{}. Nothing was written, the ETag stayed the same, and no audit entry \
                     was made.",
                    exchange.entry.method,
                    patched_paths(exchange)
                        .map(|paths| format!(" ({})", paths.join(", ")))
                        .unwrap_or_default()
                ),
                Some(
                    "Nothing to fix here. If the IdP and this service disagree about the user, \
                     compare them with `scimctl drift --from EXPORT.csv`; `scimctl scim replay \
                     REQUEST_ID --dry-run` shows what sending it again would change now."
                        .to_owned(),
                ),
            ),
            _ => found(
                "read",
                "The request succeeded and changed nothing: it was a read.".to_owned(),
                None,
            ),
        };
    }
    let recorded: Vec<String> = exchange
        .audit
        .iter()
        .map(|entry| {
            let changed: Vec<&str> = entry
                .details
                .get("changed")
                .and_then(Value::as_array)
                .map(|paths| paths.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match changed.is_empty() {
                true => entry.action.clone(),
                false => format!("{} ({})", entry.action, changed.join(", ")),
            }
        })
        .collect();
    found(
        "changed",
        format!(
            "The request succeeded; it recorded {}.",
            recorded.join(", ")
        ),
        None,
    )
}

/// The attributes a PATCH named: each operation's path, or the members of
/// its value when it had none (Entra's way).
fn patched_paths(exchange: &JournalExchange) -> Option<Vec<String>> {
    let operations = exchange
        .request_body
        .as_ref()?
        .get("Operations")?
        .as_array()?;
    let paths: Vec<String> = operations
        .iter()
        .flat_map(
            |operation| match operation.get("path").and_then(Value::as_str) {
                Some(path) => vec![path.to_owned()],
                None => operation
                    .get("value")
                    .and_then(Value::as_object)
                    .map(|value| value.keys().cloned().collect())
                    .unwrap_or_default(),
            },
        )
        .collect();
    (!paths.is_empty()).then_some(paths)
}

/// What the service read differently from the letter of SCIM, as Entra ID
/// and Okta send it.
fn quirks(exchange: &JournalExchange) -> Vec<String> {
    let mut notes = Vec::new();
    let entry = &exchange.entry;
    if entry.method == "PUT" && entry.path.to_ascii_lowercase().contains("/users/") {
        notes.push(
            "A PUT replaces the whole user (Okta updates users this way): attributes it did \
             not send were removed."
                .to_owned(),
        );
    }
    let operations = exchange
        .request_body
        .as_ref()
        .and_then(|body| body.get("Operations"))
        .and_then(Value::as_array);
    for operation in operations.into_iter().flatten() {
        if let Some(op) = operation.get("op").and_then(Value::as_str)
            && op.chars().next().is_some_and(char::is_uppercase)
        {
            notes.push(format!(
                "The operation {op:?} (Entra ID's capitalised spelling) was read as {:?}.",
                op.to_ascii_lowercase()
            ));
        }
        if entry.method == "PATCH" && operation.get("path").is_none() {
            notes.push(
                "An operation without a path (as Entra ID sends them) applied its value's \
                 attributes one by one."
                    .to_owned(),
            );
        }
    }
    if exchange
        .request_body
        .as_ref()
        .is_some_and(has_string_boolean)
    {
        notes.push(
            "A boolean sent as a string (\"True\"/\"False\", as Entra ID does) was read as a \
             boolean."
                .to_owned(),
        );
    }
    notes.sort();
    notes.dedup();
    notes
}

fn has_string_boolean(value: &Value) -> bool {
    match value {
        Value::String(text) => text == "True" || text == "False",
        Value::Array(items) => items.iter().any(has_string_boolean),
        Value::Object(members) => members.values().any(has_string_boolean),
        _ => false,
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}
