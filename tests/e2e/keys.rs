//! API keys end to end: the real CLI against the real server, on SQLite and
//! PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, both_backends};

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates a key through the API with the root key; returns (id, token).
fn create_key(server: &TestServer, scopes: &[&str], expires_at: Option<&str>) -> (String, String) {
    let mut body = json!({ "name": "test key", "scopes": scopes });
    if let Some(at) = expires_at {
        body["expires_at"] = json!(at);
    }
    let (status, _, created) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(body),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["id"].as_str().expect("id").to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

fn key_count(server: &TestServer) -> usize {
    server.query_rows("SELECT id FROM api_keys").len()
}

both_backends! {
    fn login_create_list_show_revoke_through_the_cli(server: &TestServer) {
        let login = server
            .cli()
            .args(["login", "--token-stdin"])
            .write_stdin(format!("{}\n", server.root_token))
            .output()
            .expect("run login");
        assert!(login.status.success(), "login failed: {}", stderr(&login));

        let created = server
            .cli()
            .args(["keys", "create", "--name", "ci deploy", "--scope", "users:read", "--scope", "audit:read", "--expires", "90d", "-o", "json"])
            .output()
            .expect("run keys create");
        assert!(created.status.success(), "{}", stderr(&created));
        let created = stdout_json(&created);
        let id = created["id"].as_str().expect("id").to_owned();
        let token = created["token"].as_str().expect("token").to_owned();
        assert!(token.starts_with(&format!("scimctl_{id}_")));
        assert_eq!(created["name"], "ci deploy");
        assert_eq!(created["scopes"], json!(["users:read", "audit:read"]));
        let expires = time::OffsetDateTime::parse(
            created["expires_at"].as_str().expect("expires_at"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339 expiry");
        let in_days = (expires - time::OffsetDateTime::now_utc()).whole_hours() as f64 / 24.0;
        assert!((89.9..=90.0).contains(&in_days), "expires in {in_days} days");

        let table = server.cli().args(["keys", "list"]).output().expect("run keys list");
        assert!(table.status.success(), "{}", stderr(&table));
        let table = String::from_utf8_lossy(&table.stdout);
        assert!(table.contains("ci deploy") && table.contains(&id), "{table}");
        assert!(!table.contains(&token), "a listing never shows a token");

        let listed = server.cli().args(["keys", "list", "-o", "json"]).output().expect("run keys list");
        let listed = stdout_json(&listed);
        let listed = listed.as_array().expect("a JSON array");
        assert_eq!(listed.len(), 2, "the root key and the new one: {listed:?}");
        assert!(listed.iter().any(|key| key["id"] == id.as_str()));
        assert!(listed.iter().all(|key| key.get("token").is_none()));

        let shown = server.cli().args(["keys", "show", &id, "-o", "json"]).output().expect("run keys show");
        assert!(shown.status.success(), "{}", stderr(&shown));
        let shown = stdout_json(&shown);
        assert_eq!(shown["id"], id.as_str());
        assert_eq!(shown["scopes"], json!(["users:read", "audit:read"]));
        assert_eq!(shown["expires_at"], created["expires_at"]);

        // The new key works, but only for what its scopes allow.
        let whoami = server.cli_with_token(&token).args(["whoami", "-o", "json"]).output().expect("run whoami");
        assert!(whoami.status.success(), "{}", stderr(&whoami));
        assert_eq!(stdout_json(&whoami)["key"]["id"], id.as_str());
        let denied = server.cli_with_token(&token).args(["keys", "list"]).output().expect("run keys list");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(stderr(&denied).contains("keys:manage"), "{}", stderr(&denied));
        assert!(denied.stdout.is_empty());

        let revoked = server.cli().args(["keys", "revoke", &id, "--yes"]).output().expect("run keys revoke");
        assert!(revoked.status.success(), "{}", stderr(&revoked));

        let rejected = server.cli_with_token(&token).args(["whoami"]).output().expect("run whoami");
        assert_eq!(rejected.status.code(), Some(4), "{}", stderr(&rejected));
        assert!(stderr(&rejected).contains("revoked"), "{}", stderr(&rejected));
        let (status, headers, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&token), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(headers["www-authenticate"], "Bearer");
        assert_eq!(body["error"]["code"], "unauthorized");

        let remaining = server.cli().args(["keys", "list", "-o", "json"]).output().expect("run keys list");
        assert_eq!(stdout_json(&remaining).as_array().expect("array").len(), 1);
        let all = server.cli().args(["keys", "list", "--all", "-o", "json"]).output().expect("run keys list");
        let all = stdout_json(&all);
        let gone = all.as_array().expect("array").iter().find(|key| key["id"] == id.as_str()).expect("listed with --all");
        assert!(gone["revoked_at"].is_string());
    }

    fn revoking_without_a_terminal_needs_yes(server: &TestServer) {
        let (id, token) = create_key(server, &["users:read"], None);
        let refused = server
            .cli_with_token(&server.root_token)
            .args(["keys", "revoke", &id])
            .output()
            .expect("run keys revoke");
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
        let (status, _, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&token), None);
        assert_eq!(status, StatusCode::OK, "the key still works: {body}");
    }

    fn bad_input_is_refused_with_a_clear_message_and_changes_nothing(server: &TestServer) {
        let before = key_count(server);
        let cli = || server.cli_with_token(&server.root_token);

        let unknown_scope = cli().args(["keys", "create", "--name", "x", "--scope", "users:delete"]).output().expect("run");
        assert_eq!(unknown_scope.status.code(), Some(2));
        assert!(stderr(&unknown_scope).contains("users:delete"), "{}", stderr(&unknown_scope));

        let bad_expiry = cli().args(["keys", "create", "--name", "x", "--scope", "users:read", "--expires", "9x"]).output().expect("run");
        assert_eq!(bad_expiry.status.code(), Some(2));
        assert!(stderr(&bad_expiry).contains("9x"), "{}", stderr(&bad_expiry));

        let past = cli().args(["keys", "create", "--name", "x", "--scope", "users:read", "--expires", "2001-01-01T00:00:00Z"]).output().expect("run");
        assert_eq!(past.status.code(), Some(2), "{}", stderr(&past));
        assert!(stderr(&past).contains("past"), "{}", stderr(&past));

        let unknown_id = cli().args(["keys", "show", "nosuchkey"]).output().expect("run");
        assert_eq!(unknown_id.status.code(), Some(3));
        assert!(stderr(&unknown_id).contains("nosuchkey"), "{}", stderr(&unknown_id));
        let unknown_revoke = cli().args(["keys", "revoke", "nosuchkey", "--yes"]).output().expect("run");
        assert_eq!(unknown_revoke.status.code(), Some(3));

        // The API names an unknown scope too, for clients other than the CLI.
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "x", "scopes": ["users:read", "users:delete"] })),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"]["message"].as_str().expect("message").contains("users:delete"), "{body}");

        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "x", "scopes": ["users:read"], "colour": "red" })),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["error"]["message"].as_str().expect("message").contains("colour"), "{body}");

        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "x", "scopes": [] })),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        assert_eq!(key_count(server), before, "nothing was created");
    }

    fn a_key_cannot_grant_scopes_it_lacks(server: &TestServer) {
        let (_, manager) = create_key(server, &["keys:manage"], None);
        let before = key_count(server);
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&manager),
            Some(json!({ "name": "escalate", "scopes": ["keys:manage", "settings:manage"] })),
        );
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body["error"]["message"].as_str().expect("message").contains("settings:manage"), "{body}");
        assert_eq!(key_count(server), before);
    }

    fn an_expired_key_gets_401(server: &TestServer) {
        let in_an_hour = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        let in_an_hour = in_an_hour.format(&time::format_description::well_known::Rfc3339).expect("format");
        let (id, token) = create_key(server, &["users:read"], Some(&in_an_hour));
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&token), None);
        assert_eq!(status, StatusCode::OK);
        // Its expiry passes: moved to a second ago in the database, rather
        // than waited for.
        let past = (time::OffsetDateTime::now_utc() - time::Duration::seconds(1)).unix_timestamp() * 1000;
        server.execute(&format!("UPDATE api_keys SET expires_at = {past} WHERE id = '{id}'"));
        let expired = server.cli_with_token(&token).args(["whoami"]).output().expect("run whoami");
        assert_eq!(expired.status.code(), Some(4));
        assert!(stderr(&expired).contains("expired"), "{}", stderr(&expired));
    }

    fn the_database_holds_no_usable_secret(server: &TestServer) {
        let (id, token) = create_key(server, &["users:read"], None);
        let secret = token.rsplit('_').next().expect("secret part").to_owned();
        let rows = server.query_rows("SELECT * FROM api_keys");
        assert_eq!(rows.len(), 2);
        for row in &rows {
            for (column, value) in row {
                assert!(!value.contains(&secret), "column {column} holds the secret");
                assert!(!value.contains(&server.root_token[server.root_token.len() - 40..]), "column {column} holds the root secret");
            }
        }
        let row = rows.iter().find(|row| row["id"] == id).expect("the new key's row");
        assert_eq!(row["secret_hash"].len(), 64, "a SHA-256 in hex");
    }

    fn key_changes_and_denials_are_audited(server: &TestServer) {
        let (id, token) = create_key(server, &["users:read"], None);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/keys", Some(&token), None);
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some("scimctl_nope"), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _, _) = server.http(Method::DELETE, &format!("/admin/v1/keys/{id}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK);

        let entries = server.query_rows(
            "SELECT action, target, outcome, actor_name, source_ip, request_id, details FROM audit_log ORDER BY id",
        );
        let actions: Vec<(&str, &str)> = entries.iter().map(|e| (e["action"].as_str(), e["outcome"].as_str())).collect();
        assert_eq!(
            actions,
            [
                ("key.create", "success"), // the initial key
                ("key.create", "success"),
                ("auth.denied", "denied"),
                ("auth.denied", "denied"),
                ("key.revoke", "success"),
            ]
        );
        assert_eq!(entries[1]["target"], id);
        assert_eq!(entries[1]["actor_name"], "initial admin");
        assert!(entries[2]["details"].contains("keys:manage"), "{:?}", entries[2]);
        for entry in &entries[1..] {
            assert_eq!(entry["source_ip"], "127.0.0.1");
            assert!(!entry["request_id"].is_empty());
        }
    }

    fn bodies_that_cannot_be_used_get_clear_errors(server: &TestServer) {
        let (status, headers, body) = server.http_raw(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            "{\"name\": \"x\", \"scopes\": [",
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(headers.contains_key("x-request-id"));
        assert!(body["error"]["message"].as_str().expect("message").contains("line 1"), "{body}");

        let huge = format!("{{\"name\": \"{}\", \"scopes\": [\"users:read\"]}}", "x".repeat(2 * 1024 * 1024));
        let (status, _, body) = server.http_raw(Method::POST, "/admin/v1/keys", Some(&server.root_token), &huge);
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
}

#[test]
fn no_server_listening_names_the_address_and_exits_1() {
    let addr = crate::support::free_port_addr();
    let output = crate::support::bare_cli()
        .args(["--addr", &addr, "whoami"])
        .env(
            "SCIMCTL_TOKEN",
            "scimctl_0123456789abcdef_0123456789012345678901234567890123456789",
        )
        .output()
        .expect("run whoami");
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains(&addr), "{message}");
    assert!(message.contains("scimctl server --dev"), "{message}");
}
