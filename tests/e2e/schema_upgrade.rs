//! Upgrading keeps everything: a database made by each migration level the
//! project has shipped, seeded with what that level could hold (keys, audit
//! entries, users, groups, sessions, locks, the allowlist), is opened by the
//! current server, which migrates it. Every row must come through intact,
//! and the data must still work: the old admin key authenticates, a session
//! introspects live, a lock still blocks, SCIM shows the users as they were.
//!
//! This is the template every new migration extends: add its level's seed
//! to [`SEEDS`] (rows for each table it adds, values for each column it
//! adds) and, where the migration changes behaviour, a check to
//! [`check_behaviour`]. The test fails until a new migration has its seed.
//! A table a migration drops on purpose is named in [`DROPPED`], with why.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use sqlx::migrate::Migrator;

use crate::support::{Backend, NullableDbRow, TestDatabase, TestServer, skipped};

const ADMIN_KEY_ID: &str = "seedadmin0000001";
const ADMIN_SECRET: &str = "AdminSecret0000000000000000000000000000A";
const REVOKED_KEY_ID: &str = "seedrevoked00002";
const PERSONAL_KEY_ID: &str = "seedpersonal0003";
const PERSONAL_SECRET: &str = "PersonalSecret000000000000000000000000P3";
const SESSION_ID: &str = "seedsession00001";
const SESSION_SECRET: &str = "SessionSecret0000000000000000000000000S1";
const OTHER_SECRET: &str = "OtherSecret00000000000000000000000000000";

