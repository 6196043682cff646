//! The SCIM request journal (issue 11): every `/scim/v2` exchange kept,
//! redacted (a password or a token never reaches `scim show` or the
//! database), found by failure, status and user, and pruned by age and
//! size. The real server on SQLite and PostgreSQL, read through the CLI.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use scimctl::domain::journal::Retention;

use crate::audit::Follower;
use crate::cli_output::{root, stderr, stdout_json};
use crate::scim_support::{Idp, PATCH_OP, USER_SCHEMA, id_of};
use crate::support::{Backend, TestServer, both_backends, skipped};

/// `scim log … -o json` as root.
fn log(server: &TestServer, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["scim", "log"];
    all.extend(args);
    all.extend(["-o", "json"]);
    stdout_json(&root(server, &all, 0))
        .as_array()
        .expect("a list")
        .clone()
}

/// Waits until the journal holds `count` exchanges (the writer stores them
/// a moment after they are answered).
fn wait_for(server: &TestServer, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let entries = log(server, &[]);
        if entries.len() >= count || Instant::now() > deadline {
            return entries;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn statuses(entries: &[Value]) -> Vec<u64> {
    entries
        .iter()
        .map(|entry| entry["status"].as_u64().expect("status"))
        .collect()
}

both_backends! {
    fn a_password_or_a_token_never_reaches_the_journal(server: &TestServer) {
        let okta = Idp::okta(server);
        let created = okta.post("/Users", json!({
            "schemas": [USER_SCHEMA],
            "userName": "ann",
            "password": "Hunter2-create",
        }));
        let id = id_of(created.expect(StatusCode::CREATED));
        okta.patch(&format!("/Users/{id}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [
                { "op": "replace", "path": "password", "value": "Hunter2-path" },
                { "op": "Replace", "value": { "password": "Hunter2-nopath", "displayName": "Ann" } },
            ],
        }))
        .expect(StatusCode::OK);
        // A body that is not JSON, and a token where a client should not put one.
        let (status, _, _) = server.http_raw(
            Method::POST,
            "/scim/v2/Users",
            Some(&okta.token),
            "{\"userName\": \"x\", \"password\": \"Hunter2-broken\"",
        );
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let entries = wait_for(server, 3);
        assert_eq!(statuses(&entries), [400, 200, 201]);

        let secret = okta.token.rsplit('_').next().expect("a secret").to_owned();
        for entry in &entries {
            let request_id = entry["request_id"].as_str().expect("request id");
            let shown = root(server, &["scim", "show", request_id, "-o", "json"], 0);
            let text = String::from_utf8_lossy(&shown.stdout);
            assert!(!text.contains("Hunter2"), "{text}");
            assert!(!text.contains(&secret), "{text}");
            assert!(!text.to_lowercase().contains("authorization"), "{text}");
        }
        let patched = stdout_json(&root(server, &["scim", "show", entries[1]["request_id"].as_str().expect("id"), "-o", "json"], 0));
        assert_eq!(patched["request_body"]["Operations"][1]["value"]["displayName"], "Ann");
        assert_eq!(patched["key_id"].as_str(), Some(okta.key_id.as_str()));
        assert_eq!(patched["audit"][0]["action"], "user.update", "{patched}");

        let stored = server.query_journal(
            "SELECT request_id, path, request_headers, request_body, response_body FROM scim_journal",
        );
        let dump = format!("{stored:?}");
        assert!(!dump.contains("Hunter2"), "{dump}");
        assert!(!dump.contains(&secret), "{dump}");
    }

    fn the_log_finds_failures_statuses_and_users(server: &TestServer) {
        let entra = Idp::entra(server);
        let bea = id_of(entra.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "Bea" })).expect(StatusCode::CREATED));
        entra.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "bea" })).expect(StatusCode::CONFLICT);
        entra.get(&format!("/Users/{bea}")).expect(StatusCode::OK);
        entra.get("/Users/no-such-id").expect(StatusCode::NOT_FOUND);
        wait_for(server, 4);

        assert_eq!(statuses(&log(server, &["--failed"])), [404, 409]);
        assert_eq!(statuses(&log(server, &["--status", "409"])), [409]);
        assert_eq!(statuses(&log(server, &["--status", "2xx"])), [200, 201]);
        // By userName in any case, or by id: the refused duplicate named
        // the same userName, so it is about her too.
        assert_eq!(statuses(&log(server, &["--user", "BEA"])), [200, 409, 201]);
        assert_eq!(statuses(&log(server, &["--user", &bea])), [200, 409, 201]);
        assert_eq!(log(server, &["--since", "2100-01-01T00:00:00Z"]), Vec::<Value>::new());
        assert_eq!(statuses(&log(server, &["--limit", "1"])), [404]);

        let none = root(server, &["scim", "log", "--user", "nobody"], 0);
        assert!(stderr(&none).contains("No SCIM requests match"), "{}", stderr(&none));
        let bad = root(server, &["scim", "log", "--status", "6xx"], 2);
        assert!(stderr(&bad).contains("4xx"), "{}", stderr(&bad));
        let missing = root(server, &["scim", "show", "no-such-request"], 3);
        assert!(stderr(&missing).contains("scim log"), "{}", stderr(&missing));
        // The admin API's own requests are not SCIM requests.
        assert!(log(server, &[]).iter().all(|entry| entry["path"].as_str().is_some_and(|path| path.starts_with("/scim/v2"))));
    }

    fn scim_log_follow_prints_requests_as_they_come(server: &TestServer) {
        let okta = Idp::okta(server);
        okta.get("/Users/first-miss").expect(StatusCode::NOT_FOUND);
        wait_for(server, 1);
        let mut follower = Follower::run(server, &["scim", "log", "-o", "json", "--follow", "--failed"]);
        // The recent failure first, then new ones as they come; a success
        // is filtered out.
        assert_eq!(follower.next_entry()["path"], "/scim/v2/Users/first-miss");
        okta.get("/Users").expect(StatusCode::OK);
        okta.get("/Users/second-miss").expect(StatusCode::NOT_FOUND);
        let arrived = follower.next_entry();
        assert_eq!(arrived["path"], "/scim/v2/Users/second-miss", "{arrived}");
        assert_eq!(arrived["status"], 404);
        let (code, rest) = follower.interrupt();
        assert_eq!(code, Some(0), "Ctrl-C ends a follow as a success");
        assert!(rest.is_empty(), "{rest:?}");
    }

    fn reading_the_journal_needs_audit_read(server: &TestServer) {
        let token = server.new_key("no audit", &["users:read"]);
        let refused = server
            .cli_with_token(&token)
            .args(["scim", "log"])
            .output()
            .expect("run scimctl");
        assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("audit:read"), "{}", stderr(&refused));
    }
}

