//! A real credential id with a wrong secret opens nothing. Every other
//! bogus token in the suite has an id that does not exist; these keep the id
//! and change only the secret, so they fail if the secret comparison is ever
//! dropped: API keys on the admin, SCIM and auth APIs and through the CLI,
//! personal keys, and session tokens at introspection.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, both_backends};

/// `token` (`<prefix><id>_<secret>`) with a secret of the right shape that
/// is not its own: the same length and alphabet, differing in `changed`
/// characters from the end (1 catches a comparison that stops early).
fn with_wrong_secret(token: &str, changed: usize) -> String {
    let (head, secret) = token.rsplit_once('_').expect("a token ends in _<secret>");
    let keep = secret.len() - changed;
    let tail: String = secret[keep..]
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    let forged = format!("{head}_{}{tail}", &secret[..keep]);
    assert_ne!(forged, token);
    assert_eq!(forged.len(), token.len());
    forged
}

/// The forgeries of `token` every test presents: one character off, and a
/// whole other secret.
fn forgeries(token: &str) -> [String; 2] {
    let secret_len = token.rsplit_once('_').expect("secret").1.len();
    [
        with_wrong_secret(token, 1),
        with_wrong_secret(token, secret_len),
    ]
}

/// `POST /auth/v1/introspect` with the root key: what an app is told about
/// `token`.
fn introspect(server: &TestServer, token: &str) -> Value {
    let (status, _, body) = server.http(
        Method::POST,
        "/auth/v1/introspect",
        Some(&server.root_token),
        Some(json!({ "token": token })),
    );
    assert_eq!(status, StatusCode::OK, "introspect: {body}");
    body
}

fn create_user(server: &TestServer, user_name: &str, roles: &[&str]) {
    let (status, _, body) = server.http(
        Method::POST,
        "/admin/v1/users",
        Some(&server.root_token),
        Some(json!({ "user_name": user_name, "roles": roles })),
    );
    assert_eq!(status, StatusCode::CREATED, "create {user_name}: {body}");
}

/// Asserts `token` is refused by every API as an unknown key, and by the
/// CLI with exit 4.
#[track_caller]
fn assert_refused_everywhere(server: &TestServer, token: &str) {
    for (method, path) in [
        (Method::GET, "/admin/v1/whoami"),
        (Method::GET, "/admin/v1/users"),
        (Method::GET, "/scim/v2/Users"),
        (Method::POST, "/auth/v1/introspect"),
    ] {
        let body = (method == Method::POST).then(|| json!({ "token": token }));
        let (status, _, answer) = server.http(method.clone(), path, Some(token), body);
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong secret: {answer}"
        );
        if path.starts_with("/admin/") {
            let message = answer["error"]["message"].as_str().expect("message");
            assert!(message.starts_with("invalid API key;"), "{answer}");
        }
    }
    let output = server
        .cli_with_token(token)
        .args(["whoami"])
        .output()
        .expect("run scimctl whoami");
    assert_eq!(
        output.status.code(),
        Some(4),
        "the CLI exits 4 on a wrong secret: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = introspect(server, token);
    assert_eq!(shown["active"], false, "{shown}");
    assert_eq!(shown["reason"], "unknown API key", "{shown}");
}

both_backends! {
    fn a_real_key_id_with_a_wrong_secret_is_refused(server: &TestServer) {
        let denied_before = server.query_rows("SELECT id FROM audit_log WHERE action = 'auth.denied'").len();
        for forged in forgeries(&server.root_token) {
            assert_refused_everywhere(server, &forged);
        }
        // Each refusal is audited (4 API requests and the CLI's whoami,
        // for each of the 2 forgeries), naming the reason.
        let denied = server.query_rows("SELECT details FROM audit_log WHERE action = 'auth.denied'");
        assert_eq!(denied.len() - denied_before, 10, "{denied:?}");
        assert!(denied.iter().all(|row| row["details"].contains("invalid API key")), "{denied:?}");
        // The real key still works: nothing was locked out by the attempts.
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK);
    }

    fn a_personal_key_id_with_a_wrong_secret_is_refused(server: &TestServer) {
        create_user(server, "pia", &["auditor"]);
        let (status, _, key) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "pia laptop", "scopes": ["users:read"], "owner": "pia" })),
        );
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let token = key["token"].as_str().expect("token");
        let (status, _, _) = server.http(Method::GET, "/admin/v1/users", Some(token), None);
        assert_eq!(status, StatusCode::OK, "the real personal key works");
        for forged in forgeries(token) {
            assert_refused_everywhere(server, &forged);
        }
    }

    fn a_real_session_id_with_a_wrong_secret_is_not_live(server: &TestServer) {
        create_user(server, "sol", &["auditor"]);
        let (status, _, issued) = server.http(
            Method::POST,
            "/admin/v1/users/sol/sessions",
            Some(&server.root_token),
            Some(json!({})),
        );
        assert_eq!(status, StatusCode::CREATED, "{issued}");
        let session = issued["token"].as_str().expect("token").to_owned();
        assert_eq!(introspect(server, &session)["active"], true, "the real session is live");

        for forged in forgeries(&session) {
            let shown = introspect(server, &forged);
            assert_eq!(shown["active"], false, "{shown}");
            assert_eq!(shown["reason"], "unknown session", "{shown}");
            assert!(shown["user"].is_null() && shown["roles"] == json!([]), "a forgery learns nothing: {shown}");
            let output = server
                .cli_as_root()
                .args(["introspect", "-", "-o", "json"])
                .write_stdin(format!("{forged}\n"))
                .output()
                .expect("run scimctl introspect");
            assert_eq!(output.status.code(), Some(5), "not live: exit 5");
            // A session token is never a bearer key, forged or not.
            let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&forged), None);
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&session), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a real session is not an API key either");
        assert_eq!(introspect(server, &session)["active"], true, "the real session is still live");
    }

    fn a_key_id_and_secret_under_the_session_prefix_open_nothing(server: &TestServer) {
        // The prefix says which table the id is looked up in: the root key's
        // own id and secret, labelled as a session, are no session.
        let rest = server.root_token.strip_prefix("scimctl_").expect("an API key");
        let relabelled = format!("scimsess_{rest}");
        let shown = introspect(server, &relabelled);
        assert_eq!(shown["active"], false, "{shown}");
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&relabelled), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[test]
fn forgeries_keep_the_id_and_change_the_secret() {
    let token = "scimctl_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";
    let [one, all] = forgeries(token);
    assert_eq!(
        one,
        "scimctl_0123456789abcdef_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklma"
    );
    assert!(all.starts_with("scimctl_0123456789abcdef_"));
    let secret = all.rsplit_once('_').expect("secret").1;
    assert_eq!(secret.len(), 40);
    assert!(
        secret
            .chars()
            .zip(token.rsplit_once('_').expect("secret").1.chars())
            .all(|(a, b)| a != b)
    );
}