const ALICE: &str = "11111111-1111-4111-8111-111111111111";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// What each migration level adds to the seed, in order, each written when
/// the database is at its level: a database at level 2 is migrated to level
/// 1, given `SEEDS[0]`, migrated to level 2 and given `SEEDS[1]` (so a seed
/// keeps the names of its time when a later level renames). Written once for both backends (`TRUE`/`FALSE` are
/// booleans on PostgreSQL and 1/0 on SQLite); `{ADMIN_HASH}`-style
/// placeholders are the SHA-256 of the secrets above. Times are unix
/// milliseconds in 2026.
const SEEDS: [&str; 10] = [
    // 0001_keys_and_audit: keys and the audit log.
    "INSERT INTO server_state (name, value) VALUES ('initial_key_created', '2026-01-02T03:04:05Z');
     INSERT INTO api_keys (id, name, scopes, secret_hash, created_at, created_by, expires_at, revoked_at, last_used_at, last_used_ip) VALUES
        ('seedadmin0000001', 'initial admin', 'scim:provision users:read users:write users:deprovision groups:read keys:manage settings:manage allowlist:manage roles:manage audit:read sessions:issue sessions:introspect', '{ADMIN_HASH}', 1767323045000, NULL, NULL, NULL, 1767323100000, '127.0.0.1'),
        ('seedrevoked00002', 'old ci key', 'users:read audit:read', '{OTHER_HASH}', 1767323200000, 'seedadmin0000001', 4102444800000, 1767400000000, NULL, NULL);
     INSERT INTO audit_log (at, actor_key_id, actor_name, source_ip, request_id, action, target, outcome, details) VALUES
        (1767323045000, NULL, 'system', NULL, NULL, 'key.create', 'seedadmin0000001', 'success', '{\"name\":\"initial admin\",\"initial\":true}'),
        (1767323200000, 'seedadmin0000001', 'initial admin', '127.0.0.1', 'seed-request-1', 'key.create', 'seedrevoked00002', 'success', '{\"name\":\"old ci key\"}'),
        (1767400000000, 'seedadmin0000001', 'initial admin', '127.0.0.1', 'seed-request-2', 'key.revoke', 'seedrevoked00002', 'success', '{\"name\":\"old ci key\"}'),
        (1767400001000, NULL, 'anonymous', '192.0.2.7', 'seed-request-3', 'auth.denied', '/admin/v1/keys', 'denied', '{\"reason\":\"invalid API key\",\"method\":\"GET\"}');",
    // 0002_directory: roles, settings, users, teams (now groups), sessions, locks,
    // personal keys.
    "INSERT INTO roles (name, permissions, builtin, created_at) VALUES ('support', 'users:read groups:read', FALSE, 1767410000000);
     UPDATE settings SET auto_deprovisioning = FALSE, default_role = 'support' WHERE id = 1;
     INSERT INTO users (id, user_name, user_name_key, external_id, given_name, family_name, formatted_name, display_name, active, origin, attributes, version, deprovision_state, deprovisioned_at, deleted_at, created_at, updated_at) VALUES
        ('11111111-1111-4111-8111-111111111111', 'Alice', 'alice', 'ext-alice', 'Alice', 'Liddell', 'Alice Liddell', 'Alice L', TRUE, 'scim', '{\"emails\":[{\"value\":\"Alice@Example.com\",\"type\":\"work\",\"primary\":true}],\"title\":\"Engineer\",\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"R&D\"}}', 3, 'none', NULL, NULL, 1767410000000, 1767420000000),
        ('22222222-2222-4222-8222-222222222222', 'bob', 'bob', NULL, NULL, NULL, NULL, NULL, TRUE, 'manual', '{}', 1, 'none', NULL, NULL, 1767410001000, 1767410001000),
        ('33333333-3333-4333-8333-333333333333', 'carol', 'carol', 'ext-carol', 'Carol', 'Danvers', NULL, NULL, FALSE, 'scim', '{}', 5, 'done', 1767430000000, 1767430000000, 1767410002000, 1767430000000),
        ('44444444-4444-4444-8444-444444444444', 'dave', 'dave', 'ext-dave', NULL, NULL, NULL, NULL, FALSE, 'scim', '{}', 2, 'pending', NULL, NULL, 1767410003000, 1767440000000);
     INSERT INTO user_emails (user_id, position, value, value_key, type, is_primary) VALUES
        ('11111111-1111-4111-8111-111111111111', 0, 'Alice@Example.com', 'alice@example.com', 'work', TRUE),
        ('22222222-2222-4222-8222-222222222222', 0, 'bob@example.com', 'bob@example.com', NULL, FALSE);
     INSERT INTO user_roles (user_id, role_name) VALUES
        ('11111111-1111-4111-8111-111111111111', 'support'),
        ('11111111-1111-4111-8111-111111111111', 'auditor'),
        ('22222222-2222-4222-8222-222222222222', 'admin'),
        ('44444444-4444-4444-8444-444444444444', 'member');
     INSERT INTO teams (id, display_name, display_name_key, external_id, attributes, version, created_at, updated_at) VALUES
        ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'Engineering', 'engineering', 'ext-eng', '{}', 2, 1767410004000, 1767410005000);
     INSERT INTO team_members (team_id, user_id) VALUES
        ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '11111111-1111-4111-8111-111111111111'),
        ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', '44444444-4444-4444-8444-444444444444');
     INSERT INTO sessions (id, user_id, secret_hash, created_at, created_by, expires_at, revoked_at) VALUES
        ('seedsession00001', '11111111-1111-4111-8111-111111111111', '{SESSION_HASH}', 1767420000000, 'seedadmin0000001', 4102444800000, NULL),
        ('seedsession00002', '33333333-3333-4333-8333-333333333333', '{OTHER_HASH}', 1767420000000, 'seedadmin0000001', 4102444800000, 1767430000000);
     INSERT INTO locks (id, user_id, reason, created_at, created_by) VALUES
        ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', '33333333-3333-4333-8333-333333333333', 'deactivated by scim', 1767430000000, 'okta');
     INSERT INTO api_keys (id, name, scopes, secret_hash, created_at, created_by, expires_at, revoked_at, last_used_at, last_used_ip, owner_user_id) VALUES
        ('seedpersonal0003', 'alice laptop', 'users:read', '{PERSONAL_HASH}', 1767420000000, 'seedadmin0000001', NULL, NULL, NULL, NULL, '11111111-1111-4111-8111-111111111111');
     INSERT INTO audit_log (at, actor_key_id, actor_name, source_ip, request_id, action, target, outcome, details) VALUES
        (1767430000000, 'seedadmin0000001', 'okta', '127.0.0.1', 'seed-request-4', 'user.deprovision', 'carol', 'success', '{\"id\":\"33333333-3333-4333-8333-333333333333\"}');",
    // 0003_allowlist: the IP allowlist (loopback in it, or the test itself
    // would be shut out).
    "INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES
        ('127.0.0.0/8', 'loopback', 1767450000000, 'initial admin'),
        ('10.0.0.0/8', 'office VPN', 1767450000000, 'initial admin'),
        ('2001:db8::/32', NULL, 1767450001000, 'system');
     UPDATE allowlist_version SET version = 2 WHERE id = 1;",
    // 0004_config_version: the version its triggers bump with every
    // settings or allowlist change, as after a few changes.
    "UPDATE config_version SET version = 41 WHERE id = 1;",
    // 0005_groups: teams renamed to groups; a group made under the new
    // names, with a member.
    "INSERT INTO groups (id, display_name, display_name_key, external_id, attributes, version, created_at, updated_at) VALUES
        ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'Support', 'support', NULL, '{}', 1, 1767460000000, 1767460000000);
     INSERT INTO group_members (group_id, user_id) VALUES
        ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', '22222222-2222-4222-8222-222222222222');",
    // 0006_mappings: user_roles became a view over role grants with their
    // sources; a mapping from a group, one from a SCIM roles value, the
    // grant the first gave Alice, a group with a membership made by hand.
    "INSERT INTO role_mappings (id, group_id, scim_role, scim_role_key, role_name, created_at, created_by) VALUES
        ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', NULL, NULL, 'auditor', 1767470000000, 'initial admin'),
        ('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', NULL, 'Admin', 'admin', 'admin', 1767470000000, 'initial admin');
     INSERT INTO role_grants (user_id, role_name, source, granted_at, granted_by) VALUES
        ('11111111-1111-4111-8111-111111111111', 'auditor', 'mapping:dddddddd-dddd-4ddd-8ddd-dddddddddddd', 1767470000000, 'seedadmin0000001');
     INSERT INTO groups (id, display_name, display_name_key, external_id, attributes, version, created_at, updated_at) VALUES
        ('ffffffff-ffff-4fff-8fff-ffffffffffff', 'Ops', 'ops', NULL, '{}', 1, 1767470001000, 1767470001000);
     INSERT INTO group_members (group_id, user_id, via, added_at, added_by) VALUES
        ('ffffffff-ffff-4fff-8fff-ffffffffffff', '22222222-2222-4222-8222-222222222222', 'manual', 1767470001000, 'initial admin');",
    // 0007_safety_rails: bob protected, dave's deactivation held by an open
    // breaker with its own thresholds, one deprovisioning in its window.
    "INSERT INTO protected_users (user_id, protected_at, protected_by) VALUES
        ('22222222-2222-4222-8222-222222222222', 1767470000000, 'initial admin');
     INSERT INTO held_changes (id, user_id, action, role_name, source, reason, created_at, actor_name, request_id) VALUES
        ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', '44444444-4444-4444-8444-444444444444', 'deactivate', NULL, NULL, 'breaker', 1767470000000, 'okta', 'seed-request-7');
     UPDATE breaker SET threshold = 40, percent = 5, window_seconds = 1800, opened_at = 1767470000000 WHERE id = 1;
     INSERT INTO breaker_events (id, user_id, at) VALUES
        ('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', '33333333-3333-4333-8333-333333333333', 1767469000000);",
    // 0008_journal: the SCIM request journal, with one exchange (recent
    // enough that the first prune keeps it).
    "INSERT INTO scim_journal (at, request_id, key_id, source_ip, method, path, status, duration_us, user_id, user_name_key, request_headers, request_body, response_body, size) VALUES
        (4102444700000, 'seed-request-9', 'seedadmin0000001', '192.0.2.9', 'PATCH', '/scim/v2/Users/11111111-1111-4111-8111-111111111111', 200, 1500, '11111111-1111-4111-8111-111111111111', 'alice', '{\"user-agent\":\"Okta SCIM Client 1.0.0\"}', '{\"Operations\":[]}', '{\"id\":\"11111111-1111-4111-8111-111111111111\"}', 400);",
    // 0009_journal_file: no table or column added (on SQLite the journal
    // left this database for a file of its own; see DROPPED).
    "-- nothing new to seed",
    // 0010_journal_user_indexes: no table or column added (two of the
    // journal's indexes become partial; level 8's check finds the seeded
    // exchange by user through them).
    "-- nothing new to seed",
];

