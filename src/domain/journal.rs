//! The SCIM request journal's rules: what of an exchange is kept (the
//! bodies redacted: no `password` anywhere, tokens masked, a size cap; a
//! few harmless headers, never `Authorization`), which user it was about,
//! how long it is kept, and how it is read back.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::audit;
use super::{Error, Result};
use crate::api::Page;
use crate::api::journal::{
    DEFAULT_LIMIT, JournalEntry, JournalExchange, JournalQuery, MAX_LIMIT, parse_status,
};
use crate::store::journal::{self as rows, EntryRow, Filter, NewEntry, Order};
use crate::store::users::name_key;
use crate::store::{Store, StoreError, audit as audit_rows, users};

/// One exchange as the server saw it, before anything is removed from it.
#[derive(Debug, Clone)]
pub struct Capture {
    pub at: OffsetDateTime,
    pub request_id: String,
    /// The `Authorization` header as sent: only the key id in it is kept.
    pub authorization: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration: std::time::Duration,
    /// The headers worth keeping (named as in [`KEPT_HEADERS`]), as sent.
    pub headers: Vec<(&'static str, String)>,
    pub request_body: bytes::Bytes,
    pub response_body: bytes::Bytes,
}

/// The request headers the journal keeps: what says which client sent what,
/// and the preconditions. Never `Authorization` or cookies.
pub const KEPT_HEADERS: [&str; 6] = [
    "content-type",
    "accept",
    "user-agent",
    "if-match",
    "if-none-match",
    "x-forwarded-for",
];

/// The most of a body kept; longer bodies are cut there (after redaction).
pub const MAX_BODY: usize = 64 * 1024;
/// The most of a path (with its query) kept: a SCIM filter fits.
const MAX_PATH: usize = 2048;
/// The most of the path of a request refused for want of a valid key: as
/// much as the audit log keeps, so nobody can fill the journal without one.
const MAX_UNAUTHENTICATED_PATH: usize = 256;
/// The most of a kept header's value (a `User-Agent` can be anything).
const MAX_HEADER: usize = 256;

/// How long and how much of the journal is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: std::time::Duration,
    /// Bytes, as [`NewEntry::size`] counts them.
    pub max_size: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: std::time::Duration::from_secs(7 * 24 * 3600),
            max_size: 200 * 1024 * 1024,
        }
    }
}

/// What of `capture` is stored.
pub fn entry(capture: Capture) -> NewEntry {
    let request = body(&capture.request_body);
    // Answers are this server's own JSON, which never holds a password: they
    // are kept as text with tokens masked, and parsed only when a
    // creation's answer names the user (parsing every answer halved the
    // SQLite read rate with the journal on).
    let created = capture.method == "POST" && (200..300).contains(&capture.status);
    let response = created.then(|| body(&capture.response_body)).flatten();
    let (user_id, user_name) = user_of(&capture, request.as_ref(), response.as_ref());
    let answer = answer_text(&capture.response_body);
    let max_path = match capture.status {
        401 => MAX_UNAUTHENTICATED_PATH,
        _ => MAX_PATH,
    };
    let headers: BTreeMap<&str, String> = capture
        .headers
        .into_iter()
        .filter(|(name, _)| KEPT_HEADERS.contains(name))
        .map(|(name, value)| (name, cut(masked(value), MAX_HEADER)))
        .collect();
    NewEntry {
        at: capture.at,
        request_id: capture.request_id,
        key_id: capture.authorization.as_deref().and_then(key_id),
        source_ip: capture.source_ip.map(|ip| ip.to_string()),
        method: capture.method,
        path: cut(masked(capture.path), max_path),
        status: capture.status,
        duration_us: i64::try_from(capture.duration.as_micros()).unwrap_or(i64::MAX),
        user_id,
        user_name_key: user_name.map(|name| name_key(&name)),
        // Names and values are strings: this cannot fail.
        request_headers: serde_json::to_string(&headers).unwrap_or_default(),
        request_body: request.map(|body| stored(&body)),
        response_body: answer,
    }
}

