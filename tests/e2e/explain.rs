//! `scim explain` (issue 11): for each way a SCIM request fails or
//! surprises, provoke it through the real HTTP path, then check the
//! explanation names the cause (from the state behind the answer) and the
//! fix. Both backends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli_output::root;
use crate::scim_support::{
    Idp, PATCH_OP, USER_SCHEMA, id_of, once_journaled, request_id, set_settings,
};
use crate::support::{TestServer, both_backends};

/// `scim explain ID -o json`, once the journal has stored the exchange.
fn explain(server: &TestServer, id: &str) -> Value {
    once_journaled(server, &["scim", "explain", id, "-o", "json"])
}

/// A SCIM request with `token` (or none) as it comes over the wire.
fn scim(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let (status, headers, _) = server.http(method, &format!("/scim/v2{path}"), token, body);
    (status, request_id(&headers))
}

#[track_caller]
fn assert_cause(explained: &Value, cause: &str, words: &[&str]) {
    assert_eq!(explained["cause"], cause, "{explained}");
    let text = format!("{} {}", explained["explanation"], explained["fix"]);
    for word in words {
        assert!(text.contains(word), "{word:?} not in {explained}");
    }
}

both_backends! {
    fn refused_keys_are_explained_with_what_to_make_instead(server: &TestServer) {
        let (status, id) = scim(server, Method::GET, "/Users", None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_cause(&explain(server, &id), "no_key", &["Authorization", "scimctl keys create"]);

        let (_, id) = scim(server, Method::GET, "/Users", Some("scimctl_nosuchkey0000_Secret"), None);
        assert_cause(&explain(server, &id), "key_unknown", &["nosuchkey0000"]);

        let okta = Idp::okta(server);
        let key_id = okta.key_id.clone();
        let wrong = format!("scimctl_{key_id}_NotTheSecret");
        let (_, id) = scim(server, Method::GET, "/Users", Some(&wrong), None);
        assert_cause(&explain(server, &id), "key_secret_wrong", &[&key_id, "okta", "Paste the whole token"]);

        server.execute(&format!("UPDATE api_keys SET expires_at = 1 WHERE id = '{key_id}'"));
        let (status, id) = scim(server, Method::GET, "/Users", Some(&okta.token), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_cause(&explain(server, &id), "key_expired", &["expired at 1970"]);

        let entra = Idp::entra(server);
        root(server, &["keys", "revoke", &entra.key_id, "--yes"], 0);
        let (_, id) = scim(server, Method::GET, "/Users", Some(&entra.token), None);
        assert_cause(&explain(server, &id), "key_revoked", &["entra", "was revoked at"]);
    }

    fn refusals_by_scope_allowlist_and_setting_name_the_cause(server: &TestServer) {
        let reader = server.new_key("reader", &["users:read"]);
        let (status, id) = scim(server, Method::GET, "/Users", Some(&reader), None);
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_cause(&explain(server, &id), "missing_scope", &["reader", "users:read", "scim:provision"]);

        let okta = Idp::okta(server);
        set_settings(server, json!({ "auto_provisioning": false }));
        let (status, id) = scim(server, Method::POST, "/Users", Some(&okta.token), Some(json!({ "schemas": [USER_SCHEMA], "userName": "ann" })));
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_cause(&explain(server, &id), "provisioning_off", &["scimctl provisioning enable"]);

        // The allowlist shuts loopback out for one request, by hand on the
        // database (the CLI would be shut out too), then lets it back in.
        server.execute("INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES ('10.0.0.0/8', NULL, 0, 'test')");
        let (status, id) = scim(server, Method::GET, "/Users", Some(&okta.token), None);
        assert_eq!(status, StatusCode::FORBIDDEN);
        server.execute("DELETE FROM allowlist");
        assert_cause(&explain(server, &id), "allowlist", &["127.0.0.1", "empty now", "scimctl allowlist add 127.0.0.1/32"]);
    }

    fn conflicts_missing_users_and_stale_etags_are_explained(server: &TestServer) {
        let okta = Idp::okta(server);
        let bea = id_of(okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "bea" })).expect(StatusCode::CREATED));
        let taken = okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "BEA" }));
        assert_eq!(taken.status, StatusCode::CONFLICT);
        let explained = explain(server, taken.header("x-request-id").expect("id"));
        assert_cause(&explained, "uniqueness", &[&bea, "provisioned by SCIM", "match"]);

        let stale = okta.send(
            Method::PATCH,
            &format!("/Users/{bea}"),
            Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "B" }] })),
            &[("If-Match", "W/\"99\"")],
        );
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
        let explained = explain(server, stale.header("x-request-id").expect("id"));
        assert_cause(&explained, "etag", &["W/\\\"99\\\"", "W/\\\"1\\\""]);

        okta.delete(&format!("/Users/{bea}")).expect(StatusCode::NO_CONTENT);
        let gone = okta.get(&format!("/Users/{bea}"));
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        let explained = explain(server, gone.header("x-request-id").expect("id"));
        assert_cause(&explained, "deleted", &["bea", "was deleted at", "user.delete"]);

        let never = okta.get("/Users/no-such-id");
        assert_cause(&explain(server, never.header("x-request-id").expect("id")), "not_found", &["stale"]);

        let bad = okta.get("/Users?filter=userName%20eq");
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let explained = explain(server, bad.header("x-request-id").expect("id"));
        assert_cause(&explained, "invalid", &["invalidFilter", "The server said"]);
    }

    fn successes_say_what_they_changed_held_back_or_read_the_idps_way(server: &TestServer) {
        let entra = Idp::entra(server);
        let cal = id_of(entra.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "cal" })).expect(StatusCode::CREATED));
        let read = entra.get(&format!("/Users/{cal}"));
        assert_cause(&explain(server, read.header("x-request-id").expect("id")), "read", &["changed nothing"]);

        set_settings(server, json!({ "auto_deprovisioning": false }));
        let deactivated = entra.patch(&format!("/Users/{cal}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "Replace", "path": "active", "value": "False" }],
        }));
        assert_eq!(deactivated.status, StatusCode::OK);
        let explained = explain(server, deactivated.header("x-request-id").expect("id"));
        assert_cause(&explained, "pending", &["auto-deprovisioning is off", "scimctl users deprovision cal"]);
        let notes = explained["notes"].to_string();
        assert!(notes.contains("\\\"Replace\\\"") && notes.contains("\\\"False\\\""), "{notes}");

        let dee = id_of(entra.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "dee" })).expect(StatusCode::CREATED));
        root(server, &["users", "protect", "dee"], 0);
        let held = entra.patch(&format!("/Users/{dee}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "replace", "value": { "active": false } }],
        }));
        let explained = explain(server, held.header("x-request-id").expect("id"));
        assert_cause(&explained, "held", &["protected", "scimctl users deprovision"]);
        assert!(explained["notes"].to_string().contains("without a path"), "{explained}");

        // A table for people too.
        let table = root(server, &["scim", "explain", held.header("x-request-id").expect("id")], 0);
        let text = String::from_utf8_lossy(&table.stdout);
        assert!(text.contains("Cause") && text.contains("Fix: "), "{text}");
    }

    fn a_patch_that_changes_nothing_writes_nothing_and_says_so(server: &TestServer) {
        let okta = Idp::okta(server);
        let created = okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "eve", "displayName": "Eve" }));
        let eve = id_of(created.expect(StatusCode::CREATED));
        let version = created.body["meta"]["version"].clone();
        let same = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "Eve" }] });
        let unchanged = okta.patch(&format!("/Users/{eve}"), same);
        assert_eq!(unchanged.expect(StatusCode::OK)["meta"]["version"], version, "no new version");
        assert!(!okta.audited_actions().contains(&"user.update".to_owned()), "nothing audited");
        let explained = explain(server, unchanged.header("x-request-id").expect("id"));
        assert_cause(&explained, "unchanged", &["changed nothing", "(displayName)", "ETag", "scim replay"]);

        let renamed = okta.patch(&format!("/Users/{eve}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "replace", "path": "displayName", "value": "Eve Lee" }],
        }));
        assert_ne!(renamed.expect(StatusCode::OK)["meta"]["version"], version);
        let explained = explain(server, renamed.header("x-request-id").expect("id"));
        assert_cause(&explained, "changed", &["user.update (displayName)"]);
    }
}
