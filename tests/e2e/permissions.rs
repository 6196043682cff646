//! Every admin and auth endpoint refuses a key that lacks its scope, names
//! the scope, and changes nothing: one table over all endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, assert_same_rows, both_backends};

pub(crate) const ALL_SCOPES: [&str; 12] = [
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

/// One endpoint of the admin or auth API and the scope it needs.
pub(crate) struct Endpoint {
    pub method: Method,
    /// As the route table and the OpenAPI document spell it:
    /// `/admin/v1/keys/{id}`.
    pub template: &'static str,
    /// The template with its parameters filled in, and a query where one is
    /// required: what the test requests.
    pub path: String,
    pub body: Option<Value>,
    pub scope: &'static str,
}

impl Endpoint {
    fn new(method: Method, template: &'static str, scope: &'static str) -> Endpoint {
        Endpoint {
            method,
            template,
            path: template.to_owned(),
            body: None,
            scope,
        }
    }

    /// Fills the path parameter `{name}` with `value`.
    fn with(mut self, name: &str, value: &str) -> Endpoint {
        let placeholder = format!("{{{name}}}");
        assert!(
            self.path.contains(&placeholder),
            "{} has no {placeholder}",
            self.template
        );
        self.path = self.path.replace(&placeholder, value);
        self
    }

    fn query(mut self, query: &str) -> Endpoint {
        self.path = format!("{}?{query}", self.path);
        self
    }

    fn body(mut self, body: Value) -> Endpoint {
        self.body = Some(body);
        self
    }
}

/// Every endpoint that needs a scope (all but `GET /admin/v1/whoami`),
/// pointed at key `key_id`, user `pat`, group `eng` and lock `lock_id`.
pub(crate) fn endpoints(key_id: &str, lock_id: &str) -> Vec<Endpoint> {
    use Method as M;
    vec![
        Endpoint::new(M::GET, "/admin/v1/keys", "keys:manage"),
        Endpoint::new(M::POST, "/admin/v1/keys", "keys:manage")
            .body(json!({ "name": "x", "scopes": ["users:read"] })),
        Endpoint::new(M::GET, "/admin/v1/keys/{id}", "keys:manage").with("id", key_id),
        Endpoint::new(M::DELETE, "/admin/v1/keys/{id}", "keys:manage").with("id", key_id),
        Endpoint::new(M::GET, "/admin/v1/settings", "settings:manage"),
        Endpoint::new(M::PATCH, "/admin/v1/settings", "settings:manage")
            .body(json!({ "auto_provisioning": false })),
        Endpoint::new(M::GET, "/admin/v1/roles", "roles:manage"),
        Endpoint::new(M::POST, "/admin/v1/roles", "roles:manage")
            .body(json!({ "name": "x", "permissions": ["users:read"] })),
        Endpoint::new(M::DELETE, "/admin/v1/roles/{name}", "roles:manage").with("name", "auditor"),
        Endpoint::new(M::GET, "/admin/v1/mappings", "roles:manage"),
        Endpoint::new(M::POST, "/admin/v1/mappings", "roles:manage")
            .body(json!({ "group": "eng", "role": "auditor" })),
        Endpoint::new(M::DELETE, "/admin/v1/mappings/{id}", "roles:manage")
            .with("id", "no-such-mapping"),
        Endpoint::new(M::GET, "/admin/v1/users", "users:read"),
        Endpoint::new(M::POST, "/admin/v1/users", "users:write").body(json!({ "user_name": "x" })),
        Endpoint::new(M::POST, "/admin/v1/users/{user}/roles", "users:write")
            .with("user", "pat")
            .body(json!({ "roles": ["auditor"] })),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/roles/remove",
            "users:write",
        )
        .with("user", "pat")
        .body(json!({ "roles": ["auditor"] })),
        Endpoint::new(M::GET, "/admin/v1/users/{user}", "users:read").with("user", "pat"),
        Endpoint::new(M::GET, "/admin/v1/users/{user}/deprovision", "users:read")
            .with("user", "pat"),
        Endpoint::new(M::GET, "/admin/v1/users/{user}/why", "users:read").with("user", "pat"),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/deprovision",
            "users:deprovision",
        )
        .with("user", "pat")
        .body(json!({})),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/deactivate",
            "users:deprovision",
        )
        .with("user", "pat"),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/reactivate",
            "users:deprovision",
        )
        .with("user", "pat")
        .body(json!({})),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/protect",
            "users:deprovision",
        )
        .with("user", "pat"),
        Endpoint::new(
            M::POST,
            "/admin/v1/users/{user}/unprotect",
            "users:deprovision",
        )
        .with("user", "pat"),
        Endpoint::new(M::GET, "/admin/v1/provisioning/breaker", "users:read"),
        Endpoint::new(
            M::POST,
            "/admin/v1/provisioning/breaker/release",
            "users:deprovision",
        )
        .body(json!({})),
        Endpoint::new(
            M::POST,
            "/admin/v1/provisioning/breaker/reset",
            "users:deprovision",
        ),
        Endpoint::new(M::POST, "/admin/v1/users/{user}/sessions", "sessions:issue")
            .with("user", "pat")
            .body(json!({})),
        Endpoint::new(M::GET, "/admin/v1/groups", "groups:read"),
        Endpoint::new(M::GET, "/admin/v1/groups/{group}", "groups:read").with("group", "eng"),
        Endpoint::new(M::GET, "/admin/v1/locks", "users:read"),
        Endpoint::new(M::DELETE, "/admin/v1/locks/{id}", "users:deprovision").with("id", lock_id),
        Endpoint::new(M::GET, "/admin/v1/audit", "audit:read"),
        Endpoint::new(M::GET, "/admin/v1/scim/requests", "audit:read"),
        Endpoint::new(M::GET, "/admin/v1/scim/requests/{request_id}", "audit:read")
            .with("request_id", "no-such-request"),
        Endpoint::new(
            M::GET,
            "/admin/v1/scim/requests/{request_id}/explanation",
            "audit:read",
        )
        .with("request_id", "no-such-request"),
        Endpoint::new(
            M::GET,
            "/admin/v1/scim/requests/{request_id}/replay",
            "audit:read",
        )
        .with("request_id", "no-such-request"),
        Endpoint::new(M::GET, "/admin/v1/allowlist", "allowlist:manage"),
        Endpoint::new(M::POST, "/admin/v1/allowlist", "allowlist:manage")
            .body(json!({ "entries": [{ "cidr": "10.0.0.0/8" }] })),
        Endpoint::new(M::PUT, "/admin/v1/allowlist", "allowlist:manage")
            .body(json!({ "entries": [] })),
        Endpoint::new(M::POST, "/admin/v1/allowlist/remove", "allowlist:manage")
            .body(json!({ "cidrs": ["10.0.0.0/8"] })),
        Endpoint::new(M::GET, "/admin/v1/allowlist/check", "allowlist:manage")
            .query("ip=127.0.0.1"),
        Endpoint::new(M::POST, "/auth/v1/introspect", "sessions:introspect")
            .body(json!({ "token": "x" })),
    ]
}

