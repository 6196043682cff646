//! What the IdP replay tests share: an identity provider's connection (a key
//! with `scim:provision`, the headers that IdP sends), and field-by-field
//! checks of SCIM responses (resources, `meta` and `ETag`, list responses,
//! error bodies), plus the admin-plane and CLI probes that prove what a SCIM
//! request did to the directory.

use std::process::Output;
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{DbRow, TestServer};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Where the SCIM API lives on the server.
pub const BASE: &str = "/scim/v2";

/// One HTTP answer: status, headers, and the body parsed as JSON
/// (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub method: Method,
    pub path: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body; the failure names the
    /// request and shows the body.
    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Value {
        assert_eq!(
            self.status, status,
            "{} {} answered {}: {}",
            self.method, self.path, self.status, self.body
        );
        &self.body
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

/// An identity provider connected to a [`TestServer`] the way an operator
/// sets one up: a key with exactly `scim:provision`, created through the
/// admin API, and the headers that IdP sends on every request.
pub struct Idp<'a> {
    pub server: &'a TestServer,
    pub token: String,
    /// The key's id: what every audit entry of this IdP's changes names.
    pub key_id: String,
    user_agent: &'static str,
    content_type: &'static str,
}

impl<'a> Idp<'a> {
    /// Okta: `User-Agent: Okta SCIM Client 1.0.0` ("SCIM 2.0 Protocol
    /// Reference") and `Content-Type: application/scim+json; charset=utf-8`
    /// (the Okta SCIM 2.0 Spec Test's request headers).
    pub fn okta(server: &'a TestServer) -> Idp<'a> {
        Idp::connect(
            server,
            "okta",
            "Okta SCIM Client 1.0.0",
            "application/scim+json; charset=utf-8",
        )
    }

    /// Microsoft Entra ID: `Content-type: application/scim+json` ("Tutorial:
    /// Develop and plan provisioning for a SCIM endpoint in Microsoft Entra
    /// ID").
    pub fn entra(server: &'a TestServer) -> Idp<'a> {
        Idp::connect(
            server,
            "entra",
            "Microsoft Entra provisioning (replayed)",
            "application/scim+json",
        )
    }

    /// A generic SCIM client, for lifecycle tests that are not about one IdP.
    pub fn generic(server: &'a TestServer) -> Idp<'a> {
        Idp::connect(server, "idp", "scim-replay", "application/scim+json")
    }

    fn connect(
        server: &'a TestServer,
        name: &str,
        user_agent: &'static str,
        content_type: &'static str,
    ) -> Idp<'a> {
        let (status, _, key) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": name, "scopes": ["scim:provision"] })),
        );
        assert_eq!(status, StatusCode::CREATED, "create the {name} key: {key}");
        Idp {
            server,
            token: key["token"].as_str().expect("token").to_owned(),
            key_id: key["id"].as_str().expect("id").to_owned(),
            user_agent,
            content_type,
        }
    }

    /// `GET {BASE}{path}`.
    pub fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[])
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[])
    }

    pub fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body), &[])
    }

    pub fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body), &[])
    }

    pub fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None, &[])
    }

    /// A request to `{BASE}{path}` with this IdP's key and headers, `body`
    /// sent as JSON labelled with the IdP's content type, and `extra`
    /// headers (e.g. `If-Match`).
    pub fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let full = format!("{BASE}{path}");
        let mut request = self
            .server
            .request(method.clone(), &full)
            .bearer_auth(&self.token)
            .header(header::USER_AGENT, self.user_agent)
            .header(header::ACCEPT, "application/scim+json");
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, self.content_type)
                .body(body.to_string());
        }
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        let (status, headers, body) = self.server.send(request);
        let reply = Reply {
            method,
            path: full,
            status,
            headers,
            body,
        };
        if !reply.body.is_null() {
            let content_type = reply.header("content-type").unwrap_or_default();
            assert!(
                content_type.starts_with("application/scim+json"),
                "{} {}: a SCIM body is application/scim+json, got {content_type:?} with {} {}",
                reply.method,
                reply.path,
                reply.status,
                reply.body
            );
        }
        reply
    }

    /// The resource after a PATCH: RFC 7644 §3.5.2 lets the server answer
    /// 200 with the resource or 204 without a body (Okta and Entra accept
    /// both), so on 204 it is read back with a GET.
    #[track_caller]
    pub fn patched(&self, reply: &Reply, resource_path: &str) -> Value {
        match reply.status {
            StatusCode::OK => reply.body.clone(),
            StatusCode::NO_CONTENT => {
                assert!(reply.body.is_null(), "204 has no body: {}", reply.body);
                self.get(resource_path).expect(StatusCode::OK).clone()
            }
            other => panic!(
                "{} {} answered {other}, expected 200 or 204: {}",
                reply.method, reply.path, reply.body
            ),
        }
    }

    /// Audit entries written with this IdP's key, oldest first.
    pub fn audit(&self) -> Vec<DbRow> {
        audit_rows(self.server, &format!("actor_key_id = '{}'", self.key_id))
    }

    /// The actions of this IdP's audit entries, oldest first.
    pub fn audited_actions(&self) -> Vec<String> {
        self.audit()
            .into_iter()
            .map(|row| row["action"].clone())
            .collect()
    }
}