/// A server whose journal keeps `retention`.
fn with_retention(backend: Backend, retention: Retention) -> Option<TestServer> {
    TestServer::start_with(backend, |config| config.journal = Some(retention))
}

/// Old exchanges, as a server running earlier would have left them.
fn seed_old(server: &TestServer, name: &str, count: usize, age_ms: i64, size: i64) {
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    for n in 0..count {
        server.execute_journal(&format!(
            "INSERT INTO scim_journal (at, request_id, method, path, status, duration_us, \
             request_headers, size) VALUES ({}, '{name}-{n}', 'GET', '/scim/v2/Users', 200, 10, '{{}}', {size})",
            now_ms - age_ms
        ));
    }
}

fn retention_drops_by_age_then_by_size(backend: Backend, test: &str) {
    let retention = Retention {
        max_age: Duration::from_secs(3600),
        max_size: 12_000,
    };
    let Some(server) = with_retention(backend, retention) else {
        skipped(test);
        return;
    };
    // 5 older than an hour, 20 of 1,000 bytes within it: 20,000 bytes,
    // more than the 12,000 kept.
    seed_old(&server, "ancient", 5, 2 * 3600 * 1000, 100);
    seed_old(&server, "old", 20, 60 * 1000, 1000);
    let okta = Idp::okta(&server);
    okta.get("/Users").expect(StatusCode::OK);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = server.query_journal("SELECT request_id, size FROM scim_journal ORDER BY id");
        let total: i64 = left
            .iter()
            .map(|row| row["size"].parse::<i64>().expect("a size"))
            .sum();
        let newest_kept = left
            .last()
            .is_some_and(|row| !row["request_id"].starts_with("old-"));
        if total <= 12_000 && newest_kept && left.len() > 1 {
            assert!(
                left.iter()
                    .all(|row| !row["request_id"].starts_with("ancient-")),
                "older than max_age: {left:?}"
            );
            // The oldest within the hour went first: what is left is the newest.
            assert!(
                left.iter().any(|row| row["request_id"] == "old-19"),
                "{left:?}"
            );
            assert!(
                left.iter().all(|row| row["request_id"] != "old-5"),
                "{left:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not pruned: {total} bytes in {left:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn retention_drops_by_age_then_by_size_sqlite() {
    retention_drops_by_age_then_by_size(Backend::Sqlite, "journal::retention");
}

#[test]
fn retention_drops_by_age_then_by_size_postgres() {
    retention_drops_by_age_then_by_size(Backend::Postgres, "journal::retention");
}

#[test]
fn a_journal_turned_off_keeps_nothing() {
    let server = TestServer::start_with(Backend::Sqlite, |config| config.journal = None)
        .expect("SQLite tests always run");
    let okta = Idp::okta(&server);
    okta.get("/Users").expect(StatusCode::OK);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server
            .query_journal("SELECT id FROM scim_journal")
            .is_empty()
    );
    let empty = root(&server, &["scim", "log"], 0);
    assert!(
        stderr(&empty).contains("enabled = false"),
        "{}",
        stderr(&empty)
    );
}

/// On SQLite the journal has a file of its own, as private as the
/// database's, and the database file has no journal table.
#[test]
fn the_journal_has_a_private_file_of_its_own_on_sqlite() {
    let server = TestServer::start(Backend::Sqlite).expect("SQLite tests always run");
    let okta = Idp::okta(&server);
    okta.get("/Users/no-such-id").expect(StatusCode::NOT_FOUND);
    wait_for(&server, 1);

    let database = server.database();
    let file = database.journal_file().expect("SQLite has a journal file");
    assert!(
        file.to_string_lossy().ends_with("scimctl.db.scim-journal"),
        "{}",
        file.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", file.display());
            let mode = std::fs::metadata(&path)
                .unwrap_or_else(|err| panic!("{path}: {err}"))
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{path} is {mode:o}");
        }
    }
    assert!(
        !database.tables().contains(&"scim_journal".to_owned()),
        "{:?}",
        database.tables()
    );
    let stored = server.query_journal("SELECT path, status FROM scim_journal");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["path"], "/scim/v2/Users/no-such-id");
}

