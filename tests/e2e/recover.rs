//! `scimctl server recover` on the host: an operator shut out by the
//! allowlist and without any admin key gets back in, through the real
//! binary working on the running server's database.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{TestServer, assert_same_rows, bare_cli, both_backends};

fn recover(server: &TestServer, flags: &[&str]) -> std::process::Output {
    bare_cli()
        .args(["server", "recover", "--database", server.database_url()])
        .args(flags)
        .output()
        .expect("run scimctl server recover")
}

both_backends! {
    fn recover_gives_a_locked_out_operator_a_way_back(server: &TestServer) {
        // The only admin key revoked, then an allowlist that shuts the
        // operator's address out.
        let root_id = server.root_token.split('_').nth(1).expect("id").to_owned();
        let (status, _, body) = server.http(Method::DELETE, &format!("/admin/v1/keys/{root_id}?force=true"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{body}");
        server.execute("INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES ('192.0.2.0/24', 'office', 0, 'test')");
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::FORBIDDEN, "locked out");
        let before = server.snapshot();

        // Without a terminal it needs --yes; with nothing asked, it says
        // what to ask for. Neither changes anything.
        let refused = recover(server, &["--new-admin-key", "--clear-allowlist"]);
        assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
        let nothing = recover(server, &["--yes"]);
        assert_eq!(nothing.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&nothing.stderr).contains("--new-admin-key"));
        assert_same_rows(&before, &server.snapshot(), "refused recoveries");

        let done = recover(server, &["--new-admin-key", "--clear-allowlist", "--yes", "-o", "json"]);
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains("192.0.2.0/24"), "says what it removed: {stderr}");
        let created: Value = serde_json::from_slice(&done.stdout).expect("the new key as JSON");
        let token = created["token"].as_str().expect("token");
        assert_eq!(created["scopes"].as_array().map(Vec::len), Some(12), "{created}");

        // The running server lets the operator in with it at once.
        let (status, _, me) = server.http(Method::GET, "/admin/v1/whoami", Some(token), None);
        assert_eq!(status, StatusCode::OK, "{me}");
        let (_, _, list) = server.http(Method::GET, "/admin/v1/allowlist", Some(token), None);
        assert_eq!(list["items"], serde_json::json!([]), "{list}");
        let audited = server.query_rows("SELECT actor_name, target, details FROM audit_log WHERE action = 'system.recover'");
        assert_eq!(audited.len(), 1, "{audited:?}");
        assert_eq!(audited[0]["actor_name"], "system");
        let details: Value = serde_json::from_str(&audited[0]["details"]).expect("details");
        assert_eq!(details["new_admin_key"], created["id"], "{details}");
        assert_eq!(details["allowlist_removed"], serde_json::json!(["192.0.2.0/24"]), "{details}");
    }
}
