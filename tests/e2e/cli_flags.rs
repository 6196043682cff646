//! One meaning per flag, through the real CLI against the real server on
//! SQLite and PostgreSQL (issue 9): `--limit N` is at most N results on
//! every listing and `--page-size` the page size; unknown names exit 3 and
//! change nothing; keys by unique name; audit targets by user id or
//! userName.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli_output::{root, stderr, stdout_json};
use crate::support::{TestServer, both_backends};

/// `args` with `-o json` as root, exit 0; the listed items' `field`s.
fn listed(server: &TestServer, args: &[&str], field: &str) -> Vec<String> {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    stdout_json(&root(server, &args, 0))
        .as_array()
        .unwrap_or_else(|| panic!("{args:?} printed no array"))
        .iter()
        .map(|item| match &item[field] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn create_user(server: &TestServer, body: Value) -> Value {
    let (status, _, answer) = server.http(
        Method::POST,
        "/admin/v1/users",
        Some(&server.root_token),
        Some(body),
    );
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    answer
}

both_backends! {
    fn limit_is_at_most_n_results_on_every_listing(server: &TestServer) {
        let names: Vec<String> = (0..5).map(|n| format!("user{n}")).collect();
        for name in &names {
            create_user(server, json!({ "user_name": name, "groups": [format!("g-{name}")], "create_groups": true }));
            let key = server.new_key(&format!("key of {name}"), &["users:read"]);
            assert!(!key.is_empty());
        }
        // Deprovisioning makes locks.
        for name in &names[..3] {
            root(server, &["users", "deprovision", name, "--yes"], 0);
        }

        // --limit stops after N, across pages and within one.
        assert_eq!(listed(server, &["users", "list", "--limit", "3"], "user_name"), names[..3]);
        assert_eq!(listed(server, &["users", "list", "--limit", "3", "--page-size", "2"], "user_name"), names[..3]);
        assert_eq!(listed(server, &["users", "list", "--limit", "50", "--page-size", "2"], "user_name"), names);
        // --page-size alone lists everything.
        assert_eq!(listed(server, &["users", "list", "--page-size", "1"], "user_name"), names);
        let table = root(server, &["users", "list", "--limit", "2"], 0);
        assert_eq!(String::from_utf8_lossy(&table.stdout).lines().count(), 3, "a header and 2 rows");

        assert_eq!(listed(server, &["groups", "list", "--limit", "2", "--page-size", "1"], "display_name"), ["g-user0", "g-user1"]);
        assert_eq!(listed(server, &["groups", "list", "--page-size", "2"], "display_name").len(), 5);
        assert_eq!(listed(server, &["keys", "list", "--limit", "2"], "id").len(), 2);
        assert_eq!(listed(server, &["keys", "list"], "id").len(), 6, "root and five more");
        assert_eq!(listed(server, &["locks", "list", "--limit", "1"], "id").len(), 1);
        assert_eq!(listed(server, &["locks", "list"], "id").len(), 3);
        assert_eq!(listed(server, &["roles", "list", "--limit", "2"], "name"), ["admin", "auditor"]);
        root(server, &["allowlist", "add", "10.0.0.0/8", "192.168.0.0/16", "127.0.0.0/8", "--yes"], 0);
        assert_eq!(listed(server, &["allowlist", "list", "--limit", "1"], "cidr").len(), 1);
        assert_eq!(listed(server, &["allowlist", "list"], "cidr").len(), 3);
        assert_eq!(listed(server, &["audit", "list", "--limit", "4", "--page-size", "3"], "id").len(), 4);
        assert_eq!(listed(server, &["audit", "list", "--limit", "4", "--action", "user.create"], "target"), ["user4", "user3", "user2", "user1"]);

        // Ranges read as people read them; nothing is asked of the server.
        for command in [&["users", "list"][..], &["groups", "list"], &["audit", "list"], &["keys", "list"], &["locks", "list"], &["roles", "list"], &["allowlist", "list"]] {
            let mut args = command.to_vec();
            args.extend(["--limit", "0"]);
            let refused = root(server, &args, 2);
            assert!(stderr(&refused).contains("error: --limit must be at least 1"), "{args:?}: {}", stderr(&refused));
        }
        let refused = root(server, &["users", "list", "--page-size", "1001"], 2);
        assert!(stderr(&refused).contains("error: --page-size must be from 1 to 1000"), "{}", stderr(&refused));
    }
}

both_backends! {
    fn unknown_groups_and_roles_exit_3_and_change_nothing(server: &TestServer) {
        root(server, &["users", "create", "bob", "--group", "eng", "--create-groups"], 0);
        let before = server.snapshot();

        // A typo of a group: refused by name, nothing written (no user, no
        // group, no membership, no audit entry).
        let typo = root(server, &["users", "create", "carol", "--group", "engg"], 3);
        let message = stderr(&typo);
        assert!(message.contains("error: no group engg;"), "{message}");
        assert!(message.contains("--create-groups"), "says how to create it: {message}");
        assert!(typo.stdout.is_empty());
        let several = root(server, &["users", "create", "carol", "--group", "eng", "--team", "opps", "--group", "sales"], 3);
        assert!(stderr(&several).contains("error: no groups opps, sales;"), "{}", stderr(&several));
        let json = root(server, &["users", "create", "carol", "--group", "engg", "-o", "json"], 3);
        assert!(json.stdout.is_empty());
        // An unknown role is a not-found too, whatever else is asked.
        let role = root(server, &["users", "create", "carol", "--role", "nosuch", "--group", "new", "--create-groups"], 3);
        assert!(stderr(&role).contains("error: no role nosuch;"), "{}", stderr(&role));
        assert!(stderr(&role).contains("admin, auditor, member"), "lists the roles: {}", stderr(&role));
        assert_eq!(server.snapshot(), before, "nothing half-written");

        // Names match groups in any case; --create-groups makes the missing ones.
        let created = stdout_json(&root(server, &["users", "create", "carol", "--group", "ENG", "--group", "ops", "--create-groups", "-o", "json"], 0));
        let groups: Vec<&str> = created["groups"].as_array().expect("groups").iter().map(|g| g["display_name"].as_str().expect("name")).collect();
        assert_eq!(groups, ["eng", "ops"]);
        assert_eq!(listed(server, &["groups", "list"], "display_name"), ["eng", "ops"]);
        let later = stdout_json(&root(server, &["users", "create", "dave", "--group", "ops", "-o", "json"], 0));
        assert_eq!(later["groups"][0]["display_name"], "ops", "an existing group needs no flag");

        // Listing filters: an unknown group or role is named, exit 3, no data.
        for (flag, name, noun) in [("--group", "nosuch", "group"), ("--team", "nosuch", "group"), ("--role", "nosuch", "role")] {
            let refused = root(server, &["users", "list", flag, name, "-o", "json"], 3);
            assert!(stderr(&refused).contains(&format!("error: no {noun} nosuch")), "{flag}: {}", stderr(&refused));
            assert!(refused.stdout.is_empty(), "{flag}");
        }
        assert_eq!(listed(server, &["users", "list", "--group", "Ops"], "user_name"), ["carol", "dave"]);
        // A known role nobody holds is an empty answer, not an error.
        let none = root(server, &["users", "list", "--role", "provisioner"], 0);
        assert!(stderr(&none).contains("No users match"), "{}", stderr(&none));

        // Every "unknown X" of the settings and roles is a not-found too.
        let before = server.snapshot();
        let default = root(server, &["default-role", "set", "nosuch"], 3);
        assert!(stderr(&default).contains("error: no role nosuch;"), "{}", stderr(&default));
        let delete = root(server, &["roles", "delete", "nosuch", "--yes"], 3);
        assert!(stderr(&delete).contains("error: no role nosuch;"), "{}", stderr(&delete));
        root(server, &["groups", "show", "nosuch"], 3);
        root(server, &["users", "show", "nosuch"], 3);
        assert_eq!(server.snapshot(), before, "nothing changed");
    }
}

both_backends! {
    fn keys_show_and_revoke_take_a_unique_name(server: &TestServer) {
        let create = |name: &str| {
            stdout_json(&root(server, &["keys", "create", "--name", name, "--scope", "audit:read", "-o", "json"], 0))["id"]
                .as_str()
                .expect("id")
                .to_owned()
        };
        let nightly = create("nightly report");
        let shown = stdout_json(&root(server, &["keys", "show", "nightly report", "-o", "json"], 0));
        assert_eq!(shown["id"], nightly.as_str());
        assert_eq!(stdout_json(&root(server, &["keys", "show", &nightly, "-o", "json"], 0))["name"], "nightly report", "an id still works");
        let missing = root(server, &["keys", "show", "weekly report"], 3);
        assert!(stderr(&missing).contains("error: no API key weekly report"), "{}", stderr(&missing));

        // Two live keys share a name: refused with both ids, nothing revoked.
        let twin = create("nightly report");
        let before = server.snapshot();
        for args in [&["keys", "show", "nightly report"][..], &["keys", "revoke", "nightly report", "--yes"]] {
            let ambiguous = root(server, args, 2);
            let message = stderr(&ambiguous);
            assert!(message.contains("2 API keys are named \"nightly report\""), "{message}");
            assert!(message.contains(&nightly) && message.contains(&twin), "lists the ids: {message}");
        }
        assert_eq!(server.snapshot(), before, "nothing revoked");
        root(server, &["keys", "revoke", "weekly report", "--yes"], 3);
        assert_eq!(server.snapshot(), before, "nothing revoked");

        // Revoked by id, the name is unique among live keys again.
        root(server, &["keys", "revoke", &twin, "--yes"], 0);
        let revoked = stdout_json(&root(server, &["keys", "revoke", "nightly report", "--yes", "-o", "json"], 0));
        assert_eq!(revoked["id"], nightly.as_str());
        assert!(!revoked["revoked_at"].is_null());
        let rows = server.query_rows("SELECT id FROM api_keys WHERE revoked_at IS NOT NULL");
        let mut ids: Vec<&str> = rows.iter().map(|row| row["id"].as_str()).collect();
        ids.sort_unstable();
        let mut expected = [nightly.as_str(), twin.as_str()];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        // Only revoked keys have the name now: two of them, so ambiguous.
        root(server, &["keys", "show", "nightly report"], 2);
    }

    fn audit_target_takes_a_user_id_or_username_in_any_case(server: &TestServer) {
        let alice = create_user(server, json!({ "user_name": "Alice@Example.com" }));
        let alice_id = alice["id"].as_str().expect("id");
        create_user(server, json!({ "user_name": "bob" }));
        root(server, &["users", "deprovision", "alice@example.com", "--yes"], 0);
        let key = stdout_json(&root(server, &["keys", "create", "--name", "k", "--scope", "audit:read", "-o", "json"], 0));
        let key_id = key["id"].as_str().expect("id");

        let about_alice = ["user.deprovision", "user.create"];
        for target in [alice_id, "Alice@Example.com", "alice@example.com", "ALICE@EXAMPLE.COM"] {
            assert_eq!(listed(server, &["audit", "list", "--target", target], "action"), about_alice, "--target {target}");
        }
        assert_eq!(listed(server, &["audit", "list", "--target", "BOB"], "action"), ["user.create"]);
        assert_eq!(listed(server, &["audit", "list", "--target", "alice@example.com", "--action", "user.create"], "target"), ["Alice@Example.com"]);
        // Other targets match as before.
        assert_eq!(listed(server, &["audit", "list", "--target", key_id], "action"), ["key.create"]);
        assert_eq!(listed(server, &["audit", "list", "--target", "nobody"], "action"), Vec::<String>::new());
    }
}

both_backends! {
    fn users_list_filter_is_a_scim_filter_applied_by_the_server(server: &TestServer) {
        for (name, email, group) in [
            ("adam", "adam@example.com", "eng"),
            ("Alice", "alice@example.org", "eng"),
            ("amy", "amy@example.org", "ops"),
            ("anna", "anna@example.com", "eng"),
            ("bob", "bob@example.org", "eng"),
        ] {
            create_user(server, json!({ "user_name": name, "emails": [email], "groups": [group], "create_groups": true, "display_name": format!("{name} Example") }));
        }
        root(server, &["users", "deprovision", "amy", "--yes"], 0);

        let users = |args: &[&str]| listed(server, &[&["users", "list"][..], args].concat(), "user_name");
        assert_eq!(users(&["--filter", r#"userName sw "a" and active eq true"#]), ["adam", "Alice", "anna"]);
        // Case-insensitive as SCIM's userName is; keywords in any case.
        assert_eq!(users(&["--filter", r#"USERNAME EQ "ALICE""#]), ["Alice"]);
        assert_eq!(users(&["--filter", r#"emails.value ew "@example.org" and not (active eq false)"#]), ["Alice", "bob"]);
        assert_eq!(users(&["--filter", r#"groups.display eq "eng" and (displayName co "BOB" or userName eq "adam")"#]), ["adam", "bob"]);
        assert_eq!(users(&["--filter", r#"groups pr"#]), ["adam", "Alice", "anna", "bob"], "deprovisioning took amy's groups");
        assert_eq!(users(&["--filter", r#"emails[value sw "ann"]"#]), ["anna"]);
        // Combined with the other flags, across pages, up to --limit.
        assert_eq!(users(&["--filter", r#"userName sw "a""#, "--group", "eng", "--page-size", "1"]), ["adam", "Alice", "anna"]);
        assert_eq!(users(&["--filter", r#"userName sw "a""#, "--inactive"]), ["amy"]);
        assert_eq!(users(&["--filter", r#"userName sw "a""#, "--limit", "2", "--page-size", "1"]), ["adam", "Alice"]);
        let none = root(server, &["users", "list", "--filter", r#"userName eq "zed""#], 0);
        assert!(stderr(&none).contains("No users match"), "{}", stderr(&none));

        // A bad filter: exit 2 before any request, pointing at the position.
        let bad = root(server, &["users", "list", "--filter", r#"userName sw "a" annd active eq true"#], 2);
        let message = stderr(&bad);
        assert!(message.contains("at position 16"), "{message}");
        assert!(message.contains(&format!("\n  {}^", " ".repeat(16))), "a caret: {message}");
        assert!(bad.stdout.is_empty());
        let unknown = root(server, &["users", "list", "--filter", r#"shoeSize gt 9"#], 2);
        assert!(stderr(&unknown).contains("shoeSize"), "{}", stderr(&unknown));

        // The server checks it too, with the same parser.
        let (status, _, answer) = server.http(Method::GET, "/admin/v1/users?filter=userName%20sw", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.starts_with("bad filter: ") && message.contains("at position"), "{message}");
        let (status, _, answer) = server.http(Method::GET, "/admin/v1/users?filter=active%20eq%20false", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["items"][0]["user_name"], "amy");
    }
}
