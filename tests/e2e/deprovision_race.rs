//! No credential outlives a deprovisioning it raced with. Two servers on
//! one database (as replicas behind a load balancer) take, for each of many
//! users at once, a deprovisioning on one and a personal key, a session and
//! a SCIM group join on the other. Whatever order they land in, afterwards
//! every user is fully deprovisioned and no key or session minted in the
//! race is live — nor comes back when the user is reactivated — and a group
//! membership survives only when its join came after the deprovisioning.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Replica, TestServer, both_backends};

const ROUNDS: usize = 200;
/// Rounds in flight at once.
const BATCH: usize = 10;

/// One request's status and body.
async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    method: Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

both_backends! {
    fn credentials_minted_during_a_deprovisioning_never_survive_it(server: &TestServer) {
        let replica = Replica::start(server, |_| {});
        let root = server.root_token.clone();
        let users: Vec<String> = (0..ROUNDS).map(|i| format!("racer{i:03}")).collect();
        // Per user: its id and a group of its own (so rounds do not queue on
        // one group).
        let mut targets = Vec::new();
        for user in &users {
            // `auditor` grants users:read, so a personal key with it is allowed.
            let (status, _, body) = server.http(Method::POST, "/admin/v1/users", Some(&root), Some(json!({ "user_name": user, "roles": ["auditor"] })));
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let (status, _, group) = server.http(Method::POST, "/scim/v2/Groups", Some(&root), Some(json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("group-{user}") })));
            assert_eq!(status, StatusCode::CREATED, "{group}");
            let (user_id, group_id) = (body["id"].as_str().expect("id"), group["id"].as_str().expect("id"));
            targets.push((user.clone(), user_id.to_owned(), group_id.to_owned()));
        }

        let client = scimctl::client::http_builder().timeout(Duration::from_secs(60)).build().expect("client");
        let (a, b) = (server.addr.clone(), replica.addr.clone());
        let minted: Vec<String> = server.block_on(async {
            let mut minted = Vec::new();
            for batch in targets.chunks(BATCH) {
                let mut rounds = tokio::task::JoinSet::new();
                for (user, user_id, group_id) in batch {
                    let (client, a, b, root) = (client.clone(), a.clone(), b.clone(), root.clone());
                    let (user, user_id, group_id) = (user.clone(), user_id.clone(), group_id.clone());
                    rounds.spawn(async move {
                        let deprovision_path = format!("/admin/v1/users/{user}/deprovision");
                        let session_path = format!("/admin/v1/users/{user}/sessions");
                        let group_path = format!("/scim/v2/Groups/{group_id}");
                        let join = json!({ "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": user_id }] }] });
                        let (deprovisioned, key, session, joined) = tokio::join!(
                            send(&client, &a, &root, Method::POST, &deprovision_path, json!({})),
                            send(&client, &b, &root, Method::POST, "/admin/v1/keys", json!({ "name": format!("{user} laptop"), "scopes": ["users:read"], "owner": user })),
                            send(&client, &b, &root, Method::POST, &session_path, json!({})),
                            send(&client, &b, &root, Method::PATCH, &group_path, join),
                        );
                        assert!(joined.0.is_success(), "{user}: join answered {}: {}", joined.0, joined.1);
                        assert_eq!(deprovisioned.0, StatusCode::OK, "{user}: {}", deprovisioned.1);
                        let mut tokens = Vec::new();
                        for (what, (status, body)) in [("key", key), ("session", session)] {
                            // Before the deprovisioning: minted (and then taken
                            // away); after it: refused because the user is locked.
                            match status {
                                StatusCode::CREATED => tokens.push(body["token"].as_str().expect("token").to_owned()),
                                StatusCode::CONFLICT => {}
                                other => panic!("{user}: {what} answered {other}: {body}"),
                            }
                        }
                        tokens
                    });
                }
                while let Some(tokens) = rounds.join_next().await {
                    minted.extend(tokens.expect("a round did not panic"));
                }
            }
            minted
        });

        let names = users.iter().map(|user| format!("'{user}'")).collect::<Vec<_>>().join(", ");
        let surviving_keys = server.query_rows(&format!(
            "SELECT k.id FROM api_keys k JOIN users u ON u.id = k.owner_user_id WHERE u.user_name IN ({names})"
        ));
        let surviving_sessions = server.query_rows(&format!(
            "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.user_name IN ({names}) AND s.revoked_at IS NULL"
        ));
        let not_deprovisioned = server.query_rows(&format!(
            "SELECT user_name FROM users WHERE user_name IN ({names}) \
             AND (deprovision_state <> 'done' OR id NOT IN (SELECT user_id FROM locks) \
                  OR id IN (SELECT user_id FROM user_roles))"
        ));
        assert_eq!(
            (surviving_keys.len(), surviving_sessions.len(), not_deprovisioned.len()),
            (0, 0, 0),
            "keys {surviving_keys:?}, sessions {surviving_sessions:?}, users {not_deprovisioned:?} ({} credentials were minted before their deprovisioning)",
            minted.len()
        );
        // A membership that survived was added after the deprovisioning, as
        // the audit log's order says; one added before it was removed.
        let members = server.query_rows(&format!(
            "SELECT u.id, u.user_name FROM group_members m JOIN users u ON u.id = m.user_id WHERE u.user_name IN ({names})"
        ));
        let joins = server.query_rows("SELECT CAST(id AS TEXT) AS id, details FROM audit_log WHERE action = 'group.member.add'");
        let deprovisions = server.query_rows("SELECT CAST(id AS TEXT) AS id, target FROM audit_log WHERE action = 'user.deprovision'");
        for member in &members {
            let entry_id = |rows: &[crate::support::DbRow], matches: &dyn Fn(&crate::support::DbRow) -> bool| -> i64 {
                rows.iter().find(|row| matches(row)).map(|row| row["id"].parse().expect("id")).expect("an audit entry")
            };
            let joined = entry_id(&joins, &|row| row["details"].contains(&member["id"]));
            let deprovisioned = entry_id(&deprovisions, &|row| row["target"] == member["user_name"]);
            assert!(joined > deprovisioned, "{}: a membership from before the deprovisioning survived it", member["user_name"]);
        }

        // `users verify` agrees for one whose join (if any) came first.
        if let Some(user) = users.iter().find(|user| !members.iter().any(|member| &member["user_name"] == *user)) {
            let verify = server.cli_as_root().args(["users", "verify", user]).output().expect("run users verify");
            assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));
        }

        // Reactivated, the users get their default role back, never a
        // credential from before.
        for user in users.iter().take(20) {
            let (status, _, body) = server.http(Method::POST, &format!("/admin/v1/users/{user}/reactivate"), Some(&root), Some(json!({})));
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for token in &minted {
            let (status, _, shown) = server.http(Method::POST, "/auth/v1/introspect", Some(&root), Some(json!({ "token": token })));
            assert_eq!(status, StatusCode::OK);
            assert_eq!(shown["active"], false, "a credential minted before the deprovisioning is dead: {shown}");
        }
        replica.stop(server);
    }
}
