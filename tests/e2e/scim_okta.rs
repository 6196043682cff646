//! Okta's SCIM 2.0 requests, replayed step by step against the real server
//! on both backends and checked field by field: the Okta SCIM 2.0 Spec Test
//! (Runscope) checks, the user lifecycle (lookup, create, PUT profile
//! updates, PATCH and PUT deactivation and reactivation) and group push
//! (create, membership add/remove, rename, full replace, delete).
//!
//! Sources: Okta, "SCIM 2.0 Protocol Reference" (developer.okta.com,
//! docs/reference/scim/scim-20) for the request bodies, and Okta, "Build your
//! SCIM API service" › "Test your SCIM API" (Okta SCIM 2.0 Spec Test JSON
//! for Runscope) for the spec-test checks. Okta never sends DELETE for users.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scim_support::{
    Idp, PATCH_OP, USER_SCHEMA, admin_groups, admin_user, assert_meta, assert_resource,
    cli_introspect, cli_verify, created, emails, everything_stored, id_of, issue_session, list,
    member_ids, scim_error, sorted,
};
use crate::support::{TestServer, both_backends};

/// Okta's create-user body, as "SCIM 2.0 Protocol Reference" › "Create the
/// User" shows it, for `user_name`.
fn okta_create_body(user_name: &str, given: &str, family: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {
            "givenName": given,
            "familyName": family
        },
        "emails": [{
            "primary": true,
            "value": user_name,
            "type": "work"
        }],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// Okta's PUT body ("Update a specific User (PUT)" › "Update the User"): the
/// user as Okta last read it, with the changed attributes, `id`, `groups`
/// and `meta` included.
fn okta_put_body(id: &str, user_name: &str, given: &str, middle: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": user_name,
        "name": {
            "givenName": given,
            "middleName": middle,
            "familyName": "User"
        },
        "emails": [{
            "primary": true,
            "value": user_name,
            "type": "work",
            "display": user_name
        }],
        "active": active,
        "groups": [],
        "meta": {
            "resourceType": "User"
        }
    })
}

/// Checks the user fields every Okta create answer must carry back.
#[track_caller]
fn assert_okta_user(user: &Value, user_name: &str, given: &str, family: &str, external_id: &str) {
    assert_meta(user, "User");
    assert_eq!(user["userName"], user_name);
    assert_eq!(user["name"]["givenName"], given);
    assert_eq!(user["name"]["familyName"], family);
    assert_eq!(user["displayName"], format!("{given} {family}"));
    assert_eq!(user["externalId"], external_id);
    assert_eq!(user["locale"], "en-US", "locale comes back as sent");
    assert_eq!(user["active"], true);
    assert_eq!(
        emails(user),
        [(user_name.to_owned(), Some("work".to_owned()), true)]
    );
    assert!(
        user.get("password").is_none(),
        "password is never returned: {user}"
    );
    // `groups` is read-only: what Okta sent (`[]`) is ignored and the user's
    // actual (no) memberships are shown.
    assert!(
        user.get("groups").is_none() || user["groups"] == json!([]),
        "no groups yet: {user}"
    );
}

