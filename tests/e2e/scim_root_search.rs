//! `POST /scim/v2/.search` at the root (RFC 7644 §3.4.3): Users and Groups
//! in one ListResponse. Without `sortBy`, users then groups, each in creation
//! order; with it, one order across both, a type without the attribute last
//! (first descending). Paging and `totalResults` span both types; the filter
//! applies to both, an attribute one type lacks reading there as absent
//! (§3.4.2.1); projection, refusals and the scope are those of the searches
//! of one type.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scim_support::{
    GROUP_SCHEMA, Idp, Reply, USER_SCHEMA, assert_meta, created, id_of, list, scim_error,
};
use crate::support::{TestServer, both_backends};

const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// `POST /.search` with a SearchRequest of `parameters`.
fn search(idp: &Idp, parameters: Value) -> Reply {
    let mut body = json!({ "schemas": [SEARCH_REQUEST] });
    if let (Some(body), Value::Object(parameters)) = (body.as_object_mut(), parameters) {
        body.extend(parameters);
    }
    idp.post("/.search", body)
}

/// What identifies each resource of a list: `User:userName` or
/// `Group:displayName`; each resource's `meta` is checked on the way.
fn names(resources: &[Value]) -> Vec<String> {
    resources
        .iter()
        .map(|resource| {
            let kind = resource["meta"]["resourceType"]
                .as_str()
                .unwrap_or_else(|| panic!("meta.resourceType: {resource}"));
            assert_meta(resource, kind);
            let name = match kind {
                "User" => &resource["userName"],
                _ => &resource["displayName"],
            };
            format!("{kind}:{}", name.as_str().expect("a name"))
        })
        .collect()
}

/// `POST /.search` with `parameters`: checks the ListResponse (its total and
/// start index) and returns the names of what it holds.
#[track_caller]
fn found(idp: &Idp, parameters: Value, total: u64, start_index: u64) -> Vec<String> {
    let reply = search(idp, parameters);
    names(&list(reply.expect(StatusCode::OK), total, start_index))
}