/// A table a migration renamed, with the columns it renamed in it: its
/// rows must be found under the new names.
struct Renamed {
    was: &'static str,
    now: &'static str,
    columns: &'static [(&'static str, &'static str)],
}

const RENAMED: [Renamed; 3] = [
    Renamed {
        was: "teams",
        now: "groups",
        columns: &[],
    },
    Renamed {
        was: "team_members",
        now: "group_members",
        columns: &[("team_id", "group_id")],
    },
    // Still readable as the view `user_roles`.
    Renamed {
        was: "user_roles",
        now: "role_grants",
        columns: &[],
    },
];

/// A table a migration dropped on one backend on purpose: its rows are not
/// looked for after the upgrade, and the table must be gone.
struct Dropped {
    table: &'static str,
    backend: Backend,
}

const DROPPED: [Dropped; 1] = [
    // 0009_journal_file: on SQLite the SCIM request journal moved to a file
    // of its own; the exchanges journaled before were dropped, not moved
    // (a troubleshooting log, in no release before the move).
    Dropped {
        table: "scim_journal",
        backend: Backend::Sqlite,
    },
];

/// Where `table`'s rows (and `column` in them) live now.
fn renamed(table: &str, column: &str) -> (String, String) {
    match RENAMED.iter().find(|renamed| renamed.was == table) {
        Some(renamed) => {
            let column = renamed
                .columns
                .iter()
                .find(|(was, _)| *was == column)
                .map_or(column, |(_, now)| now);
            (renamed.now.to_owned(), column.to_owned())
        }
        None => (table.to_owned(), column.to_owned()),
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn seed_sql(level_index: usize) -> String {
    SEEDS[level_index]
        .replace("{ADMIN_HASH}", &hash(ADMIN_SECRET))
        .replace("{PERSONAL_HASH}", &hash(PERSONAL_SECRET))
        .replace("{SESSION_HASH}", &hash(SESSION_SECRET))
        .replace("{OTHER_HASH}", &hash(OTHER_SECRET))
}

fn migrations_dir(backend: Backend) -> PathBuf {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/store/migrations")
        .join(name)
}

/// The shipped migrations of `backend`, read from the same files the server
/// embeds (so their checksums agree).
fn migrator(database: &TestDatabase) -> Migrator {
    database
        .block_on(Migrator::new(migrations_dir(database.backend)))
        .expect("read the migrations directory")
}

/// Brings the empty `database` to the latest migration without starting a
/// server: for tests that seed data as an earlier release left it.
pub(crate) fn migrate_to_latest(database: &TestDatabase) {
    let latest = migrator(database)
        .iter()
        .map(|migration| migration.version)
        .max()
        .expect("at least one migration");
    migrate_to(database, latest);
}

/// Brings the empty `database` to migration `level`, as the release that
/// shipped it would have.
fn migrate_to(database: &TestDatabase, level: i64) {
    let migrator = migrator(database);
    database.block_on(async {
        match database.backend {
            Backend::Sqlite => {
                let path = database
                    .url
                    .strip_prefix("sqlite://")
                    .expect("an sqlite:// URL");
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true);
                let pool = sqlx::SqlitePool::connect_with(options)
                    .await
                    .expect("open the SQLite file");
                migrator.run_to(level, &pool).await.expect("migrate SQLite");
                pool.close().await;
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&database.url)
                    .await
                    .expect("connect to PostgreSQL");
                migrator
                    .run_to(level, &pool)
                    .await
                    .expect("migrate PostgreSQL");
                pool.close().await;
            }
        }
    });
}

