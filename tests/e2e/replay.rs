//! `scim replay --dry-run` (issue 11): a journaled request run again
//! against the state of now, through the real checks and code, in a
//! transaction rolled back. It says what would be answered and changed,
//! and the database holds exactly what it held before. Both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli_output::{root, stderr, stdout};
use crate::scim_support::{
    GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, id_of, once_journaled, set_settings,
};
use crate::support::{TestServer, assert_same_rows, both_backends};

/// `scim replay ID --dry-run -o json`.
fn replay(server: &TestServer, id: &str) -> Value {
    once_journaled(server, &["scim", "replay", id, "--dry-run", "-o", "json"])
}

/// The change of `path` in a replay's answer.
#[track_caller]
fn change<'a>(replayed: &'a Value, path: &str) -> &'a Value {
    replayed["changes"]
        .as_array()
        .and_then(|changes| changes.iter().find(|change| change["path"] == path))
        .unwrap_or_else(|| panic!("no change of {path} in {replayed}"))
}

fn actions(replayed: &Value) -> Vec<String> {
    replayed["audit"]
        .as_array()
        .expect("audit entries")
        .iter()
        .map(|entry| entry["action"].as_str().expect("action").to_owned())
        .collect()
}

both_backends! {
    fn a_refused_creation_replayed_after_the_fix_shows_it_would_now_go_through(server: &TestServer) {
        let okta = Idp::okta(server);
        set_settings(server, json!({ "auto_provisioning": false }));
        let refused = okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "ann", "displayName": "Ann" }));
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let id = refused.header("x-request-id").expect("id");
        let replayed = replay(server, id);
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("failed"), &json!(403)), "{replayed}");

        set_settings(server, json!({ "auto_provisioning": true }));
        let before = server.snapshot();
        let replayed = replay(server, id);
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("changed"), &json!(201)), "{replayed}");
        assert_eq!((&change(&replayed, "userName")["before"], &change(&replayed, "userName")["after"]), (&Value::Null, &json!("ann")));
        assert_eq!(actions(&replayed), ["user.create"]);
        assert_same_rows(&before, &server.snapshot(), "a dry run changes nothing");
        assert_eq!(okta.get("/Users?filter=userName%20eq%20%22ann%22").body["totalResults"], 0);
    }

    fn a_deactivation_replayed_shows_each_attribute_and_what_it_tears_down(server: &TestServer) {
        let okta = Idp::okta(server);
        let ann = id_of(okta.post("/Users", json!({
            "schemas": [USER_SCHEMA],
            "userName": "ann",
            "name": { "givenName": "Ann", "familyName": "Lee" },
        })).expect(StatusCode::CREATED));
        let leave = okta.patch(&format!("/Users/{ann}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [
                { "op": "replace", "path": "name.givenName", "value": "Anna" },
                { "op": "replace", "path": "active", "value": false },
                { "op": "replace", "path": "password", "value": "Hunter2!Hunter2!" },
            ],
        }));
        assert_eq!(leave.status, StatusCode::OK);
        let leave = leave.header("x-request-id").expect("id");
        // Replayed as it stands: everything it sets is so already.
        let replayed = replay(server, leave);
        assert_eq!(replayed["outcome"], "unchanged", "{replayed}");
        assert_eq!((replayed["changes"].as_array().map(Vec::len), actions(&replayed).len()), (Some(0), 0));

        // The IdP brings her back; the departure replayed now would undo it.
        okta.patch(&format!("/Users/{ann}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "replace", "value": { "active": true, "name.givenName": "Ann" } }],
        })).expect(StatusCode::OK);
        let before = server.snapshot();
        let replayed = replay(server, leave);
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("changed"), &json!(200)), "{replayed}");
        assert_eq!(replayed["resource"], format!("Users/{ann}"));
        assert_eq!((&change(&replayed, "active")["before"], &change(&replayed, "active")["after"]), (&json!(true), &json!(false)));
        assert_eq!(change(&replayed, "name.givenName")["after"], "Anna");
        let would = actions(&replayed);
        assert!(would.contains(&"user.update".to_owned()) && would.contains(&"user.deprovision".to_owned()), "{would:?}");
        let table = root(server, &["scim", "replay", leave, "--dry-run"], 0);
        let text = stdout(&table);
        assert!(text.contains(r#""Ann" → "Anna""#) && text.contains("user.deprovision"), "{text}");
        assert!(text.contains("Dry run: nothing was changed."), "{text}");
        assert_same_rows(&before, &server.snapshot(), "a dry run changes nothing");
        let now = okta.get(&format!("/Users/{ann}"));
        assert_eq!((&now.body["active"], &now.body["name"]["givenName"]), (&json!(true), &json!("Ann")));
    }

    fn a_request_turned_away_by_the_gate_has_no_body_to_replay(server: &TestServer) {
        let okta = Idp::okta(server);
        server.execute("INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES ('10.0.0.0/8', NULL, 0, 'test')");
        let refused = okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "cy" }));
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        server.execute("DELETE FROM allowlist");
        let replayed = replay(server, refused.header("x-request-id").expect("id"));
        assert_eq!(replayed["outcome"], "not_replayable", "{replayed}");
        assert!(replayed["detail"].as_str().is_some_and(|detail| detail.contains("before its body was read")), "{replayed}");
    }

    fn replays_say_why_they_would_be_refused_or_fail(server: &TestServer) {
        let okta = Idp::okta(server);
        let created = okta.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "bea" }));
        let bea = id_of(created.expect(StatusCode::CREATED));
        let replayed = replay(server, created.header("x-request-id").expect("id"));
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("failed"), &json!(409)), "{replayed}");
        assert!(replayed["detail"].as_str().is_some_and(|detail| detail.contains("already taken")), "{replayed}");

        let read = okta.get(&format!("/Users/{bea}"));
        assert_eq!(replay(server, read.header("x-request-id").expect("id"))["outcome"], "read");

        let team = id_of(okta.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "eng" })).expect(StatusCode::CREATED));
        let member = |op: &str| json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": op, "path": "members", "value": [{ "value": bea }] }],
        });
        let push = okta.patch(&format!("/Groups/{team}"), member("add"));
        assert_eq!(push.status, StatusCode::NO_CONTENT);
        let push = push.header("x-request-id").expect("id");
        let removed = okta.patch(&format!("/Groups/{team}"), json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "remove", "path": format!("members[value eq \"{bea}\"]") }],
        }));
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        let replayed = replay(server, push);
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("changed"), &json!(204)), "{replayed}");
        let added = change(&replayed, &format!("members[value eq \"{bea}\"]"));
        assert_eq!((&added["before"], &added["after"]["value"]), (&Value::Null, &json!(bea)));
        assert_eq!(actions(&replayed), ["group.member.add"]);

        root(server, &["keys", "revoke", &okta.key_id, "--yes"], 0);
        let replayed = replay(server, push);
        assert_eq!((&replayed["outcome"], &replayed["status"]), (&json!("refused"), &json!(401)), "{replayed}");
        assert!(replayed["detail"].as_str().is_some_and(|detail| detail.contains("revoked")), "{replayed}");

        // Only a dry run is offered, and the flag says so.
        let output = root(server, &["scim", "replay", push], 2);
        assert!(stderr(&output).contains("--dry-run"), "{}", stderr(&output));
        root(server, &["scim", "replay", "no-such-request", "--dry-run"], 3);
    }
}