/// An answer as kept: its text, tokens masked, cut to [`MAX_BODY`]; `None`
/// when empty.
fn answer_text(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // Checked first: `from_utf8` is much quicker than the lossy walk over
    // valid text, and answers are this server's own UTF-8.
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    Some(cut(mask_tokens(&text).into_owned(), MAX_BODY))
}

/// A body as kept: JSON redacted, or text with secrets masked; `None` when
/// empty.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Json(Value),
    Text(String),
}

fn body(bytes: &[u8]) -> Option<Body> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut value) => {
            redact(&mut value);
            Some(Body::Json(value))
        }
        Err(_) => Some(Body::Text(redact_text(&String::from_utf8_lossy(bytes)))),
    }
}

fn stored(body: &Body) -> String {
    let text = match body {
        Body::Json(value) => value.to_string(),
        Body::Text(text) => text.clone(),
    };
    cut(text, MAX_BODY)
}

/// `text` cut to at most `max` bytes, on a character boundary, with a mark.
fn cut(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let total = text.len();
    text.truncate(end);
    text.push_str(&format!("… [cut: {total} bytes in all]"));
    text
}

/// Removes every `password` member (any case, at any depth: the core
/// attribute, an extension's, an Entra `"value": {"password": …}` PATCH) and
/// masks tokens in every string.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|name, _| !name.eq_ignore_ascii_case("password"));
            // A PATCH operation on the path `password` carries it as its value.
            let targets_password = members
                .iter()
                .any(|(name, path)| name.eq_ignore_ascii_case("path") && path_is_password(path));
            if targets_password {
                members.retain(|name, _| !name.eq_ignore_ascii_case("value"));
            }
            members.values_mut().for_each(redact);
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::String(text) => {
            if let Cow::Owned(masked) = mask_tokens(text) {
                *text = masked;
            }
        }
        _ => {}
    }
}

pub(crate) fn path_is_password(path: &Value) -> bool {
    path.as_str().is_some_and(|path| {
        let last = path.rsplit([':', '.']).next().unwrap_or(path);
        last.trim().eq_ignore_ascii_case("password")
    })
}

/// A body that is not JSON: tokens masked, and everything after the word
/// `password` on its line dropped (it cannot be parsed to drop exactly the
/// value).
fn redact_text(text: &str) -> String {
    text.lines()
        .map(|line| match line.to_ascii_lowercase().find("password") {
            Some(at) => format!("{}password [redacted]", &line[..at]),
            None => line.to_owned(),
        })
        .map(masked)
        .collect::<Vec<_>>()
        .join("\n")
}

const TOKEN_PREFIX: &str = "scimctl_";

