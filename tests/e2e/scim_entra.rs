//! Microsoft Entra ID's SCIM requests, replayed step by step against the real
//! server on both backends and checked field by field: Test Connection,
//! schema discovery, lookups by userName/externalId/work email, create with
//! the enterprise extension, PATCH with capitalised ops, string booleans,
//! value-filtered and no-path operations, manager add/remove, disable,
//! delete, and group create/lookup/rename/member add/remove/delete.
//!
//! Sources: Microsoft Learn, "Tutorial: Develop and plan provisioning for a
//! SCIM endpoint in Microsoft Entra ID" (entra/identity/app-provisioning/
//! use-scim-to-provision-users-and-groups), abbreviated "Tutorial" below;
//! Microsoft Learn, "Known issues and resolutions with SCIM 2.0 protocol
//! compliance of the Microsoft Entra user provisioning service"
//! (application-provisioning-config-problem-scim-compatibility), abbreviated
//! "Known issues"; and for the manager's plain-string form, Microsoft Q&A
//! "SCIM user provisioning setup with manager attribute" (Microsoft's answer:
//! Entra sends `"…:enterprise:2.0:User:manager": "user-id"`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scim_support::{
    ENTERPRISE, GROUP_SCHEMA, Idp, LIST_RESPONSE, USER_SCHEMA, admin_groups, admin_user,
    assert_meta, assert_resource, cli_introspect, cli_verify, created, emails, filter, id_of,
    issue_session, list, member_ids, scim_error, sorted,
};
use crate::support::{TestServer, both_backends};

const ENTRA_ADSCIM_GROUP: &str =
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// Tutorial › "Create User" › Request, for `user_name` and `external_id`.
fn entra_create_body(user_name: &str, email: &str, external_id: &str) -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": email
        }],
        "meta": {
            "resourceType": "User"
        },
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    })
}