/// Every row of every table, by table.
fn rows_by_table(database: &TestDatabase) -> BTreeMap<String, Vec<NullableDbRow>> {
    database
        .tables()
        .into_iter()
        .map(|table| {
            let rows = database.query_rows_nullable(&format!("SELECT * FROM {table}"));
            (table, rows)
        })
        .collect()
}

/// Asserts every row `before` holds is in `after` with the same values in
/// the columns it had (a migration may add columns and rows, and rename
/// what [`RENAMED`] lists, never lose or change one), except in the tables
/// [`DROPPED`] lists for `backend`, which must be gone.
#[track_caller]
fn assert_intact(
    backend: Backend,
    before: &BTreeMap<String, Vec<NullableDbRow>>,
    after: &BTreeMap<String, Vec<NullableDbRow>>,
    context: &str,
) {
    for (table, rows) in before {
        if DROPPED
            .iter()
            .any(|dropped| dropped.backend == backend && dropped.table == table)
        {
            assert!(
                !after.contains_key(table),
                "{context}: table {table} should have been dropped"
            );
            continue;
        }
        let (now_table, _) = renamed(table, "");
        let rows: Vec<NullableDbRow> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|(column, value)| (renamed(table, column).1, value.clone()))
                    .collect()
            })
            .collect();
        let now = after
            .get(&now_table)
            .unwrap_or_else(|| panic!("{context}: table {table} is gone"));
        let mut remaining: Vec<NullableDbRow> = now
            .iter()
            .map(|row| {
                row.iter()
                    .filter(|(column, _)| {
                        rows.first()
                            .is_some_and(|first| first.contains_key(*column))
                    })
                    .map(|(column, value)| (column.clone(), value.clone()))
                    .collect()
            })
            .collect();
        for row in &rows {
            let found = remaining.iter().position(|candidate| candidate == row);
            match found {
                Some(at) => {
                    remaining.swap_remove(at);
                }
                None => panic!(
                    "{context}: a row of {table} was lost or changed by the upgrade: {row:?}\nnow: {now:#?}"
                ),
            }
        }
    }
}

