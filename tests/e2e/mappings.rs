//! Identity mappings (issue 10): IdP groups and SCIM `roles` values grant
//! roles, live, in the transaction of the change that gives or takes the
//! source; every grant remembers its source (`users why`); previews equal
//! what is applied; the last admin keeps admin. The real server on SQLite
//! and PostgreSQL, driven by Okta- and Entra-shaped SCIM requests and the
//! real CLI.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::cli_output::{root, stderr, stdout_json};
use crate::scim_support::{GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, admin_user, id_of};
use crate::support::{TestServer, both_backends};

/// A user provisioned over SCIM with `extra` attributes; their id.
fn provision(idp: &Idp, user_name: &str, extra: Value) -> String {
    let mut body = json!({ "schemas": [USER_SCHEMA], "userName": user_name, "active": true });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    id_of(idp.post("/Users", body).expect(StatusCode::CREATED))
}

/// Okta's Group Push: the group with its members; its id.
fn push_group(idp: &Idp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|id| json!({ "value": id })).collect();
    let body = json!({ "schemas": [GROUP_SCHEMA], "displayName": name, "members": members });
    id_of(idp.post("/Groups", body).expect(StatusCode::CREATED))
}

/// Okta adds members with `add` on `members`, removes one with a value
/// filter in the path.
fn okta_add_member(idp: &Idp, group: &str, user: &str) {
    let body = json!({
        "schemas": [PATCH_OP],
        "Operations": [{ "op": "add", "path": "members", "value": [{ "value": user }] }],
    });
    idp.patch(&format!("/Groups/{group}"), body)
        .expect(StatusCode::NO_CONTENT);
}

fn okta_remove_member(idp: &Idp, group: &str, user: &str) {
    let body = json!({
        "schemas": [PATCH_OP],
        "Operations": [{ "op": "remove", "path": format!("members[value eq \"{user}\"]") }],
    });
    idp.patch(&format!("/Groups/{group}"), body)
        .expect(StatusCode::NO_CONTENT);
}

/// Entra ID replaces a user's app role assignments with `"Replace"` on
/// `roles`.
fn entra_set_roles(idp: &Idp, user: &str, values: &[&str]) {
    let roles: Vec<Value> = values
        .iter()
        .map(|value| {
            json!({ "primary": "False", "type": "WindowsAzureActiveDirectoryRole", "value": value })
        })
        .collect();
    let body = json!({
        "schemas": [PATCH_OP],
        "Operations": [{ "op": "Replace", "path": "roles", "value": roles }],
    });
    idp.patch(&format!("/Users/{user}"), body)
        .expect(StatusCode::OK);
}

