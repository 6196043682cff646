//! The IP allowlist end to end: the real CLI and raw HTTP against the real
//! server on SQLite and PostgreSQL — changes, reports, the lockout guard,
//! enforcement before authentication, and X-Forwarded-For only from trusted
//! proxies (a second replica on the same database).

use reqwest::{Method, StatusCode};
use scimctl::domain::allowlist::parse_cidr;
use serde_json::{Value, json};

use crate::support::{Replica, TestServer, both_backends};

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the CLI as root with `args`.
fn cli(server: &TestServer, args: &[&str]) -> std::process::Output {
    server
        .cli_as_root()
        .args(args)
        .output()
        .expect("run scimctl")
}

/// The stored entries, straight from the database.
fn stored(server: &TestServer) -> Vec<String> {
    server
        .query_rows("SELECT cidr FROM allowlist ORDER BY cidr")
        .into_iter()
        .map(|row| row["cidr"].clone())
        .collect()
}

fn audit_count(server: &TestServer, action: &str) -> usize {
    server
        .query_rows(&format!(
            "SELECT id FROM audit_log WHERE action = '{action}'"
        ))
        .len()
}

fn cidrs(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|item| {
            item.get("cidr")
                .unwrap_or(item)
                .as_str()
                .expect("a CIDR string")
                .to_owned()
        })
        .collect()
}

fn note_kinds(change: &Value) -> Vec<(String, String)> {
    change["notes"]
        .as_array()
        .expect("notes")
        .iter()
        .map(|note| {
            (
                note["kind"].as_str().expect("kind").to_owned(),
                note["cidr"].as_str().expect("cidr").to_owned(),
            )
        })
        .collect()
}

