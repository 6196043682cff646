//! The only routes that answer without a key, and from outside the
//! allowlist, are the probes a load balancer and Prometheus need and the
//! API's description: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.
//! Pinned both ways: those four stay open (and hold no secret), and every
//! admin, auth and SCIM route refuses a missing key (401) and an address
//! outside the allowlist (403), whatever key it brings.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::permissions::endpoints;
use crate::support::{TestServer, both_backends};

/// The routes that skip authentication and the allowlist.
const OPEN: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// Every guarded request: each admin and auth endpoint of the permission
/// table (which the OpenAPI test proves is the whole document), `whoami`,
/// and each SCIM route.
fn guarded() -> Vec<(Method, String, Option<Value>)> {
    let mut requests: Vec<(Method, String, Option<Value>)> = endpoints("KEY", "LOCK")
        .into_iter()
        .map(|endpoint| (endpoint.method, endpoint.path, endpoint.body))
        .collect();
    requests.push((Method::GET, "/admin/v1/whoami".into(), None));
    let user = "/scim/v2/Users/00000000-0000-4000-8000-000000000000";
    let group = "/scim/v2/Groups/00000000-0000-4000-8000-000000000000";
    for (method, path) in [
        (Method::GET, "/scim/v2/ServiceProviderConfig"),
        (Method::GET, "/scim/v2/ResourceTypes"),
        (Method::GET, "/scim/v2/Schemas"),
        (Method::GET, "/scim/v2/Users"),
        (Method::POST, "/scim/v2/Users"),
        (Method::POST, "/scim/v2/Users/.search"),
        (Method::GET, user),
        (Method::PUT, user),
        (Method::PATCH, user),
        (Method::DELETE, user),
        (Method::GET, "/scim/v2/Groups"),
        (Method::POST, "/scim/v2/Groups"),
        (Method::GET, group),
        (Method::PATCH, group),
        (Method::DELETE, group),
        (Method::POST, "/scim/v2/.search"),
    ] {
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        requests.push((method, path.to_owned(), body));
    }
    requests
}

#[track_caller]
fn assert_open_routes_answer(server: &TestServer, context: &str) {
    for path in OPEN {
        let (status, _, body) = server.http(Method::GET, path, None, None);
        assert_eq!(
            status,
            StatusCode::OK,
            "{context}: GET {path} without a key: {body}"
        );
    }
}

both_backends! {
    fn only_the_probes_and_the_api_description_answer_without_a_key(server: &TestServer) {
        assert_open_routes_answer(server, "no key");
        for (method, path, body) in guarded() {
            let (status, _, answer) = server.http(method.clone(), &path, None, body);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} without a key: {answer}");
        }

        // What the open routes show is no secret: no token, no key id.
        let (status, _, key) = server.http(Method::POST, "/admin/v1/keys", Some(&server.root_token), Some(json!({ "name": "probe", "scopes": ["users:read"] })));
        assert_eq!(status, StatusCode::CREATED);
        let key_id = key["id"].as_str().expect("id");
        for path in OPEN {
            let text = server.block_on(async {
                server.request(Method::GET, path).send().await.expect("GET").text().await.expect("body")
            });
            let root_id = server.root_token.split('_').nth(1).expect("id");
            let root_secret = server.root_token.rsplit('_').next().expect("secret");
            let probe_secret = key["token"].as_str().expect("token").rsplit('_').next().expect("secret");
            for secret in [key_id, root_id, root_secret, probe_secret] {
                assert!(!text.contains(secret), "GET {path} shows {secret:?}");
            }
        }
    }

    fn only_the_probes_and_the_api_description_answer_outside_the_allowlist(server: &TestServer) {
        // Written straight into the database: the API would rightly refuse
        // to shut out its own caller.
        server.execute("INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES ('192.0.2.0/24', 'elsewhere', 0, 'test')");
        assert_open_routes_answer(server, "outside the allowlist");
        for (method, path, body) in guarded() {
            let (status, _, answer) = server.http(method.clone(), &path, Some(&server.root_token), body);
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} from outside the allowlist, with the root key: {answer}");
        }
    }
}
