//! The audit log and `/metrics` end to end: `scimctl audit list` (filters,
//! paging, `--follow`) and the admin API behind it, on SQLite and
//! PostgreSQL.

use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use scimctl::store::{DatabaseUrl, Store, audit as audit_rows};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::{TestServer, both_backends, lines_of};

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

/// `scimctl audit list <args> -o json` as root; the entries it printed.
fn audit_list(server: &TestServer, args: &[&str]) -> Vec<Value> {
    let output = server
        .cli_as_root()
        .args(["audit", "list", "-o", "json"])
        .args(args)
        .output()
        .expect("run audit list");
    assert!(
        output.status.success(),
        "audit list {args:?}: {}",
        stderr(&output)
    );
    stdout_json(&output)
        .as_array()
        .unwrap_or_else(|| panic!("audit list {args:?} printed no array"))
        .clone()
}

fn field<'a>(entries: &'a [Value], name: &str) -> Vec<&'a str> {
    entries
        .iter()
        .map(|entry| entry[name].as_str().unwrap_or("<none>"))
        .collect()
}

fn ids(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|entry| entry["id"].as_i64().expect("numeric id"))
        .collect()
}

/// Creates a key with the root key (one `key.create` entry); its id.
fn create_key(server: &TestServer, name: &str, scopes: &[&str]) -> (String, String) {
    let (status, _, created) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": name, "scopes": scopes })),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["id"].as_str().expect("id").to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

fn root_key_id(server: &TestServer) -> String {
    let (_, _, who) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    who["key"]["id"].as_str().expect("key id").to_owned()
}

fn audit_rows_count(server: &TestServer) -> usize {
    server.query_rows("SELECT id FROM audit_log").len()
}

both_backends! {
    fn entries_carry_who_what_where_and_filters_narrow_them(server: &TestServer) {
        let root = root_key_id(server);
        let (first, _) = create_key(server, "ci deploy", &["users:read"]);
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some("scimctl_nope_nope"), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (second, _) = create_key(server, "okta", &["scim:provision"]);
        let (status, _, _) = server.http(Method::DELETE, &format!("/admin/v1/keys/{first}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK);

        // Everything, newest first.
        let all = audit_list(server, &[]);
        assert_eq!(
            field(&all, "action"),
            ["key.revoke", "key.create", "auth.denied", "key.create", "key.create"]
        );
        let listed = ids(&all);
        assert!(listed.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {listed:?}");
        let created = &all[3];
        assert_eq!(created["target"], first.as_str());
        assert_eq!(created["actor"], json!({ "key_id": root, "name": "initial admin" }));
        assert_eq!(created["source_ip"], "127.0.0.1");
        assert_eq!(created["outcome"], "success");
        assert!(!created["request_id"].as_str().expect("request id").is_empty());
        assert_eq!(created["details"]["name"], "ci deploy");
        assert!(OffsetDateTime::parse(created["time"].as_str().expect("time"), &Rfc3339).is_ok());
        let initial = &all[4];
        assert_eq!(initial["actor"], json!({ "key_id": null, "name": "system" }));
        assert_eq!(initial["source_ip"], Value::Null);
        assert_eq!(all[2]["outcome"], "denied");

        // Action: exact, and a family with `.*`.
        assert_eq!(field(&audit_list(server, &["--action", "key.create"]), "action"), ["key.create"; 3]);
        assert_eq!(
            field(&audit_list(server, &["--action", "key.*"]), "action"),
            ["key.revoke", "key.create", "key.create", "key.create"]
        );
        assert!(audit_list(server, &["--action", "key"]).is_empty(), "no prefix without .*");
        assert!(audit_list(server, &["--action", "KEY.*"]).is_empty(), "case-sensitive on both backends");
        // Actor: by key id, by key name, and the server itself.
        let by_id = audit_list(server, &["--actor", &root]);
        assert_eq!(field(&by_id, "action"), ["key.revoke", "key.create", "key.create"]);
        assert_eq!(ids(&audit_list(server, &["--actor", "initial admin"])), ids(&by_id));
        assert_eq!(field(&audit_list(server, &["--actor", "system"]), "action"), ["key.create"]);
        // Target and outcome.
        assert_eq!(field(&audit_list(server, &["--target", &first]), "action"), ["key.revoke", "key.create"]);
        assert_eq!(field(&audit_list(server, &["--target", &second]), "action"), ["key.create"]);
        assert_eq!(field(&audit_list(server, &["--outcome", "denied"]), "action"), ["auth.denied"]);
        // Filters combine.
        assert_eq!(field(&audit_list(server, &["--action", "key.*", "--target", &first, "--outcome", "success", "--limit", "1"]), "action"), ["key.revoke"]);
        // --limit keeps the newest.
        assert_eq!(ids(&audit_list(server, &["--limit", "2"])), listed[..2]);

        // The table shows the same entries, one per row under a header.
        let table = server.cli_as_root().args(["audit", "list", "--target", &first]).output().expect("run audit list");
        assert!(table.status.success(), "{}", stderr(&table));
        let text = String::from_utf8_lossy(&table.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("TIME") && lines[0].contains("DETAILS"), "{text}");
        assert!(lines[1].contains("initial admin") && lines[1].contains("127.0.0.1") && lines[1].contains("key.revoke"), "{text}");
        assert!(lines[2].contains("name=\"ci deploy\""), "{text}");

        // Nothing matches: an empty array, and a note on stderr for the table.
        assert!(audit_list(server, &["--target", "nothing-here"]).is_empty());
        let none = server.cli_as_root().args(["audit", "list", "--target", "nothing-here"]).output().expect("run");
        assert!(none.status.success());
        assert!(none.stdout.is_empty());
        assert!(stderr(&none).contains("No audit entries match"), "{}", stderr(&none));
    }

    fn since_and_until_take_durations_and_rfc3339_times(server: &TestServer) {
        create_key(server, "before", &["users:read"]);
        // Two hours pass: the entries so far move back in the database,
        // rather than the test waiting.
        server.execute("UPDATE audit_log SET at = at - 7200000");
        let (later, _) = create_key(server, "after", &["users:read"]);

        let recent = audit_list(server, &["--since", "1h"]);
        assert_eq!(field(&recent, "target"), [later.as_str()], "{recent:?}");
        assert_eq!(audit_list(server, &["--since", "3h"]).len(), 3);
        assert_eq!(audit_list(server, &["--since", "90m", "--until", "30m"]).len(), 0);
        assert_eq!(audit_list(server, &["--since", "3h", "--until", "1h"]).len(), 2);

        let all = audit_list(server, &[]);
        let later_time = all[0]["time"].as_str().expect("time").to_owned();
        let since = audit_list(server, &["--since", &later_time]);
        assert_eq!(field(&since, "target"), [later.as_str()], "since is inclusive");
        let until = audit_list(server, &["--until", &later_time]);
        assert_eq!(until.len(), 2, "until is exclusive: {until:?}");
        assert_eq!(ids(&until), ids(&all[1..]));
        // An offset other than Z means the same instant.
        let shifted = OffsetDateTime::parse(&later_time, &Rfc3339)
            .expect("time")
            .to_offset(time::macros::offset!(+02:00))
            .format(&Rfc3339)
            .expect("format");
        assert_eq!(ids(&audit_list(server, &["--since", &shifted])), ids(&since));
        assert!(audit_list(server, &["--until", "2001-01-01T00:00:00Z"]).is_empty());
    }

    fn listings_longer_than_a_page_are_paged_with_a_cursor(server: &TestServer) {
        // Over a thousand entries (more than the largest page), appended the
        // way the server appends them.
        const BULK: usize = 1105;
        let url: DatabaseUrl = server.database_url().parse().expect("database url");
        server.block_on(async {
            let store = Store::connect(&url).await.expect("connect");
            let mut tx = store.begin().await.expect("begin");
            let at = OffsetDateTime::now_utc();
            for n in 0..BULK {
                let target = format!("bulk-{n}");
                audit_rows::append(&mut tx, &audit_rows::NewEntry {
                    at,
                    actor_key_id: None,
                    actor_name: "bulk loader",
                    source_ip: None,
                    request_id: None,
                    action: "bulk.test",
                    target: Some(&target),
                    outcome: "success",
                    details: json!({ "n": n }),
                })
                .await
                .expect("append");
            }
            tx.commit().await.expect("commit");
            store.close().await;
        });

        // The CLI streams every page.
        let entries = audit_list(server, &["--action", "bulk.test"]);
        assert_eq!(entries.len(), BULK);
        let listed = ids(&entries);
        assert!(listed.windows(2).all(|pair| pair[0] > pair[1]), "newest first, no repeats");
        assert_eq!(entries[0]["target"], format!("bulk-{}", BULK - 1));
        assert_eq!(entries[BULK - 1]["target"], "bulk-0");
        assert_eq!(audit_list(server, &["--action", "bulk.test", "--limit", "1001"]).len(), 1001);

        // The API: pages of `limit`, each `next_cursor` leading to the next.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = "/admin/v1/audit?action=bulk.*&limit=400".to_owned();
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let (status, _, page) = server.http(Method::GET, &path, Some(&server.root_token), None);
            assert_eq!(status, StatusCode::OK, "{page}");
            pages += 1;
            let items = page["items"].as_array().expect("items");
            assert!(items.len() <= 400);
            seen.extend(ids(items));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, listed);

        // `after` reads forward, oldest first, paged the same way.
        let oldest = listed[BULK - 1];
        let (_, _, page) = server.http(
            Method::GET,
            &format!("/admin/v1/audit?after={oldest}&limit=2&action=bulk.test"),
            Some(&server.root_token),
            None,
        );
        let forward = ids(page["items"].as_array().expect("items"));
        assert_eq!(forward, [listed[BULK - 2], listed[BULK - 3]]);
        let next = page["next_cursor"].as_str().expect("more follow");
        let (_, _, page) = server.http(
            Method::GET,
            &format!("/admin/v1/audit?after={oldest}&limit=2&action=bulk.test&cursor={next}"),
            Some(&server.root_token),
            None,
        );
        assert_eq!(ids(page["items"].as_array().expect("items")), [listed[BULK - 4], listed[BULK - 5]]);
    }

    fn bad_queries_are_refused_naming_the_value(server: &TestServer) {
        let before = audit_rows_count(server);
        let bad = server.cli_as_root().args(["audit", "list", "--since", "yesterday"]).output().expect("run");
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        let message = stderr(&bad);
        assert!(message.contains("yesterday") && message.contains("RFC 3339") && message.contains("1h"), "{message}");
        assert!(bad.stdout.is_empty());

        let bad = server.cli_as_root().args(["audit", "list", "--until", "2026-13-01"]).output().expect("run");
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
        assert!(stderr(&bad).contains("2026-13-01"), "{}", stderr(&bad));
        let bad = server.cli_as_root().args(["audit", "list", "--follow", "--until", "1h"]).output().expect("run");
        assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

        // The API says the same to other clients, in its error format.
        let cases = [
            ("since=yesterday", "yesterday"),
            ("until=soon", "soon"),
            ("limit=5000", "1 to 1000"),
            ("limit=ten", "ten"),
            ("outcome=failed", "failed"),
            ("cursor=abc", "abc"),
            ("colour=red", "colour"),
            ("since=1h&until=2h", "before"),
        ];
        for (query, named) in cases {
            let (status, headers, body) = server.http(
                Method::GET,
                &format!("/admin/v1/audit?{query}"),
                Some(&server.root_token),
                None,
            );
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert!(headers.contains_key("x-request-id"));
            assert_eq!(body["error"]["code"], "bad_request", "{query}: {body}");
            let message = body["error"]["message"].as_str().expect("message");
            assert!(message.contains(named), "{query}: {message}");
        }
        // Reading changes nothing, even when refused.
        assert_eq!(audit_rows_count(server), before);
    }

    fn a_key_without_audit_read_is_refused_and_the_refusal_audited(server: &TestServer) {
        let (_, token) = create_key(server, "reader", &["users:read"]);
        let denied = server.cli_with_token(&token).args(["audit", "list"]).output().expect("run");
        assert_eq!(denied.status.code(), Some(4), "{}", stderr(&denied));
        assert!(stderr(&denied).contains("audit:read"), "{}", stderr(&denied));
        assert!(denied.stdout.is_empty());
        let follow = server.cli_with_token(&token).args(["audit", "list", "--follow"]).output().expect("run");
        assert_eq!(follow.status.code(), Some(4), "{}", stderr(&follow));

        let refusals = audit_list(server, &["--action", "auth.denied"]);
        assert_eq!(refusals.len(), 2);
        assert!(refusals[0]["target"].as_str().expect("target").ends_with("/audit"), "{:?}", refusals[0]);
        assert_eq!(refusals[0]["actor"]["name"], "reader");
        assert!(refusals[0]["details"]["reason"].as_str().expect("reason").contains("audit:read"));

        // A key with the scope reads it.
        let (_, auditor) = create_key(server, "auditor", &["audit:read"]);
        let allowed = server.cli_with_token(&auditor).args(["audit", "list", "-o", "json"]).output().expect("run");
        assert!(allowed.status.success(), "{}", stderr(&allowed));
    }

    fn follow_prints_new_entries_as_they_happen_until_interrupted(server: &TestServer) {
        let (old, _) = create_key(server, "old", &["users:read"]);
        let mut follower = Follower::spawn(server, &["--action", "key.create"]);
        // First the recent matching entries, oldest first.
        let initial = follower.next_entry();
        assert_eq!(initial["actor"]["name"], "system", "{initial}");
        let recent = follower.next_entry();
        assert_eq!(recent["target"], old.as_str(), "{recent}");

        // A change that does not match the filter is not printed; one that
        // does appears within a poll or two.
        let (status, _, _) = server.http(Method::DELETE, &format!("/admin/v1/keys/{old}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK);
        let (new, _) = create_key(server, "new", &["users:read"]);
        let arrived = follower.next_entry();
        assert_eq!(arrived["action"], "key.create", "{arrived}");
        assert_eq!(arrived["target"], new.as_str(), "{arrived}");
        let (newer, _) = create_key(server, "newer", &["users:read"]);
        assert_eq!(follower.next_entry()["target"], newer.as_str());

        // Ctrl-C ends it, successfully, with nothing printed twice.
        let (code, rest) = follower.interrupt();
        assert_eq!(code, Some(0), "exit status after SIGINT");
        assert!(rest.is_empty(), "nothing more was printed: {rest:?}");
    }

    fn metrics_count_requests_by_route_template(server: &TestServer) {
        let (id, _) = create_key(server, "k", &["users:read"]);
        for _ in 0..2 {
            let (status, _, _) = server.http(Method::GET, &format!("/admin/v1/keys/{id}"), Some(&server.root_token), None);
            assert_eq!(status, StatusCode::OK);
        }
        let (status, _, _) = server.http(Method::GET, "/admin/v1/keys/nope", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = server.http(Method::GET, "/no/such/path/secret-ish", None, None);
        assert_eq!(status, StatusCode::NOT_FOUND);

        // No key needed, like /healthz.
        let response = server.block_on(async {
            reqwest::get(format!("{}/metrics", server.addr)).await.expect("GET /metrics")
        });
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
        assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
        let text = server.block_on(async { response.text().await.expect("body") });
        for line in [
            "scimctl_http_requests_total{route=\"/admin/v1/keys/{id}\",method=\"GET\",status=\"200\"} 2",
            "scimctl_http_requests_total{route=\"/admin/v1/keys/{id}\",method=\"GET\",status=\"404\"} 1",
            "scimctl_http_requests_total{route=\"/admin/v1/keys\",method=\"POST\",status=\"201\"} 1",
            "scimctl_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
            "scimctl_deprovisionings_total{trigger=\"admin\"} 0",
            "scimctl_deprovisionings_total{trigger=\"scim\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
        // Raw paths never become labels.
        assert!(!text.contains(&id) && !text.contains("secret-ish"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}

/// A `scimctl … --follow` running in the background (`audit list`, `scim
/// log`), its stdout read line by line on a thread.
pub(crate) struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
}

/// How long to wait for a followed entry: a few polls, with room for a slow
/// machine.
const FOLLOW_WAIT: Duration = Duration::from_secs(20);

impl Follower {
    /// `scimctl audit list -o json --follow FILTERS…`.
    fn spawn(server: &TestServer, filters: &[&str]) -> Follower {
        let mut args = vec!["audit", "list", "-o", "json", "--follow"];
        args.extend(filters);
        Follower::run(server, &args)
    }

    /// `scimctl ARGS…` as root, which must follow something.
    pub(crate) fn run(server: &TestServer, args: &[&str]) -> Follower {
        let home = server.home();
        // A clean environment like `TestServer::cli`, but spawned rather
        // than run to completion.
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("scimctl"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("NO_COLOR", "1")
            .env("SCIMCTL_ADDR", &server.addr)
            .env("SCIMCTL_TOKEN", &server.root_token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn scimctl {args:?}: {err}"));
        let lines = lines_of(child.stdout.take().expect("piped stdout"));
        Follower { child, lines }
    }

    /// The next line, parsed: each one is a whole JSON object.
    pub(crate) fn next_entry(&mut self) -> Value {
        match self.lines.recv_timeout(FOLLOW_WAIT) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("not one JSON object per line ({err}): {line}")),
            Err(_) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("no entry within {FOLLOW_WAIT:?}; stderr: {stderr}");
            }
        }
    }

    /// Sends SIGINT (what Ctrl-C sends); the exit code and any lines printed
    /// after the ones already read.
    pub(crate) fn interrupt(mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("run kill -INT");
        assert!(sent.success());
        let deadline = std::time::Instant::now() + FOLLOW_WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for scimctl") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("scimctl --follow did not stop within {FOLLOW_WAIT:?} of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread ends at the end of the pipe, now that the
        // process is gone: this collects every line it printed last.
        let rest = self.lines.iter().collect();
        (status.code(), rest)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        // A failed assertion must not leave the follower running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