/// The seeded data still works through the current server, as far as the
/// database's `level` (1-based count of migrations it was made with) seeded
/// it.
fn check_behaviour(server: &TestServer, level: usize, context: &str) {
    // Level 1: keys and audit entries.
    let (status, _, me) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "{context}: the old admin key authenticates: {me}"
    );
    assert_eq!(me["key"]["id"], ADMIN_KEY_ID, "{context}");
    assert_eq!(
        me["key"]["scopes"].as_array().map(Vec::len),
        Some(12),
        "{context}: {me}"
    );
    let revoked = format!("scimctl_{REVOKED_KEY_ID}_{OTHER_SECRET}");
    let (status, _, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&revoked), None);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("revoked")),
        "{context}: {body}"
    );
    let entries = cli_json(
        server,
        &[
            "audit",
            "list",
            "--action",
            "key.*",
            "--target",
            REVOKED_KEY_ID,
        ],
    );
    let actions: Vec<&str> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["key.revoke", "key.create"],
        "{context}: old audit entries are listed, newest first"
    );
    assert_eq!(
        entries[0]["request_id"], "seed-request-2",
        "{context}: {entries}"
    );
    if level < 2 {
        return;
    }

    // Level 2: the directory.
    let alice = server
        .http(
            Method::GET,
            &format!("/scim/v2/Users/{ALICE}"),
            Some(&server.root_token),
            None,
        )
        .2;
    assert_eq!(alice["userName"], "Alice", "{context}: {alice}");
    assert_eq!(alice["title"], "Engineer", "{context}: {alice}");
    assert_eq!(alice[ENTERPRISE]["department"], "R&D", "{context}: {alice}");
    assert_eq!(
        alice["emails"],
        json!([{ "value": "Alice@Example.com", "type": "work", "primary": true }]),
        "{context}"
    );
    assert_eq!(alice["meta"]["version"], "W/\"3\"", "{context}: {alice}");
    assert_eq!(
        alice["groups"][0]["display"], "Engineering",
        "{context}: {alice}"
    );
    let deleted = server
        .http(
            Method::GET,
            "/scim/v2/Users/33333333-3333-4333-8333-333333333333",
            Some(&server.root_token),
            None,
        )
        .0;
    assert_eq!(
        deleted,
        StatusCode::NOT_FOUND,
        "{context}: a tombstone stays out of SCIM"
    );

    let session = format!("scimsess_{SESSION_ID}_{SESSION_SECRET}");
    let (status, _, live) = server.http(
        Method::POST,
        "/auth/v1/introspect",
        Some(&server.root_token),
        Some(json!({ "token": session })),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(live["active"], true, "{context}: {live}");
    assert_eq!(
        live["roles"],
        json!(["auditor", "support"]),
        "{context}: {live}"
    );
    assert_eq!(live["groups"], json!(["Engineering"]), "{context}: {live}");
    let personal = format!("scimctl_{PERSONAL_KEY_ID}_{PERSONAL_SECRET}");
    let (status, _, body) = server.http(Method::GET, "/admin/v1/users/bob", Some(&personal), None);
    assert_eq!(
        status,
        StatusCode::OK,
        "{context}: the personal key works: {body}"
    );

    let verify = server
        .cli_as_root()
        .args(["users", "verify", "carol"])
        .output()
        .expect("run users verify");
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{context}: carol stays deprovisioned: {}",
        String::from_utf8_lossy(&verify.stdout)
    );
    let pending = cli_json(server, &["users", "list", "--pending"]);
    assert_eq!(
        pending.as_array().map(Vec::len),
        Some(1),
        "{context}: {pending}"
    );
    assert_eq!(pending[0]["user_name"], "dave", "{context}");
    let settings = cli_json(server, &["provisioning", "status"]);
    assert_eq!(
        settings["auto_deprovisioning"], false,
        "{context}: {settings}"
    );
    assert_eq!(settings["default_role"], "support", "{context}: {settings}");

    // And it takes changes: the version moves on from where it was.
    let (status, _, patched) = server.http(
        Method::PATCH,
        &format!("/scim/v2/Users/{ALICE}"),
        Some(&server.root_token),
        Some(json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "replace", "path": "title", "value": "Lead" }] })),
    );
    assert_eq!(status, StatusCode::OK, "{context}: {patched}");
    assert_eq!(
        patched["meta"]["version"], "W/\"4\"",
        "{context}: {patched}"
    );
    if level < 3 {
        return;
    }

    // Level 3: the allowlist.
    let entries = cli_json(server, &["allowlist", "list"]);
    let cidrs: Vec<&str> = entries
        .as_array()
        .expect("array")
        .iter()
        .map(|entry| entry["cidr"].as_str().expect("cidr"))
        .collect();
    assert_eq!(cidrs.len(), 3, "{context}: {entries}");
    for cidr in ["127.0.0.0/8", "10.0.0.0/8", "2001:db8::/32"] {
        assert!(cidrs.contains(&cidr), "{context}: {cidr} in {entries}");
    }
    let outside = server
        .cli_as_root()
        .args(["allowlist", "check", "192.0.2.1"])
        .output()
        .expect("run allowlist check");
    assert_eq!(
        outside.status.code(),
        Some(5),
        "{context}: the old list still decides"
    );
    if level < 4 {
        return;
    }

    // Level 4: a change made on the database by hand is in force at the
    // next request (the triggers bump the version the server caches by).
    server.execute("DELETE FROM allowlist WHERE cidr = '127.0.0.0/8'");
    let (status, _, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{context}: {body}");
    server.execute(
        "INSERT INTO allowlist (cidr, note, created_at, created_by) \
         VALUES ('127.0.0.0/8', 'loopback', 1767450000000, 'initial admin')",
    );
    let (status, _, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{context}: {body}");
    if level < 5 {
        return;
    }

    // Level 5: groups under their new table names, members included.
    let support = cli_json(server, &["groups", "show", "Support"]);
    assert_eq!(
        support["members"][0]["user_name"], "bob",
        "{context}: {support}"
    );

    // Level 6 (and the roles of every level before it): each role of a
    // user has its source; the ones from before sources were recorded read
    // as the default role (a SCIM user's default role) or given by hand.
    let why = cli_json(server, &["users", "why", "Alice"]);
    let sources = |role: &str| -> Vec<String> {
        why["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .filter(|entry| entry["role"] == role)
            .flat_map(|entry| entry["sources"].as_array().expect("sources").clone())
            .map(|source| source["kind"].as_str().expect("kind").to_owned())
            .collect()
    };
    assert_eq!(sources("support"), ["default"], "{context}: {why}");
    let auditor = sources("auditor");
    let expected: &[&str] = if level < 6 {
        &["manual"]
    } else {
        &["manual", "mapping"]
    };
    assert_eq!(auditor, expected, "{context}: {why}");
    let bob = cli_json(server, &["users", "why", "bob"]);
    assert_eq!(bob["roles"][0]["role"], "admin", "{context}: {bob}");
    assert_eq!(
        bob["roles"][0]["sources"][0]["kind"], "manual",
        "{context}: {bob}"
    );
    if level < 6 {
        return;
    }
    let mappings = cli_json(server, &["mappings", "list"]);
    assert_eq!(
        mappings.as_array().map(Vec::len),
        Some(2),
        "{context}: {mappings}"
    );
    // Memberships from before: by the user's origin (Alice came by SCIM,
    // bob was made by hand); the new one with when and by whom.
    assert_eq!(why["groups"][0]["via"], "scim", "{context}: {why}");
    let bob = cli_json(server, &["users", "why", "bob"]);
    let vias: Vec<(&str, &str)> = bob["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|entry| {
            let name = entry["group"]["display_name"].as_str().expect("name");
            (name, entry["via"].as_str().expect("via"))
        })
        .collect();
    assert_eq!(
        vias,
        [("Ops", "manual"), ("Support", "manual")],
        "{context}: {bob}"
    );
    assert_eq!(
        bob["groups"][0]["added_by"], "initial admin",
        "{context}: {bob}"
    );
    if level < 7 {
        return;
    }

    // Level 7: protection, held changes and the open breaker read back as
    // they were.
    let bob = cli_json(server, &["users", "show", "bob"]);
    assert_eq!(bob["protected"], true, "{context}: {bob}");
    let dave = cli_json(server, &["users", "show", "dave"]);
    assert_eq!(dave["held"][0]["reason"], "breaker", "{context}: {dave}");
    assert_eq!(dave["held"][0]["action"], "deactivate", "{context}: {dave}");
    let breaker = cli_json(server, &["provisioning", "breaker", "status"]);
    assert_eq!(
        (
            &breaker["state"],
            &breaker["threshold"],
            &breaker["percent"],
            &breaker["window_seconds"]
        ),
        (&json!("open"), &json!(40), &json!(5), &json!(1800)),
        "{context}: {breaker}"
    );
    assert_eq!(
        breaker["held"][0]["user"]["user_name"], "dave",
        "{context}: {breaker}"
    );
    if level < 8 {
        return;
    }

    // Level 8: the journal. On PostgreSQL its exchanges are still there,
    // found by request id and by user. On SQLite (0009) it is in a file of
    // its own and the old exchanges are gone; the main file has no journal.
    let database = server.database();
    match database.backend {
        Backend::Postgres => {
            let exchange = cli_json(server, &["scim", "show", "seed-request-9"]);
            assert_eq!(exchange["status"], 200, "{context}: {exchange}");
            assert_eq!(
                exchange["request_headers"]["user-agent"], "Okta SCIM Client 1.0.0",
                "{context}: {exchange}"
            );
            assert!(
                journaled_about_alice(server).contains(&"seed-request-9".to_owned()),
                "{context}"
            );
        }
        Backend::Sqlite => {
            assert!(
                !database.tables().contains(&"scim_journal".to_owned()),
                "{context}: {:?}",
                database.tables()
            );
            assert!(
                database
                    .query_journal(
                        "SELECT id FROM scim_journal WHERE request_id = 'seed-request-9'"
                    )
                    .is_empty(),
                "{context}"
            );
        }
    }
    // Either way the journal keeps what comes now: the PATCH of Alice above.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while journaled_about_alice(server).len()
        < 1 + usize::from(database.backend == Backend::Postgres)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{context}: the PATCH of Alice is not journaled"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The request ids `scim log --user Alice` lists.
fn journaled_about_alice(server: &TestServer) -> Vec<String> {
    cli_json(server, &["scim", "log", "--user", "Alice"])
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|entry| entry["request_id"].as_str().map(str::to_owned))
        .collect()
}

#[track_caller]
fn cli_json(server: &TestServer, args: &[&str]) -> Value {
    let output = server
        .cli_as_root()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("run scimctl");
    assert!(
        output.status.success(),
        "scimctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("scimctl {args:?} -o json ({err})"))
}

/// For each shipped level: a database made and seeded at that level, opened
/// by the current server.
fn every_level_upgrades_intact(backend: Backend, test: &str) {
    for level_index in 0..SEEDS.len() {
        let Some(database) = TestDatabase::create(backend) else {
            skipped(test);
            return;
        };
        let levels: Vec<i64> = migrator(&database)
            .iter()
            .map(|migration| migration.version)
            .collect();
        assert_eq!(
            levels.len(),
            SEEDS.len(),
            "{} migrations but {} seeds: a new migration needs its seed in SEEDS (and its checks in check_behaviour)",
            levels.len(),
            SEEDS.len()
        );
        let level = levels[level_index];
        let context = format!("{backend:?} database from migration level {level}");
        for (seed, seed_level) in levels.iter().enumerate().take(level_index + 1) {
            migrate_to(&database, *seed_level);
            database.execute(&seed_sql(seed));
        }
        let before = rows_by_table(&database);
        if level_index + 1 == SEEDS.len() {
            let empty: Vec<&String> = before
                .iter()
                .filter(|(_, rows)| rows.is_empty())
                .map(|(table, _)| table)
                .collect();
            assert!(
                empty.is_empty(),
                "the seeds leave tables {empty:?} empty: seed them, so their rows are checked too"
            );
        }

        let token = format!("scimctl_{ADMIN_KEY_ID}_{ADMIN_SECRET}");
        let server = TestServer::start_on(database, Some(token));
        assert_intact(
            backend,
            &before,
            &rows_by_table(server.database()),
            &context,
        );
        check_behaviour(&server, level_index + 1, &context);
    }
}

#[test]
fn sqlite() {
    every_level_upgrades_intact(Backend::Sqlite, module_path!());
}

#[test]
fn postgres() {
    every_level_upgrades_intact(Backend::Postgres, module_path!());
}