both_backends! {
    fn okta_user_lifecycle_replayed(server: &TestServer) {
        let okta = Idp::okta(server);
        let user_name = "test.user@okta.local";

        // Okta SCIM 2.0 Spec Test, first step ("Test API Credentials"):
        // GET {{SCIMBaseURL}}/Users?count=2&startIndex=1 must be a
        // ListResponse with integer totalResults/itemsPerPage/startIndex.
        let empty = okta.get("/Users?count=2&startIndex=1");
        assert!(list(empty.expect(StatusCode::OK), 0, 1).is_empty());

        // "Determine if the User already exists": Okta sends
        // GET /scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100
        // and expects an empty ListResponse when there is none.
        let lookup = okta.get("/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100");
        assert!(list(lookup.expect(StatusCode::OK), 0, 1).is_empty());

        // "Create the User": POST /scim/v2/Users with the application profile,
        // `groups: []` and a `password` included.
        let reply = okta.post("/Users", okta_create_body(user_name, "Test", "User", "00ujl29u0le5T6Aj10h7"));
        let user = created(&reply, "User");
        assert_okta_user(&user, user_name, "Test", "User", "00ujl29u0le5T6Aj10h7");
        assert_eq!(user["meta"]["created"], user["meta"]["lastModified"], "new: never modified");
        let id = id_of(&user);
        let path = format!("/Users/{id}");
        assert!(
            !everything_stored(server).contains("1mz050nq"),
            "the password Okta sent is stored nowhere (users, emails, audit)"
        );
        let directory = admin_user(server, user_name);
        assert_eq!(directory["id"], id.as_str(), "the SCIM id is the directory's id");
        assert_eq!(directory["origin"], "scim");
        assert_eq!(directory["roles"], json!(["member"]), "the default role");

        // Spec Test "Verify that user was created": GET /Users/{{idUserOne}}
        // answers the same representation.
        let fetched = okta.get(&path);
        assert_eq!(fetched.expect(StatusCode::OK), &user);
        assert_resource(&fetched, "User");

        // Spec Test "Expect failure when recreating user with same values":
        // 409 with the SCIM error schema ("SCIM 2.0 Protocol Reference":
        // "the Service Provider needs to respond with an error schema to stop
        // the provisioning job").
        let again = okta.post("/Users", okta_create_body(user_name, "Test", "User", "00ujl29u0le5T6Aj10h7"));
        scim_error(&again, StatusCode::CONFLICT, Some("uniqueness"));

        // Spec Test "Username Case Sensitivity Check": the userName in capitals
        // finds the same user (userName is caseExact false).
        let caps = okta.get("/Users?filter=userName%20eq%20%22TEST.USER%40OKTA.LOCAL%22&startIndex=1&count=100");
        let found = list(caps.expect(StatusCode::OK), 1, 1);
        assert_eq!(found[0]["id"], id.as_str());
        assert_eq!(found[0]["userName"], user_name, "stored as sent, found ignoring case");
        assert_meta(&found[0], "User");

        // Spec Test "Test invalid User by ID": GET /Users/{{UserIdThatDoesNotExist}}
        // is a 404 with the error schema.
        let missing = okta.get("/Users/010101001010101011001010101011");
        scim_error(&missing, StatusCode::NOT_FOUND, None);

        // "Retrieve Users": GET /scim/v2/Users?startIndex=1&count=100.
        let all = okta.get("/Users?startIndex=1&count=100");
        let all = list(all.expect(StatusCode::OK), 1, 1);
        assert_eq!(all[0]["id"], id.as_str());

        // "Update a specific User (PUT)": Okta first GETs the user, then PUTs
        // the whole object back with the changed attributes.
        let before = okta.get(&path);
        let before_version = before.expect(StatusCode::OK)["meta"]["version"].clone();
        let reply = okta.put(&path, okta_put_body(&id, user_name, "Another", "Excited", true));
        let updated = reply.expect(StatusCode::OK).clone();
        assert_resource(&reply, "User");
        assert_eq!(updated["id"], id.as_str());
        assert_eq!(updated["userName"], user_name);
        assert_eq!(updated["name"]["givenName"], "Another");
        assert_eq!(updated["name"]["middleName"], "Excited");
        assert_eq!(updated["name"]["familyName"], "User");
        assert_eq!(updated["active"], true);
        assert_eq!(emails(&updated), [(user_name.to_owned(), Some("work".to_owned()), true)]);
        // A PUT replaces: what the body left out is gone.
        assert!(updated.get("externalId").is_none(), "externalId was not in the PUT: {updated}");
        assert!(updated.get("displayName").is_none(), "displayName was not in the PUT: {updated}");
        assert!(updated.get("locale").is_none(), "locale was not in the PUT: {updated}");
        assert_ne!(updated["meta"]["version"], before_version, "a change makes a new version");
        assert_eq!(updated["meta"]["created"], user["meta"]["created"], "created never changes");
        assert!(
            crate::scim_support::time(&updated["meta"]["lastModified"])
                >= crate::scim_support::time(&user["meta"]["lastModified"])
        );

        // A live session before deactivation, to see it die.
        let old_session = issue_session(server, user_name);
        assert_eq!(cli_introspect(server, &old_session).0, 0);

        // "Update a specific User (PATCH)": OIN integrations deactivate with
        // {"op": "replace", "value": {"active": false}} (no path).
        let reply = okta.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "replace",
                "value": {
                    "active": false
                }
            }]
        }));
        let deactivated = okta.patched(&reply, &path);
        assert_eq!(deactivated["active"], false);
        assert_eq!(deactivated["name"]["givenName"], "Another", "only active changed");
        // Entra and Okta both need a deactivated user still returned.
        let still_there = okta.get(&path);
        assert_eq!(still_there.expect(StatusCode::OK)["active"], false);
        let (code, out) = cli_verify(server, user_name);
        assert_eq!(code, 0, "deactivation through SCIM deprovisions at once: {out}");
        assert_eq!(cli_introspect(server, &old_session).0, 5, "the old session died");

        // Reactivation, the same way with active true.
        let reply = okta.patch(&path, json!({
            "schemas": [PATCH_OP],
            "Operations": [{ "op": "replace", "value": { "active": true } }]
        }));
        assert_eq!(okta.patched(&reply, &path)["active"], true);
        let directory = admin_user(server, user_name);
        assert_eq!(directory["locked"], false, "{directory}");
        assert_eq!(directory["roles"], json!(["member"]));
        let session = issue_session(server, user_name);
        let (code, out) = cli_introspect(server, &session);
        assert_eq!(code, 0, "a new session after reactivation is live: {out}");
        assert_eq!(cli_introspect(server, &old_session).0, 5, "the old one stays dead");

        // App Integration Wizard integrations deactivate and reactivate with
        // the full PUT ("Delete Users": "this request is sent through a PUT
        // method request").
        let reply = okta.put(&path, okta_put_body(&id, user_name, "Another", "Excited", false));
        assert_eq!(reply.expect(StatusCode::OK)["active"], false);
        assert_resource(&reply, "User");
        let (code, out) = cli_verify(server, user_name);
        assert_eq!(code, 0, "a PUT with active false deprovisions too: {out}");
        let reply = okta.put(&path, okta_put_body(&id, user_name, "Another", "Excited", true));
        assert_eq!(reply.expect(StatusCode::OK)["active"], true);
        let session = issue_session(server, user_name);
        assert_eq!(cli_introspect(server, &session).0, 0);

        let actions = okta.audited_actions();
        for action in ["user.create", "user.update", "user.deprovision", "user.reactivate"] {
            assert!(actions.iter().any(|done| done == action), "{action} audited with Okta's key: {actions:?}");
        }
        assert!(
            !everything_stored(server).contains("1mz050nq"),
            "still no password anywhere"
        );
    }

    fn okta_group_push_replayed(server: &TestServer) {
        let okta = Idp::okta(server);
        let alice = created(&okta.post("/Users", okta_create_body("alice@okta.local", "Alice", "A", "00ua")), "User");
        let bob = created(&okta.post("/Users", okta_create_body("bob@okta.local", "Bob", "B", "00ub")), "User");
        let (alice_id, bob_id) = (id_of(&alice), id_of(&bob));

        // Spec Test: GET {{SCIMBaseURL}}/Groups?count=100&startIndex=1.
        let groups = okta.get("/Groups?count=100&startIndex=1");
        assert!(list(groups.expect(StatusCode::OK), 0, 1).is_empty());

        // "Create Groups": POST /scim/v2/Groups with an empty member list.
        let reply = okta.post("/Groups", json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": []
        }));
        let group = created(&reply, "Group");
        assert_eq!(group["displayName"], "Test SCIMv2");
        assert!(member_ids(&group).is_empty(), "{group}");
        let group_id = id_of(&group);
        let path = format!("/Groups/{group_id}");

        // "Retrieve specific Groups".
        let fetched = okta.get(&path);
        assert_eq!(fetched.expect(StatusCode::OK)["displayName"], "Test SCIMv2");
        assert_resource(&fetched, "Group");

        // "Update specific Group membership" with an `add` of members.
        let reply = okta.patch(&path, json!({
            "schemas": [PATCH_OP],
            "Operations": [{
                "op": "add",
                "path": "members",
                "value": [
                    { "value": alice_id, "display": "alice@okta.local" },
                    { "value": bob_id, "display": "bob@okta.local" }
                ]
            }]
        }));
        let group = okta.patched(&reply, &path);
        assert_eq!(member_ids(&group), sorted(&[&alice_id, &bob_id]));
        assert_eq!(admin_groups(server, "alice@okta.local"), ["Test SCIMv2"]);
        assert_eq!(admin_groups(server, "bob@okta.local"), ["Test SCIMv2"]);

        // The documented membership PATCH: a `remove` by value filter and an
        // `add` in one request (here the added user is already a member, so
        // the add changes nothing).
        let reply = okta.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                  "op": "remove",
                  "path": format!("members[value eq \"{bob_id}\"]")
                },
                {
                  "op": "add",
                  "path": "members",
                  "value": [{
                      "value": alice_id,
                      "display": "alice@okta.local"
                }]
            }]
        }));
        let group = okta.patched(&reply, &path);
        assert_eq!(member_ids(&group), [alice_id.as_str()], "bob removed, alice once");
        assert_eq!(admin_groups(server, "alice@okta.local"), ["Test SCIMv2"]);
        assert!(admin_groups(server, "bob@okta.local").is_empty());
        let reread = okta.get(&format!("/Users/{bob_id}"));
        let bob_now = reread.expect(StatusCode::OK);
        assert!(bob_now.get("groups").is_none() || bob_now["groups"] == json!([]), "{bob_now}");
        let alice_now = okta.get(&format!("/Users/{alice_id}"));
        assert_eq!(alice_now.expect(StatusCode::OK)["groups"][0]["value"], group_id.as_str());

        // "Update a specific Group name": a no-path `replace` whose value
        // carries the id and the new displayName.
        let reply = okta.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "replace",
                "value": {
                    "id": group_id,
                    "displayName": "Test SCIMv20"
                }
            }]
        }));
        let group = okta.patched(&reply, &path);
        assert_eq!(group["displayName"], "Test SCIMv20");
        assert_eq!(group["id"], group_id.as_str(), "the id is not changed by the value's id");
        assert_eq!(member_ids(&group), [alice_id.as_str()], "a rename keeps members");
        assert_eq!(admin_groups(server, "alice@okta.local"), ["Test SCIMv20"]);

        // "a full push of the membership ... using the replace operation".
        let reply = okta.patch(&path, json!({
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                {
                    "op": "replace",
                    "path": "members",
                    "value": [
                        { "value": bob_id, "display": "bob@okta.local" }
                    ]
                }
            ]
        }));
        let group = okta.patched(&reply, &path);
        assert_eq!(member_ids(&group), [bob_id.as_str()], "replace sets exactly the list");
        assert!(admin_groups(server, "alice@okta.local").is_empty());
        assert_eq!(admin_groups(server, "bob@okta.local"), ["Test SCIMv20"]);

        // Okta looks groups up by displayName too.
        let found = okta.get(&format!("/Groups?{}", crate::scim_support::filter("displayName eq \"Test SCIMv20\"")));
        let found = list(found.expect(StatusCode::OK), 1, 1);
        assert_eq!(found[0]["id"], group_id.as_str());

        // "Delete a specific Group": DELETE, 204 No Content.
        let reply = okta.delete(&path);
        reply.expect(StatusCode::NO_CONTENT);
        assert!(reply.body.is_null(), "204 has no body");
        scim_error(&okta.get(&path), StatusCode::NOT_FOUND, None);
        assert!(admin_groups(server, "bob@okta.local").is_empty(), "the membership went with the group");
        let groups = okta.get("/Groups?count=100&startIndex=1");
        assert!(list(groups.expect(StatusCode::OK), 0, 1).is_empty());

        let actions = okta.audited_actions();
        assert!(actions.iter().any(|action| action == "group.member.add"), "{actions:?}");
        for row in okta.audit() {
            assert_eq!(row["outcome"], "success", "{row:?}");
        }
    }

    /// Okta's GET answers carry `emails[].display` (Okta, "SCIM 2.0 Protocol
    /// Reference" › "Retrieve a specific User") and Okta PUTs it back; like
    /// every attribute the IdP sends it is returned as sent.
    fn okta_email_display_round_trips(server: &TestServer) {
        let okta = Idp::okta(server);
        let user = created(&okta.post("/Users", okta_create_body("test.user@okta.local", "Test", "User", "00u1")), "User");
        let id = id_of(&user);
        let reply = okta.put(&format!("/Users/{id}"), okta_put_body(&id, "test.user@okta.local", "Test", "", true));
        let updated = reply.expect(StatusCode::OK);
        assert_eq!(updated["emails"][0]["display"], "test.user@okta.local", "{updated}");
        assert_eq!(updated["schemas"], json!([USER_SCHEMA]));
    }
}
