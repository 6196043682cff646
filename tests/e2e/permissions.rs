//! Every admin and auth endpoint refuses a key that lacks its scope, names
//! the scope, and changes nothing: one table over all endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, both_backends};

const ALL_SCOPES: [&str; 12] = [
    "scim:provision",
    "users:read",
    "users:write",
    "users:deprovision",
    "groups:read",
    "keys:manage",
    "settings:manage",
    "allowlist:manage",
    "roles:manage",
    "audit:read",
    "sessions:issue",
    "sessions:introspect",
];

/// (method, path, body, the scope it needs).
fn endpoints(key_id: &str, lock_id: &str) -> Vec<(Method, String, Option<Value>, &'static str)> {
    let user = "/admin/v1/users/pat";
    vec![
        (Method::GET, "/admin/v1/keys".into(), None, "keys:manage"),
        (
            Method::POST,
            "/admin/v1/keys".into(),
            Some(json!({ "name": "x", "scopes": ["users:read"] })),
            "keys:manage",
        ),
        (
            Method::GET,
            format!("/admin/v1/keys/{key_id}"),
            None,
            "keys:manage",
        ),
        (
            Method::DELETE,
            format!("/admin/v1/keys/{key_id}"),
            None,
            "keys:manage",
        ),
        (
            Method::GET,
            "/admin/v1/settings".into(),
            None,
            "settings:manage",
        ),
        (
            Method::PATCH,
            "/admin/v1/settings".into(),
            Some(json!({ "auto_provisioning": false })),
            "settings:manage",
        ),
        (Method::GET, "/admin/v1/roles".into(), None, "roles:manage"),
        (
            Method::POST,
            "/admin/v1/roles".into(),
            Some(json!({ "name": "x", "permissions": ["users:read"] })),
            "roles:manage",
        ),
        (
            Method::DELETE,
            "/admin/v1/roles/auditor".into(),
            None,
            "roles:manage",
        ),
        (Method::GET, "/admin/v1/users".into(), None, "users:read"),
        (
            Method::POST,
            "/admin/v1/users".into(),
            Some(json!({ "user_name": "x" })),
            "users:write",
        ),
        (Method::GET, user.into(), None, "users:read"),
        (
            Method::GET,
            format!("{user}/deprovision"),
            None,
            "users:read",
        ),
        (
            Method::POST,
            format!("{user}/deprovision"),
            Some(json!({})),
            "users:deprovision",
        ),
        (
            Method::POST,
            format!("{user}/deactivate"),
            None,
            "users:deprovision",
        ),
        (
            Method::POST,
            format!("{user}/reactivate"),
            Some(json!({})),
            "users:deprovision",
        ),
        (
            Method::POST,
            format!("{user}/sessions"),
            Some(json!({})),
            "sessions:issue",
        ),
        (Method::GET, "/admin/v1/groups".into(), None, "groups:read"),
        (
            Method::GET,
            "/admin/v1/groups/eng".into(),
            None,
            "groups:read",
        ),
        (Method::GET, "/admin/v1/locks".into(), None, "users:read"),
        (
            Method::DELETE,
            format!("/admin/v1/locks/{lock_id}"),
            None,
            "users:deprovision",
        ),
        (Method::GET, "/admin/v1/audit".into(), None, "audit:read"),
        (
            Method::GET,
            "/admin/v1/allowlist".into(),
            None,
            "allowlist:manage",
        ),
        (
            Method::POST,
            "/admin/v1/allowlist".into(),
            Some(json!({ "entries": [{ "cidr": "10.0.0.0/8" }] })),
            "allowlist:manage",
        ),
        (
            Method::PUT,
            "/admin/v1/allowlist".into(),
            Some(json!({ "entries": [] })),
            "allowlist:manage",
        ),
        (
            Method::POST,
            "/admin/v1/allowlist/remove".into(),
            Some(json!({ "cidrs": ["10.0.0.0/8"] })),
            "allowlist:manage",
        ),
        (
            Method::GET,
            "/admin/v1/allowlist/check?ip=127.0.0.1".into(),
            None,
            "allowlist:manage",
        ),
        (
            Method::POST,
            "/auth/v1/introspect".into(),
            Some(json!({ "token": "x" })),
            "sessions:introspect",
        ),
    ]
}

fn root(server: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let (status, _, answer) = server.http(method, path, Some(&server.root_token), Some(body));
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

both_backends! {
    fn every_endpoint_refuses_a_key_without_its_scope(server: &TestServer) {
        // Something for every path to point at: a key, a user in a team, a
        // locked user.
        let key = root(server, Method::POST, "/admin/v1/keys", json!({ "name": "target", "scopes": ["users:read"] }));
        let key_id = key["id"].as_str().expect("id").to_owned();
        root(server, Method::POST, "/admin/v1/users", json!({ "user_name": "pat", "teams": ["eng"] }));
        root(server, Method::POST, "/admin/v1/users", json!({ "user_name": "gone" }));
        let report = root(server, Method::POST, "/admin/v1/users/gone/deprovision", json!({}));
        let lock_id = report["lock"].as_str().expect("lock").to_owned();

        let endpoints = endpoints(&key_id, &lock_id);
        // `scim:provision` guards /scim/v2, which has its own tests.
        let needed: std::collections::BTreeSet<&str> = endpoints.iter().map(|e| e.3).collect();
        let admin_scopes: std::collections::BTreeSet<&str> =
            ALL_SCOPES.into_iter().filter(|s| *s != "scim:provision").collect();
        assert_eq!(needed, admin_scopes, "every admin scope guards some endpoint");

        for scope in ALL_SCOPES {
            let others: Vec<&str> = ALL_SCOPES.iter().copied().filter(|s| *s != scope).collect();
            let lacking = root(server, Method::POST, "/admin/v1/keys", json!({ "name": format!("all but {scope}"), "scopes": others }));
            let token = lacking["token"].as_str().expect("token").to_owned();
            let audit_before = server.query_rows("SELECT id FROM audit_log WHERE action <> 'auth.denied'").len();

            for (method, path, body, needs) in endpoints.iter().filter(|e| e.3 == scope) {
                let (status, _, answer) = server.http(method.clone(), path, Some(&token), body.clone());
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} without {needs}: {answer}");
                let message = answer["error"]["message"].as_str().expect("message");
                assert!(message.contains(needs), "{method} {path}: {message:?} should name {needs}");
            }
            let audit_after = server.query_rows("SELECT id FROM audit_log WHERE action <> 'auth.denied'").len();
            assert_eq!(audit_before, audit_after, "refused requests changed something (without {scope})");
        }
        let (status, _, _) = server.http(Method::GET, &format!("/admin/v1/keys/{key_id}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "the target key was not revoked");
    }
}