/// `filter=…` percent-encoded the way HTTP clients send it
/// (`userName%20eq%20%22x%40y%22`).
pub fn filter(expression: &str) -> String {
    format!("filter={}", encode(expression))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The `id` of a resource body.
#[track_caller]
pub fn id_of(resource: &Value) -> String {
    let id = resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {resource}"));
    assert!(!id.is_empty(), "id is never empty");
    id.to_owned()
}

/// Checks a created resource: 201, a `Location` header equal to
/// `meta.location`, and the `meta` block and `ETag` of `resource_type`.
/// Returns the resource.
#[track_caller]
pub fn created(reply: &Reply, resource_type: &str) -> Value {
    let body = reply.expect(StatusCode::CREATED).clone();
    assert_resource(reply, resource_type);
    let location = reply
        .header("location")
        .unwrap_or_else(|| panic!("201 without a Location header: {:?}", reply.headers));
    assert_eq!(
        location, body["meta"]["location"],
        "Location is meta.location"
    );
    body
}

/// Checks a single-resource answer (not a list): `schemas`, `id`, `meta`
/// (`resourceType`, `created` ≤ `lastModified` in RFC 3339, `location`
/// ending in `/scim/v2/{Users|Groups}/{id}`, a weak `version`) and an `ETag`
/// header equal to `meta.version`.
#[track_caller]
pub fn assert_resource(reply: &Reply, resource_type: &str) {
    let body = &reply.body;
    assert_meta(body, resource_type);
    let etag = reply
        .header("etag")
        .unwrap_or_else(|| panic!("{} {}: no ETag header", reply.method, reply.path));
    assert_eq!(etag, body["meta"]["version"], "ETag is meta.version");
}

/// The `schemas` and `meta` of a resource, wherever it appears (alone or in
/// a list response).
#[track_caller]
pub fn assert_meta(body: &Value, resource_type: &str) {
    let core = match resource_type {
        "User" => USER_SCHEMA,
        "Group" => GROUP_SCHEMA,
        other => panic!("no resource type {other}"),
    };
    let schemas = body["schemas"]
        .as_array()
        .unwrap_or_else(|| panic!("schemas is an array: {body}"));
    assert!(
        schemas.iter().any(|schema| schema == core),
        "schemas names {core}: {body}"
    );
    let id = id_of(body);
    let meta = &body["meta"];
    assert_eq!(
        meta["resourceType"], resource_type,
        "meta.resourceType: {body}"
    );
    let created = time(&meta["created"]);
    let modified = time(&meta["lastModified"]);
    assert!(
        created <= modified,
        "created {created} ≤ lastModified {modified}"
    );
    let location = meta["location"].as_str().expect("meta.location");
    assert!(
        location.starts_with("http://") || location.starts_with("https://"),
        "meta.location is an absolute URI: {location}"
    );
    assert!(
        location.ends_with(&format!("{BASE}/{resource_type}s/{id}")),
        "meta.location points at the resource: {location}"
    );
    let version = meta["version"].as_str().expect("meta.version");
    assert!(
        version.starts_with("W/\"") && version.ends_with('"'),
        "meta.version is a weak ETag: {version}"
    );
}

/// An RFC 3339 time in a JSON string.
#[track_caller]
pub fn time(value: &Value) -> OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a time is a string: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|err| panic!("{text}: {err}"))
}

