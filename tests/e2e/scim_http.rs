//! `/scim/v2` as HTTP, end to end on SQLite and PostgreSQL: the discovery
//! documents (checked against `scimctl::scim::schema`), every refusal in the
//! SCIM error format (401 with `WWW-Authenticate`, 403 for a missing scope or
//! the allowlist, 404, 405, 413, 415, malformed JSON) and audited, and the
//! media type and request id on every answer.

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use scimctl::scim::schema::{ENTERPRISE_USER, GROUP, USER};
use serde_json::{Value, json};

use crate::support::{TestServer, both_backends};

const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Creates a key with `scopes` through the admin API; returns (id, token).
fn key(server: &TestServer, scopes: &[&str]) -> (String, String) {
    let (status, _, created) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": format!("scim test {}", scopes.join(" ")), "scopes": scopes })),
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    (
        created["id"].as_str().expect("id").to_owned(),
        created["token"].as_str().expect("token").to_owned(),
    )
}

fn provisioner(server: &TestServer) -> String {
    key(server, &["scim:provision"]).1
}

/// `GET /scim/v2{path}` with `token`.
fn get(server: &TestServer, path: &str, token: Option<&str>) -> (StatusCode, HeaderMap, Value) {
    server.http(Method::GET, &format!("/scim/v2{path}"), token, None)
}

/// Every SCIM answer with a body: exactly `application/scim+json` (no
/// parameters: RFC 7644 §8.1 registers none) and a request id.
#[track_caller]
fn assert_scim_answer(headers: &HeaderMap, body: &Value) {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert_eq!(content_type, "application/scim+json", "{body}");
    assert!(
        headers.get("x-request-id").is_some_and(|id| !id.is_empty()),
        "no X-Request-Id: {headers:?}"
    );
}

/// A SCIM error body (RFC 7644 §3.12) with `status` and a detail containing
/// `detail`; returns the detail.
#[track_caller]
fn assert_scim_error(
    (status, headers, body): &(StatusCode, HeaderMap, Value),
    expected: StatusCode,
    detail: &str,
) -> String {
    assert_eq!(*status, expected, "{body}");
    assert_scim_answer(headers, body);
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], expected.as_u16().to_string(), "{body}");
    let text = body["detail"].as_str().expect("detail").to_owned();
    assert!(text.contains(detail), "detail {text:?} lacks {detail:?}");
    text
}

fn denials(server: &TestServer) -> Vec<crate::support::DbRow> {
    server.query_rows(
        "SELECT actor_key_id, actor_name, source_ip, request_id, target, outcome, details \
         FROM audit_log WHERE action = 'auth.denied' ORDER BY id",
    )
}

fn user_count(server: &TestServer) -> usize {
    server.query_rows("SELECT id FROM users").len()
}

/// The URL the server gives for `path` under `/scim/v2`, as the client
/// reached it.
fn location(server: &TestServer, path: &str) -> String {
    format!("{}/scim/v2{path}", server.addr)
}