/// The roles the admin API says the user holds, sorted.
fn roles(server: &TestServer, user: &str) -> Vec<String> {
    let mut roles: Vec<String> = admin_user(server, user)["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .map(|role| role.as_str().expect("a role name").to_owned())
        .collect();
    roles.sort();
    roles
}

/// `mappings add …` as root with `--yes -o json`; the change.
fn map(server: &TestServer, source: &[&str], role: &str) -> Value {
    let mut args = vec!["mappings", "add"];
    args.extend(source);
    args.extend(["--role", role, "--yes", "-o", "json"]);
    stdout_json(&root(server, &args, 0))
}

/// The user names in a change's `gained` or `lost`, sorted.
fn names(change: &Value, list: &str) -> Vec<String> {
    let mut names: Vec<String> = change[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {change}"))
        .iter()
        .map(|entry| {
            entry["user"]["user_name"]
                .as_str()
                .expect("user_name")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

/// The kinds of source `users why` gives for `role`, in order.
pub fn sources(server: &TestServer, user: &str, role: &str) -> Vec<String> {
    let why = stdout_json(&root(server, &["users", "why", user, "-o", "json"], 0));
    why["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter(|entry| entry["role"] == role)
        .flat_map(|entry| entry["sources"].as_array().expect("sources").clone())
        .map(|source| source["kind"].as_str().expect("kind").to_owned())
        .collect()
}

fn audited(server: &TestServer, action: &str) -> usize {
    server
        .query_rows(&format!(
            "SELECT id FROM audit_log WHERE action = '{action}'"
        ))
        .len()
}

both_backends! {
    fn an_okta_group_push_grants_and_revokes_the_mapped_role(server: &TestServer) {
        let okta = Idp::okta(server);
        let ann = provision(&okta, "ann", json!({}));
        let ben = provision(&okta, "ben", json!({}));
        let group = push_group(&okta, "Engineering", &[&ann]);

        let change = map(server, &["--group", "Engineering"], "auditor");
        assert_eq!(names(&change, "gained"), ["ann"]);
        assert_eq!(roles(server, "ann"), ["auditor", "member"]);

        okta_add_member(&okta, &group, &ben);
        assert_eq!(roles(server, "ben"), ["auditor", "member"], "granted with the push");
        okta_remove_member(&okta, &group, &ann);
        assert_eq!(roles(server, "ann"), ["member"], "revoked with the push");
        assert_eq!(audited(server, "role.grant"), 2);
        assert_eq!(audited(server, "role.revoke"), 1);
        let revoke = server.query_rows(
            "SELECT actor_name, target, details FROM audit_log WHERE action = 'role.revoke'",
        );
        assert_eq!(revoke[0]["actor_name"], "okta", "{revoke:?}");
        assert_eq!(revoke[0]["target"], "ann", "{revoke:?}");
        assert!(revoke[0]["details"].contains("Engineering"), "{revoke:?}");

        // The IdP deletes the group: its mapping goes, and the role with it.
        okta.delete(&format!("/Groups/{group}")).expect(StatusCode::NO_CONTENT);
        assert_eq!(roles(server, "ben"), ["member"]);
        let left = stdout_json(&root(server, &["mappings", "list", "-o", "json"], 0));
        assert_eq!(left, json!([]));
    }

    fn an_entra_roles_attribute_grants_and_revokes_the_mapped_role(server: &TestServer) {
        let entra = Idp::entra(server);
        map(server, &["--scim-role", "Reader"], "auditor");
        let cat = provision(
            &entra,
            "cat@example.com",
            json!({ "roles": [{ "primary": false, "type": "WindowsAzureActiveDirectoryRole", "value": "Reader" }] }),
        );
        assert_eq!(roles(server, &cat), ["auditor", "member"], "granted at creation");
        assert_eq!(sources(server, &cat, "auditor"), ["mapping"]);

        entra_set_roles(&entra, &cat, &["Writer"]);
        assert_eq!(roles(server, &cat), ["member"], "the value went, the role with it");
        entra_set_roles(&entra, &cat, &["writer", "READER"]);
        assert_eq!(roles(server, &cat), ["auditor", "member"], "values match ignoring case");
    }

    fn a_role_from_two_sources_stays_until_both_are_gone(server: &TestServer) {
        let entra = Idp::entra(server);
        let dan = provision(&entra, "dan", json!({ "roles": [{ "value": "Reader" }] }));
        let group = push_group(&entra, "Ops", &[&dan]);
        map(server, &["--group", "Ops"], "auditor");
        let change = map(server, &["--scim-role", "reader"], "auditor");
        assert!(names(&change, "gained").is_empty(), "held already: {change}");
        assert_eq!(sources(server, "dan", "auditor"), ["mapping", "mapping"]);

        okta_remove_member(&entra, &group, &dan);
        assert_eq!(roles(server, "dan"), ["auditor", "member"], "the SCIM role still gives it");
        entra_set_roles(&entra, &dan, &[]);
        assert_eq!(roles(server, "dan"), ["member"]);
    }

    fn a_role_given_by_hand_survives_the_mapping(server: &TestServer) {
        let okta = Idp::okta(server);
        root(server, &["users", "create", "eve", "--role", "auditor"], 0);
        let eve = admin_user(server, "eve")["id"].as_str().expect("id").to_owned();
        let group = push_group(&okta, "Audit", &[]);
        map(server, &["--group", "Audit"], "auditor");
        okta_add_member(&okta, &group, &eve);
        assert_eq!(sources(server, "eve", "auditor"), ["manual", "mapping"]);
        okta_remove_member(&okta, &group, &eve);
        assert_eq!(roles(server, "eve"), ["auditor"], "a mapping never takes a hand-given role");
        assert_eq!(sources(server, "eve", "auditor"), ["manual"]);
    }

    fn a_dry_run_shows_exactly_what_applying_does(server: &TestServer) {
        let okta = Idp::okta(server);
        let ids: Vec<String> = (0..12)
            .map(|n| provision(&okta, &format!("user{n:02}"), json!({})))
            .collect();
        let members: Vec<&str> = ids.iter().map(String::as_str).collect();
        push_group(&okta, "Everyone", &members);
        root(server, &["users", "create", "fay", "--role", "auditor", "--group", "Everyone"], 0);

        let args = ["mappings", "add", "--group", "everyone", "--role", "auditor"];
        let preview = stdout_json(&root(server, &[&args[..], &["--dry-run", "-o", "json"][..]].concat(), 0));
        assert_eq!(preview["dry_run"], true);
        assert_eq!(names(&preview, "gained").len(), 12, "fay holds auditor already: {preview}");
        assert_eq!(roles(server, "user00"), ["member"], "a dry run changes nothing");
        assert_eq!(audited(server, "mapping.create"), 0);

        // More than ten users change: without a terminal it needs --yes.
        let refused = root(server, &args, 2);
        assert!(stderr(&refused).contains("--yes"), "{}", stderr(&refused));
        assert_eq!(roles(server, "user00"), ["member"]);

        let applied = stdout_json(&root(server, &[&args[..], &["--yes", "-o", "json"][..]].concat(), 0));
        assert_eq!(applied["dry_run"], false);
        assert_eq!(applied["gained"], preview["gained"]);
        assert_eq!(roles(server, "user11"), ["auditor", "member"]);
        assert_eq!(audited(server, "role.grant"), 13, "fay's second source is a grant too");

        let id = applied["mapping"]["id"].as_str().expect("id").to_owned();
        let preview = stdout_json(&root(server, &["mappings", "remove", &id, "--dry-run", "-o", "json"], 0));
        assert_eq!(names(&preview, "lost").len(), 12);
        let removed = stdout_json(&root(server, &["mappings", "remove", &id, "--yes", "-o", "json"], 0));
        assert_eq!(removed["lost"], preview["lost"]);
        assert_eq!(roles(server, "user11"), ["member"]);
        assert_eq!(roles(server, "fay"), ["auditor"]);
    }

    fn users_why_names_every_source(server: &TestServer) {
        let entra = Idp::entra(server);
        let gus = provision(&entra, "gus", json!({ "roles": [{ "value": "Reader" }] }));
        push_group(&entra, "Support", &[&gus]);
        map(server, &["--group", "Support"], "auditor");
        map(server, &["--scim-role", "Reader"], "provisioner");
        root(server, &["users", "create", "hal", "--role", "auditor", "--group", "Support"], 0);

        let why = stdout_json(&root(server, &["users", "why", "gus", "-o", "json"], 0));
        let roles = why["roles"].as_array().expect("roles");
        let by_role = |role: &str| -> &Value {
            roles
                .iter()
                .find(|entry| entry["role"] == role)
                .unwrap_or_else(|| panic!("no {role} in {why}"))
        };
        let auditor = &by_role("auditor")["sources"][0];
        assert_eq!(auditor["kind"], "mapping");
        assert_eq!(auditor["source"]["kind"], "group");
        assert_eq!(auditor["source"]["group"]["display_name"], "Support");
        let provisioner = &by_role("provisioner")["sources"][0];
        assert_eq!(provisioner["source"], json!({ "kind": "scim_role", "value": "Reader" }));
        assert_eq!(by_role("member")["sources"][0]["kind"], "default");
        assert_eq!(why["groups"][0]["via"], "scim");
        assert_eq!(why["groups"][0]["added_by"], "entra");

        let table = crate::cli_output::stdout(&root(server, &["users", "why", "hal"], 0));
        assert!(table.contains("assigned by key initial admin"), "{table}");
        assert!(table.contains("mapping"), "{table}");
        assert!(table.contains("from group Support"), "{table}");
        assert!(table.contains("Support  manual"), "{table}");
    }

    fn reactivation_gives_back_what_the_mappings_say_now(server: &TestServer) {
        let okta = Idp::okta(server);
        let ivy = provision(&okta, "ivy", json!({}));
        let group = push_group(&okta, "Eng", &[&ivy]);
        map(server, &["--group", "Eng"], "auditor");
        let deactivate = |active: bool| {
            let body = json!({
                "schemas": [PATCH_OP],
                "Operations": [{ "op": "replace", "value": { "active": active } }],
            });
            okta.patch(&format!("/Users/{ivy}"), body).expect(StatusCode::OK);
        };
        deactivate(false);
        assert!(roles(server, "ivy").is_empty(), "deprovisioning takes everything");
        // The IdP pushes the membership while the user is inactive: no role yet.
        okta_add_member(&okta, &group, &ivy);
        assert!(roles(server, "ivy").is_empty(), "no grant to a deprovisioned user");
        deactivate(true);
        assert_eq!(roles(server, "ivy"), ["auditor", "member"]);
    }

    fn the_last_admin_keeps_admin(server: &TestServer) {
        let entra = Idp::entra(server);
        let jo = provision(&entra, "jo", json!({ "roles": [{ "value": "Admin" }] }));
        let change = map(server, &["--scim-role", "Admin"], "admin");
        assert_eq!(names(&change, "gained"), ["jo"]);
        let id = change["mapping"]["id"].as_str().expect("id").to_owned();

        let refused = root(server, &["mappings", "remove", &id, "--yes"], 1);
        assert!(stderr(&refused).contains("last active admin"), "{}", stderr(&refused));
        assert_eq!(roles(server, "jo"), ["admin", "member"]);

        // Through SCIM the revocation is held, and audited.
        entra_set_roles(&entra, &jo, &[]);
        assert_eq!(roles(server, "jo"), ["admin", "member"]);
        assert_eq!(audited(server, "role.revoke_held"), 1);

        // With a second admin, the first can lose it.
        root(server, &["users", "create", "kim", "--role", "admin"], 0);
        entra_set_roles(&entra, &jo, &["Reader"]);
        assert_eq!(roles(server, "jo"), ["member"]);
    }

    fn scim_never_demotes_a_protected_user(server: &TestServer) {
        let okta = Idp::okta(server);
        let lee = provision(&okta, "lee", json!({}));
        let group = push_group(&okta, "Oncall", &[&lee]);
        map(server, &["--group", "Oncall"], "auditor");
        root(server, &["users", "protect", "lee"], 0);

        okta_remove_member(&okta, &group, &lee);
        assert_eq!(roles(server, "lee"), ["auditor", "member"], "held, not revoked");
        let shown = admin_user(server, "lee");
        assert_eq!(shown["held"][0]["action"], "revoke_role", "{shown}");
        assert_eq!(shown["held"][0]["reason"], "protected", "{shown}");
        // Pushed again, removed again: still one held change.
        okta_add_member(&okta, &group, &lee);
        okta_remove_member(&okta, &group, &lee);
        assert_eq!(admin_user(server, "lee")["held"].as_array().map(Vec::len), Some(1));
        assert_eq!(audited(server, "role.revoke_held"), 2);

        // Unprotected, the next change takes the role as the mapping says.
        root(server, &["users", "unprotect", "lee"], 0);
        okta_add_member(&okta, &group, &lee);
        okta_remove_member(&okta, &group, &lee);
        assert_eq!(roles(server, "lee"), ["member"]);
        assert_eq!(admin_user(server, "lee")["held"], json!([]), "made, so no longer held");
    }

    fn a_key_maps_only_to_roles_within_its_own_scopes(server: &TestServer) {
        let okta = Idp::okta(server);
        push_group(&okta, "Eng", &[]);
        let token = server.new_key("role manager", &["roles:manage", "users:read"]);
        let refused = server
            .cli_with_token(&token)
            .args(["mappings", "add", "--group", "Eng", "--role", "auditor", "--yes"])
            .output()
            .expect("run scimctl");
        assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("audit:read"), "{}", stderr(&refused));
        server
            .cli_with_token(&token)
            .args(["mappings", "add", "--group", "Eng", "--role", "member"])
            .assert()
            .success();

        let mapped = map(server, &["--group", "Eng"], "auditor");
        let id = mapped["mapping"]["id"].as_str().expect("id");
        let refused = server
            .cli_with_token(&token)
            .args(["mappings", "remove", id, "--yes"])
            .output()
            .expect("run scimctl");
        assert_eq!(refused.status.code(), Some(4), "{}", stderr(&refused));
    }

    fn bad_mappings_are_refused_and_change_nothing(server: &TestServer) {
        let okta = Idp::okta(server);
        push_group(&okta, "Eng", &[]);
        let unknown_group = root(server, &["mappings", "add", "--group", "Engg", "--role", "auditor"], 3);
        assert!(stderr(&unknown_group).contains("Engg"), "{}", stderr(&unknown_group));
        let unknown_role = root(server, &["mappings", "add", "--group", "Eng", "--role", "nosuch"], 3);
        assert!(stderr(&unknown_role).contains("the roles are"), "{}", stderr(&unknown_role));
        root(server, &["mappings", "add", "--group", "Eng", "--scim-role", "x", "--role", "auditor"], 2);
        root(server, &["mappings", "add", "--role", "auditor"], 2);
        root(server, &["mappings", "remove", "no-such-id", "--yes"], 3);

        map(server, &["--group", "Eng"], "auditor");
        let twice = root(server, &["mappings", "add", "--group", "eng", "--role", "auditor"], 1);
        assert!(stderr(&twice).contains("already mapped"), "{}", stderr(&twice));
        root(server, &["roles", "create", "ops", "--permission", "users:read"], 0);
        map(server, &["--group", "Eng"], "ops");
        let in_use = root(server, &["roles", "delete", "ops", "--yes"], 1);
        assert!(stderr(&in_use).contains("mappings remove"), "{}", stderr(&in_use));
        let listed = stdout_json(&root(server, &["mappings", "list", "-o", "json"], 0));
        assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    }
}
