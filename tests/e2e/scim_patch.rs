//! SCIM PATCH through the real server on both backends: the operations
//! Entra ID and Okta send reach the directory (seen through GET and the
//! real `scimctl` binary), a refused PATCH answers its RFC 7644 §3.12 error
//! and changes nothing, and group membership changes touch only the rows
//! they name.

use std::process::Output;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::scim_support::{
    ENTERPRISE, GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, created, emails, id_of, member_ids,
    scim_error, sorted,
};
use crate::support::{Backend, TestServer, both_backends};

fn patch_op(operations: Value) -> Value {
    json!({ "schemas": [PATCH_OP], "Operations": operations })
}

/// `POST /Users` with a work email; returns the created user.
fn create_user(idp: &Idp, user_name: &str) -> Value {
    let reply = idp.post(
        "/Users",
        json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "name": { "givenName": "Barbara", "familyName": "Jensen" },
            "emails": [{ "value": user_name, "type": "work", "primary": true }],
            "active": true
        }),
    );
    created(&reply, "User")
}

/// `scimctl … -o json` as root: exits 0 and prints JSON.
fn cli_json(server: &TestServer, args: &[&str]) -> Value {
    let output: Output = server
        .cli_with_token(&server.root_token)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("run scimctl");
    assert_eq!(
        output.status.code(),
        Some(0),
        "scimctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "scimctl {args:?} -o json prints JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Where each membership row of the group is stored (SQLite `rowid`,
/// PostgreSQL `ctid`), by member id: a rewrite of the group moves every row.
fn member_rows(server: &TestServer, group_id: &str) -> Vec<(String, String)> {
    let location = match server.backend {
        Backend::Sqlite => "CAST(rowid AS TEXT)",
        Backend::Postgres => "CAST(ctid AS TEXT)",
    };
    let mut rows: Vec<(String, String)> = server
        .query_rows(&format!(
            "SELECT user_id, {location} AS place FROM group_members WHERE group_id = '{group_id}'"
        ))
        .into_iter()
        .map(|row| (row["user_id"].clone(), row["place"].clone()))
        .collect();
    rows.sort();
    rows
}

both_backends! {
    fn entra_and_okta_operations_reach_the_directory(server: &TestServer) {
        let entra = Idp::entra(server);
        let user = create_user(&entra, "bjensen@example.com");
        let path = format!("/Users/{}", id_of(&user));

        // Entra: capitalised ops, a value-filtered path, a no-path value with
        // dotted and URN keys, a string boolean, the manager as a bare id.
        let reply = entra.patch(&path, patch_op(json!([
            { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "barbara@contoso.com" },
            { "op": "Add", "value": {
                "name.givenName": "Babs",
                "displayName": "Babs Jensen",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tour Operations"
            } },
            { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "26118915-6090-4610-87e4-49d8ca9f808d" },
            { "op": "Replace", "path": "active", "value": "True" },
            { "op": "add", "path": "title", "value": "Tour Guide" },
        ])));
        let patched = entra.patched(&reply, &path);
        assert_eq!(emails(&patched), [("barbara@contoso.com".to_owned(), Some("work".to_owned()), true)]);
        assert_eq!(patched["name"]["givenName"], "Babs");
        assert_eq!(patched["name"]["familyName"], "Jensen");
        assert_eq!(patched["displayName"], "Babs Jensen");
        assert_eq!(patched["title"], "Tour Guide");
        assert_eq!(patched["active"], json!(true));
        assert_eq!(
            patched[ENTERPRISE],
            json!({ "department": "Tour Operations", "manager": { "value": "26118915-6090-4610-87e4-49d8ca9f808d" } })
        );
        assert!(patched["schemas"].as_array().expect("schemas").contains(&json!(ENTERPRISE)));
        assert_eq!(entra.get(&path).expect(StatusCode::OK), &patched, "GET shows what PATCH answered");

        // The directory sees it too, through the real CLI.
        let shown = cli_json(server, &["users", "show", "bjensen@example.com"]);
        assert_eq!(shown["given_name"], "Babs");
        assert_eq!(shown["display_name"], "Babs Jensen");
        assert_eq!(shown["emails"][0]["value"], "barbara@contoso.com");

        // Okta: removal by path, and a no-path replace.
        let okta = Idp::okta(server);
        let reply = okta.patch(&path, patch_op(json!([
            { "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" },
            { "op": "remove", "path": "title" },
            { "op": "replace", "value": { "displayName": "Barbara Jensen", "name": { "familyName": "Jensen-Smith" } } },
        ])));
        let patched = okta.patched(&reply, &path);
        assert_eq!(patched[ENTERPRISE], json!({ "department": "Tour Operations" }));
        assert!(patched.get("title").is_none(), "{patched}");
        assert_eq!(patched["name"], json!({ "givenName": "Babs", "familyName": "Jensen-Smith" }));
        let shown = cli_json(server, &["users", "show", "bjensen@example.com"]);
        assert_eq!(shown["family_name"], "Jensen-Smith");
        assert_eq!(shown["display_name"], "Barbara Jensen");
    }

    fn a_refused_patch_answers_its_error_and_changes_nothing(server: &TestServer) {
        let idp = Idp::generic(server);
        let user = create_user(&idp, "refused@example.com");
        let path = format!("/Users/{}", id_of(&user));
        let before = idp.get(&path).expect(StatusCode::OK).clone();
        let updates_before = idp.audited_actions().iter().filter(|action| *action == "user.update").count();

        let cases = [
            (json!([{ "op": "remove", "path": "emails[type eq \"pager\"]" }]), "noTarget"),
            (json!([{ "op": "replace", "path": "emails[type eq \"home\"].value", "value": "x@y.z" }]), "noTarget"),
            (json!([{ "op": "remove" }]), "noTarget"),
            (json!([{ "op": "remove", "path": "emails[type eq \"work\"" }]), "invalidPath"),
            (json!([{ "op": "replace", "path": "active", "value": "maybe" }]), "invalidValue"),
            (json!([{ "op": "replace", "path": "name", "value": "Barbara Jensen" }]), "invalidValue"),
            (json!([{ "op": "remove", "path": "userName" }]), "mutability"),
            (json!([{ "op": "replace", "path": "id", "value": "mine" }]), "mutability"),
            (json!([{ "op": "add", "path": "groups", "value": [{ "value": "x" }] }]), "mutability"),
            (json!([{ "op": "move", "path": "title", "value": "x" }]), "invalidSyntax"),
            // The first operation is fine; the second fails; neither applies.
            (json!([
                { "op": "replace", "path": "displayName", "value": "changed" },
                { "op": "remove", "path": "emails[value eq \"nobody@example.com\"]" },
            ]), "noTarget"),
        ];
        for (operations, scim_type) in cases {
            let reply = idp.patch(&path, patch_op(operations.clone()));
            let detail = scim_error(&reply, StatusCode::BAD_REQUEST, Some(scim_type));
            assert!(detail.len() > 10, "{operations}: the detail says what was wrong: {detail}");
            assert_eq!(idp.get(&path).expect(StatusCode::OK), &before, "{operations} changed nothing");
        }
        let reply = idp.patch(&path, json!({ "Operations": [{ "op": "add", "path": "title", "value": "x" }] }));
        scim_error(&reply, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
        assert_eq!(idp.get(&path).expect(StatusCode::OK), &before);
        let updates_after = idp.audited_actions().iter().filter(|action| *action == "user.update").count();
        assert_eq!(updates_after, updates_before, "no refused PATCH was audited as an update");
    }

    fn group_members_change_one_row_at_a_time(server: &TestServer) {
        let okta = Idp::okta(server);
        let ids: Vec<String> = (0..40)
            .map(|n| id_of(&create_user(&okta, &format!("member{n:02}@example.com"))))
            .collect();
        let members: Vec<Value> = ids[..30].iter().map(|id| json!({ "value": id })).collect();
        let group = created(
            &okta.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Tour Guides", "members": members })),
            "Group",
        );
        let group_id = id_of(&group);
        let path = format!("/Groups/{group_id}");
        let rows_before = member_rows(server, &group_id);
        assert_eq!(rows_before.len(), 30);

        // Okta's group push: one removal by filter and one addition in a
        // single request.
        let reply = okta.patch(&path, patch_op(json!([
            { "op": "remove", "path": format!("members[value eq \"{}\"]", ids[0]) },
            { "op": "add", "path": "members", "value": [{ "value": ids[30], "display": "member30@example.com" }] },
        ])));
        assert!(reply.status == StatusCode::OK || reply.status == StatusCode::NO_CONTENT, "{}", reply.body);
        let rows_after = member_rows(server, &group_id);
        let untouched: Vec<&(String, String)> = rows_before.iter().filter(|(id, _)| *id != ids[0]).collect();
        for row in &untouched {
            assert!(rows_after.contains(row), "member row {row:?} stayed where it was: {rows_after:?}");
        }
        assert_eq!(rows_after.len(), 30);
        assert!(rows_after.iter().any(|(id, _)| *id == ids[30]));
        assert!(!rows_after.iter().any(|(id, _)| *id == ids[0]));

        // Entra's removal: `Remove` + `path: members` + a value list.
        let entra = Idp::entra(server);
        let reply = entra.patch(&path, patch_op(json!([
            { "op": "Remove", "path": "members", "value": [{ "$ref": null, "value": ids[1] }, { "$ref": null, "value": ids[2] }] },
        ])));
        assert!(reply.status == StatusCode::OK || reply.status == StatusCode::NO_CONTENT, "{}", reply.body);
        assert_eq!(member_rows(server, &group_id).len(), 28);

        // A rename with the group's own id echoed (Okta) leaves members be.
        let reply = okta.patch(&path, patch_op(json!([
            { "op": "replace", "value": { "id": group_id, "displayName": "Guides" } },
        ])));
        assert!(reply.status == StatusCode::OK || reply.status == StatusCode::NO_CONTENT, "{}", reply.body);
        let shown = cli_json(server, &["groups", "show", "Guides"]);
        assert_eq!(shown["member_count"], 28);
        let expected: Vec<&str> = ids[3..31].iter().map(String::as_str).collect();
        let got = okta.get(&path).expect(StatusCode::OK).clone();
        assert_eq!(got["displayName"], "Guides");
        assert_eq!(member_ids(&got), sorted(&expected));

        // The audit names exactly the members each change touched.
        let changes: Vec<(String, Value)> = crate::scim_support::audit_rows(server, "action LIKE 'group.member.%'")
            .into_iter()
            .map(|row| (row["action"].clone(), serde_json::from_str(&row["details"]).unwrap_or(Value::Null)))
            .collect();
        let named = |action: &str| -> Vec<Value> {
            changes
                .iter()
                .filter(|(kind, _)| kind == action)
                .map(|(_, details)| details["members"].clone())
                .collect()
        };
        assert!(named("group.member.remove").contains(&json!([ids[0]])), "{changes:?}");
        assert!(named("group.member.remove").contains(&json!([ids[1], ids[2]])), "{changes:?}");
        assert!(named("group.member.add").contains(&json!([ids[30]])), "{changes:?}");

        // A member's id cannot be rewritten; the group stays as it was.
        let reply = okta.patch(&path, patch_op(json!([
            { "op": "replace", "path": format!("members[value eq \"{}\"].value", ids[3]), "value": ids[35] },
        ])));
        scim_error(&reply, StatusCode::BAD_REQUEST, Some("mutability"));
        assert_eq!(member_ids(okta.get(&path).expect(StatusCode::OK)), sorted(&expected));
    }

    fn replacing_and_removing_all_members_reach_the_directory(server: &TestServer) {
        let okta = Idp::okta(server);
        let ids: Vec<String> = (0..5)
            .map(|n| id_of(&create_user(&okta, &format!("crew{n}@example.com"))))
            .collect();
        let group = created(
            &okta.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "Crew", "members": [{ "value": ids[0] }, { "value": ids[1] }, { "value": ids[2] }] })),
            "Group",
        );
        let path = format!("/Groups/{}", id_of(&group));
        let groups_of = |user: &str| -> Vec<String> {
            cli_json(server, &["users", "show", user])["groups"]
                .as_array()
                .expect("groups")
                .iter()
                .map(|group| group["display_name"].as_str().expect("display_name").to_owned())
                .collect()
        };

        // `replace` on `members` with a value: exactly that list, whatever
        // was there (RFC 7644 §3.5.2.3).
        let reply = okta.patch(&path, patch_op(json!([
            { "op": "replace", "path": "members", "value": [{ "value": ids[2] }, { "value": ids[3] }] },
        ])));
        assert_eq!(member_ids(&okta.patched(&reply, &path)), sorted(&[&ids[2], &ids[3]]));
        assert_eq!(cli_json(server, &["groups", "show", "Crew"])["member_count"], 2);
        assert!(groups_of("crew0@example.com").is_empty(), "a replaced-away member left the group");
        assert_eq!(groups_of("crew3@example.com"), ["Crew"]);

        // The same without a path (Entra's form): the attribute in the value.
        let entra = Idp::entra(server);
        let reply = entra.patch(&path, patch_op(json!([
            { "op": "Replace", "value": { "members": [{ "value": ids[4] }] } },
        ])));
        assert_eq!(member_ids(&entra.patched(&reply, &path)), [ids[4].clone()]);

        // `remove` on `members` with no value: every member goes, the group
        // stays (RFC 7644 §3.5.2.2: "If the target location is a multi-valued
        // attribute and no filter is specified, the attribute and all values
        // are removed").
        let reply = okta.patch(&path, patch_op(json!([{ "op": "remove", "path": "members" }])));
        let emptied = okta.patched(&reply, &path);
        assert!(member_ids(&emptied).is_empty(), "{emptied}");
        assert_eq!(emptied["displayName"], "Crew");
        assert_eq!(cli_json(server, &["groups", "show", "Crew"])["member_count"], 0);
        for n in 0..5 {
            assert!(groups_of(&format!("crew{n}@example.com")).is_empty(), "crew{n} is in no group");
        }
        let rows = server.query_rows("SELECT group_id FROM group_members");
        assert!(rows.is_empty(), "no membership row is left: {rows:?}");

        // Each change is audited with exactly the members it touched (in
        // any order).
        let mut changes: Vec<(String, Vec<String>)> = crate::scim_support::audit_rows(server, "action LIKE 'group.member.%'")
            .into_iter()
            .map(|row| {
                let details: Value = serde_json::from_str(&row["details"]).expect("details");
                let mut members: Vec<String> = serde_json::from_value(details["members"].clone()).expect("member ids");
                members.sort();
                (row["action"].clone(), members)
            })
            .collect();
        changes.sort();
        let mut expected = vec![
            ("group.member.remove".to_owned(), sorted(&[&ids[0], &ids[1]])),
            ("group.member.add".to_owned(), vec![ids[3].clone()]),
            ("group.member.remove".to_owned(), sorted(&[&ids[2], &ids[3]])),
            ("group.member.add".to_owned(), vec![ids[4].clone()]),
            ("group.member.remove".to_owned(), vec![ids[4].clone()]),
        ];
        expected.sort();
        assert_eq!(changes, expected);
    }
}
