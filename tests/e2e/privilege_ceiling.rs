//! The privilege ceiling on every path that grants something, and the
//! guards against locking oneself out. For each grant path a key holding
//! all the scopes involved but one is refused with 403 naming the missing
//! scope, changes nothing and leaves one `auth.denied` entry; the same
//! request with that scope added goes through (so the ceiling, and nothing
//! else, refused it).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::permissions::ALL_SCOPES;
use crate::support::{TestServer, assert_same_rows, both_backends};

/// One path that grants, assigns, revokes or deletes something.
struct GrantPath {
    what: &'static str,
    /// What root sets up first.
    setup: Vec<(Method, &'static str, Value)>,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    /// Every scope the request involves, the route's own included.
    holds: Vec<&'static str>,
    /// The one withheld from the refused key; the refusal must name it.
    withheld: &'static str,
}

fn grant_paths() -> Vec<GrantPath> {
    let admin_role: Vec<&str> = ALL_SCOPES.to_vec();
    vec![
        GrantPath {
            what: "create a key with a scope the caller lacks",
            setup: vec![],
            method: Method::POST,
            path: "/admin/v1/keys",
            body: Some(json!({ "name": "wider", "scopes": ["users:read", "settings:manage"] })),
            holds: vec!["keys:manage", "users:read", "settings:manage"],
            withheld: "settings:manage",
        },
        GrantPath {
            what: "create a personal key for someone else",
            setup: vec![(
                Method::POST,
                "/admin/v1/users",
                json!({ "user_name": "ada", "roles": ["admin"] }),
            )],
            method: Method::POST,
            path: "/admin/v1/keys",
            body: Some(json!({ "name": "ada laptop", "scopes": ["audit:read"], "owner": "ada" })),
            holds: vec!["keys:manage", "audit:read"],
            withheld: "audit:read",
        },
        GrantPath {
            what: "create a user with the admin role",
            setup: vec![],
            method: Method::POST,
            path: "/admin/v1/users",
            body: Some(json!({ "user_name": "eve", "roles": ["admin"] })),
            holds: admin_role.clone(),
            withheld: "allowlist:manage",
        },
        GrantPath {
            what: "make a role the default",
            setup: vec![],
            method: Method::PATCH,
            path: "/admin/v1/settings",
            body: Some(json!({ "default_role": "auditor" })),
            holds: vec!["settings:manage", "users:read", "groups:read", "audit:read"],
            withheld: "groups:read",
        },
        GrantPath {
            what: "create a user who gets the default role",
            // Runs after the default became `auditor` above.
            setup: vec![],
            method: Method::POST,
            path: "/admin/v1/users",
            body: Some(json!({ "user_name": "finn" })),
            holds: vec!["users:write", "users:read", "groups:read", "audit:read"],
            withheld: "audit:read",
        },
        GrantPath {
            what: "create a role with a permission the caller lacks",
            setup: vec![],
            method: Method::POST,
            path: "/admin/v1/roles",
            body: Some(json!({ "name": "keymaster", "permissions": ["keys:manage"] })),
            holds: vec!["roles:manage", "keys:manage"],
            withheld: "keys:manage",
        },
        GrantPath {
            what: "delete a role with a permission the caller lacks",
            setup: vec![(
                Method::POST,
                "/admin/v1/roles",
                json!({ "name": "ops", "permissions": ["users:read", "audit:read"] }),
            )],
            method: Method::DELETE,
            path: "/admin/v1/roles/ops",
            body: None,
            holds: vec!["roles:manage", "users:read", "audit:read"],
            withheld: "audit:read",
        },
        GrantPath {
            what: "map a group to a role with a permission the caller lacks",
            setup: vec![
                (
                    Method::POST,
                    "/admin/v1/roles",
                    json!({ "name": "reviewers", "permissions": ["users:read", "audit:read"] }),
                ),
                (
                    Method::POST,
                    "/admin/v1/users",
                    json!({ "user_name": "gil", "groups": ["ops-team"], "create_groups": true }),
                ),
            ],
            method: Method::POST,
            path: "/admin/v1/mappings",
            body: Some(json!({ "group": "ops-team", "role": "reviewers" })),
            holds: vec!["roles:manage", "users:read", "audit:read"],
            withheld: "users:read",
        },
        GrantPath {
            what: "map a SCIM roles value to the admin role",
            setup: vec![],
            method: Method::POST,
            path: "/admin/v1/mappings",
            body: Some(json!({ "scim_role": "Admin", "role": "admin" })),
            holds: admin_role.clone(),
            withheld: "keys:manage",
        },
        GrantPath {
            what: "unprotect a user whose roles grant what the caller lacks",
            setup: vec![
                (
                    Method::POST,
                    "/admin/v1/users",
                    json!({ "user_name": "uma", "roles": ["auditor"] }),
                ),
                (Method::POST, "/admin/v1/users/uma/protect", json!({})),
            ],
            method: Method::POST,
            path: "/admin/v1/users/uma/unprotect",
            body: None,
            holds: vec![
                "users:deprovision",
                "users:read",
                "groups:read",
                "audit:read",
            ],
            withheld: "audit:read",
        },
        GrantPath {
            what: "give a user a role by hand with a permission the caller lacks",
            setup: vec![(
                Method::POST,
                "/admin/v1/users",
                json!({ "user_name": "vic" }),
            )],
            method: Method::POST,
            path: "/admin/v1/users/vic/roles",
            body: Some(json!({ "roles": ["auditor"] })),
            holds: vec!["users:write", "users:read", "groups:read", "audit:read"],
            withheld: "groups:read",
        },
        GrantPath {
            what: "take from a user a role given by hand with a permission the caller lacks",
            setup: vec![(
                Method::POST,
                "/admin/v1/users/vic/roles",
                json!({ "roles": ["provisioner"] }),
            )],
            method: Method::POST,
            path: "/admin/v1/users/vic/roles/remove",
            body: Some(json!({ "roles": ["provisioner"] })),
            holds: vec!["users:write", "scim:provision"],
            withheld: "scim:provision",
        },
        // Last: its success revokes the root key the others set up with.
        GrantPath {
            what: "revoke a key whose scopes the caller lacks",
            setup: vec![],
            method: Method::DELETE,
            path: "/admin/v1/keys/{root}",
            body: None,
            holds: admin_role,
            withheld: "scim:provision",
        },
    ]
}

fn denials(server: &TestServer) -> usize {
    server
        .query_rows("SELECT id FROM audit_log WHERE action = 'auth.denied'")
        .len()
}

fn root_key_id(server: &TestServer) -> String {
    server.root_token.split('_').nth(1).expect("id").to_owned()
}

both_backends! {
    fn every_grant_path_is_capped_by_what_the_caller_holds(server: &TestServer) {
        let root_id = root_key_id(server);
        for grant in grant_paths() {
            for (method, path, body) in &grant.setup {
                let (status, _, answer) = server.http(method.clone(), path, Some(&server.root_token), Some(body.clone()));
                assert!(status.is_success(), "{}: setup {method} {path}: {answer}", grant.what);
            }
            let path = grant.path.replace("{root}", &root_id);
            let short: Vec<&str> = grant.holds.iter().copied().filter(|scope| *scope != grant.withheld).collect();
            let refused = server.new_key(&format!("lacks {}", grant.withheld), &short);
            let before = server.snapshot();
            let denied_before = denials(server);

            let (status, _, answer) = server.http(grant.method.clone(), &path, Some(&refused), grant.body.clone());
            assert_eq!(status, StatusCode::FORBIDDEN, "{}: {answer}", grant.what);
            let message = answer["error"]["message"].as_str().expect("message");
            assert!(message.contains(grant.withheld), "{}: the refusal names {}: {message}", grant.what, grant.withheld);
            assert_same_rows(&before, &server.snapshot(), grant.what);
            assert_eq!(denials(server), denied_before + 1, "{}: one auth.denied entry", grant.what);

            // With the scope, the same request goes through: the ceiling was
            // the only thing in the way.
            let full = server.new_key("holds all", &grant.holds);
            let (status, _, answer) = server.http(grant.method.clone(), &path, Some(&full), grant.body.clone());
            assert!(status.is_success(), "{}: with {} it goes through: {status} {answer}", grant.what, grant.withheld);
        }
    }

    fn a_users_write_key_cannot_mint_an_admin_and_settings_cannot_make_everyone_one(server: &TestServer) {
        // The first build's findings, replayed: each was 2xx.
        let writer = server.new_key("writer", &["users:write"]);
        let (status, _, answer) = server.http(Method::POST, "/admin/v1/users", Some(&writer), Some(json!({ "user_name": "mallory", "roles": ["admin"] })));
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        let settings = server.new_key("settings", &["settings:manage"]);
        let (status, _, answer) = server.http(Method::PATCH, "/admin/v1/settings", Some(&settings), Some(json!({ "default_role": "admin" })));
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        let (_, _, now) = server.http(Method::GET, "/admin/v1/settings", Some(&server.root_token), None);
        assert_eq!(now["default_role"], "member");
        let keys = server.new_key("keys", &["keys:manage"]);
        let output = server.cli_with_token(&keys).args(["keys", "revoke", &root_key_id(server), "--yes"]).output().expect("run keys revoke");
        assert_eq!(output.status.code(), Some(4), "{}", String::from_utf8_lossy(&output.stderr));
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "the root key lives");
    }