/// Changes the list through the API as root, forced: for setting up lists
/// the guard would refuse.
fn force_replace(server: &TestServer, entries: &[&str]) {
    let entries: Vec<Value> = entries.iter().map(|cidr| json!({ "cidr": cidr })).collect();
    let (status, _, body) = server.http(
        Method::PUT,
        "/admin/v1/allowlist",
        Some(&server.root_token),
        Some(json!({ "entries": entries, "force": true })),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
}

both_backends! {
    fn add_list_check_and_remove_through_the_cli(server: &TestServer) {
        let empty = cli(server, &["allowlist", "list", "-o", "json"]);
        assert!(empty.status.success(), "{}", stderr(&empty));
        assert_eq!(stdout_json(&empty), json!([]));
        assert!(stderr(&empty).contains("every address"), "{}", stderr(&empty));

        let first = cli(server, &["allowlist", "add", "127.0.0.0/8", "--note", "loopback"]);
        assert!(first.status.success(), "{}", stderr(&first));

        let added = cli(server, &[
            "allowlist", "add", "10.1.2.3/8", "2001:db8::/32", "192.168.1.7", "--note", "office", "-o", "json",
        ]);
        assert!(added.status.success(), "{}", stderr(&added));
        assert!(
            stderr(&added).contains("10.1.2.3/8 has host bits set: stored as 10.0.0.0/8"),
            "{}",
            stderr(&added)
        );
        let change = stdout_json(&added);
        assert_eq!(cidrs(&change["added"]), ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
        assert_eq!(note_kinds(&change), [("normalised".to_owned(), "10.0.0.0/8".to_owned())]);
        assert_eq!(change["caller_ip"], "127.0.0.1");
        assert_eq!(change["caller_allowed"], true);
        assert_eq!(
            cidrs(&change["entries"]),
            ["10.0.0.0/8", "127.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"],
            "the whole list, IPv4 first, by address"
        );

        let listed = cli(server, &["allowlist", "list", "-o", "json"]);
        let listed = stdout_json(&listed);
        assert_eq!(cidrs(&listed), ["10.0.0.0/8", "127.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
        assert_eq!(listed[0]["note"], "office");
        assert_eq!(listed[1]["note"], "loopback");
        assert_eq!(listed[0]["created_by"], "initial admin");
        let table = cli(server, &["allowlist", "list"]);
        let table = String::from_utf8_lossy(&table.stdout).into_owned();
        assert!(table.starts_with("CIDR"), "{table}");
        assert!(table.contains("2001:db8::/32") && table.contains("office"), "{table}");

        let inside = cli(server, &["allowlist", "check", "10.200.0.1", "-o", "json"]);
        assert_eq!(inside.status.code(), Some(0), "{}", stderr(&inside));
        let inside = stdout_json(&inside);
        assert_eq!(inside["allowed"], true);
        assert_eq!(inside["matched"]["cidr"], "10.0.0.0/8");
        let v6 = cli(server, &["allowlist", "check", "2001:db8::5", "-o", "json"]);
        assert_eq!(v6.status.code(), Some(0), "{}", stderr(&v6));
        assert_eq!(stdout_json(&v6)["matched"]["cidr"], "2001:db8::/32");
        let outside = cli(server, &["allowlist", "check", "2001:db9::1", "-o", "json"]);
        assert_eq!(outside.status.code(), Some(5), "{}", stderr(&outside));
        let outside = stdout_json(&outside);
        assert_eq!(outside["allowed"], false);
        assert_eq!(outside["matched"], Value::Null);
        let table = cli(server, &["allowlist", "check", "8.8.8.8"]);
        assert_eq!(table.status.code(), Some(5));
        assert!(String::from_utf8_lossy(&table.stdout).contains("Allowed  no"));

        let unconfirmed = cli(server, &["allowlist", "remove", "192.168.1.7"]);
        assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
        assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
        assert_eq!(stored(server).len(), 4, "nothing removed without --yes");

        let removed = cli(server, &["allowlist", "remove", "192.168.1.7", "--yes", "-o", "json"]);
        assert!(removed.status.success(), "{}", stderr(&removed));
        let removed = stdout_json(&removed);
        assert_eq!(cidrs(&removed["removed"]), ["192.168.1.7/32"]);
        assert_eq!(cidrs(&removed["entries"]).len(), 3);

        let missing = cli(server, &["allowlist", "remove", "10.1.0.0/16", "--yes"]);
        assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
        assert!(stderr(&missing).contains("inside the entry 10.0.0.0/8"), "{}", stderr(&missing));
        assert_eq!(stored(server).len(), 3);

        let entries = server.query_rows(
            "SELECT details, target, outcome, source_ip FROM audit_log WHERE action = 'allowlist.update' ORDER BY id",
        );
        assert_eq!(entries.len(), 3, "two adds and a remove: {entries:?}");
        assert!(entries[1]["details"].contains("2001:db8::/32"), "{:?}", entries[1]);
        assert!(entries[2]["details"].contains("192.168.1.7/32"), "{:?}", entries[2]);
        for entry in &entries {
            assert_eq!(entry["target"], "allowlist");
            assert_eq!(entry["source_ip"], "127.0.0.1");
        }
    }

    fn duplicates_and_covered_entries_are_reported(server: &TestServer) {
        force_replace(server, &["127.0.0.1", "10.0.0.0/8"]);
        let audits = audit_count(server, "allowlist.update");

        let output = cli(server, &["allowlist", "add", "10.1.0.0/16", "10.1.0.0/16", "10.0.0.0/8", "-o", "json"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let change = stdout_json(&output);
        assert_eq!(cidrs(&change["added"]), ["10.1.0.0/16"]);
        let kinds = note_kinds(&change);
        for expected in [("duplicate", "10.1.0.0/16"), ("already_present", "10.0.0.0/8"), ("covered", "10.1.0.0/16")] {
            assert!(
                kinds.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} missing from {kinds:?}"
            );
        }
        let text = stderr(&output);
        assert!(text.contains("10.1.0.0/16 is inside 10.0.0.0/8"), "{text}");
        assert!(text.contains("10.0.0.0/8 is already in the list"), "{text}");

        let wider = cli(server, &["allowlist", "add", "10.0.0.0/7", "-o", "json"]);
        let change = stdout_json(&wider);
        let kinds = note_kinds(&change);
        assert_eq!(
            kinds.iter().filter(|(kind, _)| kind == "covers").count(),
            2,
            "10.0.0.0/7 covers 10.0.0.0/8 and 10.1.0.0/16: {kinds:?}"
        );

        // Nothing new: nothing changes and nothing is audited.
        let again = cli(server, &["allowlist", "add", "10.0.0.0/8", "-o", "json"]);
        assert!(again.status.success(), "{}", stderr(&again));
        assert_eq!(stdout_json(&again)["added"], json!([]));
        assert!(stderr(&again).contains("unchanged"), "{}", stderr(&again));
        assert_eq!(audit_count(server, "allowlist.update"), audits + 2);
    }

    fn the_lockout_guard_refuses_to_shut_out_the_caller(server: &TestServer) {
        let refused = cli(server, &["allowlist", "add", "10.0.0.0/8"]);
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        let message = stderr(&refused);
        assert!(message.contains("your address 127.0.0.1"), "{message}");
        assert!(message.contains("--force"), "{message}");
        assert!(stored(server).is_empty());
        assert_eq!(audit_count(server, "allowlist.update"), 0);

        // --force still needs a confirmation: --yes without a terminal.
        let unconfirmed = cli(server, &["allowlist", "add", "10.0.0.0/8", "--force"]);
        assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
        assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
        assert!(stored(server).is_empty());

        let added = cli(server, &["allowlist", "add", "127.0.0.1", "10.0.0.0/8"]);
        assert!(added.status.success(), "{}", stderr(&added));
        let removing_self = cli(server, &["allowlist", "remove", "127.0.0.1", "--yes"]);
        assert_eq!(removing_self.status.code(), Some(1), "{}", stderr(&removing_self));
        assert!(stderr(&removing_self).contains("127.0.0.1"), "{}", stderr(&removing_self));
        assert_eq!(stored(server).len(), 2);

        let file = server.home().join("no-loopback.txt");
        std::fs::write(&file, "10.0.0.0/8\n").expect("write the list");
        let replacing = cli(server, &["allowlist", "replace", "--file", file.to_str().expect("utf-8"), "--yes"]);
        assert_eq!(replacing.status.code(), Some(1), "{}", stderr(&replacing));
        assert!(stderr(&replacing).contains("--force"), "{}", stderr(&replacing));
        assert_eq!(stored(server).len(), 2);

        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/allowlist/remove",
            Some(&server.root_token),
            Some(json!({ "cidrs": ["127.0.0.1"] })),
        );
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "conflict");
        assert!(body["error"]["message"].as_str().expect("message").contains("127.0.0.1"), "{body}");

        // Emptying the list allows everyone, so it never locks anyone out.
        let emptied = cli(server, &["allowlist", "remove", "127.0.0.1", "10.0.0.0/8", "--yes", "-o", "json"]);
        assert!(emptied.status.success(), "{}", stderr(&emptied));
        assert_eq!(stdout_json(&emptied)["entries"], json!([]));

        // Forced with --yes: done, and the CLI warns the caller is shut out.
        let forced = cli(server, &["allowlist", "add", "10.0.0.0/8", "--force", "--yes", "-o", "json"]);
        assert!(forced.status.success(), "{}", stderr(&forced));
        assert_eq!(stdout_json(&forced)["caller_allowed"], false);
        assert!(stderr(&forced).contains("warning: 127.0.0.1"), "{}", stderr(&forced));
        let details = server.query_rows(
            "SELECT details FROM audit_log WHERE action = 'allowlist.update' ORDER BY id DESC",
        );
        assert!(details[0]["details"].contains("\"force\":true"), "{details:?}");
    }

    fn a_bad_cidr_names_the_problem_and_changes_nothing(server: &TestServer) {
        let bad = cli(server, &["allowlist", "add", "127.0.0.1", "10.0.0.300/8"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(
            stderr(&bad).contains("error: 10.0.0.300/8 is not a CIDR (octet 300 > 255)"),
            "{}",
            stderr(&bad)
        );
        assert!(stored(server).is_empty(), "the good entry was not added either");
        assert_eq!(audit_count(server, "allowlist.update"), 0);

        let prefix = cli(server, &["allowlist", "add", "10.0.0.0/33"]);
        assert_eq!(prefix.status.code(), Some(2));
        assert!(stderr(&prefix).contains("prefix length 33 > 32 for IPv4"), "{}", stderr(&prefix));

        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/allowlist",
            Some(&server.root_token),
            Some(json!({ "entries": [{ "cidr": "2001:db8::12345" }] })),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("group 12345 has more than 4 hex digits"), "{body}");

        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/allowlist",
            Some(&server.root_token),
            Some(json!({ "entries": [{ "cidr": "10.0.0.0/8" }], "forse": true })),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("forse"), "{body}");

        let check = cli(server, &["allowlist", "check", "10.0.0.300"]);
        assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
        assert!(stderr(&check).contains("10.0.0.300 is not an IP address (octet 300 > 255)"), "{}", stderr(&check));
        let (status, _, body) = server.http(Method::GET, "/admin/v1/allowlist/check", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("`ip`"), "{body}");

        assert!(stored(server).is_empty());
        assert_eq!(audit_count(server, "allowlist.update"), 0);
    }

    fn replace_reads_a_file_and_a_bad_line_changes_nothing(server: &TestServer) {
        let path = server.home().join("allowlist.txt");
        let file = path.to_str().expect("utf-8 path");
        std::fs::write(
            &path,
            "# our networks\n127.0.0.1  loopback\n\n10.1.2.3/8   # office\n2001:db8::/32\n",
        )
        .expect("write the list");
        let replaced = cli(server, &["allowlist", "replace", "--file", file, "--yes", "-o", "json"]);
        assert!(replaced.status.success(), "{}", stderr(&replaced));
        let change = stdout_json(&replaced);
        assert_eq!(cidrs(&change["added"]), ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::/32"]);
        assert_eq!(note_kinds(&change), [("normalised".to_owned(), "10.0.0.0/8".to_owned())]);
        let listed = stdout_json(&cli(server, &["allowlist", "list", "-o", "json"]));
        assert_eq!(listed[0]["note"], "office");
        assert_eq!(listed[1]["note"], "loopback");
        assert_eq!(listed[2]["note"], Value::Null);
        let before = server.query_rows("SELECT cidr, note, created_at FROM allowlist ORDER BY cidr");

        std::fs::write(&path, "127.0.0.1\n192.0.2.0/24\n10.0.0.300/8 lab\n198.51.100.0/24\n")
            .expect("write the list");
        let bad = cli(server, &["allowlist", "replace", "--file", file, "--yes"]);
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        let message = stderr(&bad);
        assert!(message.contains("line 3: 10.0.0.300/8 is not a CIDR (octet 300 > 255)"), "{message}");
        assert!(message.contains("nothing was changed"), "{message}");
        assert_eq!(server.query_rows("SELECT cidr, note, created_at FROM allowlist ORDER BY cidr"), before);

        std::fs::write(&path, "127.0.0.1 the loopback\n10.0.0.0/8 office\n").expect("write the list");
        let unconfirmed = cli(server, &["allowlist", "replace", "--file", file]);
        assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
        assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
        assert_eq!(server.query_rows("SELECT cidr, note, created_at FROM allowlist ORDER BY cidr"), before);

        let audits = audit_count(server, "allowlist.update");
        let kept = cli(server, &["allowlist", "replace", "--file", file, "--yes", "-o", "json"]);
        assert!(kept.status.success(), "{}", stderr(&kept));
        let change = stdout_json(&kept);
        assert_eq!(change["added"], json!([]));
        assert_eq!(cidrs(&change["removed"]), ["2001:db8::/32"]);
        assert_eq!(cidrs(&change["updated"]), ["127.0.0.1/32"]);
        let after = server.query_rows("SELECT cidr, note, created_at FROM allowlist ORDER BY cidr");
        assert_eq!(after.len(), 2);
        let loopback = after.iter().find(|row| row["cidr"] == "127.0.0.1/32").expect("kept");
        let was = before.iter().find(|row| row["cidr"] == "127.0.0.1/32").expect("was there");
        assert_eq!(loopback["note"], "the loopback");
        assert_eq!(loopback["created_at"], was["created_at"], "a kept entry keeps its creation time");
        assert_eq!(audit_count(server, "allowlist.update"), audits + 1);

        // From standard input; an empty list allows every address.
        let emptied = server
            .cli_as_root()
            .args(["allowlist", "replace", "--file", "-", "--yes", "-o", "json"])
            .write_stdin("# nobody is restricted\n")
            .output()
            .expect("run scimctl");
        assert!(emptied.status.success(), "{}", stderr(&emptied));
        assert_eq!(stdout_json(&emptied)["entries"], json!([]));
        assert!(stderr(&emptied).contains("every address"), "{}", stderr(&emptied));
        assert!(stored(server).is_empty());
    }

    fn an_address_outside_the_list_is_refused_before_authentication(server: &TestServer) {
        let (status, _, who) = server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{who}");
        let root_id = who["key"]["id"].as_str().expect("key id").to_owned();

        // The forced change answers, then shuts its own caller out.
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/allowlist",
            Some(&server.root_token),
            Some(json!({ "entries": [{ "cidr": "10.0.0.0/8" }], "force": true })),
        );
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["caller_allowed"], false);

        let denied = cli(server, &["whoami"]);
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(
            stderr(&denied).contains("address 127.0.0.1 is not in the IP allowlist"),
            "{}",
            stderr(&denied)
        );
        assert!(denied.stdout.is_empty());
        let check = cli(server, &["allowlist", "list"]);
        assert_eq!(check.status.code(), Some(4), "even the allowlist's own endpoints");

        // 403, not 401: the allowlist runs first, whatever the key.
        let (status, headers, body) = server.http(Method::GET, "/admin/v1/whoami", None, None);
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], "forbidden");
        assert!(headers.contains_key("x-request-id"));
        let (status, _, body) = server.http(
            Method::POST,
            "/auth/v1/introspect",
            Some(&server.root_token),
            Some(json!({ "token": "x" })),
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "the auth API too: {body}");
        let (status, _, _) = server.http(Method::GET, "/healthz", None, None);
        assert_eq!(status, StatusCode::OK, "health checks are not behind the allowlist");

        let denials = server.query_rows(
            "SELECT actor_key_id, actor_name, source_ip, request_id, target, outcome, details \
             FROM audit_log WHERE action = 'auth.denied' ORDER BY id",
        );
        assert_eq!(denials.len(), 4, "{denials:?}");
        assert_eq!(denials[0]["actor_key_id"], root_id, "the key that tried is recorded");
        assert_eq!(denials[2]["actor_key_id"], "", "no key was sent");
        for denial in &denials {
            assert_eq!(denial["source_ip"], "127.0.0.1");
            assert_eq!(denial["outcome"], "denied");
            assert!(!denial["request_id"].is_empty());
            assert!(denial["details"].contains("IP allowlist"), "{denial:?}");
        }
        assert_eq!(denials[0]["target"], "/admin/v1/whoami");
        assert_eq!(denials[3]["target"], "/auth/v1/introspect");
    }

    fn x_forwarded_for_is_ignored_from_an_untrusted_peer(server: &TestServer) {
        force_replace(server, &["127.0.0.1"]);
        let forged = |path: &str| {
            server.send(
                server
                    .request(Method::GET, path)
                    .bearer_auth(&server.root_token)
                    .header("x-forwarded-for", "10.9.9.9"),
            )
        };
        let (status, _, who) = forged("/admin/v1/whoami");
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(who["source_ip"], "127.0.0.1", "the peer, not the header");

        force_replace(server, &["10.9.9.9"]);
        let (status, _, body) = forged("/admin/v1/whoami");
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["error"]["message"].as_str().expect("message").contains("address 127.0.0.1 is not in the IP allowlist"),
            "{body}"
        );
    }

    fn a_trusted_proxy_names_the_client_on_every_replica(server: &TestServer) {
        // A second replica on the same database, behind a "proxy" at
        // 127.0.0.1: it believes X-Forwarded-For; the first one does not.
        let loopback = parse_cidr("127.0.0.1").expect("a CIDR").net;
        let replica = Replica::start(server, move |config| config.trusted_proxies = vec![loopback]);
        let (status, who) = replica.call(Method::GET, "/admin/v1/whoami", Some("203.0.113.7"), None);
        assert_eq!(status, StatusCode::OK, "{who}");
        assert_eq!(who["source_ip"], "203.0.113.7");

        // Changed through the first replica, in force on the second at once.
        force_replace(server, &["127.0.0.1", "198.51.100.0/24"]);
        let (status, body) = replica.call(Method::GET, "/admin/v1/whoami", Some("198.51.100.20"), None);
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = replica.call(Method::GET, "/admin/v1/whoami", Some("203.0.113.7"), None);
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("address 203.0.113.7 is not"), "{body}");
        // A client cannot smuggle an allowed address in front of its own.
        let (status, body) = replica.call(Method::GET, "/admin/v1/whoami", Some("198.51.100.20, 203.0.113.7"), None);
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let denied = server.query_rows(
            "SELECT source_ip FROM audit_log WHERE action = 'auth.denied' ORDER BY id",
        );
        assert_eq!(denied.len(), 2);
        assert!(denied.iter().all(|row| row["source_ip"] == "203.0.113.7"), "{denied:?}");
        // A refused request is not a use of its key.
        let used = server.query_rows("SELECT last_used_ip FROM api_keys");
        assert!(used.iter().all(|row| row["last_used_ip"] != "203.0.113.7"), "{used:?}");

        // The guard judges the forwarded address: the client at
        // 198.51.100.20 may not drop its own network.
        let (status, body) = replica.call(
            Method::PUT,
            "/admin/v1/allowlist",
            Some("198.51.100.20"),
            Some(json!({ "entries": [{ "cidr": "127.0.0.1" }] })),
        );
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"]["message"].as_str().expect("message").contains("198.51.100.20"), "{body}");

        replica.stop(server);
    }
}
