//! The user lifecycle DESIGN promises over SCIM, on both backends: create
//! with the default role, adoption of manual users, uniqueness, the
//! auto-provisioning and auto-deprovisioning switches, deactivation by
//! PATCH, PUT and DELETE (proved with `scimctl users verify`), reactivation
//! (proved with a new session through `scimctl introspect`), group pushes as
//! group memberships, passwords never kept, unknown attributes kept as sent,
//! every change audited with the IdP's key, and bad requests changing
//! nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{
    ENTERPRISE, ERROR, GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, admin_create_user, admin_groups,
    admin_user, audit_rows, cli_introspect, cli_pending, cli_verify, created, everything_stored,
    filter, id_of, issue_session, list, member_ids, scim_error, scim_error_kind, session_refused,
    set_settings,
};
use crate::support::{TestServer, assert_same_rows, both_backends};

/// A minimal create body.
fn user_body(user_name: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": { "givenName": "Given", "familyName": "Family" },
        "emails": [{ "value": format!("{}@example.com", user_name.to_lowercase()), "type": "work", "primary": true }],
        "active": true
    })
}

/// Creates a SCIM user and returns its id.
#[track_caller]
fn provision(idp: &Idp, user_name: &str) -> String {
    id_of(&created(&idp.post("/Users", user_body(user_name)), "User"))
}

/// `{"op": "replace", "path": "active", "value": active}`.
fn set_active(active: bool) -> Value {
    json!({
        "schemas": [PATCH_OP],
        "Operations": [{ "op": "replace", "path": "active", "value": active }]
    })
}

/// A group pushed with `members`, returning its id.
#[track_caller]
fn push_group(idp: &Idp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|id| json!({ "value": id })).collect();
    let group = created(
        &idp.post("/Groups", json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members })),
        "Group",
    );
    id_of(&group)
}

/// A personal key for `user`, through the admin API; returns its token.
#[track_caller]
fn personal_key(server: &TestServer, user: &str) -> String {
    let (status, _, key) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": format!("{user} laptop"), "scopes": ["users:read"], "owner": user })),
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key["token"].as_str().expect("token").to_owned()
}

/// Gives `user` everything a deprovisioning must take away beyond the
/// default role: a group (pushed by the IdP), a personal key and a session.
/// Returns (session, personal key). The personal key's scope is
/// `users:read`, so the user's role must grant it (e.g. `auditor`): a
/// personal key never exceeds its owner.
fn give_access(server: &TestServer, idp: &Idp, user: &str, id: &str) -> (String, String) {
    push_group(idp, &format!("group-of-{user}"), &[id]);
    assert_eq!(admin_groups(server, user), [format!("group-of-{user}")]);
    let session = issue_session(server, user);
    let key = personal_key(server, user);
    assert_eq!(cli_introspect(server, &session).0, 0);
    assert_eq!(cli_introspect(server, &key).0, 0);
    (session, key)
}

/// The user's row count and version, straight from the database: proof that
/// a refused request changed nothing.
fn user_rows_snapshot(server: &TestServer) -> Vec<String> {
    server
        .query_rows("SELECT id, user_name, CAST(version AS TEXT) AS version, attributes FROM users ORDER BY id")
        .into_iter()
        .map(|row| format!("{row:?}"))
        .collect()
}