    fn the_key_in_use_is_revoked_only_with_force(server: &TestServer) {
        let root_id = root_key_id(server);
        // A second all-scope key, so the root key is not the last one.
        server.new_key("spare admin", &ALL_SCOPES);
        let before = server.snapshot();
        let output = server.cli_as_root().args(["keys", "revoke", &root_id, "--yes"]).output().expect("run keys revoke");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("this request uses") && stderr.contains("--force"), "{stderr}");
        assert_same_rows(&before, &server.snapshot(), "a refused self-revocation");

        let output = server.cli_as_root().args(["keys", "revoke", &root_id, "--yes", "--force"]).output().expect("run keys revoke --force");
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "forced: the key is revoked");
    }

    fn the_last_key_that_can_manage_keys_is_revoked_only_with_force(server: &TestServer) {
        // An admin's personal key holds every scope, but dies with its
        // owner's access: it does not count as a way back.
        let (status, _, _) = server.http(Method::POST, "/admin/v1/users", Some(&server.root_token), Some(json!({ "user_name": "ada", "roles": ["admin"] })));
        assert_eq!(status, StatusCode::CREATED);
        let (status, _, personal) = server.http(Method::POST, "/admin/v1/keys", Some(&server.root_token), Some(json!({ "name": "ada laptop", "scopes": ALL_SCOPES, "owner": "ada" })));
        assert_eq!(status, StatusCode::CREATED, "{personal}");
        let personal = personal["token"].as_str().expect("token");
        let root_path = format!("/admin/v1/keys/{}", root_key_id(server));

        let before = server.snapshot();
        let (status, _, answer) = server.http(Method::DELETE, &root_path, Some(personal), None);
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
        let message = answer["error"]["message"].as_str().expect("message");
        assert!(message.contains("last live key that can manage keys") && message.contains("force"), "{message}");
        assert_same_rows(&before, &server.snapshot(), "a refused last-key revocation");

        let (status, _, answer) = server.http(Method::DELETE, &format!("{root_path}?force=true"), Some(personal), None);
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer["revoked_at"].is_string(), "{answer}");
    }
}
