//! Real lost updates, refused: a client reads a resource (version v1),
//! another client changes it (v2), then the first writes with
//! `If-Match: v1`. Every write — PUT, PATCH, DELETE, and a PATCH that would
//! deprovision — must answer 412 and change nothing, on Users and Groups;
//! the current ETag must go through.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{
    GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, admin_user, created, id_of, member_ids, scim_error,
};
use crate::support::{TestServer, assert_same_rows, both_backends};

/// The resource's current ETag: the `ETag` header of a GET, which must equal
/// its `meta.version`.
#[track_caller]
fn etag(idp: &Idp, path: &str) -> String {
    let reply = idp.get(path);
    let body = reply.expect(StatusCode::OK);
    let header = reply
        .header("etag")
        .expect("a GET of a resource carries an ETag")
        .to_owned();
    assert_eq!(
        body["meta"]["version"],
        header.as_str(),
        "ETag header and meta.version agree"
    );
    assert!(header.starts_with("W/\""), "a weak ETag: {header}");
    header
}

/// Each write of a client that read `stale`: all must be refused with 412
/// and leave the database as it was.
fn assert_stale_writes_refused(
    server: &TestServer,
    idp: &Idp,
    path: &str,
    stale: &str,
    writes: &[(Method, Option<Value>)],
) {
    let before = server.snapshot();
    for (method, body) in writes {
        let reply = idp.send(method.clone(), path, body.clone(), &[("if-match", stale)]);
        let detail = scim_error(&reply, StatusCode::PRECONDITION_FAILED, None);
        assert!(!detail.is_empty());
        assert_same_rows(
            &before,
            &server.snapshot(),
            &format!("{method} {path} with a stale If-Match"),
        );
    }
}

both_backends! {
    fn a_stale_etag_cannot_overwrite_a_newer_user(server: &TestServer) {
        let idp = Idp::generic(server);
        let other = Idp::okta(server);
        let user = created(&idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "lou", "active": true })), "User");
        let path = format!("/Users/{}", id_of(&user));
        let v1 = etag(&idp, &path);

        // Another client changes the user in between.
        let reply = other.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "Second" }] }));
        other.patched(&reply, &path);
        let v2 = etag(&idp, &path);
        assert_ne!(v1, v2, "a change gives a new version");

        assert_stale_writes_refused(server, &idp, &path, &v1, &[
            (Method::PUT, Some(json!({ "schemas": [USER_SCHEMA], "userName": "lou", "displayName": "First", "active": true }))),
            (Method::PATCH, Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "displayName", "value": "First" }] }))),
            // A stale deactivation must not deprovision anyone.
            (Method::PATCH, Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": false }] }))),
            (Method::DELETE, None),
        ]);
        let now = idp.get(&path);
        assert_eq!(now.expect(StatusCode::OK)["displayName"], "Second", "the other client's change stands");
        assert_eq!(now.body["active"], true);
        assert_eq!(admin_user(server, "lou")["deprovisioning"], "none");

        // The current version goes through, and moves on.
        let reply = idp.send(Method::PUT, &path, Some(json!({ "schemas": [USER_SCHEMA], "userName": "lou", "displayName": "Third", "active": true })), &[("if-match", &v2)]);
        assert_eq!(reply.expect(StatusCode::OK)["displayName"], "Third");
        let v3 = etag(&idp, &path);
        assert_ne!(v3, v2);
        // Now v2 is stale too.
        assert_stale_writes_refused(server, &idp, &path, &v2, &[(Method::DELETE, None)]);
        idp.send(Method::DELETE, &path, None, &[("if-match", &v3)]).expect(StatusCode::NO_CONTENT);
    }

    fn a_stale_etag_cannot_overwrite_a_newer_group(server: &TestServer) {
        let idp = Idp::generic(server);
        let other = Idp::entra(server);
        let ann = id_of(&created(&idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "ann", "active": true })), "User"));
        let bob = id_of(&created(&idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "bob", "active": true })), "User"));
        let group = created(&idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "eng", "members": [{ "value": ann }] })), "Group");
        let path = format!("/Groups/{}", id_of(&group));
        let v1 = etag(&idp, &path);

        let reply = other.patch(&path, json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": bob }] }] }));
        other.patched(&reply, &path);
        let v2 = etag(&idp, &path);
        assert_ne!(v1, v2, "a membership change gives the group a new version");

        assert_stale_writes_refused(server, &idp, &path, &v1, &[
            // Written from v1, this PUT would silently drop bob.
            (Method::PUT, Some(json!({ "schemas": [GROUP_SCHEMA], "displayName": "eng", "members": [{ "value": ann }] }))),
            (Method::PATCH, Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove", "path": "members" }] }))),
            (Method::DELETE, None),
        ]);
        let mut members = member_ids(idp.get(&path).expect(StatusCode::OK));
        members.sort();
        let mut expected = vec![ann.clone(), bob.clone()];
        expected.sort();
        assert_eq!(members, expected, "the other client's member stays");

        let reply = idp.send(Method::PATCH, &path, Some(json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "remove", "path": "members" }] })), &[("if-match", &v2)]);
        assert!(idp.patched(&reply, &path)["members"].as_array().is_none_or(Vec::is_empty), "the current version goes through");
    }

}