/// Every `scimctl_<id>_<secret>` in `text` with its secret replaced by `…`;
/// `text` itself when it holds none (nearly always).
pub fn mask_tokens(text: &str) -> Cow<'_, str> {
    if !text.contains(TOKEN_PREFIX) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(TOKEN_PREFIX) {
        out.push_str(&rest[..at + TOKEN_PREFIX.len()]);
        rest = &rest[at + TOKEN_PREFIX.len()..];
        let word_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        let word = &rest[..word_end];
        match word.split_once('_') {
            Some((id, _secret)) => {
                out.push_str(id);
                out.push_str("_…");
            }
            None => out.push_str(word),
        }
        rest = &rest[word_end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// [`mask_tokens`] of a string the caller owns: moved, not copied, when
/// there is nothing to mask.
fn masked(text: String) -> String {
    match mask_tokens(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(masked) => masked,
    }
}

/// The key id a bearer token names: `Bearer scimctl_<id>_<secret>`.
fn key_id(authorization: &str) -> Option<String> {
    let token = authorization
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| authorization.trim().strip_prefix("bearer "))?;
    let (id, _) = token.trim().strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    (!id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .then(|| id.to_owned())
}

/// The user a request was about: the id in `/Users/{id}`, or the one a
/// creation answered with; and the userName it sent or was answered.
fn user_of(
    capture: &Capture,
    request: Option<&Body>,
    response: Option<&Body>,
) -> (Option<String>, Option<String>) {
    let path = capture.path.split('?').next().unwrap_or_default();
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let (last, before) = (segments.next(), segments.next());
    let about_users =
        |segment: Option<&str>| segment.is_some_and(|s| s.eq_ignore_ascii_case("users"));
    let json = |body: Option<&Body>| match body {
        Some(Body::Json(Value::Object(members))) => Some(members.clone()),
        _ => None,
    };
    let (request, response) = (json(request), json(response));
    let field = |members: &Option<Map<String, Value>>, name: &str| {
        members
            .as_ref()
            .and_then(|members| members.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if about_users(before) {
        let id = last.map(str::to_owned);
        let name = field(&request, "userName").or_else(|| field(&response, "userName"));
        return (id, name);
    }
    if about_users(last) && capture.method == "POST" {
        let id = field(&response, "id");
        let name = field(&request, "userName");
        return (id, name);
    }
    (None, None)
}

/// Stores a batch of captures in one transaction, in the journal's own
/// database on SQLite (never waiting for a SCIM change's write). Each is
/// redacted as it is stored, off the server's request threads on SQLite.
pub async fn record(store: &Store, captures: Vec<Capture>) -> Result<(), StoreError> {
    store.append_journal(captures.into_iter().map(entry)).await
}

/// Drops what is older than the retention allows, then the oldest until
/// the rest fits its size; how many exchanges went.
pub async fn prune(store: &Store, retention: Retention) -> Result<u64, StoreError> {
    let mut conn = store.journal_conn().await?;
    let age = Duration::try_from(retention.max_age).unwrap_or(Duration::MAX);
    let cutoff = OffsetDateTime::now_utc()
        .checked_sub(age)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let by_age = rows::prune_older_than(&mut conn, cutoff).await?;
    let max_size = i64::try_from(retention.max_size).unwrap_or(i64::MAX);
    let by_size = rows::prune_to_size(&mut conn, max_size).await?;
    Ok(by_age + by_size)
}

/// A page of exchanges, newest first (oldest first after `after`).
pub async fn list(store: &Store, query: &JournalQuery) -> Result<Page<JournalEntry>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::Invalid(format!(
            "bad limit: {limit}; give 1 to {MAX_LIMIT}"
        )));
    }
    let mut filter = Filter {
        since: query
            .since
            .as_deref()
            .map(|since| {
                crate::api::audit::parse_time_bound(since, OffsetDateTime::now_utc())
                    .map_err(|err| Error::Invalid(format!("bad since: {err}")))
            })
            .transpose()?,
        status: query
            .status
            .as_deref()
            .map(|status| {
                parse_status(status).map_err(|err| Error::Invalid(format!("bad status: {err}")))
            })
            .transpose()?,
        ..Filter::default()
    };
    if query.failed == Some(true) {
        filter.status = Some(match filter.status {
            Some((min, max)) => (min.max(400), max),
            None => (400, 599),
        });
    }
    if let Some(user) = query
        .user
        .as_deref()
        .map(str::trim)
        .filter(|user| !user.is_empty())
    {
        // By id or userName, as everywhere; a name nobody holds now still
        // finds the requests that sent it (a refused creation, say).
        let found = users::resolve(&mut *store.conn().await?, user).await?;
        filter.user_id = found
            .as_ref()
            .map(|row| row.id.clone())
            .or_else(|| Some(user.to_owned()));
        filter.user_name_key = Some(name_key(
            found.as_ref().map_or(user, |row| row.user_name.as_str()),
        ));
    }
    let order = match (query.after, &query.cursor) {
        (Some(after), _) => Order::OldestFirst { after },
        (None, Some(cursor)) => Order::NewestFirst {
            before: Some(cursor.parse().map_err(|_| {
                Error::Invalid(format!(
                    "bad cursor {cursor:?}: pass next_cursor as it came"
                ))
            })?),
        },
        (None, None) => Order::NewestFirst { before: None },
    };
    let mut found =
        rows::list(&mut *store.journal_conn().await?, &filter, order, limit + 1).await?;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    let next_cursor = (more && matches!(order, Order::NewestFirst { .. }))
        .then(|| found.last().map(|row| row.id.to_string()))
        .flatten();
    Ok(Page {
        items: found.into_iter().map(to_api).collect(),
        next_cursor,
    })
}

/// The exchange with this request id, and the audit entries it produced.
pub async fn show(store: &Store, request_id: &str) -> Result<JournalExchange> {
    let found = rows::by_request_id(&mut *store.journal_conn().await?, request_id.trim()).await?;
    let Some(row) = found else {
        return Err(Error::NotFound(format!(
            "no SCIM request {request_id} in the journal: it may be older than the journal keeps, \
             or not a SCIM request; `scimctl scim log` lists what is kept"
        )));
    };
    let audit = audit_rows::by_request_id(&mut *store.conn().await?, &row.request_id)
        .await?
        .into_iter()
        .map(audit::to_api)
        .collect();
    let parse = |text: &Option<String>| {
        text.as_deref()
            .map(|text| serde_json::from_str(text).unwrap_or_else(|_| Value::from(text)))
    };
    let request_headers = match serde_json::from_str(&row.request_headers) {
        Ok(Value::Object(headers)) => headers,
        _ => Map::new(),
    };
    let (request_body, response_body) = (parse(&row.request_body), parse(&row.response_body));
    Ok(JournalExchange {
        entry: to_api(row),
        request_headers,
        request_body,
        response_body,
        audit,
    })
}

fn to_api(row: EntryRow) -> JournalEntry {
    JournalEntry {
        request_id: row.request_id,
        seq: row.id,
        time: row.at,
        key_id: row.key_id,
        source_ip: row.source_ip,
        method: row.method,
        path: row.path,
        status: row.status,
        duration_ms: row.duration_us as f64 / 1000.0,
        user_id: row.user_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passwords_go_wherever_they_are() {
        let mut body = json!({
            "userName": "ann",
            "password": "hunter2",
            "urn:x:ext": { "Password": "again" },
            "Operations": [
                { "op": "replace", "path": "password", "value": "third" },
                { "op": "Replace", "value": { "password": "fourth", "active": true } },
                { "op": "replace", "path": "displayName", "value": "Ann" },
            ],
        });
        redact(&mut body);
        let text = body.to_string();
        for secret in ["hunter2", "again", "third", "fourth"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(body["Operations"][2]["value"], "Ann");
        assert_eq!(body["Operations"][1]["value"]["active"], true);
        assert_eq!(
            redact_text("{\"userName\":\"a\",\n\"password\":\"hunter2\" broken"),
            "{\"userName\":\"a\",\n\"password [redacted]"
        );
    }

    #[test]
    fn tokens_keep_their_id_only() {
        assert_eq!(
            mask_tokens("key scimctl_abc123_S3cretS3cret, again scimctl_x"),
            "key scimctl_abc123_…, again scimctl_x"
        );
        assert_eq!(
            key_id("Bearer scimctl_abc123_S3cret").as_deref(),
            Some("abc123")
        );
        assert_eq!(key_id("Basic dXNlcjpwYXNz"), None);
        assert_eq!(key_id("Bearer nonsense"), None);
    }

    #[test]
    fn what_a_caller_without_a_key_sends_is_kept_short() {
        let capture = Capture {
            at: OffsetDateTime::UNIX_EPOCH,
            request_id: "r".to_owned(),
            authorization: None,
            source_ip: None,
            method: "GET".to_owned(),
            path: format!("/scim/v2/{}", "a".repeat(60_000)),
            status: 401,
            duration: std::time::Duration::ZERO,
            headers: vec![("user-agent", "b".repeat(60_000))],
            request_body: bytes::Bytes::new(),
            response_body: bytes::Bytes::new(),
        };
        let stored = entry(capture);
        assert!(stored.path.len() < 300, "{}", stored.path.len());
        assert!(
            stored.request_headers.len() < 400,
            "{}",
            stored.request_headers.len()
        );
        assert!(stored.size() < 1_500, "{}", stored.size());
    }

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let cut = cut("ééé".to_owned(), 3);
        assert!(cut.starts_with("é… [cut: 6 bytes"), "{cut}");
    }
}
