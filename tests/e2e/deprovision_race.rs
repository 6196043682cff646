//! No credential outlives a deprovisioning it raced with. Two servers on
//! one database (as replicas behind a load balancer) take, for each of many
//! users at once, a deprovisioning on one and a personal key plus a session
//! on the other. Whatever order they land in, afterwards every user is
//! fully deprovisioned and no key or session minted in the race is live —
//! nor comes back when the user is reactivated.

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
        for user in &users {
            // `auditor` grants users:read, so a personal key with it is allowed.
            let (status, _, body) = server.http(Method::POST, "/admin/v1/users", Some(&root), Some(json!({ "user_name": user, "roles": ["auditor"] })));
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }

        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let (a, b) = (server.addr.clone(), replica.addr.clone());
        let minted: Vec<String> = server.block_on(async {
            let mut minted = Vec::new();
            for batch in users.chunks(BATCH) {
                let mut rounds = tokio::task::JoinSet::new();
                for user in batch {
                    let (client, a, b, root, user) = (client.clone(), a.clone(), b.clone(), root.clone(), user.clone());
                    rounds.spawn(async move {
                        let deprovision_path = format!("/admin/v1/users/{user}/deprovision");
                        let session_path = format!("/admin/v1/users/{user}/sessions");
                        let (deprovisioned, key, session) = tokio::join!(
                            send(&client, &a, &root, Method::POST, &deprovision_path, json!({})),
                            send(&client, &b, &root, Method::POST, "/admin/v1/keys", json!({ "name": format!("{user} laptop"), "scopes": ["users:read"], "owner": user })),
                            send(&client, &b, &root, Method::POST, &session_path, json!({})),
                        );
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
        let verify = server.cli_as_root().args(["users", "verify", &users[ROUNDS - 1]]).output().expect("run users verify");
        assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));

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