both_backends! {
    fn the_service_provider_config_says_what_is_implemented(server: &TestServer) {
        let token = provisioner(server);
        let (status, headers, config) = get(server, "/ServiceProviderConfig", Some(&token));
        assert_eq!(status, StatusCode::OK, "{config}");
        assert_scim_answer(&headers, &config);
        assert_eq!(
            config["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
        );
        assert_eq!(config["patch"], json!({ "supported": true }));
        assert_eq!(config["bulk"], json!({ "supported": false, "maxOperations": 0, "maxPayloadSize": 0 }));
        assert_eq!(config["filter"], json!({ "supported": true, "maxResults": 200 }));
        assert_eq!(config["changePassword"], json!({ "supported": false }));
        assert_eq!(config["sort"], json!({ "supported": true }));
        assert_eq!(config["etag"], json!({ "supported": true }));
        let schemes = config["authenticationSchemes"].as_array().expect("schemes");
        assert_eq!(schemes.len(), 1, "{config}");
        assert_eq!(schemes[0]["type"], "oauthbearertoken");
        assert_eq!(schemes[0]["name"], "API key");
        assert_eq!(schemes[0]["primary"], true);
        assert!(
            schemes[0]["description"].as_str().expect("description").contains("scim:provision"),
            "{config}"
        );
        assert_eq!(config["meta"]["resourceType"], "ServiceProviderConfig");
        assert_eq!(config["meta"]["location"], location(server, "/ServiceProviderConfig"));
    }

    fn resource_types_list_users_with_the_enterprise_extension_and_groups(server: &TestServer) {
        let token = provisioner(server);
        let (status, headers, list) = get(server, "/ResourceTypes", Some(&token));
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_scim_answer(&headers, &list);
        assert_eq!(list["schemas"], json!([LIST]));
        assert_eq!(list["totalResults"], 2);
        assert_eq!(list["itemsPerPage"], 2);
        assert_eq!(list["startIndex"], 1);
        let types = list["Resources"].as_array().expect("Resources");
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": USER.description,
            "schema": USER.id,
            "schemaExtensions": [{ "schema": ENTERPRISE_USER.id, "required": false }],
            "meta": { "resourceType": "ResourceType", "location": location(server, "/ResourceTypes/User") },
        });
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": GROUP.description,
            "schema": GROUP.id,
            "schemaExtensions": [],
            "meta": { "resourceType": "ResourceType", "location": location(server, "/ResourceTypes/Group") },
        });
        assert_eq!(types, &[user.clone(), group.clone()]);

        // One by one, the same objects.
        for (id, expected) in [("User", &user), ("Group", &group)] {
            let (status, headers, one) = get(server, &format!("/ResourceTypes/{id}"), Some(&token));
            assert_eq!(status, StatusCode::OK, "{one}");
            assert_scim_answer(&headers, &one);
            assert_eq!(&one, expected);
        }
        let missing = get(server, "/ResourceTypes/Device", Some(&token));
        assert_scim_error(&missing, StatusCode::NOT_FOUND, "no resource type \"Device\"");

        // RFC 7644 §4: a filter here is refused rather than ignored.
        let filtered = get(server, "/ResourceTypes?filter=name%20eq%20%22User%22", Some(&token));
        assert_scim_error(&filtered, StatusCode::FORBIDDEN, "cannot be filtered");
        // Other list parameters are ignored.
        let (status, _, paged) = get(server, "/ResourceTypes?count=1&startIndex=2&sortBy=x", Some(&token));
        assert_eq!(status, StatusCode::OK, "{paged}");
        assert_eq!(paged["totalResults"], 2);
    }

    fn schemas_are_the_ones_the_code_enforces(server: &TestServer) {
        let token = provisioner(server);
        let (status, headers, list) = get(server, "/Schemas", Some(&token));
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_scim_answer(&headers, &list);
        assert_eq!(list["schemas"], json!([LIST]));
        assert_eq!(list["totalResults"], 3);
        let listed = list["Resources"].as_array().expect("Resources");
        let ids: Vec<&str> = listed.iter().map(|schema| schema["id"].as_str().expect("id")).collect();
        assert_eq!(ids, [USER.id, ENTERPRISE_USER.id, GROUP.id]);

        for (schema, listed) in [&USER, &ENTERPRISE_USER, &GROUP].into_iter().zip(listed) {
            let path = format!("/Schemas/{}", schema.id);
            let mut expected = schema.to_json();
            expected["meta"] = json!({ "resourceType": "Schema", "location": location(server, &path) });
            assert_eq!(listed, &expected, "{}", schema.id);
            let (status, headers, one) = get(server, &path, Some(&token));
            assert_eq!(status, StatusCode::OK, "{one}");
            assert_scim_answer(&headers, &one);
            assert_eq!(one, expected, "{}", schema.id);
        }

        // Spot checks that the rendering is the RFC's, not only our own.
        let user = &listed[0];
        assert_eq!(user["name"], "User");
        let attribute = |name: &str| {
            user["attributes"]
                .as_array()
                .expect("attributes")
                .iter()
                .find(|attribute| attribute["name"] == name)
                .unwrap_or_else(|| panic!("no {name} in {user}"))
                .clone()
        };
        assert_eq!(attribute("userName")["required"], true);
        assert_eq!(attribute("userName")["caseExact"], false);
        assert_eq!(attribute("userName")["uniqueness"], "server");
        assert_eq!(attribute("password")["returned"], "never");
        assert_eq!(attribute("emails")["multiValued"], true);
        assert_eq!(attribute("emails")["subAttributes"][0]["name"], "value");
        let manager = listed[1]["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|attribute| attribute["name"] == "manager")
            .expect("manager")
            .clone();
        assert_eq!(manager["type"], "complex");

        let missing = get(server, "/Schemas/urn:example:params:scim:schemas:Nope", Some(&token));
        assert_scim_error(&missing, StatusCode::NOT_FOUND, "no schema");
        let filtered = get(server, "/Schemas?filter=id%20pr", Some(&token));
        assert_scim_error(&filtered, StatusCode::FORBIDDEN, "cannot be filtered");
    }

    fn discovery_endpoints_answer_only_get(server: &TestServer) {
        let token = provisioner(server);
        for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"] {
            for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
                let request = server
                    .request(method.clone(), &format!("/scim/v2{path}"))
                    .bearer_auth(&token)
                    .header(header::CONTENT_TYPE, "application/scim+json")
                    .body("{}");
                let answer = server.send(request);
                assert_scim_error(&answer, StatusCode::METHOD_NOT_ALLOWED, &format!("{method} is not supported"));
                let allow = answer.1.get(header::ALLOW).and_then(|value| value.to_str().ok()).unwrap_or_default();
                assert!(allow.contains("GET"), "{method} {path}: Allow {allow:?}");
            }
        }
    }

    fn missing_invalid_and_revoked_keys_get_401_with_a_challenge(server: &TestServer) {
        let (revoked_id, revoked) = key(server, &["scim:provision"]);
        let (status, _, body) = server.http(
            Method::DELETE,
            &format!("/admin/v1/keys/{revoked_id}"),
            Some(&server.root_token),
            None,
        );
        assert!(status.is_success(), "{body}");

        let cases = [
            (None, "missing API key"),
            (Some("not-a-key"), "invalid API key"),
            (Some("scimctl_0123456789abcdef_0123456789012345678901234567890123456789"), "invalid API key"),
            (Some(revoked.as_str()), "was revoked"),
        ];
        let before = denials(server).len();
        for (token, detail) in cases {
            let answer = get(server, "/Users", token);
            assert_scim_error(&answer, StatusCode::UNAUTHORIZED, detail);
            assert_eq!(
                answer.1.get(header::WWW_AUTHENTICATE).and_then(|value| value.to_str().ok()),
                Some("Bearer realm=\"scimctl\""),
                "{token:?}"
            );
        }
        // Unknown paths too: nothing under /scim/v2 answers a stranger.
        let answer = get(server, "/NoSuchThing", None);
        assert_scim_error(&answer, StatusCode::UNAUTHORIZED, "missing API key");

        let denials = denials(server);
        assert_eq!(denials.len() - before, 5, "every refusal is audited: {denials:?}");
        let new = &denials[before..];
        assert_eq!(new[0]["actor_key_id"], "", "no key was sent");
        assert_eq!(new[3]["actor_key_id"], revoked_id, "the revoked key is named");
        for denial in new {
            assert_eq!(denial["actor_name"], "unauthenticated");
            assert_eq!(denial["source_ip"], "127.0.0.1");
            assert_eq!(denial["outcome"], "denied");
            assert!(!denial["request_id"].is_empty(), "{denial:?}");
        }
        assert_eq!(new[0]["target"], "/scim/v2/Users", "the full path, prefix included");
        assert_eq!(new[4]["target"], "/scim/v2/NoSuchThing");
    }

    fn a_key_without_scim_provision_gets_403_naming_the_scope(server: &TestServer) {
        let (id, token) = key(server, &["users:read", "groups:read"]);
        let answer = get(server, "/ServiceProviderConfig", Some(&token));
        let detail = assert_scim_error(&answer, StatusCode::FORBIDDEN, "key lacks scope scim:provision");
        assert!(detail.contains("scimctl keys create"), "says what to do: {detail}");
        assert!(answer.1.get(header::WWW_AUTHENTICATE).is_none());

        // Even the root key (every scope) works, and the refusal was audited
        // with the key that tried.
        let (status, _, _) = get(server, "/ServiceProviderConfig", Some(&server.root_token));
        assert_eq!(status, StatusCode::OK);
        let denials = denials(server);
        assert_eq!(denials.len(), 1, "{denials:?}");
        assert_eq!(denials[0]["actor_key_id"], id);
        assert_eq!(denials[0]["target"], "/scim/v2/ServiceProviderConfig");
        assert!(denials[0]["details"].contains("scim:provision"), "{denials:?}");
    }

    fn the_allowlist_refuses_in_scim_form_before_the_key_is_looked_at(server: &TestServer) {
        let (id, token) = key(server, &["scim:provision"]);
        let (status, _, body) = server.http(
            Method::PUT,
            "/admin/v1/allowlist",
            Some(&server.root_token),
            Some(json!({ "entries": [{ "cidr": "10.0.0.0/8" }], "force": true })),
        );
        assert_eq!(status, StatusCode::OK, "{body}");

        let answer = get(server, "/Users", Some(&token));
        assert_scim_error(&answer, StatusCode::FORBIDDEN, "address 127.0.0.1 is not in the IP allowlist");
        // 403 even without a key: the allowlist comes first.
        let answer = get(server, "/ServiceProviderConfig", None);
        assert_scim_error(&answer, StatusCode::FORBIDDEN, "IP allowlist");
        assert!(answer.1.get(header::WWW_AUTHENTICATE).is_none());

        let denials = denials(server);
        assert_eq!(denials.len(), 2, "{denials:?}");
        assert_eq!(denials[0]["actor_key_id"], id, "the key used from outside is named");
        assert_eq!(denials[0]["target"], "/scim/v2/Users");
        for denial in &denials {
            assert!(denial["details"].contains("IP allowlist"), "{denial:?}");
            assert_eq!(denial["source_ip"], "127.0.0.1");
        }
    }

    fn unknown_paths_and_methods_are_scim_errors(server: &TestServer) {
        let token = provisioner(server);
        let answer = get(server, "/Devices/42", Some(&token));
        let detail = assert_scim_error(&answer, StatusCode::NOT_FOUND, "no such SCIM endpoint: GET /scim/v2/Devices/42");
        assert!(detail.contains("/scim/v2/Users"), "lists what exists: {detail}");
        assert!(answer.2.get("scimType").is_none());
        let answer = get(server, "/", Some(&token));
        assert_scim_error(&answer, StatusCode::NOT_FOUND, "no such SCIM endpoint");
        let answer = get(server, "", Some(&token));
        assert_scim_error(&answer, StatusCode::NOT_FOUND, "no such SCIM endpoint");
        let answer = get(server, "/", None);
        assert_scim_error(&answer, StatusCode::UNAUTHORIZED, "missing API key");

        // The collection exists; DELETE on it does not.
        let answer = server.http(Method::DELETE, "/scim/v2/Users", Some(&token), None);
        assert_scim_error(&answer, StatusCode::METHOD_NOT_ALLOWED, "DELETE is not supported on /scim/v2/Users");

        // An extractor's own rejection (a path that is not UTF-8) is turned
        // into a SCIM error too.
        let answer = get(server, "/Schemas/%FF", Some(&token));
        assert_scim_error(&answer, StatusCode::BAD_REQUEST, "UTF-8");
        // So is a query string that cannot be read.
        let answer = get(server, "/Schemas?filter=a&filter=b", Some(&token));
        assert_scim_error(&answer, StatusCode::BAD_REQUEST, "filter");

        // The admin API keeps its own error format beside it.
        let (status, _, body) = server.http(Method::GET, "/admin/v1/nothing", Some(&token), None);
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    }

    fn bodies_must_be_json_labelled_as_json(server: &TestServer) {
        let token = provisioner(server);
        let user = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "media.type@example.com",
        })
        .to_string();
        let post = |content_type: Option<&str>, body: String| {
            let mut request = server.request(Method::POST, "/scim/v2/Users").bearer_auth(&token).body(body);
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            server.send(request)
        };
        for content_type in [Some("text/plain"), Some("application/xml"), Some("application/json; charset=iso-8859-1"), None] {
            let answer = post(content_type, user.clone());
            assert_scim_error(&answer, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/scim+json");
        }
        assert_eq!(user_count(server), 0, "nothing was created");

        // Both JSON media types get past the media check (to whatever the
        // handler makes of the body).
        for content_type in ["application/scim+json", "application/json; charset=utf-8", "Application/SCIM+JSON; charset=UTF-8"] {
            let (status, _, body) = post(Some(content_type), "{\"userName\": ".to_owned());
            assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type}: {body}");
            assert_eq!(body["scimType"], "invalidSyntax", "{content_type}: {body}");
        }
    }

    fn malformed_json_is_400_invalid_syntax_saying_where(server: &TestServer) {
        let token = provisioner(server);
        let broken = "{\n  \"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"],\n  \"userName\": \"x\"\n  \"active\": true\n}";
        let answer = server.http_raw(Method::POST, "/scim/v2/Users", Some(&token), broken);
        let detail = assert_scim_error(&answer, StatusCode::BAD_REQUEST, "line 4 column 3");
        assert!(detail.contains("not valid JSON"), "{detail}");
        assert_eq!(answer.2["scimType"], "invalidSyntax");

        let answer = server.http_raw(Method::POST, "/scim/v2/Users", Some(&token), "");
        assert_scim_error(&answer, StatusCode::BAD_REQUEST, "empty");
        assert_eq!(answer.2["scimType"], "invalidSyntax");
        assert_eq!(user_count(server), 0, "nothing was created");
    }

    fn oversized_bodies_are_413(server: &TestServer) {
        let token = provisioner(server);
        let huge = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "big@example.com",
            "title": "x".repeat(2 * 1024 * 1024),
        })
        .to_string();
        let answer = server.http_raw(Method::POST, "/scim/v2/Users", Some(&token), &huge);
        let detail = assert_scim_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "1048576 bytes");
        assert!(detail.contains("body_limit"), "says what to do: {detail}");
        assert_eq!(user_count(server), 0, "nothing was created");
    }
}