/// Users `ann`, `Bob`, `cy` (created in that order; `cy` has no
/// displayName), then groups `Admins` (with ann) and `beta`.
fn provision(idp: &Idp) {
    for (user_name, display_name) in [("ann", Some("Ann A")), ("Bob", Some("bob b")), ("cy", None)]
    {
        let mut user = json!({ "schemas": [USER_SCHEMA], "userName": user_name, "emails": [{ "value": format!("{user_name}@example.com"), "type": "work" }] });
        if let Some(display_name) = display_name {
            user["displayName"] = json!(display_name);
        }
        created(&idp.post("/Users", user), "User");
    }
    let ann = id_of(
        &search(idp, json!({ "filter": "userName eq \"ann\"" })).expect(StatusCode::OK)["Resources"]
            [0],
    );
    created(&idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Admins", "members": [{ "value": ann }] })), "Group");
    created(
        &idp.post(
            "/Groups",
            json!({ "schemas": [GROUP_SCHEMA], "displayName": "beta" }),
        ),
        "Group",
    );
}

const ALL: [&str; 5] = [
    "User:ann",
    "User:Bob",
    "User:cy",
    "Group:Admins",
    "Group:beta",
];

both_backends! {
    fn users_then_groups_paged_as_one_list(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        assert_eq!(found(&idp, json!({}), 5, 1), ALL);
        // Pages cross from the users into the groups, and the total counts
        // both types whether or not the page is full.
        assert_eq!(found(&idp, json!({ "startIndex": 3, "count": 2 }), 5, 3), ["User:cy", "Group:Admins"]);
        assert_eq!(found(&idp, json!({ "startIndex": 2, "count": 2 }), 5, 2), ["User:Bob", "User:cy"]);
        assert_eq!(found(&idp, json!({ "startIndex": 4, "count": 10 }), 5, 4), ["Group:Admins", "Group:beta"]);
        assert!(found(&idp, json!({ "startIndex": 6 }), 5, 6).is_empty());
        assert!(found(&idp, json!({ "count": 0 }), 5, 1).is_empty());
        // A walk two at a time sees everything once, in the same order.
        let mut walked = Vec::new();
        for start in [1, 3, 5] {
            walked.extend(found(&idp, json!({ "startIndex": start, "count": 2 }), 5, start));
        }
        assert_eq!(walked, ALL);
        // Each type's own order, reversed, types still in the same order.
        assert_eq!(
            found(&idp, json!({ "sortOrder": "descending" }), 5, 1),
            ["User:cy", "User:Bob", "User:ann", "Group:beta", "Group:Admins"]
        );

        // A resource as the root search shows it is the one its own
        // endpoint serves: same body, canonical meta.location.
        let reply = search(&idp, json!({ "filter": "displayName eq \"admins\"" }));
        let group = &list(reply.expect(StatusCode::OK), 1, 1)[0];
        let id = id_of(group);
        assert_eq!(group["meta"]["location"], format!("{}/scim/v2/Groups/{id}", server.addr));
        assert_eq!(group, idp.get(&format!("/Groups/{id}")).expect(StatusCode::OK));
        assert_eq!(group["members"].as_array().map(Vec::len), Some(1), "{group}");
    }

    fn one_filter_on_both_types(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        // An attribute groups do not have reads there as absent (RFC 7644
        // §3.4.2.1): eq and pr never match a group, ne and not(pr) always.
        assert_eq!(found(&idp, json!({ "filter": "userName eq \"BOB\"" }), 1, 1), ["User:Bob"]);
        assert_eq!(found(&idp, json!({ "filter": "not (userName pr)" }), 2, 1), ["Group:Admins", "Group:beta"]);
        assert_eq!(found(&idp, json!({ "filter": "userName ne \"bob\"" }), 4, 1), ["User:ann", "User:cy", "Group:Admins", "Group:beta"]);
        assert_eq!(found(&idp, json!({ "filter": "emails[type eq \"work\" and value sw \"c\"]" }), 1, 1), ["User:cy"]);
        // Both types have displayName.
        assert_eq!(found(&idp, json!({ "filter": "displayName sw \"B\"" }), 2, 1), ["User:Bob", "Group:beta"]);
        assert_eq!(found(&idp, json!({ "filter": "displayName pr" }), 4, 1), ["User:ann", "User:Bob", "Group:Admins", "Group:beta"]);
        // meta.resourceType picks a type.
        assert_eq!(found(&idp, json!({ "filter": "meta.resourceType eq \"Group\"" }), 2, 1), ["Group:Admins", "Group:beta"]);
        assert_eq!(found(&idp, json!({ "filter": "meta.resourceType eq \"User\" and displayName pr" }), 2, 1), ["User:ann", "User:Bob"]);
        // Attributes of each type in one filter; paging over the matches.
        let either = json!({ "filter": "members pr or groups pr", "count": 1, "startIndex": 2 });
        assert_eq!(found(&idp, either, 2, 2), ["Group:Admins"]);
        assert!(found(&idp, json!({ "filter": "userName eq \"nobody\"" }), 0, 1).is_empty());
    }

    fn sort_by_orders_across_both_types(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        // displayName: case-insensitive across users and groups; cy has
        // none, so comes last ascending and first descending.
        assert_eq!(
            found(&idp, json!({ "sortBy": "displayName" }), 5, 1),
            ["Group:Admins", "User:ann", "Group:beta", "User:Bob", "User:cy"]
        );
        assert_eq!(
            found(&idp, json!({ "sortBy": "displayName", "sortOrder": "descending" }), 5, 1),
            ["User:cy", "User:Bob", "Group:beta", "User:ann", "Group:Admins"]
        );
        // A page of the merged order.
        assert_eq!(
            found(&idp, json!({ "sortBy": "displayName", "startIndex": 2, "count": 2 }), 5, 2),
            ["User:ann", "Group:beta"]
        );
        // userName: groups have none, so come after every user ascending
        // and before them descending.
        assert_eq!(
            &found(&idp, json!({ "sortBy": "userName" }), 5, 1)[..3],
            ["User:ann", "User:Bob", "User:cy"]
        );
        assert_eq!(
            &found(&idp, json!({ "sortBy": "userName", "sortOrder": "descending" }), 5, 1)[2..],
            ["User:cy", "User:Bob", "User:ann"]
        );
        // An attribute no type has, or one a type cannot sort by.
        for sort_by in ["nosuch", "members"] {
            let reply = search(&idp, json!({ "sortBy": sort_by }));
            scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidValue"));
        }
    }

    fn attributes_and_excluded_attributes_apply_to_each_resource(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        let reply = search(&idp, json!({ "attributes": ["displayName"], "startIndex": 2, "count": 3 }));
        let resources = list(reply.expect(StatusCode::OK), 5, 2);
        for resource in &resources {
            let mut keys: Vec<&str> = resource.as_object().expect("object").keys().map(String::as_str).collect();
            keys.sort_unstable();
            // id and schemas are always returned (RFC 7643 §2.4); cy has no
            // displayName.
            let expected: &[&str] = if resource["schemas"][0] == USER_SCHEMA && resource.get("displayName").is_none() {
                &["id", "schemas"]
            } else {
                &["displayName", "id", "schemas"]
            };
            assert_eq!(keys, expected, "{resource}");
        }
        assert_eq!(resources[0]["displayName"], "bob b");
        assert_eq!(resources[2]["displayName"], "Admins");

        let reply = search(&idp, json!({ "excludedAttributes": ["members", "emails", "meta"] }));
        let resources = list(reply.expect(StatusCode::OK), 5, 1);
        assert_eq!(resources[0]["userName"], "ann");
        assert_eq!(resources[3]["displayName"], "Admins");
        for resource in &resources {
            for left_out in ["members", "emails", "meta"] {
                assert!(resource.get(left_out).is_none(), "{left_out} left out: {resource}");
            }
        }
    }

    fn refusals_are_those_of_a_search_of_one_type(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        for filter in ["userName eq", "(displayName pr", "userName pr and"] {
            let detail = scim_error(&search(&idp, json!({ "filter": filter })), StatusCode::BAD_REQUEST, Some("invalidFilter"));
            assert!(detail.contains(filter), "names the filter: {detail}");
        }
        // No type has the attribute; a type that has it cannot compare so.
        for (filter, says) in [
            ("nosuch eq \"x\"", "not an attribute of User or Group"),
            ("active gt true", "boolean"),
            ("members.nosuch pr", "no sub-attribute"),
        ] {
            let detail = scim_error(&search(&idp, json!({ "filter": filter })), StatusCode::BAD_REQUEST, Some("invalidFilter"));
            assert!(detail.contains(says), "{filter}: {detail}");
        }
        // Not a SearchRequest.
        let reply = idp.post("/.search", json!({ "filter": "userName pr" }));
        scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        // Searching is POST only.
        let reply = idp.get("/.search");
        scim_error(&reply, StatusCode::METHOD_NOT_ALLOWED, None);
    }

    fn the_scope_is_checked_as_on_every_scim_route(server: &TestServer) {
        let idp = Idp::generic(server);
        provision(&idp);
        let body = json!({ "schemas": [SEARCH_REQUEST] });
        let reader = server.new_key("reader", &["users:read", "groups:read"]);
        let (status, _, answer) = server.http(reqwest::Method::POST, "/scim/v2/.search", Some(&reader), Some(body.clone()));
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        assert!(answer["detail"].as_str().unwrap_or_default().contains("scim:provision"), "{answer}");
        let (status, _, answer) = server.http(reqwest::Method::POST, "/scim/v2/.search", None, Some(body));
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    }
}
