//! SCIM URLs as other clients spell them: a trailing slash
//! (`/scim/v2/Users/?filter=…`) and endpoint names in another case
//! (`/scim/v2/users`, Microsoft's Postman collection). Every collection,
//! resource, `.search` and discovery URL answers in those forms as in the
//! canonical one, and what the server writes back (`Location`,
//! `meta.location`) stays canonical. The admin API stays strict.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{
    GROUP_SCHEMA, Idp, Reply, USER_SCHEMA, audit_rows, created, filter, id_of, list, scim_error,
};
use crate::support::{TestServer, both_backends};

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The canonical `meta.location` of `/scim/v2{path}` on `server`.
fn location(server: &TestServer, path: &str) -> String {
    format!("{}/scim/v2{path}", server.addr)
}

/// Checks a resource answer: its `meta.location` is the canonical URL.
#[track_caller]
fn assert_canonical(server: &TestServer, reply: &Reply, status: StatusCode, path: &str) -> Value {
    let body = reply.expect(status).clone();
    assert_eq!(
        body["meta"]["location"],
        location(server, path),
        "{} {}: {body}",
        reply.method,
        reply.path
    );
    body
}

both_backends! {
    fn collections_resources_and_search_answer_in_any_case_with_or_without_a_slash(server: &TestServer) {
        let idp = Idp::generic(server);

        // Create through the forms: Location and meta.location canonical.
        let mut users = Vec::new();
        for (path, user_name) in [("/users", "ann"), ("/USERS/", "bob"), ("/Users/", "cy")] {
            let reply = idp.post(path, json!({ "schemas": [USER_SCHEMA], "userName": user_name }));
            let user = created(&reply, "User");
            let id = id_of(&user);
            assert_eq!(reply.header("location"), Some(location(server, &format!("/Users/{id}")).as_str()), "POST {path}");
            assert_canonical(server, &reply, StatusCode::CREATED, &format!("/Users/{id}"));
            users.push(id);
        }
        let reply = idp.post("/groups/", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Team", "members": [{ "value": users[0] }] }));
        let group = created(&reply, "Group");
        let group_id = id_of(&group);
        assert_eq!(reply.header("location"), Some(location(server, &format!("/Groups/{group_id}")).as_str()));

        // Lists and filtered lookups.
        let query = filter("userName eq \"bob\"");
        for path in ["/users", "/Users/", "/uSeRs/"] {
            let found = list(idp.get(path).expect(StatusCode::OK), 3, 1);
            for user in &found {
                assert_eq!(user["meta"]["location"], location(server, &format!("/Users/{}", id_of(user))), "GET {path}");
            }
            let found = list(idp.get(&format!("{path}?{query}")).expect(StatusCode::OK), 1, 1);
            assert_eq!(found[0]["userName"], "bob", "GET {path}?{query}");
        }
        assert_eq!(list(idp.get("/groups/?count=5").expect(StatusCode::OK), 1, 1)[0]["displayName"], "Team");

        // One resource: read, replace, patch, delete.
        let ann = &users[0];
        let canonical = format!("/Users/{ann}");
        for path in [format!("/users/{ann}"), format!("/Users/{ann}/"), format!("/USERS/{ann}/")] {
            let reply = idp.get(&path);
            assert_canonical(server, &reply, StatusCode::OK, &canonical);
            assert!(reply.header("etag").is_some(), "GET {path}");
        }
        let reply = idp.put(&format!("/users/{ann}/"), json!({ "schemas": [USER_SCHEMA], "userName": "ann", "displayName": "Ann" }));
        assert_eq!(assert_canonical(server, &reply, StatusCode::OK, &canonical)["displayName"], "Ann");
        let reply = idp.patch(&format!("/Users/{ann}/"), json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{ "op": "replace", "path": "displayName", "value": "Ann A" }],
        }));
        assert_eq!(idp.patched(&reply, &canonical)["displayName"], "Ann A");
        let reply = idp.get(&format!("/groups/{group_id}/?attributes=displayName"));
        assert_eq!(reply.expect(StatusCode::OK)["displayName"], "Team");
        idp.delete(&format!("/users/{}/", users[2])).expect(StatusCode::NO_CONTENT);
        scim_error(&idp.get(&format!("/Users/{}", users[2])), StatusCode::NOT_FOUND, None);

        // `.search`, per type and at the root.
        let search = json!({ "schemas": [SEARCH_REQUEST], "filter": "userName eq \"ann\"" });
        for path in ["/users/.search", "/Users/.SEARCH/", "/users/.Search/"] {
            let found = list(idp.post(path, search.clone()).expect(StatusCode::OK), 1, 1);
            assert_eq!(found[0]["meta"]["location"], location(server, &canonical), "POST {path}");
        }
        for path in ["/.search/", "/.SEARCH"] {
            let found = list(idp.post(path, json!({ "schemas": [SEARCH_REQUEST] })).expect(StatusCode::OK), 3, 1);
            assert_eq!(found[2]["meta"]["location"], location(server, &format!("/Groups/{group_id}")), "POST {path}");
        }
        let groups = list(idp.post("/groups/.search/", json!({ "schemas": [SEARCH_REQUEST] })).expect(StatusCode::OK), 1, 1);
        assert_eq!(id_of(&groups[0]), group_id);
    }

    fn discovery_answers_in_any_case_with_or_without_a_slash(server: &TestServer) {
        let idp = Idp::generic(server);
        let canonical = idp.get("/ServiceProviderConfig").expect(StatusCode::OK).clone();
        for path in ["/serviceproviderconfig", "/ServiceProviderConfig/", "/SERVICEPROVIDERCONFIG/"] {
            assert_eq!(idp.get(path).expect(StatusCode::OK), &canonical, "GET {path}");
        }
        let resource_types = idp.get("/ResourceTypes").expect(StatusCode::OK).clone();
        for path in ["/resourcetypes", "/ResourceTypes/"] {
            assert_eq!(idp.get(path).expect(StatusCode::OK), &resource_types, "GET {path}");
        }
        let user_type = idp.get("/ResourceTypes/User").expect(StatusCode::OK).clone();
        assert_eq!(user_type["meta"]["location"], location(server, "/ResourceTypes/User"));
        for path in ["/resourcetypes/user/", "/ResourceTypes/User/"] {
            assert_eq!(idp.get(path).expect(StatusCode::OK), &user_type, "GET {path}");
        }
        let schemas = idp.get("/Schemas").expect(StatusCode::OK).clone();
        assert_eq!(idp.get("/schemas/").expect(StatusCode::OK), &schemas);
        let urn = format!("/Schemas/{USER_SCHEMA}");
        let user_schema = idp.get(&urn).expect(StatusCode::OK).clone();
        assert_eq!(user_schema["meta"]["location"], location(server, &urn));
        assert_eq!(idp.get(&format!("/schemas/{USER_SCHEMA}/")).expect(StatusCode::OK), &user_schema);
    }

    fn unknown_paths_refusals_and_the_admin_api_are_unchanged(server: &TestServer) {
        let idp = Idp::generic(server);
        // An unknown SCIM path is still a SCIM 404 naming what was sent.
        let detail = scim_error(&idp.get("/devices/"), StatusCode::NOT_FOUND, None);
        assert!(detail.contains("GET /scim/v2/devices/"), "{detail}");
        // Methods a route does not take, in any spelling.
        let detail = scim_error(&idp.delete("/users/"), StatusCode::METHOD_NOT_ALLOWED, None);
        assert!(detail.contains("/scim/v2/users/"), "names the path as sent: {detail}");

        // The gate sees every form: no key, or a key without the scope, is
        // refused, and the audit entry names the path as sent.
        let (status, _, _) = server.http(Method::GET, "/scim/v2/users/", None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let reader = server.new_key("reader", &["users:read"]);
        let (status, _, answer) = server.http(Method::GET, "/scim/v2/users/", Some(&reader), None);
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        let denials = audit_rows(server, "action = 'auth.denied' AND target LIKE '/scim/v2/%'");
        assert!(denials.iter().any(|row| row["target"] == "/scim/v2/users/"), "{denials:?}");

        // The admin API keeps exactly its spellings.
        for path in ["/admin/v1/keys/", "/admin/v1/Keys", "/ADMIN/v1/keys"] {
            let (status, _, answer) = server.http(Method::GET, path, Some(&server.root_token), None);
            assert_eq!(status, StatusCode::NOT_FOUND, "GET {path}: {answer}");
            assert!(answer.get("schemas").is_none(), "an admin error, not a SCIM one: {answer}");
        }
        let (status, _, _) = server.http(Method::GET, "/admin/v1/keys", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK);
    }
}
