//! The safety rails of issue 10 over the real server, on both backends:
//! protected users' SCIM deactivations and deletions held (the IdP answered
//! as usual, access kept, `users verify` saying why) until an operator
//! deprovisions; the last admin kept; the circuit breaker opening at its
//! threshold under a burst of SCIM deactivations spread over two replicas,
//! and `release --dry-run`, `release` and `reset` doing exactly what they
//! say; `reset` capped by the privilege ceiling (the held users' roles); bad
//! input refused with nothing changed.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{
    Idp, PATCH_OP, USER_SCHEMA, admin_create_user, admin_user, audit_rows, cli_pending, cli_verify,
    created, id_of, issue_session,
};
use crate::support::{Replica, TestServer, assert_same_rows, both_backends};

fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "emails": [{ "value": format!("{user_name}@example.com"), "type": "work", "primary": true }],
        "active": true
    })
}

fn set_active(active: bool) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": active }] })
}

#[track_caller]
fn provision(idp: &Idp, user_name: &str) -> String {
    id_of(&created(&idp.post("/Users", user_body(user_name)), "User"))
}

/// `scimctl ARGS… -o json` as root: exit code, parsed stdout, stderr.
fn cli_json(server: &TestServer, args: &[&str]) -> (i32, Value, String) {
    let output = server
        .cli_with_token(&server.root_token)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("run scimctl");
    let stdout = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().expect("an exit code"), stdout, stderr)
}

