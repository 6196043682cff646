//! Roles given by hand (`users grant`, `users revoke`): only the grant by
//! hand is written or taken, other sources are named, users who cannot use
//! a role get none, the last admin keeps admin, the privilege ceiling caps
//! both, and the user's own credentials follow at once. The real server on
//! SQLite and PostgreSQL, driven by the real CLI.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli_output::{as_key, root, stderr, stdout, stdout_json};
use crate::mappings::sources;
use crate::scim_support::{GROUP_SCHEMA, Idp, USER_SCHEMA, admin_user, id_of, set_settings};
use crate::support::{TestServer, assert_same_rows, both_backends};

/// `users grant|revoke USER ROLE... -o json` as root; the change.
fn change(server: &TestServer, verb: &str, user: &str, roles: &[&str]) -> Value {
    let args = [&["users", verb, user][..], roles, &["-o", "json"]].concat();
    stdout_json(&root(server, &args, 0))
}

/// The outcome of each requested role, in order.
fn outcomes(change: &Value) -> Vec<String> {
    change["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {change}"))
        .iter()
        .map(|entry| entry["outcome"].as_str().expect("outcome").to_owned())
        .collect()
}

/// The roles the admin API says the user holds, sorted.
fn roles(server: &TestServer, user: &str) -> Vec<String> {
    let mut roles: Vec<String> = admin_user(server, user)["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|role| role.as_str().expect("a role name").to_owned())
        .collect();
    roles.sort();
    roles
}

/// The audit entries of `action`, oldest first.
fn audited(server: &TestServer, action: &str) -> Vec<crate::support::DbRow> {
    server.query_rows(&format!(
        "SELECT actor_name, target, details FROM audit_log WHERE action = '{action}' ORDER BY id"
    ))
}

fn root_key_id(server: &TestServer) -> String {
    server.root_token.split('_').nth(1).expect("id").to_owned()
}

both_backends! {
    fn a_role_given_by_hand_is_recorded_audited_and_taken_back(server: &TestServer) {
        root(server, &["users", "create", "bob"], 0);
        let granted = root(server, &["users", "grant", "bob", "auditor"], 0);
        assert!(stdout(&granted).contains("granted"), "{}", stdout(&granted));
        assert!(stderr(&granted).contains("Gave bob the role auditor by hand."), "{}", stderr(&granted));
        assert_eq!(roles(server, "bob"), ["auditor", "member"]);
        assert_eq!(sources(server, "bob", "auditor"), ["manual"]);
        let why = crate::cli_output::stdout(&root(server, &["users", "why", "bob"], 0));
        assert!(why.contains("assigned by key initial admin"), "{why}");

        let grants = audited(server, "role.grant");
        assert_eq!(grants.len(), 1, "{grants:?}");
        assert_eq!(grants[0]["target"], "bob");
        let details: Value = serde_json::from_str(&grants[0]["details"]).expect("JSON details");
        assert_eq!(details["source"], "manual", "{details}");
        assert_eq!(details["granted_by"], root_key_id(server), "{details}");
        assert_eq!(details["newly_held"], true, "{details}");

        // Again: nothing changes, and it says so.
        let before = server.snapshot();
        let again = root(server, &["users", "grant", "bob", "auditor"], 0);
        assert!(stderr(&again).contains("already holds auditor by hand: nothing changed"), "{}", stderr(&again));
        assert_same_rows(&before, &server.snapshot(), "a second grant");

        let revoked = change(server, "revoke", "bob", &["auditor"]);
        assert_eq!(outcomes(&revoked), ["revoked"]);
        assert_eq!(revoked["changes"][0]["held"], false);
        assert_eq!(revoked["roles"], json!(["member"]));
        assert_eq!(roles(server, "bob"), ["member"]);
        let revokes = audited(server, "role.revoke");
        assert_eq!(revokes.len(), 1);
        let details: Value = serde_json::from_str(&revokes[0]["details"]).expect("JSON details");
        assert_eq!((details["source"].as_str(), details["still_held"].as_bool()), (Some("manual"), Some(false)), "{details}");

        // Not held at all: nothing changes, and it says so.
        let before = server.snapshot();
        let text = root(server, &["users", "revoke", "bob", "auditor"], 0);
        assert!(stderr(&text).contains("bob does not hold auditor: nothing changed"), "{}", stderr(&text));
        assert_same_rows(&before, &server.snapshot(), "revoking a role not held");
    }

    fn the_users_own_credentials_follow_at_once(server: &TestServer) {
        root(server, &["users", "create", "cy"], 0);
        let session = crate::scim_support::issue_session(server, "cy");
        change(server, "grant", "cy", &["auditor"]);
        // A personal key may carry audit:read only now that cy's roles grant it.
        let (status, _, key) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "cy laptop", "scopes": ["audit:read"], "owner": "cy" })),
        );
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let personal = key["token"].as_str().expect("token").to_owned();
        as_key(server, &personal, &["audit", "list", "--limit", "1"], 0);
        let live = stdout_json(&root(server, &["introspect", &session, "-o", "json"], 0));
        assert_eq!(live["roles"], json!(["auditor", "member"]), "{live}");

        change(server, "revoke", "cy", &["auditor"]);
        let refused = as_key(server, &personal, &["audit", "list", "--limit", "1"], 4);
        assert!(stderr(&refused).contains("audit:read"), "{}", stderr(&refused));
        let live = stdout_json(&root(server, &["introspect", &session, "-o", "json"], 0));
        assert_eq!(live["roles"], json!(["member"]), "{live}");

        change(server, "grant", "cy", &["auditor"]);
        as_key(server, &personal, &["audit", "list", "--limit", "1"], 0);
    }

    fn other_sources_are_named_and_a_grant_by_hand_outlives_them(server: &TestServer) {
        let okta = Idp::okta(server);
        let dee = id_of(
            okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "dee", "active": true }))
                .expect(StatusCode::CREATED),
        );
        okta.post(
            "/Groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "Audit", "members": [{ "value": dee }] }),
        )
        .expect(StatusCode::CREATED);
        let mapped = stdout_json(&root(server, &["mappings", "add", "--group", "Audit", "--role", "auditor", "-o", "json"], 0));
        let mapping = mapped["mapping"]["id"].as_str().expect("id").to_owned();

        // Held from the mapping: the grant by hand is recorded all the same.
        let granted = root(server, &["users", "grant", "dee", "auditor", "member"], 0);
        let said = stderr(&granted);
        assert!(said.contains(&format!("holds it from mapping {mapping} from group Audit too")), "{said}");
        assert!(said.contains("Gave dee the role member by hand; dee holds it from default role too"), "{said}");
        assert_eq!(sources(server, "dee", "auditor"), ["manual", "mapping"]);
        assert_eq!(sources(server, "dee", "member"), ["default", "manual"]);

        // The mapping goes; the role given by hand stays.
        root(server, &["mappings", "remove", &mapping, "--yes"], 0);
        assert_eq!(roles(server, "dee"), ["auditor", "member"]);
        assert_eq!(sources(server, "dee", "auditor"), ["manual"]);

        // Revoked by hand while a mapping gives it too: it stays, and the
        // answer names the mapping.
        let mapped = stdout_json(&root(server, &["mappings", "add", "--group", "Audit", "--role", "auditor", "-o", "json"], 0));
        let mapping = mapped["mapping"]["id"].as_str().expect("id").to_owned();
        let revoked = root(server, &["users", "revoke", "dee", "auditor", "-o", "json"], 0);
        let answer = stdout_json(&revoked);
        assert_eq!(outcomes(&answer), ["revoked"]);
        assert_eq!(answer["changes"][0]["held"], true);
        assert_eq!(answer["changes"][0]["also_from"][0]["mapping_id"], mapping.as_str(), "{answer}");
        assert!(stderr(&revoked).contains(&format!("dee still holds auditor from mapping {mapping}")), "{}", stderr(&revoked));
        assert_eq!(sources(server, "dee", "auditor"), ["mapping"]);

        // Only the mapping gives it now: refused, naming it, nothing changed.
        let before = server.snapshot();
        let refused = root(server, &["users", "revoke", "dee", "auditor"], 1);
        let said = stderr(&refused);
        assert!(said.contains(&mapping) && said.contains("group Audit"), "{said}");
        assert!(said.contains(&format!("scimctl mappings remove {mapping}")), "{said}");
        assert_same_rows(&before, &server.snapshot(), "revoking a role only a mapping gives");
        // Only the default role gives member now: refused the same way.
        root(server, &["users", "revoke", "dee", "member"], 0);
        let refused = root(server, &["users", "revoke", "dee", "member"], 1);
        assert!(stderr(&refused).contains("from the default role, not by hand"), "{}", stderr(&refused));
        // All or nothing: a refused role keeps the others.
        root(server, &["users", "grant", "dee", "provisioner"], 0);
        let before_mixed = server.snapshot();
        root(server, &["users", "revoke", "dee", "provisioner", "auditor"], 1);
        assert_same_rows(&before_mixed, &server.snapshot(), "a revocation with one refused role");
        assert_eq!(roles(server, "dee"), ["auditor", "member", "provisioner"]);
    }

    fn no_role_for_a_user_who_cannot_use_it(server: &TestServer) {
        for name in ["gone", "held", "locked"] {
            root(server, &["users", "create", name], 0);
        }
        root(server, &["users", "deprovision", "gone", "--yes"], 0);
        set_settings(server, json!({ "auto_deprovisioning": false }));
        let (status, _, body) = server.http(Method::POST, "/admin/v1/users/held/deactivate", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{body}");
        // An active user with a lock: what a half-finished hand edit leaves.
        let locked = admin_user(server, "locked")["id"].as_str().expect("id").to_owned();
        server.execute(&format!(
            "INSERT INTO locks (id, user_id, reason, created_at, created_by) VALUES ('l1', '{locked}', 'test', 0, 'test')"
        ));

        for (user, state) in [("gone", "deprovisioned"), ("held", "pending deprovisioning"), ("locked", "locked")] {
            let before = server.snapshot();
            let refused = root(server, &["users", "grant", user, "auditor"], 1);
            let said = stderr(&refused);
            assert!(said.contains(state), "{user}: {said}");
            assert!(said.contains(&format!("scimctl users reactivate {user}")), "{user}: {said}");
            assert_same_rows(&before, &server.snapshot(), &format!("a grant to the {state} user"));
        }

        root(server, &["users", "reactivate", "gone", "--yes"], 0);
        change(server, "grant", "gone", &["auditor"]);
        assert_eq!(roles(server, "gone"), ["auditor", "member"]);
    }

    fn the_last_active_admin_keeps_admin(server: &TestServer) {
        root(server, &["users", "create", "ada", "--role", "admin"], 0);
        let before = server.snapshot();
        for args in [&["users", "revoke", "ada", "admin"][..], &["users", "revoke", "ada", "admin", "--dry-run"]] {
            let refused = root(server, args, 1);
            assert!(stderr(&refused).contains("last active admin"), "{}", stderr(&refused));
        }
        assert_same_rows(&before, &server.snapshot(), "admin revoked from the last admin");

        root(server, &["users", "create", "ben"], 0);
        change(server, "grant", "ben", &["admin"]);
        change(server, "revoke", "ada", &["admin"]);
        assert!(roles(server, "ada").is_empty(), "created with admin only, ada holds nothing now");
        let refused = root(server, &["users", "revoke", "ben", "admin"], 1);
        assert!(stderr(&refused).contains("last active admin"), "{}", stderr(&refused));
        assert_eq!(roles(server, "ben"), ["admin", "member"]);
    }

    fn a_key_gives_and_takes_only_what_it_holds(server: &TestServer) {
        root(server, &["users", "create", "eve"], 0);
        let writer = server.new_key("user writer", &["users:write", "users:read"]);
        let before = server.snapshot();
        let refused = as_key(server, &writer, &["users", "grant", "eve", "auditor"], 4);
        assert!(stderr(&refused).contains("audit:read"), "{}", stderr(&refused));
        assert_same_rows(&before, &server.snapshot(), "a grant above the key's ceiling");
        as_key(server, &writer, &["users", "grant", "eve", "member"], 0);

        change(server, "grant", "eve", &["auditor"]);
        let refused = as_key(server, &writer, &["users", "revoke", "eve", "auditor"], 4);
        assert!(stderr(&refused).contains("audit:read"), "{}", stderr(&refused));
        assert_eq!(roles(server, "eve"), ["auditor", "member"]);

        let reader = server.new_key("reader", &["users:read", "audit:read"]);
        let refused = as_key(server, &reader, &["users", "revoke", "eve", "auditor"], 4);
        assert!(stderr(&refused).contains("users:write"), "{}", stderr(&refused));
        assert_eq!(roles(server, "eve"), ["auditor", "member"]);
    }

    fn bad_input_is_refused_and_changes_nothing(server: &TestServer) {
        root(server, &["users", "create", "fay"], 0);
        let before = server.snapshot();
        let unknown = root(server, &["users", "grant", "fey", "auditor"], 3);
        assert!(stderr(&unknown).contains("no user \"fey\""), "{}", stderr(&unknown));
        let unknown = root(server, &["users", "revoke", "fey", "auditor"], 3);
        assert!(stderr(&unknown).contains("fey"), "{}", stderr(&unknown));
        let unknown = root(server, &["users", "grant", "fay", "auditor", "auditr"], 3);
        assert!(stderr(&unknown).contains("no role auditr; the roles are: admin, auditor"), "{}", stderr(&unknown));
        root(server, &["users", "revoke", "fay", "auditr"], 3);
        root(server, &["users", "grant", "fay"], 2);
        root(server, &["users", "grant", "fay", ""], 2);
        root(server, &["users", "revoke"], 2);
        for body in [json!({ "roles": [] }), json!({ "roles": ["auditor"], "force": true }), json!({ "roles": ["a\u{7}"] })] {
            let (status, _, answer) = server.http(Method::POST, "/admin/v1/users/fay/roles", Some(&server.root_token), Some(body.clone()));
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        }

        // A dry run answers what would change, and changes nothing.
        let preview = change(server, "grant", "fay", &["auditor", "--dry-run"]);
        assert_eq!((preview["dry_run"].as_bool(), outcomes(&preview)), (Some(true), vec!["granted".to_owned()]));
        assert_eq!(preview["roles"], json!(["auditor", "member"]), "what fay would hold");
        let text = root(server, &["users", "grant", "fay", "auditor", "--dry-run"], 0);
        assert!(stderr(&text).contains("Dry run: nothing was changed."), "{}", stderr(&text));
        assert!(stdout(&text).contains("would grant"), "{}", stdout(&text));
        assert_same_rows(&before, &server.snapshot(), "refused requests and dry runs");
        assert_eq!(roles(server, "fay"), ["member"]);
    }
}