fn root(server: &TestServer, method: Method, path: &str, body: Value) -> Value {
    let (status, _, answer) = server.http(method, path, Some(&server.root_token), Some(body));
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

both_backends! {
    fn every_endpoint_refuses_a_key_without_its_scope(server: &TestServer) {
        // Something for every path to point at: a key, a user in a group, a
        // locked user.
        let key = root(server, Method::POST, "/admin/v1/keys", json!({ "name": "target", "scopes": ["users:read"] }));
        let key_id = key["id"].as_str().expect("id").to_owned();
        root(server, Method::POST, "/admin/v1/users", json!({ "user_name": "pat", "groups": ["eng"], "create_groups": true }));
        root(server, Method::POST, "/admin/v1/users", json!({ "user_name": "gone" }));
        let report = root(server, Method::POST, "/admin/v1/users/gone/deprovision", json!({}));
        let lock_id = report["lock"].as_str().expect("lock").to_owned();

        let endpoints = endpoints(&key_id, &lock_id);
        // `scim:provision` guards /scim/v2, which has its own tests.
        let needed: std::collections::BTreeSet<&str> = endpoints.iter().map(|e| e.scope).collect();
        let admin_scopes: std::collections::BTreeSet<&str> =
            ALL_SCOPES.into_iter().filter(|s| *s != "scim:provision").collect();
        assert_eq!(needed, admin_scopes, "every admin scope guards some endpoint");

        for scope in ALL_SCOPES {
            let others: Vec<&str> = ALL_SCOPES.iter().copied().filter(|s| *s != scope).collect();
            let lacking = root(server, Method::POST, "/admin/v1/keys", json!({ "name": format!("all but {scope}"), "scopes": others }));
            let token = lacking["token"].as_str().expect("token").to_owned();
            let before = server.snapshot();

            for Endpoint { method, path, body, scope: needs, .. } in endpoints.iter().filter(|e| e.scope == scope) {
                let (status, _, answer) = server.http(method.clone(), path, Some(&token), body.clone());
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} without {needs}: {answer}");
                let message = answer["error"]["message"].as_str().expect("message");
                assert!(message.contains(needs), "{method} {path}: {message:?} should name {needs}");
            }
            assert_same_rows(&before, &server.snapshot(), &format!("refused requests without {scope}"));
        }
        let (status, _, _) = server.http(Method::GET, &format!("/admin/v1/keys/{key_id}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "the target key was not revoked");
    }
}