/// Checks a ListResponse: `schemas`, `totalResults`, `startIndex`,
/// `itemsPerPage` as integers, and `itemsPerPage` resources (a list with no
/// resources may leave `Resources` out, RFC 7644 §3.4.2). Returns them.
#[track_caller]
pub fn list(body: &Value, total: u64, start_index: u64) -> Vec<Value> {
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]), "{body}");
    assert_eq!(
        body["totalResults"].as_u64(),
        Some(total),
        "totalResults: {body}"
    );
    assert_eq!(
        body["startIndex"].as_u64(),
        Some(start_index),
        "startIndex: {body}"
    );
    let resources = match &body["Resources"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items.clone(),
        other => panic!("Resources is an array, not {other}"),
    };
    assert_eq!(
        body["itemsPerPage"].as_u64(),
        Some(resources.len() as u64),
        "itemsPerPage counts the resources on this page: {body}"
    );
    resources
}

/// Checks a SCIM error answer (RFC 7644 §3.12): the status, the error schema,
/// `status` as a string, the `scimType` (`None`: absent), and a `detail`.
/// Returns the detail.
#[track_caller]
pub fn scim_error(reply: &Reply, status: StatusCode, scim_type: Option<&str>) -> String {
    let body = reply.expect(status);
    assert_eq!(body["schemas"], json!([ERROR]), "error schema: {body}");
    assert_eq!(
        body["status"],
        status.as_u16().to_string(),
        "status: {body}"
    );
    match scim_type {
        Some(kind) => assert_eq!(body["scimType"], kind, "scimType: {body}"),
        None => assert!(body.get("scimType").is_none(), "no scimType: {body}"),
    }
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.trim().is_empty(),
        "an error says what went wrong: {body}"
    );
    detail.to_owned()
}

/// Like [`scim_error`] for answers whose `scimType` the RFC leaves open:
/// checks the status, the error schema and a detail; returns the `scimType`
/// (if any) and the detail.
#[track_caller]
pub fn scim_error_kind(reply: &Reply, status: StatusCode) -> (Option<String>, String) {
    let body = reply.expect(status);
    assert_eq!(body["schemas"], json!([ERROR]), "error schema: {body}");
    assert_eq!(
        body["status"],
        status.as_u16().to_string(),
        "status: {body}"
    );
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.trim().is_empty(),
        "an error says what went wrong: {body}"
    );
    (
        body["scimType"].as_str().map(str::to_owned),
        detail.to_owned(),
    )
}

