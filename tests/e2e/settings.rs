//! Settings (provisioning toggles, default role) and roles end to end: the
//! real CLI against the real server, on SQLite and PostgreSQL, with the
//! audit log and the settings row read straight from the database.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{DbRow, TestServer, both_backends};

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the CLI as root with `args`.
fn root(server: &TestServer, args: &[&str]) -> std::process::Output {
    server
        .cli_as_root()
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("run scimctl {args:?}: {err}"))
}

/// Runs the CLI as root and expects success.
fn root_ok(server: &TestServer, args: &[&str]) -> std::process::Output {
    let output = root(server, args);
    assert!(
        output.status.success(),
        "scimctl {args:?} failed ({:?}): {}",
        output.status.code(),
        stderr(&output)
    );
    output
}

/// The settings row as (auto_provisioning, auto_deprovisioning, default_role),
/// read from the database. Booleans are compared through CAST(… AS INTEGER)
/// so both backends render them alike.
fn settings_row(server: &TestServer) -> (bool, bool, String) {
    let rows = server.query_rows(
        "SELECT CAST(CASE WHEN auto_provisioning THEN 1 ELSE 0 END AS INTEGER) AS prov, \
         CAST(CASE WHEN auto_deprovisioning THEN 1 ELSE 0 END AS INTEGER) AS deprov, \
         default_role FROM settings",
    );
    assert_eq!(rows.len(), 1, "one settings row: {rows:?}");
    let row = &rows[0];
    (
        row["prov"] == "1",
        row["deprov"] == "1",
        row["default_role"].clone(),
    )
}

/// Audit entries with `action`, oldest first.
fn audit(server: &TestServer, action: &str) -> Vec<DbRow> {
    server
        .query_rows(
            "SELECT action, target, outcome, actor_name, source_ip, request_id, details \
             FROM audit_log ORDER BY id",
        )
        .into_iter()
        .filter(|row| row["action"] == action)
        .collect()
}

fn details(row: &DbRow) -> Value {
    serde_json::from_str(&row["details"])
        .unwrap_or_else(|err| panic!("details not JSON ({err}): {row:?}"))
}

fn role_names(server: &TestServer) -> Vec<String> {
    server
        .query_rows("SELECT name FROM roles ORDER BY name")
        .into_iter()
        .map(|row| row["name"].clone())
        .collect()
}

/// Creates a key with `scopes` through the API; returns its token.
fn key_with(server: &TestServer, scopes: &[&str]) -> String {
    let (status, _, created) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": "limited", "scopes": scopes })),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["token"].as_str().expect("token").to_owned()
}

