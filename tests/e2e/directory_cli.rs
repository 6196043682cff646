//! The directory through the real CLI against the real server, on SQLite and
//! PostgreSQL: the whole offboarding story (create, session, personal key,
//! verify, deprovision, introspect, reactivate), paged listings, and bad
//! input that changes nothing.

use std::process::Output;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli_output::{root, stderr, stdout, stdout_json};
use crate::support::{TestServer, both_backends};

/// `scimctl introspect -` with the token on stdin (as a script would, to
/// keep it out of `ps`), as root; returns (exit code, introspection).
fn introspect(server: &TestServer, token: &str) -> (i32, Value) {
    let output = server
        .cli_as_root()
        .args(["introspect", "-", "-o", "json"])
        .write_stdin(format!("{token}\n"))
        .output()
        .expect("run scimctl introspect");
    let code = output.status.code().expect("exit code");
    (code, stdout_json(&output))
}

fn user_via_api(server: &TestServer, user: &str) -> Value {
    let (status, _, body) = server.http(
        Method::GET,
        &format!("/admin/v1/users/{user}"),
        Some(&server.root_token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn failing_checks(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|check| check["passed"] == false)
        .map(|check| check["name"].as_str().expect("name").to_owned())
        .collect()
}

fn count_rows(server: &TestServer, table: &str) -> usize {
    server
        .query_rows(&format!("SELECT COUNT(*) AS n FROM {table}"))
        .first()
        .and_then(|row| row["n"].parse().ok())
        .expect("a count")
}

both_backends! {
    fn the_offboarding_story(server: &TestServer) {
        // Onboarding: a user with a role and a group, a session, a personal key.
        let created = root(server, &[
            "users", "create", "alice", "--email", "alice@example.com", "--display-name",
            "Alice Example", "--role", "admin", "--group", "eng", "--create-groups", "-o", "json",
        ], 0);
        let created = stdout_json(&created);
        assert_eq!(created["user_name"], "alice");
        assert_eq!(created["roles"], json!(["admin"]));
        assert_eq!(created["groups"][0]["display_name"], "eng");
        assert_eq!(created["active"], true);
        assert_eq!(created["origin"], "manual");

        // Table mode prints the token alone on stdout, for $(…).
        let issued = root(server, &["sessions", "issue", "alice", "--ttl", "1h"], 0);
        let session_token = stdout(&issued).trim_end().to_owned();
        assert_eq!(stdout(&issued).lines().count(), 1, "{}", stdout(&issued));
        assert!(!session_token.is_empty() && !session_token.contains(' '));
        assert!(stderr(&issued).contains("expires"), "{}", stderr(&issued));

        let key = root(server, &[
            "keys", "create", "--name", "alice laptop", "--scope", "users:read", "--owner",
            "alice", "-o", "json",
        ], 0);
        let key = stdout_json(&key);
        let key_id = key["id"].as_str().expect("id").to_owned();
        let key_token = key["token"].as_str().expect("token").to_owned();
        assert_eq!(key["owner"]["user_name"], "alice");
        let keys_table = stdout(&root(server, &["keys", "list"], 0));
        assert!(keys_table.lines().next().expect("header").contains("OWNER"), "{keys_table}");

        let (code, live) = introspect(server, &session_token);
        assert_eq!(code, 0, "{live}");
        assert_eq!(live["active"], true);
        assert_eq!(live["kind"], "session");
        assert_eq!(live["user"]["user_name"], "alice");
        assert_eq!(live["roles"], json!(["admin"]));
        assert_eq!(live["groups"], json!(["eng"]));
        let (code, live) = introspect(server, &key_token);
        assert_eq!(code, 0, "{live}");
        assert_eq!(live["kind"], "api_key");
        // The token may also be an argument.
        root(server, &["introspect", &key_token], 0);

        // Everything still held shows as failing checks, and exit 5.
        let verify = root(server, &["users", "verify", "alice", "-o", "json"], 5);
        let report = stdout_json(&verify);
        assert_eq!(report["deprovisioned"], false);
        let failing = failing_checks(&report);
        for check in ["inactive", "no_roles", "no_groups", "no_personal_keys", "no_live_sessions", "lock_present"] {
            assert!(failing.iter().any(|name| name == check), "{check} should fail: {report}");
        }
        let checklist = root(server, &["users", "verify", "alice"], 5);
        assert!(stdout(&checklist).lines().all(|line| line.starts_with("FAIL")), "{}", stdout(&checklist));
        assert!(stderr(&checklist).contains("not fully deprovisioned"), "{}", stderr(&checklist));

        // No terminal, no --yes: refused before anything is sent.
        let refused = root(server, &["users", "deprovision", "alice", "--reason", "left"], 2);
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
        assert!(refused.stdout.is_empty());
        let unchanged = user_via_api(server, "alice");
        assert_eq!(unchanged["active"], true);
        assert_eq!(unchanged["roles"], json!(["admin"]));
        assert_eq!(introspect(server, &session_token).0, 0, "the session still works");

        // A dry run says what would go and changes nothing.
        let dry = stdout_json(&root(server, &["users", "deprovision", "alice", "--dry-run", "-o", "json"], 0));
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["already_deprovisioned"], false);
        assert_eq!(dry["roles"], json!(["admin"]));
        assert_eq!(dry["groups"][0]["display_name"], "eng");
        assert_eq!(dry["personal_keys"], json!([key_id]));
        assert_eq!(dry["sessions"].as_array().expect("sessions").len(), 1);
        assert_eq!(user_via_api(server, "alice")["active"], true);
        assert_eq!(introspect(server, &key_token).0, 0, "the key still works");

        let done = root(server, &["users", "deprovision", "alice", "--reason", "left", "--yes", "-o", "json"], 0);
        let report = stdout_json(&done);
        assert_eq!(report["dry_run"], false);
        assert_eq!(report["was_active"], true);
        assert_eq!(report["roles"], json!(["admin"]));
        assert_eq!(report["personal_keys"], json!([key_id]));
        assert!(report["lock"].is_string(), "{report}");
        assert!(stderr(&done).contains("Deprovisioned alice"), "{}", stderr(&done));

        // Dead at once: the old session and the personal key.
        let (code, dead) = introspect(server, &session_token);
        assert_eq!(code, 5, "{dead}");
        assert_eq!(dead["active"], false);
        let (code, dead) = introspect(server, &key_token);
        assert_eq!(code, 5, "{dead}");
        assert_eq!(dead["active"], false);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/users/alice", Some(&key_token), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let verified = root(server, &["users", "verify", "alice", "-o", "json"], 0);
        let verified = stdout_json(&verified);
        assert_eq!(verified["deprovisioned"], true, "{verified}");
        assert!(failing_checks(&verified).is_empty(), "{verified}");
        let checklist = root(server, &["users", "verify", "alice"], 0);
        assert!(stdout(&checklist).lines().all(|line| line.starts_with("PASS")), "{}", stdout(&checklist));

        // Again: a no-op that says so.
        let again = root(server, &["users", "deprovision", "alice", "--yes", "-o", "json"], 0);
        assert_eq!(stdout_json(&again)["already_deprovisioned"], true);
        assert!(stderr(&again).contains("already deprovisioned"), "{}", stderr(&again));

        let locks = stdout_json(&root(server, &["locks", "list", "-o", "json"], 0));
        let locks = locks.as_array().expect("array");
        assert_eq!(locks.len(), 1, "{locks:?}");
        assert_eq!(locks[0]["user"]["user_name"], "alice");
        assert_eq!(locks[0]["id"], report["lock"]);

        let pending = stdout_json(&root(server, &["users", "list", "--inactive", "-o", "json"], 0));
        assert_eq!(pending.as_array().expect("array").len(), 1);
        assert_eq!(pending[0]["deprovisioning"], "done");

        // A locked user gets no new session.
        let no_session = root_any(server, &["sessions", "issue", "alice"]);
        assert!(!no_session.status.success(), "{}", stdout(&no_session));
        assert!(no_session.stdout.is_empty());

        // Reactivation is confirmed too, then lifts the lock.
        let refused = root(server, &["users", "reactivate", "alice"], 2);
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
        assert_eq!(count_rows(server, "locks"), 1);
        let back = stdout_json(&root(server, &["users", "reactivate", "alice", "--reason", "rehired", "--yes", "-o", "json"], 0));
        assert_eq!(back["active"], true);
        assert_eq!(back["locked"], false);
        assert_eq!(back["roles"], json!(["member"]), "the default role");
        let locks = stdout_json(&root(server, &["locks", "list", "-o", "json"], 0));
        assert_eq!(locks, json!([]));
        assert!(stderr(&root(server, &["locks", "list"], 0)).contains("No locks"));

        let fresh = stdout_json(&root(server, &["sessions", "issue", "alice", "-o", "json"], 0));
        let (code, live) = introspect(server, fresh["token"].as_str().expect("token"));
        assert_eq!(code, 0, "{live}");
        assert_eq!(live["roles"], json!(["member"]));
        assert_eq!(introspect(server, &session_token).0, 5, "the old session stays dead");

        // The audit log tells the whole story, each step with its actor and
        // the address it came from.
        let entries = stdout_json(&root(server, &["audit", "list", "--target", "alice", "-o", "json"], 0));
        let mut actions: Vec<&str> = entries
            .as_array()
            .expect("array")
            .iter()
            .map(|entry| entry["action"].as_str().expect("action"))
            .collect();
        actions.reverse(); // newest first on the wire
        for step in ["user.create", "session.issue", "user.deprovision", "user.reactivate"] {
            assert!(actions.contains(&step), "{step} missing from {actions:?}");
        }
        let position = |step: &str| actions.iter().position(|a| *a == step).expect("present");
        assert!(position("user.create") < position("user.deprovision"));
        assert!(position("user.deprovision") < position("user.reactivate"));
        for entry in entries.as_array().expect("array") {
            assert_eq!(entry["source_ip"], "127.0.0.1", "{entry}");
            assert_eq!(entry["actor"]["name"], "initial admin", "{entry}");
        }
        let key_created = stdout_json(&root(server, &["audit", "list", "--action", "key.create", "-o", "json"], 0));
        assert!(
            key_created.as_array().expect("array").iter().any(|entry| entry["details"]["owner"] == "alice"),
            "the personal key's creation names its owner: {key_created}"
        );
    }

    fn listings_page_through_everything(server: &TestServer) {
        let names: Vec<String> = (0..7).map(|n| format!("user{n:02}")).collect();
        // Created out of order: the listing sorts by userName.
        for name in names.iter().rev() {
            let group = if name.ends_with('1') { "odd" } else { "even" };
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/users",
                Some(&server.root_token),
                Some(json!({ "user_name": name, "groups": [group], "create_groups": true })),
            );
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }

        let listed = root(server, &["users", "list", "--page-size", "2", "-o", "json"], 0);
        let listed = stdout_json(&listed);
        let listed: Vec<&str> = listed
            .as_array()
            .expect("one JSON array")
            .iter()
            .map(|user| user["user_name"].as_str().expect("user_name"))
            .collect();
        assert_eq!(listed, names, "every user, in order, across 4 pages");

        let table = root(server, &["users", "list", "--page-size", "3"], 0);
        let table = stdout(&table);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 8, "a header and 7 rows:\n{table}");
        assert!(lines[0].starts_with("USERNAME"), "{table}");
        let active_column = lines[0].find("ACTIVE").expect("ACTIVE column");
        for line in &lines[1..] {
            assert_eq!(line.get(active_column..active_column + 3), Some("yes"), "aligned across pages:\n{table}");
        }

        let found = stdout_json(&root(server, &["users", "list", "--search", "USER03", "-o", "json"], 0));
        assert_eq!(found.as_array().expect("array").len(), 1, "{found}");
        let odd = stdout_json(&root(server, &["users", "list", "--group", "odd", "--page-size", "1", "-o", "json"], 0));
        assert_eq!(odd.as_array().expect("array").len(), 1, "{odd}");
        assert_eq!(odd[0]["user_name"], "user01");
        let none = root(server, &["users", "list", "--pending", "-o", "json"], 0);
        assert_eq!(stdout_json(&none), json!([]));
        let none = root(server, &["users", "list", "--pending"], 0);
        assert!(none.stdout.is_empty());
        assert!(stderr(&none).contains("No users match"), "{}", stderr(&none));

        let groups = stdout_json(&root(server, &["groups", "list", "--page-size", "1", "-o", "json"], 0));
        let groups = groups.as_array().expect("array");
        assert_eq!(groups.len(), 2, "{groups:?}");
        assert_eq!(groups[0]["display_name"], "even");
        assert_eq!(groups[0]["member_count"], 6);
        let odd = stdout_json(&root(server, &["groups", "show", "odd", "-o", "json"], 0));
        assert_eq!(odd["members"][0]["user_name"], "user01");
        let shown = stdout(&root(server, &["groups", "show", "odd"], 0));
        assert!(shown.contains("user01"), "{shown}");
    }

    fn bad_input_changes_nothing(server: &TestServer) {
        root(server, &["users", "create", "bob", "--role", "auditor"], 0);
        let users = count_rows(server, "users");

        let bad_email = root(server, &["users", "create", "carol", "--email", "carol"], 2);
        assert!(stderr(&bad_email).contains("alice@example.com"), "{}", stderr(&bad_email));
        let duplicate = root_any(server, &["users", "create", "BOB"]);
        assert_eq!(duplicate.status.code(), Some(1), "userName is unique ignoring case: {}", stderr(&duplicate));
        let unknown_role = root_any(server, &["users", "create", "dave", "--role", "no-such-role"]);
        assert_eq!(unknown_role.status.code(), Some(3), "{}", stderr(&unknown_role));
        assert!(stderr(&unknown_role).contains("no-such-role"), "{}", stderr(&unknown_role));
        assert_eq!(count_rows(server, "users"), users, "nothing was created");

        let missing = root(server, &["users", "show", "nosuchuser"], 3);
        assert!(stderr(&missing).contains("nosuchuser"), "{}", stderr(&missing));
        root(server, &["users", "verify", "nosuchuser"], 3);
        root(server, &["users", "deprovision", "nosuchuser", "--yes"], 3);
        root(server, &["users", "deprovision", "nosuchuser", "--dry-run"], 3);
        root(server, &["groups", "show", "nosuchgroup"], 3);
        root(server, &["locks", "remove", "nosuchlock", "--yes"], 3);
        let refused = root(server, &["locks", "remove", "nosuchlock"], 2);
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));

        let bad_ttl = root(server, &["sessions", "issue", "bob", "--ttl", "5s"], 2);
        assert!(stderr(&bad_ttl).contains("1m to 30d"), "{}", stderr(&bad_ttl));
        assert_eq!(count_rows(server, "sessions"), 0);

        let empty_stdin = root(server, &["introspect", "-"], 2);
        assert!(stderr(&empty_stdin).contains("stdin"), "{}", stderr(&empty_stdin));
        let unknown = root(server, &["introspect", "scimctl_nope_nope", "-o", "json"], 5);
        assert_eq!(stdout_json(&unknown)["active"], false);

        // A key without the scopes is refused (exit 4), nothing changes.
        let (status, _, weak) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "reader", "scopes": ["users:read"] })),
        );
        assert_eq!(status, StatusCode::CREATED, "{weak}");
        let weak = weak["token"].as_str().expect("token");
        let denied = server
            .cli_with_token(weak)
            .args(["users", "deprovision", "bob", "--yes"])
            .output()
            .expect("run");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(stderr(&denied).contains("users:deprovision"), "{}", stderr(&denied));
        assert_eq!(user_via_api(server, "bob")["active"], true);
        let denied = server.cli_with_token(weak).args(["introspect", weak]).output().expect("run");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
    }
}

/// Runs the CLI as root whatever the exit code.
fn root_any(server: &TestServer, args: &[&str]) -> Output {
    server
        .cli_as_root()
        .args(args)
        .output()
        .expect("run scimctl")
}