/// A SCIM change never waits for the journal: with the journal's file
/// locked by another writer, changes are answered all the same (in one file
/// they would wait for the lock, then fail), and the journal catches up
/// once the lock is gone.
#[test]
fn scim_writes_do_not_wait_for_the_journal_on_sqlite() {
    use sqlx::Connection as _;

    let server = TestServer::start(Backend::Sqlite).expect("SQLite tests always run");
    let okta = Idp::okta(&server);
    let id = id_of(
        okta.post(
            "/Users",
            json!({ "schemas": [USER_SCHEMA], "userName": "cleo" }),
        )
        .expect(StatusCode::CREATED),
    );
    wait_for(&server, 1);

    let database = server.database();
    let file = database.journal_file().expect("SQLite has a journal file");
    let mut lock = database.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", file.display()))
            .await
            .expect("open the journal file");
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .expect("take the journal's write lock");
        conn
    });
    for name in ["Cleo", "Cleo B", "Cleo C"] {
        okta.patch(
            &format!("/Users/{id}"),
            json!({
                "schemas": [PATCH_OP],
                "Operations": [{ "op": "replace", "path": "displayName", "value": name }],
            }),
        )
        .expect(StatusCode::OK);
    }
    database.block_on(async {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut lock)
            .await
            .expect("release the journal's write lock");
        lock.close().await.expect("close the journal file");
    });
    let entries = wait_for(&server, 4);
    assert_eq!(statuses(&entries), [200, 200, 200, 201]);
}