/// The email addresses of a user resource, as `(value, type, primary)`.
pub fn emails(user: &Value) -> Vec<(String, Option<String>, bool)> {
    user["emails"]
        .as_array()
        .map(|emails| {
            emails
                .iter()
                .map(|email| {
                    (
                        email["value"].as_str().unwrap_or_default().to_owned(),
                        email["type"].as_str().map(str::to_owned),
                        email["primary"].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The member ids of a group resource, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|members| {
            members
                .iter()
                .map(|member| member["value"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// `ids` sorted, for comparing with [`member_ids`].
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    ids.sort();
    ids
}

/// `GET /admin/v1/users/{user}` as root: the directory's view of a user
/// (origin, roles, groups, deprovisioning, lock), whatever SCIM shows.
#[track_caller]
pub fn admin_user(server: &TestServer, user: &str) -> Value {
    let (status, _, body) = server.http(
        Method::GET,
        &format!("/admin/v1/users/{}", encode(user)),
        Some(&server.root_token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "GET /admin/v1/users/{user}: {body}");
    body
}

/// The display names of the groups `GET /admin/v1/users/{user}` shows, sorted.
pub fn admin_groups(server: &TestServer, user: &str) -> Vec<String> {
    let mut groups: Vec<String> = admin_user(server, user)["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|group| {
            group["display_name"]
                .as_str()
                .expect("display_name")
                .to_owned()
        })
        .collect();
    groups.sort();
    groups
}

/// Manual (non-SCIM) user through `POST /admin/v1/users`.
#[track_caller]
pub fn admin_create_user(server: &TestServer, body: Value) -> Value {
    let (status, _, user) = server.http(
        Method::POST,
        "/admin/v1/users",
        Some(&server.root_token),
        Some(body),
    );
    assert_eq!(status, StatusCode::CREATED, "create a manual user: {user}");
    user
}

/// `PATCH /admin/v1/settings` as root.
#[track_caller]
pub fn set_settings(server: &TestServer, settings: Value) {
    let (status, _, body) = server.http(
        Method::PATCH,
        "/admin/v1/settings",
        Some(&server.root_token),
        Some(settings),
    );
    assert_eq!(status, StatusCode::OK, "PATCH /admin/v1/settings: {body}");
}

/// A new session for `user` through `POST /admin/v1/users/{user}/sessions`
/// (what an SSO front door does); returns its token.
#[track_caller]
pub fn issue_session(server: &TestServer, user: &str) -> String {
    let (status, _, body) = server.http(
        Method::POST,
        &format!("/admin/v1/users/{}/sessions", encode(user)),
        Some(&server.root_token),
        Some(json!({})),
    );
    assert_eq!(
        status,
        StatusCode::CREATED,
        "issue a session for {user}: {body}"
    );
    body["token"].as_str().expect("token").to_owned()
}

/// `POST /admin/v1/users/{user}/sessions` for a user who must not get one;
/// returns the status.
pub fn session_refused(server: &TestServer, user: &str) -> StatusCode {
    let (status, _, _) = server.http(
        Method::POST,
        &format!("/admin/v1/users/{}/sessions", encode(user)),
        Some(&server.root_token),
        Some(json!({})),
    );
    status
}

/// `scimctl users verify USER` through the real binary, as root; returns
/// the exit code and stdout+stderr (for failure messages).
pub fn cli_verify(server: &TestServer, user: &str) -> (i32, String) {
    let output = server
        .cli_with_token(&server.root_token)
        .args(["users", "verify", user])
        .output()
        .expect("run scimctl users verify");
    (code(&output), describe(&output))
}

/// `scimctl introspect -` with the token on stdin, as root; returns the exit
/// code (0 live, 5 not) and the output.
pub fn cli_introspect(server: &TestServer, token: &str) -> (i32, String) {
    let output = server
        .cli_with_token(&server.root_token)
        .args(["introspect", "-", "-o", "json"])
        .write_stdin(format!("{token}\n"))
        .output()
        .expect("run scimctl introspect");
    (code(&output), describe(&output))
}

/// `scimctl users list --pending -o json`: the userNames listed.
#[track_caller]
pub fn cli_pending(server: &TestServer) -> Vec<String> {
    let output = server
        .cli_with_token(&server.root_token)
        .args(["users", "list", "--pending", "-o", "json"])
        .output()
        .expect("run scimctl users list --pending");
    assert_eq!(code(&output), 0, "{}", describe(&output));
    let users: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("users list -o json is JSON ({err}): {}", describe(&output)));
    users
        .as_array()
        .expect("a JSON array of users")
        .iter()
        .map(|user| user["user_name"].as_str().expect("user_name").to_owned())
        .collect()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("scimctl exited with a code")
}

fn describe(output: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Audit rows matching `condition` (constant SQL written by the test),
/// oldest first.
pub fn audit_rows(server: &TestServer, condition: &str) -> Vec<DbRow> {
    server.query_rows(&format!(
        "SELECT id, action, target, actor_key_id, outcome, details FROM audit_log \
         WHERE {condition} ORDER BY id"
    ))
}

/// Every text the database holds about users and the audit log, for "this
/// secret is stored nowhere" checks.
pub fn everything_stored(server: &TestServer) -> String {
    let mut all = String::new();
    for table in ["users", "user_emails", "audit_log", "groups"] {
        for row in server.query_rows(&format!("SELECT * FROM {table}")) {
            for value in row.values() {
                all.push_str(value);
                all.push('\n');
            }
        }
    }
    all
}

/// The request id an answer carries.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("every answer carries X-Request-Id")
        .to_owned()
}

/// `scimctl ARGS` (a `scim explain|replay REQUEST_ID … -o json`) as root,
/// once the journal has stored the exchange: its writer stores a moment
/// after the answer, and until then the request is not found (exit 3).
pub fn once_journaled(server: &TestServer, args: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = server
            .cli_as_root()
            .args(args)
            .output()
            .expect("run scimctl");
        if output.status.success() {
            return crate::cli_output::stdout_json(&output);
        }
        assert!(
            output.status.code() == Some(3) && Instant::now() < deadline,
            "scimctl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