/// The manager id of a user, whether the server keeps Entra's plain string
/// or the RFC 7643 complex form (`manager.value`, which Entra reads back).
fn manager_of(user: &Value) -> Option<String> {
    match &user[ENTERPRISE]["manager"] {
        Value::String(id) => Some(id.clone()),
        Value::Object(manager) => manager
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

both_backends! {
    fn entra_user_lifecycle_replayed(server: &TestServer) {
        let entra = Idp::entra(server);

        // Tutorial › "Integrate your SCIM endpoint": "Test Connection queries
        // the SCIM endpoint for a user that doesn't exist ... The expected
        // correct response is HTTP 200 OK with an empty SCIM ListResponse";
        // Tutorial › "Get User by query - Zero results":
        // GET /Users?filter=userName eq "non-existent user".
        let reply = entra.get(&format!("/Users?{}", filter("userName eq \"non-existent user\"")));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());
        let reply = entra.get(&format!("/Users?{}", filter("userName eq \"6b7b9d43-3c1b-4c36-9d1c-0f3a2b2f4f5e\"")));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());

        // Tutorial › "/Schemas (Schema discovery)": "The Microsoft Entra
        // provisioning service makes the /schemas request when you save the
        // provisioning configuration ... Must return a list response."
        let schemas = entra.get("/Schemas");
        let body = schemas.expect(StatusCode::OK);
        assert_eq!(body["schemas"], json!([LIST_RESPONSE]));
        let ids: Vec<&str> = body["Resources"].as_array().expect("Resources").iter().map(|schema| schema["id"].as_str().expect("id")).collect();
        for expected in [USER_SCHEMA, ENTERPRISE, GROUP_SCHEMA] {
            assert!(ids.contains(&expected), "/Schemas lists {expected}: {ids:?}");
        }

        // Tutorial › "Handling provisioning and deprovisioning of users" ›
        // Example 1: Entra matches on externalId before creating.
        let reply = entra.get(&format!("/Users?{}", filter("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"")));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());

        // Tutorial › "Create User": POST /Users.
        let user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee";
        let email = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com";
        let reply = entra.post("/Users", entra_create_body(user_name, email, "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"));
        let user = created(&reply, "User");
        assert_eq!(user["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
        assert_eq!(user["userName"], user_name);
        assert_eq!(user["name"], json!({
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        }));
        assert_eq!(user["active"], true);
        assert_eq!(emails(&user), [(email.to_owned(), Some("work".to_owned()), true)]);
        let id = id_of(&user);
        let path = format!("/Users/{id}");

        // Tutorial › "Get User": GET /Users/{id}.
        let reply = entra.get(&path);
        assert_eq!(reply.expect(StatusCode::OK), &user);
        assert_resource(&reply, "User");
        // Tutorial › "Get User" › "User not found": 404 with the error schema.
        scim_error(&entra.get("/Users/5171a35d82074e068ce2"), StatusCode::NOT_FOUND, None);

        // Tutorial › "Get User by query": GET /Users?filter=userName eq "…".
        let reply = entra.get(&format!("/Users?{}", filter(&format!("userName eq \"{user_name}\""))));
        let found = list(reply.expect(StatusCode::OK), 1, 1);
        assert_eq!(found[0], user, "a list shows the same representation");
        // ... and by externalId, and (Tutorial › "/Users") by
        // emails[type eq "work"].value when the work email is a matching
        // attribute.
        let reply = entra.get(&format!("/Users?{}", filter("externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"")));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["id"], id.as_str());
        let reply = entra.get(&format!("/Users?{}", filter(&format!("emails[type eq \"work\"].value eq \"{email}\""))));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["id"], id.as_str());
        // "Microsoft Entra-only uses the following operators: eq, and".
        let reply = entra.get(&format!("/Users?{}", filter(&format!("userName eq \"{user_name}\" and externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\""))));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["id"], id.as_str());

        // Tutorial › "Update User [Multi-valued properties]": capitalised
        // ops, a value-filtered path and a sub-attribute path.
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                    {
                    "op": "Replace",
                    "path": "emails[type eq \"work\"].value",
                    "value": "updatedEmail@microsoft.com"
                    },
                    {
                    "op": "Replace",
                    "path": "name.familyName",
                    "value": "updatedFamilyName"
                    }
            ]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(emails(&user), [("updatedEmail@microsoft.com".to_owned(), Some("work".to_owned()), true)]);
        assert_eq!(user["name"]["familyName"], "updatedFamilyName");
        assert_eq!(user["name"]["givenName"], "givenName");
        assert_eq!(user["userName"], user_name);
        assert_meta(&user, "User");

        // Tutorial › "Update User [Single-valued properties]": the userName
        // changes (DESIGN: every attribute may change, userName included).
        let new_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com";
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Replace",
                "path": "userName",
                "value": new_name
            }]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(user["userName"], new_name);
        assert_eq!(user["id"], id.as_str());
        let reply = entra.get(&format!("/Users?{}", filter(&format!("userName eq \"{user_name}\""))));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty(), "the old userName is free");
        assert_eq!(admin_user(server, new_name)["id"], id.as_str());

        // Known issues › "Requests to replace multiple attributes" › "Without
        // feature flag": one Replace per attribute, the enterprise extension
        // by its full path.
        let reply = entra.patch(&path, json!({
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                { "op": "Replace", "path": "displayName", "value": "Pvlo" },
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com" },
                { "op": "Replace", "path": "name.givenName", "value": "Gtfd" },
                { "op": "Replace", "path": "name.familyName", "value": "Pkqf" },
                { "op": "Replace", "path": "externalId", "value": "Eqpj" },
                { "op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj" }
            ]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(user["displayName"], "Pvlo");
        assert_eq!(emails(&user), [("TestBcwqnm@test.microsoft.com".to_owned(), Some("work".to_owned()), true)]);
        assert_eq!(user["name"]["givenName"], "Gtfd");
        assert_eq!(user["name"]["familyName"], "Pkqf");
        assert_eq!(user["externalId"], "Eqpj");
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
        assert!(user["schemas"].as_array().expect("schemas").iter().any(|schema| schema == ENTERPRISE), "the extension is named in schemas: {user}");

        // Known issues › "Requests to replace multiple attributes" › "With
        // feature flag": one no-path replace whose value has dotted keys and
        // a URN-qualified key.
        let reply = entra.patch(&path, json!({
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                {
                    "op": "replace",
                    "path": "emails[type eq \"work\"].value",
                    "value": "TestMhvaes@test.microsoft.com"
                },
                {
                    "op": "replace",
                    "value": {
                        "displayName": "Bjfe",
                        "name.givenName": "Kkom",
                        "name.familyName": "Unua",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                    }
                }
            ]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(emails(&user), [("TestMhvaes@test.microsoft.com".to_owned(), Some("work".to_owned()), true)]);
        assert_eq!(user["displayName"], "Bjfe");
        assert_eq!(user["name"]["givenName"], "Kkom");
        assert_eq!(user["name"]["familyName"], "Unua");
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "Aklq");
        assert!(user.get("name.givenName").is_none(), "dotted keys are paths, not attributes: {user}");

        // Known issues › "Requests made to add a single-value string
        // attribute" › "Without feature flag".
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "Add", "path": "nickName", "value": "Babs" }]
        }));
        assert_eq!(entra.patched(&reply, &path)["nickName"], "Babs");

        // A session, to see the disable take it away.
        let old_session = issue_session(server, new_name);

        // Known issues › "Requests made to disable users" › "Without feature
        // flag": the boolean as the string "False".
        let reply = entra.patch(&path, json!({
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                {
                    "op": "Replace",
                    "path": "active",
                    "value": "False"
                }
            ]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(user["active"], false, "\"False\" is false");
        // Tutorial: "The user object should be returned in a request whether
        // or not the user is active."
        assert_eq!(entra.get(&path).expect(StatusCode::OK)["active"], false);
        let reply = entra.get(&format!("/Users?{}", filter(&format!("userName eq \"{new_name}\""))));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["active"], false);
        let (code, out) = cli_verify(server, new_name);
        assert_eq!(code, 0, "an Entra disable deprovisions: {out}");
        assert_eq!(cli_introspect(server, &old_session).0, 5);

        // Re-enabling, the same way ("True").
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "Replace", "path": "active", "value": "True" }]
        }));
        assert_eq!(entra.patched(&reply, &path)["active"], true);
        let directory = admin_user(server, new_name);
        assert_eq!(directory["locked"], false);
        assert_eq!(directory["roles"], json!(["member"]));
        let session = issue_session(server, new_name);
        let (code, out) = cli_introspect(server, &session);
        assert_eq!(code, 0, "a new session after re-enabling is live: {out}");

        // Tutorial › "Disable User": {"op": "Replace", "path": "active",
        // "value": false}; Known issues › "With feature flag": lower-case
        // "replace" — both.
        let reply = entra.patch(&path, json!({
            "Operations": [
                {
                    "op": "Replace",
                    "path": "active",
                    "value": false
                }
            ],
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ]
        }));
        assert_eq!(entra.patched(&reply, &path)["active"], false);
        assert_eq!(cli_verify(server, new_name).0, 0);
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "active", "value": true }]
        }));
        assert_eq!(entra.patched(&reply, &path)["active"], true);

        // Tutorial › "Delete User": DELETE /Users/{id} → 204 No Content.
        let session = issue_session(server, new_name);
        let reply = entra.delete(&path);
        reply.expect(StatusCode::NO_CONTENT);
        assert!(reply.body.is_null(), "204 has no body");
        // "The only time the user shouldn't be returned is when it's hard
        // deleted from the application."
        scim_error(&entra.get(&path), StatusCode::NOT_FOUND, None);
        let reply = entra.get(&format!("/Users?{}", filter(&format!("userName eq \"{new_name}\""))));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());
        scim_error(&entra.delete(&path), StatusCode::NOT_FOUND, None);
        let tombstone = admin_user(server, new_name);
        assert_eq!(tombstone["active"], false, "the tombstone stays for audit: {tombstone}");
        let (code, out) = cli_verify(server, new_name);
        assert_eq!(code, 0, "a DELETE deprovisions: {out}");
        assert_eq!(cli_introspect(server, &session).0, 5);

        let actions = entra.audited_actions();
        for action in ["user.create", "user.update", "user.deprovision", "user.reactivate"] {
            assert!(actions.iter().any(|done| done == action), "{action} audited with Entra's key: {actions:?}");
        }
    }

    fn entra_manager_add_and_remove(server: &TestServer) {
        let entra = Idp::entra(server);
        let boss = created(&entra.post("/Users", entra_create_body("boss@testuser.com", "boss@testuser.com", "boss")), "User");
        let boss_id = id_of(&boss);

        // Tutorial › "Create User" with the enterprise extension (Tutorial ›
        // "Design your user and group schema" lists department,
        // employeeNumber and manager under it).
        let mut body = entra_create_body("ellen@testuser.com", "ellen@testuser.com", "ellen");
        body[ENTERPRISE] = json!({
            "department": "Human Resources US",
            "employeeNumber": "100009",
            "manager": { "value": boss_id }
        });
        let user = created(&entra.post("/Users", body), "User");
        assert_eq!(user[ENTERPRISE]["department"], "Human Resources US");
        assert_eq!(user[ENTERPRISE]["employeeNumber"], "100009");
        assert_eq!(manager_of(&user).as_deref(), Some(boss_id.as_str()));
        assert!(user["schemas"].as_array().expect("schemas").iter().any(|schema| schema == ENTERPRISE));
        let path = format!("/Users/{}", id_of(&user));

        // Entra filters on the extension too (Tutorial › Example 4 asks
        // whether the manager attribute currently has a value).
        let reply = entra.get(&format!("/Users?{}", filter(&format!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"{boss_id}\""))));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["userName"], "ellen@testuser.com");

        // Manager removed, by its full extension path.
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Remove",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
            }]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(manager_of(&user), None, "{user}");
        assert_eq!(user[ENTERPRISE]["department"], "Human Resources US", "only the manager went");

        // Manager added the way Entra sends it (Microsoft Q&A: "the default
        // setup from Azure AD actually sends manager as a simple attribute:
        // "urn:…:enterprise:2.0:User:manager": "user-id"").
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "value": boss_id
            }]
        }));
        let user = entra.patched(&reply, &path);
        assert_eq!(manager_of(&user).as_deref(), Some(boss_id.as_str()), "{user}");
        let reread = entra.get(&path);
        assert_eq!(manager_of(reread.expect(StatusCode::OK)).as_deref(), Some(boss_id.as_str()));
    }

    fn entra_group_lifecycle_replayed(server: &TestServer) {
        let entra = Idp::entra(server);
        let first = created(&entra.post("/Users", entra_create_body("first@testuser.com", "first@testuser.com", "first")), "User");
        let second = created(&entra.post("/Users", entra_create_body("second@testuser.com", "second@testuser.com", "second")), "User");
        let (first_id, second_id) = (id_of(&first), id_of(&second));

        // Tutorial › "Get Group by displayName":
        // GET /Groups?excludedAttributes=members&filter=displayName eq "displayName".
        let lookup = format!("/Groups?excludedAttributes=members&{}", filter("displayName eq \"displayName\""));
        assert!(list(entra.get(&lookup).expect(StatusCode::OK), 0, 1).is_empty());

        // Tutorial › "Create Group": POST /Groups, with Entra's own schema URN
        // beside the core one and a read-only meta.
        let reply = entra.post("/Groups", json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", ENTRA_ADSCIM_GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {
                "resourceType": "Group"
            }
        }));
        let group = created(&reply, "Group");
        assert_eq!(group["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
        assert_eq!(group["displayName"], "displayName");
        assert!(member_ids(&group).is_empty(), "{group}");
        let group_id = id_of(&group);
        let path = format!("/Groups/{group_id}");

        // Tutorial › "Update Group [Add Members]": "op": "Add" with "$ref": null.
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Add",
                "path": "members",
                "value": [{
                    "$ref": null,
                    "value": first_id
                }]
            }]
        }));
        let group = entra.patched(&reply, &path);
        assert_eq!(member_ids(&group), [first_id.as_str()]);
        assert_eq!(admin_groups(server, "first@testuser.com"), ["displayName"]);

        // Tutorial › "Get Group": GET /Groups/{id}?excludedAttributes=members
        // has no members, though the group has one.
        let reply = entra.get(&format!("{path}?excludedAttributes=members"));
        let body = reply.expect(StatusCode::OK);
        assert!(body.get("members").is_none(), "members excluded: {body}");
        assert_eq!(body["displayName"], "displayName");
        assert_eq!(body["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
        assert_resource(&reply, "Group");
        let found = list(entra.get(&lookup).expect(StatusCode::OK), 1, 1);
        assert_eq!(found[0]["id"], group_id.as_str());
        assert!(found[0].get("members").is_none(), "members excluded in lists: {}", found[0]);
        assert_meta(&found[0], "Group");

        // Tutorial › "Update Group [Non-member attributes]": a rename.
        let renamed = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName";
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Replace",
                "path": "displayName",
                "value": renamed
            }]
        }));
        let group = entra.patched(&reply, &path);
        assert_eq!(group["displayName"], renamed);
        assert_eq!(member_ids(&group), [first_id.as_str()], "a rename keeps members");
        assert_eq!(admin_groups(server, "first@testuser.com"), [renamed]);
        assert!(list(entra.get(&lookup).expect(StatusCode::OK), 0, 1).is_empty(), "the old name finds nothing");

        // Tutorial › "Update Group [Remove Members]" (Known issues ›
        // "Without feature flag"): "op": "Remove", path members, the member
        // in value.
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{
                "op": "Remove",
                "path": "members",
                "value": [{
                    "$ref": null,
                    "value": first_id
                }]
            }]
        }));
        let group = entra.patched(&reply, &path);
        assert!(member_ids(&group).is_empty(), "{group}");
        assert!(admin_groups(server, "first@testuser.com").is_empty());

        // Gallery checklist: "Support updating multiple group memberships
        // with a single PATCH".
        let reply = entra.patch(&path, json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                { "op": "Add", "path": "members", "value": [{ "value": first_id }] },
                { "op": "Add", "path": "members", "value": [{ "value": second_id }] }
            ]
        }));
        assert_eq!(member_ids(&entra.patched(&reply, &path)), sorted(&[&first_id, &second_id]));

        // Known issues › "Requests made to remove a group member" › "With
        // feature flag": a value-filtered path, no value.
        let reply = entra.patch(&path, json!({
            "schemas": [
                "urn:ietf:params:scim:api:messages:2.0:PatchOp"
            ],
            "Operations": [
                {
                    "op": "remove",
                    "path": format!("members[value eq \"{first_id}\"]")
                }
            ]
        }));
        assert_eq!(member_ids(&entra.patched(&reply, &path)), [second_id.as_str()]);
        assert!(admin_groups(server, "first@testuser.com").is_empty());
        assert_eq!(admin_groups(server, "second@testuser.com"), [renamed]);

        // Tutorial › "Delete Group": 204 No Content.
        let reply = entra.delete(&path);
        reply.expect(StatusCode::NO_CONTENT);
        assert!(reply.body.is_null());
        scim_error(&entra.get(&path), StatusCode::NOT_FOUND, None);
        assert!(admin_groups(server, "second@testuser.com").is_empty());
        let second_now = entra.get(&format!("/Users/{second_id}"));
        let second_now = second_now.expect(StatusCode::OK);
        assert!(second_now.get("groups").is_none() || second_now["groups"] == json!([]), "{second_now}");
    }

    /// Tutorial › "Handling provisioning and deprovisioning of users",
    /// Examples 1–3 and 6 (the requests the reference code handles).
    fn entra_reference_code_examples(server: &TestServer) {
        let entra = Idp::entra(server);

        // Example 1: GET …/Users?filter=externalId eq jyoung — an unquoted
        // value, which RFC 7644 §3.4.2.2 does not allow (compValue is a JSON
        // string, number, true, false or null). The doc calls it "an example
        // only"; the service answers 400 invalidFilter with where it broke.
        let reply = entra.get(&format!("/Users?{}", filter("externalId eq jyoung")));
        let detail = scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidFilter"));
        assert!(detail.contains("position") || detail.contains("jyoung") || detail.chars().any(|c| c.is_ascii_digit()), "the detail points at the problem: {detail}");
        let reply = entra.get(&format!("/Users?{}", filter("externalId eq \"jyoung\"")));
        assert!(list(reply.expect(StatusCode::OK), 0, 1).is_empty());

        // Example 2: POST with nulls for unassigned attributes (and the doc's
        // "…:enterprise:2.0User" spelling of the extension in schemas).
        let reply = entra.post("/Users", json!({
           "schemas":
           [
             "urn:ietf:params:scim:schemas:core:2.0:User",
             "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
           "externalId":"jyoung",
           "userName":"jyoung@testuser.com",
           "active":true,
           "addresses":null,
           "displayName":"Joy Young",
           "emails": [
             {
               "type":"work",
               "value":"jyoung@Contoso.com",
               "primary":true}],
           "meta": {
             "resourceType":"User"},
            "name":{
             "familyName":"Young",
             "givenName":"Joy"},
           "phoneNumbers":null,
           "preferredLanguage":null,
           "title":null,
           "department":null,
           "manager":null
        }));
        let user = created(&reply, "User");
        assert_eq!(user["userName"], "jyoung@testuser.com");
        assert_eq!(user["externalId"], "jyoung");
        assert_eq!(user["displayName"], "Joy Young");
        assert_eq!(user["name"]["givenName"], "Joy");
        assert_eq!(user["name"]["familyName"], "Young");
        assert_eq!(emails(&user), [("jyoung@Contoso.com".to_owned(), Some("work".to_owned()), true)], "stored as sent, case kept");
        for unassigned in ["addresses", "phoneNumbers", "preferredLanguage", "title"] {
            assert!(user[unassigned].is_null(), "{unassigned} stays unassigned: {user}");
        }
        let reply = entra.get(&format!("/Users?{}", filter("externalId eq \"jyoung\"")));
        assert_eq!(list(reply.expect(StatusCode::OK), 1, 1)[0]["id"], user["id"]);

        // Example 3: GET ~/scim/Users/{id}.
        let path = format!("/Users/{}", id_of(&user));
        assert_eq!(entra.get(&path).expect(StatusCode::OK)["userName"], "jyoung@testuser.com");

        // Example 6: DELETE ~/scim/Users/{id}.
        entra.delete(&path).expect(StatusCode::NO_CONTENT);
        scim_error(&entra.get(&path), StatusCode::NOT_FOUND, None);
        assert_eq!(cli_verify(server, "jyoung@testuser.com").0, 0);
    }
}
