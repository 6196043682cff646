//! Text from outside on both backends (issue 7, item 6): NUL and other
//! control characters refused with a 400 naming the field on every surface,
//! lengths capped the same way on SQLite and PostgreSQL, stored JSON that
//! cannot break later queries, huge member lists answered with a 4xx, and
//! userNames compared by RFC 8265 (UsernameCaseMapped).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::schema_upgrade::migrate_to_latest;
use crate::scim_support::{
    GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, created, encode, filter, id_of, list, scim_error,
    scim_error_kind,
};
use crate::support::{Backend, TestDatabase, TestServer, both_backends, skipped};

fn user(user_name: &str) -> Value {
    json!({ "schemas": [USER_SCHEMA], "userName": user_name })
}

/// The characters the issue found accepted by SCIM: NUL, BEL, LF, DEL, and
/// RIGHT-TO-LEFT OVERRIDE.
const BAD: [&str; 5] = ["\u{0}", "\u{7}", "\n", "\u{7f}", "\u{202e}"];

/// `n` in base 62: distinct member ids short enough that 51,000 of them fit
/// the default 1 MiB body limit.
fn compact_id(mut n: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut id = Vec::new();
    loop {
        id.push(DIGITS[n % 62]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
    String::from_utf8(id).expect("ASCII")
}

/// An admin API error: status and message.
#[track_caller]
fn admin_error(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> String {
    let (status, _, reply) = server.http(method, path, Some(&server.root_token), body);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {reply}");
    assert_eq!(reply["error"]["code"], "bad_request", "{reply}");
    reply["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

both_backends! {
    fn control_characters_are_refused_naming_the_field_on_every_surface(server: &TestServer) {
        let idp = Idp::generic(server);
        let group = created(
            &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Ops" })),
            "Group",
        );
        for bad in BAD {
            let name = format!("a{bad}b");
            let detail = scim_error(&idp.post("/Users", user(&name)), StatusCode::BAD_REQUEST, Some("invalidValue"));
            assert!(detail.contains("userName"), "{detail}");
            let message = admin_error(server, Method::POST, "/admin/v1/users", Some(json!({ "user_name": name })));
            assert!(message.contains("userName"), "{message}");

            let mut body = user("fine@example.com");
            body["title"] = json!(format!("t{bad}x"));
            if bad != "\n" {
                let detail = scim_error(&idp.post("/Users", body), StatusCode::BAD_REQUEST, Some("invalidValue"));
                assert!(detail.contains("title"), "{detail}");
            }
            let detail = scim_error(
                &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": name })),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            );
            assert!(detail.contains("displayName"), "{detail}");
            let message = admin_error(
                server,
                Method::POST,
                "/admin/v1/keys",
                Some(json!({ "name": name, "scopes": ["scim:provision"] })),
            );
            assert!(message.contains("key name"), "{message}");

            let reply = idp.get(&format!("/Users?{}", filter(&format!("userName eq \"{name}\""))));
            let detail = scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
            assert!(detail.contains("filter"), "{detail}");
            let encoded = encode(&name);
            for path in [format!("/Users/{encoded}"), format!("/Groups/{encoded}")] {
                let (kind, detail) = scim_error_kind(&idp.get(&path), StatusCode::BAD_REQUEST);
                assert_eq!(kind.as_deref(), Some("invalidValue"));
                assert!(detail.contains("path"), "{detail}");
            }
            for path in [
                format!("/admin/v1/users/{encoded}"),
                format!("/admin/v1/keys/{encoded}"),
                format!("/admin/v1/groups/{encoded}"),
                format!("/admin/v1/users?search={encoded}"),
            ] {
                let message = admin_error(server, Method::GET, &path, None);
                assert!(message.contains("path") || message.contains("search"), "{message}");
            }
            let detail = scim_error(
                &idp.patch(
                    &format!("/Groups/{}", id_of(&group)),
                    json!({ "schemas": [PATCH_OP], "Operations": [
                        { "op": "add", "path": "members", "value": [{ "value": name }] }
                    ]}),
                ),
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
            );
            assert!(detail.contains("members[0].value"), "{detail}");
        }
        // Nothing of it was stored.
        let users = list(idp.get("/Users").expect(StatusCode::OK), 0, 1);
        assert!(users.is_empty(), "{users:?}");
    }

    fn lengths_are_capped_alike_on_both_backends(server: &TestServer) {
        let idp = Idp::generic(server);
        // Over 2,700 bytes: PostgreSQL's unique index could not hold it.
        let long = "é".repeat(1400);
        let detail = scim_error(&idp.post("/Users", user(&long)), StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(detail.contains("userName") && detail.contains("256"), "{detail}");
        let longest = "a".repeat(256);
        created(&idp.post("/Users", user(&longest)), "User");
        let mut body = user("x@example.com");
        body["externalId"] = json!("e".repeat(3000));
        let detail = scim_error(&idp.post("/Users", body), StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(detail.contains("externalId"), "{detail}");
        let detail = scim_error(
            &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "g".repeat(3000) })),
            StatusCode::BAD_REQUEST,
            Some("invalidValue"),
        );
        assert!(detail.contains("displayName"), "{detail}");
        // A 25,000-character `co` value (SQLite: "LIKE pattern too complex").
        let search = |filter: String| {
            idp.post(
                "/Users/.search",
                json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": filter }),
            )
        };
        let reply = search(format!("userName co \"{}\"", "é".repeat(25_000)));
        let detail = scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(detail.contains("1024"), "{detail}");
        let reply = search(format!("title co \"{}\"", "é".repeat(1024)));
        reply.expect(StatusCode::OK);
    }

    fn a_stored_nul_in_json_breaks_no_later_query(server: &TestServer) {
        let idp = Idp::generic(server);
        let mut body = user("old@example.com");
        body["title"] = json!("tx");
        let old = created(&idp.post("/Users", body), "User");
        created(&idp.post("/Users", user("new@example.com")), "User");
        // Data from before the text rules, written past them.
        server.execute(&format!(
            "UPDATE users SET attributes = '{{\"title\":\"t\\u0000x\"}}' WHERE id = '{}'",
            id_of(&old)
        ));
        for query in [
            filter("title eq \"x\""),
            filter("title co \"x\""),
            filter("not (title pr)"),
            "sortBy=title".to_owned(),
            filter("phoneNumbers[value eq \"1\"]"),
        ] {
            let reply = idp.get(&format!("/Users?{query}"));
            reply.expect(StatusCode::OK);
        }
        // SQLite reads the text up to the NUL, PostgreSQL with U+FFFD for it:
        // the prefix matches on both.
        let listed = list(idp.get(&format!("/Users?{}", filter("title sw \"t\""))).expect(StatusCode::OK), 1, 1);
        assert_eq!(id_of(&listed[0]), id_of(&old));
    }

    fn huge_member_lists_get_a_clear_4xx(server: &TestServer) {
        let idp = Idp::generic(server);
        let group = created(
            &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "All" })),
            "Group",
        );
        let path = format!("/Groups/{}", id_of(&group));
        let patch = |count: usize| {
            let values: Vec<Value> = (0..count).map(|n| json!({ "value": compact_id(n) })).collect();
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": values }] })
        };
        // 33,000 ids (SQLite binds at most 32,766 values in one statement).
        let detail = scim_error(&idp.patch(&path, patch(33_000)), StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(detail.contains("is not a user"), "{detail}");
        // Over the per-request cap, under the body limit.
        let detail = scim_error(&idp.patch(&path, patch(51_000)), StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(detail.contains("50000"), "{detail}");
        // 100,000: over the body limit.
        let reply = idp.patch(&path, patch(100_000));
        assert!(reply.status.is_client_error(), "{}: {}", reply.status, reply.body);
    }

    fn user_names_are_compared_by_rfc_8265(server: &TestServer) {
        let idp = Idp::generic(server);
        // Look-alikes RFC 8265 UsernameCaseMapped makes one name: NFC/NFD,
        // fullwidth letters, case. The second is a conflict, on SCIM and on
        // the admin API, and each finds the first by filter and by name.
        let pairs = [
            ("caf\u{e9}@example.com", "cafe\u{301}@example.com"),
            ("\u{ff41}lice", "alice"),
            ("\u{ff22}OB", "bob"),
            ("J\u{d6}RG", "j\u{f6}rg"),
            ("\u{3a3}igma", "\u{3c3}IGMA"),
        ];
        for (first, second) in pairs {
            let kept = created(&idp.post("/Users", user(first)), "User");
            let reply = idp.post("/Users", user(second));
            scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/users",
                Some(&server.root_token),
                Some(json!({ "user_name": second })),
            );
            assert_eq!(status, StatusCode::CONFLICT, "{second}: {body}");
            let found = list(
                idp.get(&format!("/Users?{}", filter(&format!("userName eq \"{second}\"")))).expect(StatusCode::OK),
                1,
                1,
            );
            assert_eq!(id_of(&found[0]), id_of(&kept));
            // Stored as sent.
            assert_eq!(found[0]["userName"], first);
            let (status, _, shown) = server.http(
                Method::GET,
                &format!("/admin/v1/users/{}", encode(second)),
                Some(&server.root_token),
                None,
            );
            assert_eq!(status, StatusCode::OK, "{shown}");
            assert_eq!(shown["id"], id_of(&kept));
        }
        // Invisible characters have no username form: refused, not a second user.
        for invisible in ["ali\u{200b}ce", "\u{feff}alice", "al\u{200d}ice"] {
            let detail = scim_error(&idp.post("/Users", user(invisible)), StatusCode::BAD_REQUEST, Some("invalidValue"));
            assert!(detail.contains("userName") && detail.contains("RFC 8265"), "{detail}");
        }
        // Different names under RFC 8265 (not look-alikes it folds): `ß` is
        // not `ss`, dotless `ı` is not `i`.
        for (first, second) in [("stra\u{df}e", "strasse"), ("\u{131}nci", "inci")] {
            created(&idp.post("/Users", user(first)), "User");
            created(&idp.post("/Users", user(second)), "User");
        }
    }
}

/// A database as the release before RFC 8265 keys left it: lowercase keys
/// (so `ＡＬＩＣＥ` and NFD `é` were not found as `alice` and NFC `é`), and a
/// `title` holding NUL. The first start re-keys and scrubs, once.
fn start_upgrades_keys_and_scrubs_json(backend: Backend, test: &str) {
    let Some(database) = TestDatabase::create(backend) else {
        skipped(test);
        return;
    };
    migrate_to_latest(&database);
    database.execute(
        "INSERT INTO users (id, user_name, user_name_key, active, origin, attributes, version, \
         deprovision_state, created_at, updated_at) VALUES \
         ('u-wide', '\u{ff21}LICE', '\u{ff41}lice', TRUE, 'scim', '{\"title\":\"t\\u0000x\"}', 1, 'none', 1767410000000, 1767410000000), \
         ('u-nfd', 'cafe\u{301}', 'cafe\u{301}', TRUE, 'scim', '{}', 1, 'none', 1767410001000, 1767410001000), \
         ('u-gone', 'bob', 'released:u-gone', FALSE, 'scim', '{}', 1, 'done', 1767410002000, 1767410002000)",
    );
    let server = TestServer::start_on(database, None);
    let idp = Idp::generic(&server);
    for (name, id) in [("alice", "u-wide"), ("caf\u{e9}", "u-nfd")] {
        let found = list(
            idp.get(&format!(
                "/Users?{}",
                filter(&format!("userName eq \"{name}\""))
            ))
            .expect(StatusCode::OK),
            1,
            1,
        );
        assert_eq!(id_of(&found[0]), id, "{name}");
    }
    let rows = server.query_rows("SELECT id, user_name_key, attributes FROM users ORDER BY id");
    let released = rows
        .iter()
        .find(|row| row["id"] == "u-gone")
        .expect("u-gone");
    assert_eq!(released["user_name_key"], "released:u-gone");
    let wide = rows
        .iter()
        .find(|row| row["id"] == "u-wide")
        .expect("u-wide");
    assert!(!wide["attributes"].contains("\\u0000"), "{wide:?}");
    let claims =
        server.query_rows("SELECT name FROM server_state WHERE name LIKE 'data_upgrade:%'");
    assert_eq!(claims.len(), 1, "{claims:?}");
}

#[test]
fn start_upgrades_keys_and_scrubs_json_sqlite() {
    start_upgrades_keys_and_scrubs_json(Backend::Sqlite, module_path!());
}

#[test]
fn start_upgrades_keys_and_scrubs_json_postgres() {
    start_upgrades_keys_and_scrubs_json(Backend::Postgres, module_path!());
}
