//! The directory through the admin API: users, groups, sessions, personal
//! keys, the deprovisioning engine and its verification, on both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, both_backends};

/// `server.http` with the root key, asserting the status.
fn root(
    server: &TestServer,
    method: Method,
    path: &str,
    body: Option<Value>,
    expect: StatusCode,
) -> Value {
    let (status, _, body) = server.http(method.clone(), path, Some(&server.root_token), body);
    assert_eq!(status, expect, "{method} {path}: {body}");
    body
}

fn create_user(server: &TestServer, user_name: &str, roles: &[&str], groups: &[&str]) -> Value {
    root(
        server,
        Method::POST,
        "/admin/v1/users",
        Some(json!({
            "user_name": user_name,
            "emails": [format!("{}@example.com", user_name.to_lowercase())],
            "roles": roles,
            "groups": groups,
            "create_groups": true,
        })),
        StatusCode::CREATED,
    )
}

fn introspect(server: &TestServer, token: &str) -> Value {
    root(
        server,
        Method::POST,
        "/auth/v1/introspect",
        Some(json!({ "token": token })),
        StatusCode::OK,
    )
}

fn check(report: &Value, name: &str) -> bool {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))["passed"]
        .as_bool()
        .expect("passed is a bool")
}

both_backends! {
    fn deprovisioning_takes_everything_in_one_step_and_verification_proves_it(server: &TestServer) {
        let user = create_user(server, "Alice", &["auditor"], &["eng", "ops"]);
        assert_eq!(user["roles"], json!(["auditor"]));
        assert_eq!(user["groups"].as_array().expect("groups").len(), 2);
        assert_eq!(user["origin"], "manual");

        let session = root(server, Method::POST, "/admin/v1/users/alice/sessions", Some(json!({})), StatusCode::CREATED);
        let session_token = session["token"].as_str().expect("token").to_owned();
        assert!(session_token.starts_with("scimsess_"));
        let key = root(
            server,
            Method::POST,
            "/admin/v1/keys",
            Some(json!({ "name": "alice laptop", "scopes": ["users:read", "audit:read"], "owner": "ALICE" })),
            StatusCode::CREATED,
        );
        let key_token = key["token"].as_str().expect("token").to_owned();
        assert_eq!(key["owner"]["user_name"], "Alice");

        let live = introspect(server, &session_token);
        assert_eq!(live["active"], true, "{live}");
        assert_eq!(live["user"]["user_name"], "Alice");
        assert_eq!(live["roles"], json!(["auditor"]));
        assert_eq!(live["groups"], json!(["eng", "ops"]));
        assert_eq!(introspect(server, &key_token)["active"], true);

        let before = root(server, Method::GET, "/admin/v1/users/alice/deprovision", None, StatusCode::OK);
        assert_eq!(before["deprovisioned"], false);
        for name in ["inactive", "no_roles", "no_groups", "no_personal_keys", "no_live_sessions", "lock_present"] {
            assert!(!check(&before, name), "{name} should fail before deprovisioning: {before}");
        }

        let dry = root(server, Method::POST, "/admin/v1/users/alice/deprovision", Some(json!({ "dry_run": true })), StatusCode::OK);
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["roles"], json!(["auditor"]));
        assert_eq!(dry["sessions"].as_array().expect("sessions").len(), 1);
        assert_eq!(dry["personal_keys"], json!([key["id"]]));
        assert_eq!(introspect(server, &session_token)["active"], true, "a dry run changes nothing");

        let done = root(server, Method::POST, "/admin/v1/users/alice/deprovision", Some(json!({ "reason": "left the company" })), StatusCode::OK);
        assert_eq!(done["dry_run"], false);
        assert_eq!(done["already_deprovisioned"], false);
        assert_eq!(done["roles"], dry["roles"]);
        assert_eq!(done["groups"], dry["groups"]);
        assert_eq!(done["personal_keys"], dry["personal_keys"]);
        assert_eq!(done["sessions"], dry["sessions"]);
        assert!(done["lock"].is_string());

        let session_now = introspect(server, &session_token);
        assert_eq!(session_now["active"], false, "{session_now}");
        assert_eq!(introspect(server, &key_token)["active"], false);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/users", Some(&key_token), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the personal key is gone");

        let after = root(server, Method::GET, "/admin/v1/users/alice/deprovision", None, StatusCode::OK);
        assert_eq!(after["deprovisioned"], true, "{after}");

        let again = root(server, Method::POST, "/admin/v1/users/alice/deprovision", Some(json!({})), StatusCode::OK);
        assert_eq!(again["already_deprovisioned"], true, "{again}");

        let (status, _, refused) = server.http(Method::POST, "/admin/v1/users/alice/sessions", Some(&server.root_token), Some(json!({})));
        assert_eq!(status, StatusCode::CONFLICT, "no session for a locked user: {refused}");

        let audit = server.query_rows("SELECT action, target, details FROM audit_log WHERE action = 'user.deprovision'");
        assert_eq!(audit.len(), 1, "one entry for the deprovisioning, none for the no-op");
        assert!(audit[0]["details"].contains("left the company"));

        let metrics = server.block_on(async {
            reqwest::get(format!("{}/metrics", server.addr)).await?.text().await
        });
        let metrics = metrics.expect("GET /metrics");
        assert!(
            metrics.lines().any(|line| line.starts_with("scimctl_deprovisionings_total{trigger=\"admin\"} 1")),
            "one admin deprovisioning counted: {metrics}"
        );
        let user = root(server, Method::POST, "/admin/v1/users/alice/reactivate", Some(json!({})), StatusCode::OK);
        assert_eq!(user["active"], true);
        assert_eq!(user["locked"], false);
        assert_eq!(user["roles"], json!(["member"]), "the default role, nothing more");
        assert_eq!(user["groups"], json!([]));
        let session = root(server, Method::POST, "/admin/v1/users/alice/sessions", Some(json!({})), StatusCode::CREATED);
        assert_eq!(introspect(server, session["token"].as_str().expect("token"))["active"], true);
    }

    fn with_auto_deprovisioning_off_a_deactivated_user_is_pending(server: &TestServer) {
        root(server, Method::PATCH, "/admin/v1/settings", Some(json!({ "auto_deprovisioning": false })), StatusCode::OK);
        create_user(server, "bob", &["auditor"], &["eng"]);
        create_user(server, "carol", &[], &[]);
        let bob = root(server, Method::POST, "/admin/v1/users/bob/deactivate", None, StatusCode::OK);
        assert_eq!(bob["active"], false);
        assert_eq!(bob["deprovisioning"], "pending");
        assert_eq!(bob["roles"], json!(["auditor"]), "access stays until an operator acts");

        let pending = root(server, Method::GET, "/admin/v1/users?status=pending", None, StatusCode::OK);
        let names: Vec<&str> = pending["items"].as_array().expect("items").iter().map(|u| u["user_name"].as_str().expect("name")).collect();
        assert_eq!(names, ["bob"]);

        let done = root(server, Method::POST, "/admin/v1/users/bob/deprovision", Some(json!({})), StatusCode::OK);
        assert_eq!(done["roles"], json!(["auditor"]));
        let bob = root(server, Method::GET, "/admin/v1/users/bob", None, StatusCode::OK);
        assert_eq!(bob["deprovisioning"], "done");

        root(server, Method::PATCH, "/admin/v1/settings", Some(json!({ "auto_deprovisioning": true })), StatusCode::OK);
        let carol = root(server, Method::POST, "/admin/v1/users/carol/deactivate", None, StatusCode::OK);
        assert_eq!(carol["deprovisioning"], "done", "with it on, deactivation deprovisions at once");
        assert_eq!(carol["locked"], true);
    }

    fn users_list_filters_and_pages(server: &TestServer) {
        for i in 0..7 {
            let role: &[&str] = if i % 2 == 0 { &["auditor"] } else { &[] };
            create_user(server, &format!("user{i}"), role, &["group-a"]);
        }
        create_user(server, "Zed_Searchable", &[], &["group-b"]);

        let mut seen = Vec::new();
        let mut path = "/admin/v1/users?limit=3".to_owned();
        loop {
            let page = root(server, Method::GET, &path, None, StatusCode::OK);
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= 3);
            seen.extend(items.iter().map(|u| u["user_name"].as_str().expect("name").to_owned()));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/admin/v1/users?limit=3&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 8);
        let mut sorted = seen.clone();
        sorted.sort_by_key(|name| name.to_lowercase());
        assert_eq!(seen, sorted, "ordered by userName");

        let count = |query: &str| root(server, Method::GET, &format!("/admin/v1/users?{query}"), None, StatusCode::OK)["items"].as_array().expect("items").len();
        assert_eq!(count("role=auditor"), 4);
        assert_eq!(count("group=group-b"), 1);
        assert_eq!(count("group=GROUP-A"), 7);
        assert_eq!(count("search=zed_s"), 1);
        assert_eq!(count("search=_"), 1, "LIKE wildcards are taken literally");
        assert_eq!(count("search=EXAMPLE.COM"), 8, "search looks at emails too");
        assert_eq!(count("status=inactive"), 0);

        let (status, _, body) = server.http(Method::GET, "/admin/v1/users?status=gone", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _, body) = server.http(Method::GET, "/admin/v1/users?cursor=zz", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        let groups = root(server, Method::GET, "/admin/v1/groups", None, StatusCode::OK);
        let counts: Vec<(String, u64)> = groups["items"].as_array().expect("items").iter()
            .map(|g| (g["display_name"].as_str().expect("name").to_owned(), g["member_count"].as_u64().expect("count")))
            .collect();
        assert_eq!(counts, [("group-a".to_owned(), 7), ("group-b".to_owned(), 1)]);
        let group_b = root(server, Method::GET, "/admin/v1/groups/GROUP-B", None, StatusCode::OK);
        assert_eq!(group_b["members"][0]["user_name"], "Zed_Searchable");
    }

    fn bad_user_input_is_refused_and_changes_nothing(server: &TestServer) {
        create_user(server, "dave", &[], &[]);
        let before = server.query_rows("SELECT id FROM users").len();
        let refuse = |body: Value, expect: StatusCode, needle: &str| {
            let (status, _, answer) = server.http(Method::POST, "/admin/v1/users", Some(&server.root_token), Some(body));
            assert_eq!(status, expect, "{answer}");
            let message = answer["error"]["message"].as_str().expect("message");
            assert!(message.contains(needle), "{message:?} should mention {needle:?}");
        };
        refuse(json!({ "user_name": "DAVE" }), StatusCode::CONFLICT, "already exists");
        refuse(json!({ "user_name": "erin", "roles": ["wizard"] }), StatusCode::NOT_FOUND, "auditor");
        refuse(json!({ "user_name": "erin", "groups": ["nosuch"] }), StatusCode::NOT_FOUND, "no group nosuch");
        refuse(json!({ "user_name": "erin", "emails": ["not-an-email"] }), StatusCode::BAD_REQUEST, "not-an-email");
        refuse(json!({ "user_name": "" }), StatusCode::BAD_REQUEST, "userName");
        assert_eq!(server.query_rows("SELECT id FROM users").len(), before);
        assert!(server.query_rows("SELECT id FROM groups").is_empty());

        let (status, _, body) = server.http(Method::GET, "/admin/v1/users/nobody", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }

    fn a_personal_key_never_exceeds_its_owner(server: &TestServer) {
        create_user(server, "frank", &["auditor"], &[]);
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "frank", "scopes": ["users:read", "keys:manage"], "owner": "frank" })),
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("keys:manage"));
    }
}