/// `scimctl ARGS…` as root, table output: exit code, stdout, stderr.
fn cli_text(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    let output = server
        .cli_with_token(&server.root_token)
        .args(args)
        .output()
        .expect("run scimctl");
    (
        output.status.code().expect("an exit code"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `(action, reason)` of each held change `GET /admin/v1/users/{user}` shows.
fn held(server: &TestServer, user: &str) -> Vec<(String, String)> {
    admin_user(server, user)["held"]
        .as_array()
        .expect("held")
        .iter()
        .map(|held| {
            (
                held["action"].as_str().expect("action").to_owned(),
                held["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect()
}

fn live_sessions(server: &TestServer, user: &str) -> usize {
    server
        .query_rows(&format!(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.user_name = '{user}' AND s.revoked_at IS NULL"
        ))
        .len()
}

fn held_audits(server: &TestServer, user: &str, reason: &str) -> usize {
    audit_rows(
        server,
        &format!("action = 'user.deprovision_held' AND target = '{user}'"),
    )
    .iter()
    .filter(|row| row["details"].contains(&format!("\"reason\":\"{reason}\"")))
    .count()
}

/// Deprovisioning a protected user through SCIM, by `how`, is held; then
/// the operator completes it.
fn protected_user_is_held(server: &TestServer, idp: &Idp, user: &str, delete: bool) {
    let id = provision(idp, user);
    let session = issue_session(server, user);
    let (code, shown, stderr) = cli_json(server, &["users", "protect", user]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(shown["protected"], true, "{shown}");

    // Attributes still follow the IdP.
    let renamed = idp.patch(
        &format!("/Users/{id}"),
        json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "Renamed" }] }),
    );
    assert_eq!(
        idp.patched(&renamed, &format!("/Users/{id}"))["displayName"],
        "Renamed"
    );

    let action = if delete {
        idp.delete(&format!("/Users/{id}"))
            .expect(StatusCode::NO_CONTENT);
        "delete"
    } else {
        let reply = idp.patch(&format!("/Users/{id}"), set_active(false));
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["active"], false, "{}", reply.body);
        "deactivate"
    };
    // Not tombstoned: the IdP reads the user back, inactive.
    let read = idp
        .get(&format!("/Users/{id}"))
        .expect(StatusCode::OK)
        .clone();
    assert_eq!(read["active"], false, "{read}");

    let shown = admin_user(server, user);
    assert_eq!(shown["deprovisioning"], "pending", "{shown}");
    assert_eq!(shown["roles"], json!(["member"]), "roles kept: {shown}");
    assert!(!shown["locked"].as_bool().expect("locked"), "{shown}");
    assert_eq!(
        held(server, user),
        [(action.to_owned(), "protected".to_owned())]
    );
    assert_eq!(live_sessions(server, user), 1, "the session is not revoked");
    assert_eq!(held_audits(server, user, "protected"), 1);

    let (code, out) = cli_verify(server, user);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("held") && out.contains("protected"), "{out}");
    let (code, report, _) = cli_json(server, &["users", "verify", user]);
    assert_eq!(code, 5);
    assert_eq!(report["held"][0]["reason"], "protected", "{report}");
    assert!(cli_pending(server).contains(&user.to_owned()));
    let (code, table, _) = cli_text(server, &["users", "list", "--pending"]);
    assert_eq!(code, 0);
    assert!(
        table
            .lines()
            .any(|line| line.contains(user) && line.contains("held: protected")),
        "{table}"
    );

    // The operator completes it: everything goes, the held row with it.
    let (code, _, stderr) = cli_json(server, &["users", "deprovision", user, "--yes"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, out) = cli_verify(server, user);
    assert_eq!(code, 0, "{out}");
    assert_eq!(live_sessions(server, user), 0);
    assert!(
        server
            .query_rows(&format!(
                "SELECT id FROM held_changes WHERE user_id = '{id}'"
            ))
            .is_empty()
    );
    // A held DELETE, once applied, leaves the tombstone it would have.
    let after = idp.get(&format!("/Users/{id}"));
    let expected = if delete {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    assert_eq!(after.status, expected, "{}", after.body);
    // The session issued before survives the held change, and not the
    // operator's deprovisioning.
    let (code, _) = crate::scim_support::cli_introspect(server, &session);
    assert_eq!(code, 5);
}

both_backends! {
    fn a_protected_users_scim_deactivation_and_deletion_are_held(server: &TestServer) {
        let idp = Idp::generic(server);
        protected_user_is_held(server, &idp, "pat", false);
        protected_user_is_held(server, &idp, "quinn", true);

        // The IdP changing its mind clears what was held.
        let id = provision(&idp, "rae");
        cli_json(server, &["users", "protect", "rae"]);
        idp.patch(&format!("/Users/{id}"), set_active(false)).expect(StatusCode::OK);
        assert_eq!(held(server, "rae").len(), 1);
        let back = idp.patch(&format!("/Users/{id}"), set_active(true));
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);
        assert!(held(server, "rae").is_empty());
        let shown = admin_user(server, "rae");
        assert_eq!((shown["active"].as_bool(), shown["deprovisioning"].as_str()), (Some(true), Some("none")));

        // Unprotected, the next deactivation goes through.
        let (code, shown, _) = cli_json(server, &["users", "unprotect", "rae"]);
        assert_eq!((code, &shown["protected"]), (0, &json!(false)));
        idp.patch(&format!("/Users/{id}"), set_active(false)).expect(StatusCode::OK);
        assert_eq!(admin_user(server, "rae")["deprovisioning"], "done");
        let actions: Vec<String> = audit_rows(server, "target = 'rae'").into_iter().map(|row| row["action"].clone()).collect();
        for action in ["user.protect", "user.deprovision_held", "user.reactivate", "user.unprotect", "user.deprovision"] {
            assert!(actions.contains(&action.to_owned()), "{action} in {actions:?}");
        }
    }

    fn the_last_admin_is_not_deprovisioned_through_scim(server: &TestServer) {
        let idp = Idp::generic(server);
        // Two admins made by hand, then adopted by the IdP.
        for name in ["ada", "bob"] {
            admin_create_user(server, json!({ "user_name": name, "roles": ["admin"] }));
        }
        let ada = id_of(&created(&idp.post("/Users", user_body("ada")), "User"));
        let bob = id_of(&created(&idp.post("/Users", user_body("bob")), "User"));

        // Not the last: bob goes.
        idp.patch(&format!("/Users/{bob}"), set_active(false)).expect(StatusCode::OK);
        assert_eq!(admin_user(server, "bob")["deprovisioning"], "done");

        // The last: held, role kept, by PATCH and by DELETE.
        let reply = idp.patch(&format!("/Users/{ada}"), set_active(false));
        assert_eq!((reply.status, &reply.body["active"]), (StatusCode::OK, &json!(false)));
        assert_eq!(admin_user(server, "ada")["roles"], json!(["admin"]));
        assert_eq!(held(server, "ada"), [("deactivate".to_owned(), "last_admin".to_owned())]);
        idp.delete(&format!("/Users/{ada}")).expect(StatusCode::NO_CONTENT);
        idp.get(&format!("/Users/{ada}")).expect(StatusCode::OK);
        assert_eq!(held(server, "ada"), [("delete".to_owned(), "last_admin".to_owned())]);
        assert_eq!(admin_user(server, "ada")["roles"], json!(["admin"]));
        assert_eq!(held_audits(server, "ada", "last_admin"), 2);
        let (code, out) = cli_verify(server, "ada");
        assert_eq!(code, 5);
        assert!(out.contains("last_admin"), "{out}");
    }

    fn the_breaker_opens_at_its_threshold_and_release_and_reset_do_what_they_say(server: &TestServer) {
        let root = server.root_token.clone();
        let (code, _, stderr) = cli_json(server, &["provisioning", "breaker", "set", "--threshold", "25", "--percent", "10", "--window", "10m"]);
        assert_eq!(code, 0, "{stderr}");
        // 220 active users: 10% is 22, so the threshold (25) rules.
        let mut ids = Vec::new();
        for i in 0..220 {
            let (status, _, body) = server.http(Method::POST, "/scim/v2/Users", Some(&root), Some(user_body(&format!("u{i:03}"))));
            assert_eq!(status, StatusCode::CREATED, "{body}");
            ids.push(body["id"].as_str().expect("id").to_owned());
        }

        // A burst of 200 deactivations, 20 at a time, over two replicas.
        let replica = Replica::start(server, |_| {});
        let client = scimctl::client::http_builder().timeout(Duration::from_secs(60)).build().expect("client");
        let bases = [server.addr.clone(), replica.addr.clone()];
        server.block_on(async {
            for batch in ids[..200].chunks(20) {
                let mut requests = tokio::task::JoinSet::new();
                for (n, id) in batch.iter().enumerate() {
                    let request = client
                        .patch(format!("{}/scim/v2/Users/{id}", bases[n % 2]))
                        .bearer_auth(&root)
                        .header("content-type", "application/scim+json")
                        .body(set_active(false).to_string());
                    requests.spawn(async move {
                        let response = request.send().await.expect("request");
                        let status = response.status();
                        let body: Value = response.json().await.unwrap_or(Value::Null);
                        assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(false)), "{body}");
                    });
                }
                while let Some(done) = requests.join_next().await {
                    done.expect("a request did not panic");
                }
            }
        });
        let count = |sql: &str| server.query_rows(sql).len();
        assert_eq!(count("SELECT id FROM users WHERE deprovision_state = 'done'"), 25, "the first 25 went through");
        assert_eq!(count("SELECT id FROM held_changes WHERE reason = 'breaker'"), 175, "the rest are held");
        assert_eq!(count("SELECT id FROM users WHERE deprovision_state = 'pending'"), 175);
        assert_eq!(count("SELECT id FROM audit_log WHERE action = 'provisioning.breaker_open'"), 1);

        // The counters of both replicas add up to the held ones; the state
        // is the database's, the same on each.
        let metric = |addr: &str, name: &str| -> f64 {
            let text = server.block_on(async {
                client.get(format!("{addr}/metrics")).send().await.expect("metrics").text().await.expect("text")
            });
            text.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().parse().expect("a number"))
                .unwrap_or_else(|| panic!("{name} in {text}"))
        };
        let held_metric = "scimctl_held_deprovisionings_total{reason=\"breaker\"} ";
        assert_eq!(metric(&server.addr, held_metric) + metric(&replica.addr, held_metric), 175.0);
        assert_eq!(metric(&replica.addr, "scimctl_breaker_open "), 1.0);

        // One more while open: held too.
        let (status, _, body) = server.http(Method::PATCH, &format!("/scim/v2/Users/{}", ids[200]), Some(&root), Some(set_active(false)));
        assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(false)), "{body}");
        let held_ids: BTreeSet<String> = server.query_rows("SELECT user_id FROM held_changes WHERE reason = 'breaker'").into_iter().map(|row| row["user_id"].clone()).collect();
        let done_ids: BTreeSet<String> = server.query_rows("SELECT id FROM users WHERE deprovision_state = 'done'").into_iter().map(|row| row["id"].clone()).collect();
        assert_eq!((done_ids.len(), held_ids.len()), (25, 176));
        assert!(done_ids.is_disjoint(&held_ids));
        let all: BTreeSet<String> = done_ids.union(&held_ids).cloned().collect();
        assert!(all == ids[..201].iter().cloned().collect::<BTreeSet<_>>(), "each deactivated user is either deprovisioned or held");

        let (code, status, _) = cli_json(server, &["provisioning", "breaker", "status"]);
        assert_eq!(code, 0);
        assert_eq!((&status["state"], &status["in_window"], &status["limit"]), (&json!("open"), &json!(25), &json!(25)), "{status}");
        assert_eq!(status["held"].as_array().expect("held").len(), 176);
        let (code, text, _) = cli_text(server, &["provisioning", "status"]);
        assert_eq!(code, 0);
        assert!(text.contains("circuit breaker: OPEN"), "{text}");

        // The dry run lists exactly the held ones and changes nothing.
        let before = server.snapshot();
        let (code, dry, stderr) = cli_json(server, &["provisioning", "breaker", "release", "--dry-run"]);
        assert_eq!(code, 0, "{stderr}");
        let listed: BTreeSet<String> = dry["users"].as_array().expect("users").iter().map(|user| user["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(listed, held_ids);
        assert_eq!(dry["outcome"], "deprovisioned");
        assert_same_rows(&before, &server.snapshot(), "release --dry-run");
        // Without a terminal or --yes, nothing is sent.
        let (code, _, stderr) = cli_text(server, &["provisioning", "breaker", "release"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("--yes"), "{stderr}");
        assert_same_rows(&before, &server.snapshot(), "release without --yes");

        // Release applies exactly those and closes the breaker.
        let (code, released, stderr) = cli_json(server, &["provisioning", "breaker", "release", "--yes"]);
        assert_eq!(code, 0, "{stderr}");
        let applied: BTreeSet<String> = released["users"].as_array().expect("users").iter().map(|user| user["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(applied, held_ids);
        assert_eq!(released["state"], "closed");
        assert_eq!(count("SELECT id FROM users WHERE deprovision_state = 'done'"), 201);
        assert_eq!(count("SELECT id FROM held_changes"), 0);
        assert_eq!(count("SELECT id FROM users WHERE deprovision_state = 'none'"), 19, "the untouched ones");
        assert_eq!(metric(&server.addr, "scimctl_breaker_open "), 0.0);

        // Reset: 19 active now; threshold 1 and 1% let one through.
        let (code, _, stderr) = cli_json(server, &["provisioning", "breaker", "set", "--threshold", "1", "--percent", "1"]);
        assert_eq!(code, 0, "{stderr}");
        for id in &ids[201..204] {
            let (status, _, body) = server.http(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(&root), Some(set_active(false)));
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert_eq!(count("SELECT id FROM users WHERE deprovision_state = 'done'"), 202);
        let (code, reset, stderr) = cli_json(server, &["provisioning", "breaker", "reset", "--yes"]);
        assert_eq!(code, 0, "{stderr}");
        let restored: BTreeSet<String> = reset["users"].as_array().expect("users").iter().map(|user| user["id"].as_str().expect("id").to_owned()).collect();
        assert_eq!(restored, ids[202..204].iter().cloned().collect::<BTreeSet<_>>());
        assert_eq!(reset["outcome"], "restored");
        for id in &ids[202..204] {
            let shown = admin_user(server, id);
            assert_eq!((&shown["active"], &shown["deprovisioning"], &shown["roles"]), (&json!(true), &json!("none"), &json!(["member"])), "{shown}");
        }
        assert_eq!(count("SELECT id FROM held_changes"), 0);
        let (_, status, _) = cli_json(server, &["provisioning", "breaker", "status"]);
        assert_eq!((&status["state"], &status["in_window"]), (&json!("closed"), &json!(0)), "{status}");
        for action in ["provisioning.breaker_release", "provisioning.breaker_reset"] {
            assert_eq!(count(&format!("SELECT id FROM audit_log WHERE action = '{action}'")), 1, "{action}");
        }
        replica.stop(server);
    }

    fn reset_gives_access_back_only_within_the_callers_ceiling(server: &TestServer) {
        let idp = Idp::generic(server);
        let (code, _, stderr) = cli_json(server, &["provisioning", "breaker", "set", "--threshold", "1", "--percent", "1"]);
        assert_eq!(code, 0, "{stderr}");
        admin_create_user(server, json!({ "user_name": "aud", "roles": ["auditor"] }));
        let aud = provision(&idp, "aud");
        let first = provision(&idp, "first");
        idp.patch(&format!("/Users/{first}"), set_active(false)).expect(StatusCode::OK);
        idp.patch(&format!("/Users/{aud}"), set_active(false)).expect(StatusCode::OK);
        assert_eq!(held(server, "aud"), [("deactivate".to_owned(), "breaker".to_owned())]);

        // aud's role grants audit:read: a key without it cannot hand their
        // access back, and nothing changes.
        let short = server.new_key("no audit", &["users:deprovision", "users:read", "groups:read"]);
        let before = server.snapshot();
        let denials = || server.query_rows("SELECT id FROM audit_log WHERE action = 'auth.denied'").len();
        let denied_before = denials();
        let (status, _, answer) = server.http(Method::POST, "/admin/v1/provisioning/breaker/reset", Some(&short), None);
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(answer["error"]["message"].as_str().expect("message").contains("audit:read"), "{answer}");
        assert_same_rows(&before, &server.snapshot(), "a refused reset");
        assert_eq!(denials(), denied_before + 1, "one auth.denied entry");

        let full = server.new_key("with audit", &["users:deprovision", "users:read", "groups:read", "audit:read"]);
        let (status, _, answer) = server.http(Method::POST, "/admin/v1/provisioning/breaker/reset", Some(&full), None);
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["users"][0]["user_name"], "aud", "{answer}");
        let shown = admin_user(server, "aud");
        assert_eq!((&shown["active"], &shown["roles"]), (&json!(true), &json!(["auditor"])), "{shown}");
    }

    fn bad_input_is_refused_and_changes_nothing(server: &TestServer) {
        let before = server.snapshot();
        let (code, _, stderr) = cli_text(server, &["users", "protect", "nobody"]);
        assert_eq!(code, 3, "{stderr}");
        assert!(stderr.contains("no user \"nobody\""), "{stderr}");
        for (body, says) in [
            (json!({ "breaker_threshold": 0 }), "use 1 or more"),
            (json!({ "breaker_percent": 101 }), "use 1 to 100"),
            (json!({ "breaker_percent": 0, "auto_provisioning": false }), "use 1 to 100"),
            (json!({ "breaker_window_seconds": 5 }), "use 60 (a minute) to 86400"),
        ] {
            let (status, _, answer) = server.http(Method::PATCH, "/admin/v1/settings", Some(&server.root_token), Some(body.clone()));
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let message = answer["error"]["message"].as_str().expect("message");
            assert!(message.contains(says), "{body}: {message}");
        }
        for args in [&["provisioning", "breaker", "set", "--percent", "101"][..], &["provisioning", "breaker", "set", "--threshold", "0"], &["provisioning", "breaker", "set"]] {
            let (code, _, stderr) = cli_text(server, args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
        }
        assert_same_rows(&before, &server.snapshot(), "refused input");
    }
}