both_backends! {
    fn provisioning_toggles_round_trip_through_the_cli(server: &TestServer) {
        assert_eq!(settings_row(server), (true, true, "member".to_owned()), "the migration's defaults");

        let status = root_ok(server, &["provisioning", "status"]);
        assert_eq!(
            stdout(&status),
            "auto-provisioning: on — users the IdP pushes are created, with the default role (member)\n\
             circuit breaker: closed — opens when SCIM deprovisions more than 25 users, or 10% of active users if more, within 10m\n"
        );
        let status = stdout_json(&root_ok(server, &["provisioning", "status", "-o", "json"]));
        assert_eq!(status, json!({
            "auto_provisioning": true, "auto_deprovisioning": true, "default_role": "member",
            "breaker_threshold": 25, "breaker_percent": 10, "breaker_window_seconds": 600, "breaker": "closed",
        }));

        let disabled = root_ok(server, &["provisioning", "disable", "-o", "json"]);
        assert_eq!(stdout_json(&disabled)["auto_provisioning"], false);
        assert!(stderr(&disabled).contains("Auto-provisioning disabled"), "{}", stderr(&disabled));
        assert_eq!(settings_row(server), (false, true, "member".to_owned()));
        let status = root_ok(server, &["provisioning", "status"]);
        assert!(stdout(&status).starts_with("auto-provisioning: off — the IdP cannot create users"), "{}", stdout(&status));

        // Again: nothing changes and nothing is audited.
        let again = root_ok(server, &["provisioning", "disable"]);
        assert!(stderr(&again).contains("already off"), "{}", stderr(&again));

        let enabled = root_ok(server, &["provisioning", "enable", "-o", "json"]);
        assert_eq!(stdout_json(&enabled)["auto_provisioning"], true);
        assert_eq!(settings_row(server), (true, true, "member".to_owned()));

        let status = root_ok(server, &["deprovisioning", "status"]);
        assert_eq!(
            stdout(&status),
            "auto-deprovisioning: on — users deactivated by the IdP lose access at once\n"
        );
        let disabled = root_ok(server, &["deprovisioning", "disable", "-o", "json"]);
        assert_eq!(stdout_json(&disabled)["auto_deprovisioning"], false);
        assert_eq!(settings_row(server), (true, false, "member".to_owned()));
        let status = root_ok(server, &["deprovisioning", "status"]);
        assert!(stdout(&status).starts_with("auto-deprovisioning: off — users deactivated by the IdP keep access until `scimctl users deprovision`"), "{}", stdout(&status));
        let status = stdout_json(&root_ok(server, &["deprovisioning", "status", "-o", "json"]));
        assert_eq!(status["auto_deprovisioning"], false);
        let enabled = root_ok(server, &["deprovisioning", "enable"]);
        assert!(stdout(&enabled).starts_with("auto-deprovisioning: on"), "{}", stdout(&enabled));
        assert_eq!(settings_row(server), (true, true, "member".to_owned()));

        let entries = audit(server, "settings.update");
        let changes: Vec<Value> = entries.iter().map(details).collect();
        assert_eq!(
            changes,
            [
                json!({ "auto_provisioning": { "old": true, "new": false } }),
                json!({ "auto_provisioning": { "old": false, "new": true } }),
                json!({ "auto_deprovisioning": { "old": true, "new": false } }),
                json!({ "auto_deprovisioning": { "old": false, "new": true } }),
            ]
        );
        for entry in &entries {
            assert_eq!(entry["target"], "settings");
            assert_eq!(entry["outcome"], "success");
            assert_eq!(entry["actor_name"], "initial admin");
            assert_eq!(entry["source_ip"], "127.0.0.1");
            assert!(!entry["request_id"].is_empty());
        }
    }

    fn default_role_show_set_and_an_unknown_role(server: &TestServer) {
        let shown = root_ok(server, &["default-role", "show"]);
        assert_eq!(stdout(&shown), "default role: member — given to every newly provisioned user\n");
        assert_eq!(stdout_json(&root_ok(server, &["default-role", "show", "-o", "json"]))["default_role"], "member");

        let unknown = root(server, &["default-role", "set", "nope"]);
        assert_eq!(unknown.status.code(), Some(3), "{}", stderr(&unknown));
        let message = stderr(&unknown);
        assert!(message.contains("error: no role nope;"), "{message}");
        assert!(message.contains("admin, auditor, member, provisioner"), "lists the roles: {message}");
        assert!(unknown.stdout.is_empty());
        assert_eq!(settings_row(server).2, "member", "nothing changed");
        assert!(audit(server, "settings.update").is_empty(), "nothing audited");

        let set = root_ok(server, &["default-role", "set", "auditor", "-o", "json"]);
        assert_eq!(stdout_json(&set)["default_role"], "auditor");
        assert!(stderr(&set).contains("existing users keep theirs"), "{}", stderr(&set));
        assert_eq!(settings_row(server).2, "auditor");
        let shown = root_ok(server, &["default-role", "show"]);
        assert!(stdout(&shown).starts_with("default role: auditor"), "{}", stdout(&shown));
        let provisioning = root_ok(server, &["provisioning", "status"]);
        assert!(stdout(&provisioning).contains("default role (auditor)"), "{}", stdout(&provisioning));

        let same = root_ok(server, &["default-role", "set", "auditor"]);
        assert!(stderr(&same).contains("already the default role"), "{}", stderr(&same));

        let listed = stdout_json(&root_ok(server, &["roles", "list", "-o", "json"]));
        let defaults: Vec<&Value> = listed.as_array().expect("array").iter().filter(|r| r["default"] == true).collect();
        assert_eq!(defaults.len(), 1);
        assert_eq!(defaults[0]["name"], "auditor");

        let entries = audit(server, "settings.update");
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(details(&entries[0]), json!({ "default_role": { "old": "member", "new": "auditor" } }));
    }

    fn the_settings_api_refuses_bad_bodies_and_changes_nothing(server: &TestServer) {
        let root_token = Some(server.root_token.as_str());
        let (status, _, body) = server.http(Method::GET, "/admin/v1/settings", root_token, None);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({
            "auto_provisioning": true, "auto_deprovisioning": true, "default_role": "member",
            "breaker_threshold": 25, "breaker_percent": 10, "breaker_window_seconds": 600, "breaker": "closed",
        }));

        let refused = [
            (json!({ "auto_provisioning": false, "colour": "red" }), "colour", StatusCode::BAD_REQUEST, "bad_request"),
            (json!({ "auto_provisioning": "nope" }), "auto_provisioning", StatusCode::BAD_REQUEST, "bad_request"),
            // An unknown name is a not-found, as everywhere (DESIGN: exit 3).
            (json!({ "auto_deprovisioning": false, "default_role": "ghost" }), "admin, auditor, member, provisioner", StatusCode::NOT_FOUND, "not_found"),
            // The breaker's thresholds, with the range that would do.
            (json!({ "auto_provisioning": false, "breaker_threshold": 0 }), "use 1 or more", StatusCode::BAD_REQUEST, "bad_request"),
            (json!({ "breaker_percent": 101 }), "use 1 to 100", StatusCode::BAD_REQUEST, "bad_request"),
            (json!({ "breaker_window_seconds": 86401 }), "use 60 (a minute) to 86400 (a day)", StatusCode::BAD_REQUEST, "bad_request"),
            // Its state is read-only.
            (json!({ "breaker": "closed" }), "breaker", StatusCode::BAD_REQUEST, "bad_request"),
        ];
        for (patch, says, expect, code) in refused {
            let (status, _, body) = server.http(Method::PATCH, "/admin/v1/settings", root_token, Some(patch.clone()));
            assert_eq!(status, expect, "{patch}: {body}");
            assert_eq!(body["error"]["code"], code);
            let message = body["error"]["message"].as_str().expect("message");
            assert!(message.contains(says), "{patch}: {message}");
        }
        assert_eq!(settings_row(server), (true, true, "member".to_owned()), "nothing changed");

        // All three at once, in one audited change.
        let (status, _, body) = server.http(
            Method::PATCH,
            "/admin/v1/settings",
            root_token,
            Some(json!({ "auto_provisioning": false, "auto_deprovisioning": false, "default_role": "provisioner" })),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({
            "auto_provisioning": false, "auto_deprovisioning": false, "default_role": "provisioner",
            "breaker_threshold": 25, "breaker_percent": 10, "breaker_window_seconds": 600, "breaker": "closed",
        }));
        assert_eq!(settings_row(server), (false, false, "provisioner".to_owned()));
        // An empty patch changes nothing and answers the settings.
        let (status, _, body) = server.http(Method::PATCH, "/admin/v1/settings", root_token, Some(json!({})));
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["default_role"], "provisioner");
        let entries = audit(server, "settings.update");
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(
            details(&entries[0]),
            json!({
                "auto_provisioning": { "old": true, "new": false },
                "auto_deprovisioning": { "old": true, "new": false },
                "default_role": { "old": "member", "new": "provisioner" },
            })
        );
        // The breaker's thresholds are audited the same way.
        let (status, _, body) = server.http(Method::PATCH, "/admin/v1/settings", root_token, Some(json!({ "breaker_threshold": 40, "breaker_window_seconds": 1800 })));
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!((&body["breaker_threshold"], &body["breaker_percent"], &body["breaker_window_seconds"]), (&json!(40), &json!(10), &json!(1800)));
        let entries = audit(server, "settings.update");
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(
            details(&entries[1]),
            json!({
                "breaker_threshold": { "old": 25, "new": 40 },
                "breaker_window_seconds": { "old": 600, "new": 1800 },
            })
        );

        // Without settings:manage, neither reading nor changing.
        let reader = key_with(server, &["users:read", "roles:manage"]);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/settings", Some(&reader), None);
        assert_eq!(status, StatusCode::FORBIDDEN);
        let denied = server.cli_with_token(&reader).args(["provisioning", "enable"]).output().expect("run");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(stderr(&denied).contains("settings:manage"), "{}", stderr(&denied));
        assert_eq!(settings_row(server), (false, false, "provisioner".to_owned()));
    }

    fn roles_create_list_and_delete(server: &TestServer) {
        let listed = stdout_json(&root_ok(server, &["roles", "list", "-o", "json"]));
        assert_eq!(
            listed,
            json!([
                { "name": "admin", "permissions": [
                    "scim:provision", "users:read", "users:write", "users:deprovision", "groups:read",
                    "keys:manage", "settings:manage", "allowlist:manage", "roles:manage", "audit:read",
                    "sessions:issue", "sessions:introspect"
                ], "builtin": true, "default": false, "user_count": 0 },
                { "name": "auditor", "permissions": ["users:read", "groups:read", "audit:read"], "builtin": true, "default": false, "user_count": 0 },
                { "name": "member", "permissions": [], "builtin": true, "default": true, "user_count": 0 },
                { "name": "provisioner", "permissions": ["scim:provision"], "builtin": true, "default": false, "user_count": 0 },
            ])
        );

        let created = root_ok(server, &["roles", "create", "help-desk", "--permission", "audit:read,users:read", "--permission", "audit:read", "-o", "json"]);
        assert_eq!(
            stdout_json(&created),
            json!({ "name": "help-desk", "permissions": ["users:read", "audit:read"], "builtin": false, "default": false, "user_count": 0 })
        );
        assert_eq!(role_names(server), ["admin", "auditor", "help-desk", "member", "provisioner"]);

        let table = stdout(&root_ok(server, &["roles", "list"]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["NAME", "BUILT-IN", "DEFAULT", "USERS", "PERMISSIONS"], "{table}");
        assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["help-desk", "no", "no", "0", "users:read,", "audit:read"]), "{table}");
        assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["admin", "yes", "no", "0", "all"]), "{table}");
        assert!(lines.iter().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["member", "yes", "yes", "0", "-"]), "{table}");

        let duplicate = root(server, &["roles", "create", "help-desk", "--permission", "users:read"]);
        assert_eq!(duplicate.status.code(), Some(1), "{}", stderr(&duplicate));
        assert!(stderr(&duplicate).contains("a role named help-desk already exists"), "{}", stderr(&duplicate));
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/roles",
            Some(&server.root_token),
            Some(json!({ "name": "help-desk", "permissions": ["users:read"] })),
        );
        assert_eq!(status, StatusCode::CONFLICT, "{body}");

        let deleted = root_ok(server, &["roles", "delete", "help-desk", "--yes", "-o", "json"]);
        assert_eq!(stdout_json(&deleted)["name"], "help-desk");
        assert!(stderr(&deleted).contains("Deleted role help-desk"), "{}", stderr(&deleted));
        assert_eq!(role_names(server), ["admin", "auditor", "member", "provisioner"]);

        let unknown = root(server, &["roles", "delete", "help-desk", "--yes"]);
        assert_eq!(unknown.status.code(), Some(3), "{}", stderr(&unknown));
        assert!(stderr(&unknown).contains("error: no role help-desk;"), "{}", stderr(&unknown));

        let created = audit(server, "role.create");
        assert_eq!(created.len(), 1, "{created:?}");
        assert_eq!(created[0]["target"], "help-desk");
        assert_eq!(details(&created[0]), json!({ "permissions": ["users:read", "audit:read"] }));
        assert_eq!(created[0]["source_ip"], "127.0.0.1");
        let deleted = audit(server, "role.delete");
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        assert_eq!(deleted[0]["target"], "help-desk");
        assert_eq!(deleted[0]["actor_name"], "initial admin");
    }

    fn bad_role_definitions_are_refused_and_change_nothing(server: &TestServer) {
        let before = role_names(server);

        let bad_name = root(server, &["roles", "create", "Help Desk", "--permission", "users:read"]);
        assert_eq!(bad_name.status.code(), Some(2), "{}", stderr(&bad_name));
        assert!(stderr(&bad_name).contains("lowercase letters"), "{}", stderr(&bad_name));
        let unknown_permission = root(server, &["roles", "create", "ops", "--permission", "users:delete"]);
        assert_eq!(unknown_permission.status.code(), Some(2));
        assert!(stderr(&unknown_permission).contains("users:delete"), "{}", stderr(&unknown_permission));
        let no_permission = root(server, &["roles", "create", "ops"]);
        assert_eq!(no_permission.status.code(), Some(2));
        assert!(stderr(&no_permission).contains("--permission"), "{}", stderr(&no_permission));

        let refused = [
            (json!({ "name": "Ops", "permissions": ["users:read"] }), "'O'"),
            (json!({ "name": "x".repeat(65), "permissions": ["users:read"] }), "65 characters"),
            (json!({ "name": "", "permissions": ["users:read"] }), "required"),
            (json!({ "name": "ops", "permissions": [] }), "at least one permission"),
            (json!({ "name": "ops", "permissions": ["users:delete"] }), "users:delete"),
            (json!({ "name": "ops", "permissions": ["users:read"], "builtin": true }), "builtin"),
        ];
        for (body, says) in refused {
            let (status, _, answer) = server.http(Method::POST, "/admin/v1/roles", Some(&server.root_token), Some(body.clone()));
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let message = answer["error"]["message"].as_str().expect("message");
            assert!(message.contains(says), "{body}: {message}");
        }

        // A key may only put into a role what it holds itself.
        let manager = key_with(server, &["roles:manage", "users:read"]);
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/roles",
            Some(&manager),
            Some(json!({ "name": "escalate", "permissions": ["users:read", "keys:manage"] })),
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("keys:manage"), "{body}");
        let reader = key_with(server, &["users:read"]);
        let denied = server.cli_with_token(&reader).args(["roles", "list"]).output().expect("run");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(stderr(&denied).contains("roles:manage"), "{}", stderr(&denied));

        assert_eq!(role_names(server), before, "nothing was created");
        assert!(audit(server, "role.create").is_empty());
    }

    fn built_in_default_and_held_roles_cannot_be_deleted(server: &TestServer) {
        let builtin = root(server, &["roles", "delete", "admin", "--yes"]);
        assert_eq!(builtin.status.code(), Some(1), "{}", stderr(&builtin));
        assert!(stderr(&builtin).contains("admin is a built-in role and cannot be deleted"), "{}", stderr(&builtin));
        let (status, _, body) = server.http(Method::DELETE, "/admin/v1/roles/member", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::CONFLICT, "{body}");

        root_ok(server, &["roles", "create", "ops", "--permission", "users:read"]);
        root_ok(server, &["default-role", "set", "ops"]);
        let default = root(server, &["roles", "delete", "ops", "--yes"]);
        assert_eq!(default.status.code(), Some(1), "{}", stderr(&default));
        let message = stderr(&default);
        assert!(message.contains("ops is the default role"), "{message}");
        assert!(message.contains("scimctl default-role set"), "says what to do: {message}");
        root_ok(server, &["default-role", "set", "member"]);

        // A user holding the role, created through the admin API.
        for user in ["ada", "grace"] {
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/users",
                Some(&server.root_token),
                Some(json!({ "user_name": user, "roles": ["ops"] })),
            );
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let listed = stdout_json(&root_ok(server, &["roles", "list", "-o", "json"]));
        let ops = listed.as_array().expect("array").iter().find(|r| r["name"] == "ops").expect("ops listed");
        assert_eq!(ops["user_count"], 2);
        let held = root(server, &["roles", "delete", "ops", "--yes"]);
        assert_eq!(held.status.code(), Some(1), "{}", stderr(&held));
        let message = stderr(&held);
        assert!(message.contains("role ops is in use (2 users hold it)"), "{message}");
        assert!(message.contains("scimctl users list --role ops"), "says what to do: {message}");

        assert!(role_names(server).contains(&"ops".to_owned()), "still there");
        assert!(audit(server, "role.delete").is_empty(), "no deletion audited");
    }

    fn deleting_a_role_without_a_terminal_needs_yes(server: &TestServer) {
        root_ok(server, &["roles", "create", "ops", "--permission", "users:read"]);
        let refused = root(server, &["roles", "delete", "ops"]);
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("pass --yes to delete role ops"), "{}", stderr(&refused));
        assert!(refused.stdout.is_empty());
        assert!(role_names(server).contains(&"ops".to_owned()), "nothing changed");
        assert!(audit(server, "role.delete").is_empty());
    }
}