both_backends! {
    fn create_gives_the_default_role_and_is_audited_with_the_key(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp, "first");
        assert_eq!(admin_user(server, "first")["roles"], json!(["member"]), "the default role");

        set_settings(server, json!({ "default_role": "auditor" }));
        let id = provision(&idp, "second");
        let second = admin_user(server, "second");
        assert_eq!(second["roles"], json!(["auditor"]), "the default role at the time of creation");
        assert_eq!(second["origin"], "scim");
        assert_eq!(second["active"], true);
        assert_eq!(second["locked"], false);

        let rows = audit_rows(server, "action = 'user.create' AND target = 'second'");
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["actor_key_id"], idp.key_id, "the IdP's key is the actor");
        assert_eq!(rows[0]["outcome"], "success");
        assert!(rows[0]["details"].contains(&id), "details name the user: {}", rows[0]["details"]);
    }

    fn a_manual_user_with_the_same_user_name_is_adopted(server: &TestServer) {
        let idp = Idp::generic(server);
        let manual = admin_create_user(server, json!({ "user_name": "Carol", "emails": ["carol@old.example"], "roles": ["auditor"] }));
        assert_eq!(manual["origin"], "manual");

        // The IdP's create for the same userName (any case) adopts the user:
        // DESIGN, "If a user with that userName already exists but was not
        // created by SCIM (origin manual), it is adopted ... instead of 409".
        // From the IdP's side a SCIM resource comes into being, so: 201.
        let mut body = user_body("carol");
        body["displayName"] = json!("Carol Adopted");
        body["emails"] = json!([{ "value": "carol@new.example", "type": "work", "primary": true }]);
        let reply = idp.post("/Users", body);
        let user = created(&reply, "User");
        assert_eq!(user["id"], manual["id"], "the same user, not a second one");
        assert_eq!(user["userName"], "carol", "the IdP's spelling from now on");
        assert_eq!(user["displayName"], "Carol Adopted");
        assert_eq!(user["emails"][0]["value"], "carol@new.example");
        let directory = admin_user(server, "carol");
        assert_eq!(directory["origin"], "scim", "SCIM-managed now");
        assert_eq!(server.query_rows("SELECT id FROM users").len(), 1);

        // Now SCIM-managed, a second create is a duplicate.
        scim_error(&idp.post("/Users", user_body("CAROL")), StatusCode::CONFLICT, Some("uniqueness"));
        assert_eq!(idp.audited_actions(), ["user.adopt"], "the adoption is audited with the key, the refused duplicate is not");
    }

    fn a_scim_managed_duplicate_is_409_uniqueness_and_changes_nothing(server: &TestServer) {
        let idp = Idp::generic(server);
        let dave = provision(&idp, "dave");
        let erin = provision(&idp, "erin");
        let before = user_rows_snapshot(server);
        let audit_before = audit_rows(server, "1 = 1").len();

        for name in ["dave", "DAVE", "Dave"] {
            let detail = scim_error(&idp.post("/Users", user_body(name)), StatusCode::CONFLICT, Some("uniqueness"));
            assert!(detail.to_lowercase().contains("dave"), "the detail names the userName: {detail}");
        }
        // Renaming onto another user's userName is the same conflict, by
        // PATCH and by PUT.
        let rename = json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "userName", "value": "Dave" }] });
        scim_error(&idp.patch(&format!("/Users/{erin}"), rename), StatusCode::CONFLICT, Some("uniqueness"));
        scim_error(&idp.put(&format!("/Users/{erin}"), user_body("DAVE")), StatusCode::CONFLICT, Some("uniqueness"));

        assert_eq!(user_rows_snapshot(server), before, "refused requests change no user");
        assert_eq!(audit_rows(server, "1 = 1").len(), audit_before, "and write no change to the audit log");
        assert_eq!(idp.get(&format!("/Users/{dave}")).expect(StatusCode::OK)["userName"], "dave");
    }

    fn with_auto_provisioning_off_creates_are_refused_but_updates_apply(server: &TestServer) {
        let idp = Idp::generic(server);
        let frank = provision(&idp, "frank");
        set_settings(server, json!({ "auto_provisioning": false }));
        let before = user_rows_snapshot(server);

        let detail = scim_error(&idp.post("/Users", user_body("grace")), StatusCode::FORBIDDEN, None);
        let lower = detail.to_lowercase();
        assert!(lower.contains("provisioning") && lower.contains("disabled"), "the detail says automatic provisioning is disabled: {detail}");
        assert_eq!(user_rows_snapshot(server), before, "no user created");
        let reply = idp.get(&format!("/Users?{}", filter("userName eq \"grace\"")));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());
        let rejected = audit_rows(server, "action = 'user.provision_rejected'");
        assert_eq!(rejected.len(), 1, "the attempt is audited: {rejected:?}");
        assert_eq!(rejected[0]["actor_key_id"], idp.key_id);
        assert!(rejected[0]["target"].contains("grace") || rejected[0]["details"].contains("grace"), "{:?}", rejected[0]);

        // Updates to existing users still apply: PUT, PATCH, deactivation.
        let path = format!("/Users/{frank}");
        let mut body = user_body("frank");
        body["displayName"] = json!("Frank Updated");
        assert_eq!(idp.put(&path, body).expect(StatusCode::OK)["displayName"], "Frank Updated");
        let reply = idp.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "title", "value": "Engineer" }] }));
        assert_eq!(idp.patched(&reply, &path)["title"], "Engineer");
        let reply = idp.patch(&path, set_active(false));
        assert_eq!(idp.patched(&reply, &path)["active"], false);
        assert_eq!(cli_verify(server, "frank").0, 0);

        set_settings(server, json!({ "auto_provisioning": true }));
        provision(&idp, "grace");
    }

    fn deactivation_by_patch_put_or_delete_deprovisions_at_once(server: &TestServer) {
        let idp = Idp::generic(server);
        set_settings(server, json!({ "default_role": "auditor" }));
        for (user, how) in [("hank", "patch"), ("ivy", "put"), ("jack", "delete")] {
            let id = provision(&idp, user);
            let path = format!("/Users/{id}");
            let (session, key) = give_access(server, &idp, user, &id);
            let (code, _) = cli_verify(server, user);
            assert_eq!(code, 5, "{user} still has access before");

            match how {
                "patch" => {
                    let reply = idp.patch(&path, set_active(false));
                    assert_eq!(idp.patched(&reply, &path)["active"], false);
                }
                "put" => {
                    let mut body = user_body(user);
                    body["active"] = json!(false);
                    let reply = idp.put(&path, body);
                    assert_eq!(reply.expect(StatusCode::OK)["active"], false);
                    assert!(reply.body.get("groups").is_none() || reply.body["groups"] == json!([]), "memberships gone: {}", reply.body);
                }
                _ => {
                    idp.delete(&path).expect(StatusCode::NO_CONTENT);
                    scim_error(&idp.get(&path), StatusCode::NOT_FOUND, None);
                    let reply = idp.get(&format!("/Users?{}", filter(&format!("userName eq \"{user}\""))));
                    assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty(), "gone from SCIM listings");
                    let reply = idp.get("/Users?startIndex=1&count=100");
                    let listed = reply.expect(StatusCode::OK)["Resources"].to_string();
                    assert!(!listed.contains(&id), "not listed after DELETE");
                    let patch = idp.patch(&path, set_active(true));
                    scim_error(&patch, StatusCode::NOT_FOUND, None);
                }
            }

            let (code, out) = cli_verify(server, user);
            assert_eq!(code, 0, "{how}: `scimctl users verify {user}` exits 0: {out}");
            let directory = admin_user(server, user);
            assert_eq!(directory["active"], false, "{how}: {directory}");
            assert_eq!(directory["deprovisioning"], "done");
            assert_eq!(directory["locked"], true);
            assert_eq!(directory["roles"], json!([]));
            assert_eq!(directory["groups"], json!([]));
            assert_eq!(cli_introspect(server, &session).0, 5, "{how}: the session is dead");
            assert_eq!(cli_introspect(server, &key).0, 5, "{how}: the personal key is dead");
            assert_eq!(session_refused(server, user), StatusCode::CONFLICT, "{how}: no new session while locked");
            let done = audit_rows(server, &format!("action = 'user.deprovision' AND target = '{user}'"));
            assert_eq!(done.len(), 1, "{how}: {done:?}");
            assert_eq!(done[0]["actor_key_id"], idp.key_id, "{how}: deprovisioned by the IdP's key");
        }
    }

    fn with_auto_deprovisioning_off_deactivation_flags_pending(server: &TestServer) {
        let idp = Idp::generic(server);
        set_settings(server, json!({ "auto_deprovisioning": false, "default_role": "auditor" }));
        let kim = provision(&idp, "kim");
        let lee = provision(&idp, "lee");
        let (session, _) = give_access(server, &idp, "kim", &kim);

        let path = format!("/Users/{kim}");
        let reply = idp.patch(&path, set_active(false));
        assert_eq!(idp.patched(&reply, &path)["active"], false, "the IdP sees what it asked for");
        assert_eq!(idp.get(&path).expect(StatusCode::OK)["active"], false);
        let directory = admin_user(server, "kim");
        assert_eq!(directory["deprovisioning"], "pending", "{directory}");
        assert_eq!(directory["roles"], json!(["auditor"]), "access stays until an operator acts");
        assert_eq!(directory["locked"], false);
        assert_eq!(cli_pending(server), ["kim"]);
        let (code, out) = cli_verify(server, "kim");
        assert_eq!(code, 5, "not deprovisioned yet: {out}");

        // A DELETE with it off: gone from SCIM, pending in the directory.
        idp.delete(&format!("/Users/{lee}")).expect(StatusCode::NO_CONTENT);
        scim_error(&idp.get(&format!("/Users/{lee}")), StatusCode::NOT_FOUND, None);
        assert_eq!(admin_user(server, "lee")["deprovisioning"], "pending");
        assert_eq!(cli_pending(server), ["kim", "lee"]);

        // The operator finishes it through the real CLI.
        let output = server
            .cli_with_token(&server.root_token)
            .args(["users", "deprovision", "kim", "--yes"])
            .output()
            .expect("run scimctl users deprovision");
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(cli_verify(server, "kim").0, 0);
        assert_eq!(cli_introspect(server, &session).0, 5);
        assert_eq!(cli_pending(server), ["lee"]);
        let pending = audit_rows(server, "action = 'user.deprovision_pending'");
        assert_eq!(pending.len(), 2, "{pending:?}");
        assert!(pending.iter().all(|row| row["actor_key_id"] == idp.key_id));
    }

    fn reactivation_lifts_the_lock_and_new_sessions_are_live(server: &TestServer) {
        let idp = Idp::generic(server);
        set_settings(server, json!({ "default_role": "auditor" }));
        for (user, how) in [("mia", "patch"), ("ned", "put")] {
            let id = provision(&idp, user);
            let path = format!("/Users/{id}");
            let (old_session, _) = give_access(server, &idp, user, &id);
            let reply = idp.patch(&path, set_active(false));
            idp.patched(&reply, &path);
            assert_eq!(cli_verify(server, user).0, 0, "{how}: deprovisioned first");

            let user_now = match how {
                "patch" => {
                    let reply = idp.patch(&path, set_active(true));
                    idp.patched(&reply, &path)
                }
                _ => idp.put(&path, user_body(user)).expect(StatusCode::OK).clone(),
            };
            assert_eq!(user_now["id"], id.as_str(), "{how}: the same user, reactivated");
            assert_eq!(user_now["active"], true, "{how}: {user_now}");
            assert!(user_now.get("groups").is_none() || user_now["groups"] == json!([]), "{how}: memberships come back only as pushed: {user_now}");

            let directory = admin_user(server, user);
            assert_eq!(directory["active"], true, "{how}: {directory}");
            assert_eq!(directory["locked"], false, "{how}: the lock is lifted");
            assert_eq!(directory["deprovisioning"], "none");
            assert_eq!(directory["roles"], json!(["auditor"]), "{how}: the default role again");
            assert_eq!(directory["groups"], json!([]));
            let session = issue_session(server, user);
            let (code, out) = cli_introspect(server, &session);
            assert_eq!(code, 0, "{how}: a new session introspects live: {out}");
            assert_eq!(cli_introspect(server, &old_session).0, 5, "{how}: old sessions stay revoked");
            let (code, _) = cli_verify(server, user);
            assert_eq!(code, 5, "{how}: no longer deprovisioned");
            let reactivated = audit_rows(server, &format!("action = 'user.reactivate' AND target = '{user}'"));
            assert_eq!(reactivated.len(), 1, "{how}: {reactivated:?}");
            assert_eq!(reactivated[0]["actor_key_id"], idp.key_id);
        }
        assert_eq!(server.query_rows("SELECT id FROM locks").len(), 0, "no lock left");
    }

    fn a_re_post_after_delete_is_a_new_person_and_the_old_access_stays_dead(server: &TestServer) {
        // DESIGN, Re-create after DELETE: "a new person ... new id, default
        // role only, no groups, and every credential of the deleted record
        // stays dead — a pending deprovisioning of that record is completed
        // in the same transaction, whatever the toggles say".
        let idp = Idp::generic(server);
        for (user, auto_deprovisioning) in [("oli", true), ("pip", false)] {
            set_settings(server, json!({ "default_role": "auditor", "auto_deprovisioning": auto_deprovisioning }));
            let old_id = provision(&idp, user);
            let (old_session, old_key) = give_access(server, &idp, user, &old_id);
            idp.delete(&format!("/Users/{old_id}")).expect(StatusCode::NO_CONTENT);
            let context = format!("{user} (auto-deprovisioning {auto_deprovisioning})");
            if !auto_deprovisioning {
                // Pending: nothing torn down yet (the inactive user's
                // credentials are refused, but they still exist).
                assert_eq!(cli_pending(server), [user]);
                assert_eq!(cli_verify(server, user).0, 5, "{context}: not deprovisioned yet");
            }

            let newcomer = created(&idp.post("/Users", user_body(user)), "User");
            let new_id = id_of(&newcomer);
            assert_ne!(new_id, old_id, "{context}: a new person gets a new id");
            assert!(newcomer.get("groups").is_none() || newcomer["groups"] == json!([]), "{context}: no groups: {newcomer}");
            let directory = admin_user(server, user);
            assert_eq!(directory["id"], new_id.as_str(), "{context}: the name is the newcomer's");
            assert_eq!(directory["roles"], json!(["auditor"]), "{context}: the default role only");
            assert_eq!(directory["groups"], json!([]), "{context}");
            assert_eq!(directory["active"], true, "{context}");
            assert_eq!(directory["locked"], false, "{context}");
            assert_eq!(directory["deprovisioning"], "none", "{context}");

            // Every credential of the old record is dead, and stays so.
            assert_eq!(cli_introspect(server, &old_session).0, 5, "{context}: the old session is dead");
            assert_eq!(cli_introspect(server, &old_key).0, 5, "{context}: the old personal key is dead");
            let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(&old_key), None);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{context}: the old key opens nothing");
            let (code, out) = cli_verify(server, &old_id);
            assert_eq!(code, 0, "{context}: the old record is fully deprovisioned: {out}");
            assert!(cli_pending(server).is_empty(), "{context}: nothing left pending");
            scim_error(&idp.get(&format!("/Users/{old_id}")), StatusCode::NOT_FOUND, None);
            let (status, _, body) = server.http(Method::POST, &format!("/admin/v1/users/{old_id}/reactivate"), Some(&server.root_token), Some(json!({})));
            assert_eq!(status, StatusCode::CONFLICT, "{context}: the old record cannot come back over the newcomer: {body}");
            assert_eq!(cli_introspect(server, &old_session).0, 5, "{context}: still dead");

            // The newcomer's own access works.
            let session = issue_session(server, user);
            assert_eq!(cli_introspect(server, &session).0, 0, "{context}");
            let created_rows = audit_rows(server, &format!("action = 'user.create' AND target = '{user}'"));
            assert_eq!(created_rows.len(), 2, "{context}: {created_rows:?}");
            let details: Value = serde_json::from_str(&created_rows[1]["details"]).expect("details");
            assert_eq!(details["replaces"], old_id.as_str(), "{context}: {details}");
            let deprovisioned = audit_rows(server, &format!("action = 'user.deprovision' AND target = '{user}'"));
            assert_eq!(deprovisioned.len(), 1, "{context}: {deprovisioned:?}");
            assert!(deprovisioned[0]["details"].contains(&old_id), "{context}: {deprovisioned:?}");
        }
    }

    fn group_pushes_manage_group_memberships(server: &TestServer) {
        let idp = Idp::generic(server);
        let pat = provision(&idp, "pat");
        let quinn = provision(&idp, "quinn");
        let group = push_group(&idp, "Engineering", &[&pat]);
        assert_eq!(admin_groups(server, "pat"), ["Engineering"]);
        assert!(admin_groups(server, "quinn").is_empty());
        let (status, _, shown) = server.http(Method::GET, "/admin/v1/groups/Engineering", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert_eq!(shown["id"], group.as_str(), "the admin API shows the SCIM group");
        assert_eq!(shown["member_count"], 1);

        // A PUT replaces the members.
        let path = format!("/Groups/{group}");
        let reply = idp.put(&path, json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{ "value": quinn }]
        }));
        assert_eq!(member_ids(reply.expect(StatusCode::OK)), [quinn.as_str()]);
        assert!(admin_groups(server, "pat").is_empty());
        assert_eq!(admin_groups(server, "quinn"), ["Engineering"]);
        let introspection = {
            let session = issue_session(server, "quinn");
            let (status, _, body) = server.http(Method::POST, "/auth/v1/introspect", Some(&server.root_token), Some(json!({ "token": session })));
            assert_eq!(status, StatusCode::OK);
            body
        };
        assert_eq!(introspection["groups"], json!(["Engineering"]), "apps see the group: {introspection}");

        // A member the directory does not know is refused, and nothing changes.
        let reply = idp.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": "no-such-user" }] }] }));
        let detail = scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(detail.contains("no-such-user"), "the detail names the unknown member: {detail}");
        assert_eq!(admin_groups(server, "quinn"), ["Engineering"]);
        assert_eq!(member_ids(idp.get(&path).expect(StatusCode::OK)), [quinn.as_str()]);

        // A second group with the same displayName is a uniqueness conflict.
        let reply = idp.post("/Groups", json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "engineering" }));
        scim_error(&reply, StatusCode::CONFLICT, Some("uniqueness"));

        let actions = idp.audited_actions();
        assert!(actions.iter().any(|done| done == "group.member.add"), "{actions:?}");
    }

    fn passwords_are_never_stored_or_returned(server: &TestServer) {
        let idp = Idp::generic(server);
        let mut body = user_body("rae");
        body["password"] = json!("Create-Secret-1");
        let user = created(&idp.post("/Users", body), "User");
        assert!(user.get("password").is_none(), "{user}");
        let path = format!("/Users/{}", id_of(&user));

        let mut body = user_body("rae");
        body["password"] = json!("Put-Secret-2");
        let reply = idp.put(&path, body);
        assert!(reply.expect(StatusCode::OK).get("password").is_none());

        // Okta's "Syncing the user password" goes through PATCH ("SCIM 2.0
        // Protocol Reference" › "Update a specific User (PATCH)").
        let reply = idp.patch(&path, json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "replace", "value": { "password": "Patch-Secret-3" } }]
        }));
        let patched = idp.patched(&reply, &path);
        assert!(patched.get("password").is_none(), "{patched}");
        let reply = idp.get(&format!("/Users/{}?attributes=password", id_of(&user)));
        assert!(reply.expect(StatusCode::OK).get("password").is_none(), "not even when asked for");

        let stored = everything_stored(server);
        for secret in ["Create-Secret-1", "Put-Secret-2", "Patch-Secret-3"] {
            assert!(!stored.contains(secret), "{secret} is stored nowhere (users, emails, audit)");
        }
    }

    fn unknown_attributes_come_back_as_sent(server: &TestServer) {
        let idp = Idp::generic(server);
        let custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
        let sent = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE, custom],
            "userName": "sam",
            "title": "Staff Engineer",
            "nickName": "Sammy",
            "userType": "Contractor",
            "preferredLanguage": "en-GB",
            "timezone": "Europe/London",
            "phoneNumbers": [{ "value": "55555555555", "type": "work" }, { "value": "+44 20 7946 0000", "type": "mobile", "primary": true }],
            "addresses": [{ "type": "work", "streetAddress": "1 Main St", "postalCode": "N1 9GU", "country": "GB", "primary": true }],
            ENTERPRISE: { "department": "Platform", "costCenter": "4130", "organization": "Example" },
            custom: { "tag": "701984" },
            "favouriteColour": "teal",
            "nested": { "a": [1, 2, { "b": null }], "c": true }
        });
        let user = created(&idp.post("/Users", sent.clone()), "User");
        let path = format!("/Users/{}", id_of(&user));
        let fetched = idp.get(&path);
        let fetched = fetched.expect(StatusCode::OK);
        for key in ["title", "nickName", "userType", "preferredLanguage", "timezone", "phoneNumbers", "addresses", ENTERPRISE, custom, "favouriteColour", "nested"] {
            assert_eq!(fetched[key], sent[key], "{key} comes back as sent");
            assert_eq!(user[key], sent[key], "{key} in the create answer too");
        }
        // A PUT that leaves them out clears them; one that changes them
        // stores the new values.
        let mut changed = sent.clone();
        changed["phoneNumbers"] = json!([{ "value": "5550100", "type": "fax" }]);
        changed[custom] = json!({ "tag": "42" });
        changed.as_object_mut().expect("object").remove("favouriteColour");
        let reply = idp.put(&path, changed.clone());
        let replaced = reply.expect(StatusCode::OK);
        assert_eq!(replaced["phoneNumbers"], changed["phoneNumbers"]);
        assert_eq!(replaced[custom], changed[custom]);
        assert!(replaced.get("favouriteColour").is_none(), "{replaced}");
        // And the schemas list names the extensions the user carries.
        let schemas = replaced["schemas"].as_array().expect("schemas");
        assert!(schemas.iter().any(|schema| schema == ENTERPRISE), "{replaced}");
        assert!(schemas.iter().any(|schema| schema == custom), "an extension sent comes back in schemas: {replaced}");
    }

    fn every_change_is_audited_with_the_key_that_made_it(server: &TestServer) {
        let idp = Idp::generic(server);
        let other = Idp::okta(server);

        let tess = provision(&idp, "tess");
        let path = format!("/Users/{tess}");
        // A PUT of the user as they are changes nothing and is not audited;
        // one that renames them is.
        idp.put(&path, user_body("tess")).expect(StatusCode::OK);
        let mut renamed = user_body("tess");
        renamed["name"]["givenName"] = json!("Tessa");
        idp.put(&path, renamed).expect(StatusCode::OK);
        let reply = idp.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "nickName", "value": "T" }] }));
        idp.patched(&reply, &path);
        let group = push_group(&idp, "Ops", &[]);
        let group_path = format!("/Groups/{group}");
        let reply = idp.patch(&group_path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": tess }] }] }));
        idp.patched(&reply, &group_path);
        let reply = idp.patch(&group_path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove", "path": format!("members[value eq \"{tess}\"]") }] }));
        idp.patched(&reply, &group_path);
        idp.delete(&group_path).expect(StatusCode::NO_CONTENT);
        let reply = idp.patch(&path, set_active(false));
        idp.patched(&reply, &path);
        let reply = idp.patch(&path, set_active(true));
        idp.patched(&reply, &path);
        idp.delete(&path).expect(StatusCode::NO_CONTENT);
        // Another IdP's key is another actor.
        provision(&other, "uma");

        let mine = idp.audit();
        let actions: Vec<&str> = mine.iter().map(|row| row["action"].as_str()).collect();
        // In order: create, PUT, PATCH, group create, member add, member
        // remove, group delete; the deactivating PATCH (its update, then the
        // deprovisioning: auto-deprovisioning is on), the reactivating PATCH
        // (its update, then the reactivation), and DELETE (which deprovisions
        // the active user, then deletes).
        assert_eq!(actions, [
            "user.create", "user.update", "user.update",
            "group.create", "group.member.add", "group.member.remove", "group.delete",
            "user.update", "user.deprovision",
            "user.update", "user.reactivate",
            "user.deprovision", "user.delete",
        ]);
        assert!(mine.iter().all(|row| row["outcome"] == "success"), "{mine:?}");
        for row in &mine {
            let expected = if row["action"].starts_with("user.") { "tess" } else { "Ops" };
            assert_eq!(row["target"], expected, "targets name the user or group: {row:?}");
        }
        assert_eq!(other.audited_actions(), ["user.create"], "the other key's entries are its own");
        // Every SCIM change names one of the two keys: none is anonymous.
        let scim_rows = audit_rows(server, "action LIKE 'user.%' OR action LIKE 'group.%'");
        assert!(scim_rows.iter().all(|row| row["actor_key_id"] == idp.key_id || row["actor_key_id"] == other.key_id), "{scim_rows:?}");
    }

    fn bad_requests_change_nothing(server: &TestServer) {
        let idp = Idp::generic(server);
        let vic = provision(&idp, "vic");
        let path = format!("/Users/{vic}");
        let version = idp.get(&path).expect(StatusCode::OK)["meta"]["version"].as_str().expect("version").to_owned();
        let (_, _, reader) = server.http(Method::POST, "/admin/v1/keys", Some(&server.root_token), Some(json!({ "name": "reader", "scopes": ["users:read"] })));
        let before = server.snapshot();
        let denied_before = audit_rows(server, "action = 'auth.denied'").len();

        let patch = |operations: Value| idp.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": operations }));
        scim_error(&patch(json!([{ "op": "replace", "path": "emails[type eq", "value": "x" }])), StatusCode::BAD_REQUEST, Some("invalidPath"));
        let (kind, _) = scim_error_kind(&patch(json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }])), StatusCode::BAD_REQUEST);
        assert_eq!(kind.as_deref(), Some("noTarget"), "RFC 7644 §3.5.2: a filter matching nothing is noTarget");
        scim_error(&patch(json!([{ "op": "replace", "path": "active", "value": "maybe" }])), StatusCode::BAD_REQUEST, Some("invalidValue"));
        scim_error(&patch(json!([{ "op": "replace", "path": "id", "value": "mine" }])), StatusCode::BAD_REQUEST, Some("mutability"));
        scim_error(&patch(json!([{ "op": "jump", "path": "active", "value": false }])), StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        scim_error(&patch(json!([])), StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        // A valid first operation and an invalid second: all or nothing.
        scim_error(&patch(json!([
            { "op": "replace", "path": "displayName", "value": "Changed" },
            { "op": "replace", "path": "active", "value": "maybe" }
        ])), StatusCode::BAD_REQUEST, Some("invalidValue"));
        scim_error(&idp.put(&path, json!({ "schemas": [USER_SCHEMA], "name": { "givenName": "No userName" } })), StatusCode::BAD_REQUEST, Some("invalidValue"));
        scim_error(&idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "" })), StatusCode::BAD_REQUEST, Some("invalidValue"));
        let (status, _, body) = server.send(
            server
                .request(Method::POST, "/scim/v2/Users")
                .bearer_auth(&idp.token)
                .header("content-type", "application/scim+json")
                .body("{\"userName\": \"half"),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["schemas"], json!([ERROR]), "malformed JSON gets a SCIM error: {body}");
        // A stale If-Match is 412.
        let stale = idp.send(Method::PUT, &path, Some(user_body("victor")), &[("if-match", "W/\"999\"")]);
        scim_error(&stale, StatusCode::PRECONDITION_FAILED, None);
        // A malformed filter says where it broke.
        let detail = scim_error(&idp.get(&format!("/Users?{}", filter("userName eq \"x\" and"))), StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(detail.chars().any(|c| c.is_ascii_digit()), "the detail gives the position: {detail}");
        // Unauthenticated: 401 with WWW-Authenticate, in SCIM's error form;
        // a key without scim:provision: 403.
        let (status, headers, body) = server.http(Method::GET, "/scim/v2/Users", None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(headers.get("www-authenticate").is_some_and(|value| value.to_str().unwrap_or_default().starts_with("Bearer")), "{headers:?}");
        assert_eq!(body["schemas"], json!([ERROR]), "{body}");
        let (status, _, body) = server.http(Method::POST, "/scim/v2/Users", reader["token"].as_str(), Some(user_body("mallory")));
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["schemas"], json!([ERROR]), "{body}");

        assert_same_rows(&before, &server.snapshot(), "no refused request changed anything");
        // What was written: one denial for each request without a key or
        // without the scope, nothing else.
        let denied = audit_rows(server, "action = 'auth.denied'");
        assert_eq!(denied.len() - denied_before, 2, "{denied:?}");
        let user = idp.get(&path);
        let user = user.expect(StatusCode::OK);
        assert_eq!(user["meta"]["version"], version.as_str());
        assert!(user.get("displayName").is_none(), "the half-valid PATCH left nothing: {user}");

        // The current ETag in If-Match goes through.
        let fresh = idp.send(Method::PATCH, &path, Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "displayName", "value": "Vic" }] })), &[("if-match", version.as_str())]);
        assert_eq!(idp.patched(&fresh, &path)["displayName"], "Vic");
    }

    fn a_group_push_keeps_a_deactivated_member_and_verify_reports_it(server: &TestServer) {
        // What the IdP pushes is what the directory holds: a deactivated
        // (locked) user added to a group becomes a member; the lock still
        // blocks every credential, and verification shows the membership.
        let idp = Idp::generic(server);
        let user = created(
            &idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "ida", "active": false })),
            "User",
        );
        let group = created(
            &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "ops" })),
            "Group",
        );
        let path = format!("/Groups/{}", id_of(&group));
        let reply = idp.patch(
            &path,
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": id_of(&user) }] }] }),
        );
        assert_eq!(member_ids(&idp.patched(&reply, &path)), [id_of(&user)]);
        let (code, report) = cli_verify(server, "ida");
        assert_eq!(code, 5, "{report}");
        assert!(report.contains("ops"), "{report}");
        // The membership is the only thing verification finds: every other
        // check holds.
        let output = server.cli_as_root().args(["users", "verify", "ida", "-o", "json"]).output().expect("run users verify");
        let verification: Value = serde_json::from_slice(&output.stdout).expect("verify -o json");
        let failed: Vec<&str> = verification["checks"].as_array().expect("checks").iter()
            .filter(|check| check["passed"] == false)
            .map(|check| check["name"].as_str().expect("name"))
            .collect();
        assert_eq!(failed, ["no_groups"], "{verification}");
        // And the lock blocks every credential despite the group: no session,
        // no personal key, nothing to introspect live.
        assert_eq!(admin_user(server, "ida")["locked"], true);
        assert_eq!(session_refused(server, "ida"), StatusCode::CONFLICT, "no session for a locked member");
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&server.root_token),
            Some(json!({ "name": "ida laptop", "scopes": ["users:read"], "owner": "ida" })),
        );
        assert_eq!(status, StatusCode::CONFLICT, "no personal key for a locked member: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|message| message.contains("ida")), "{body}");
    }
}
