//! A change and its audit entry commit together or not at all, proved by
//! making one step fail on purpose: a database trigger aborts the audit
//! insert (the last step) or the lock insert (half-way) of a deprovisioning,
//! through the admin API and through SCIM. The request must answer 5xx and
//! leave every row as it was, with the user's session and personal key still
//! live — and once the trigger is gone, the same request must go through.
//! The engine's refusal to overwrite a concurrent change is reached the same
//! way, with a trigger that bumps the user's version mid-transaction.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::scim_support::{
    GROUP_SCHEMA, Idp, PATCH_OP, USER_SCHEMA, cli_introspect, cli_verify, created, id_of,
    set_settings,
};
use crate::support::{Backend, TestServer, assert_same_rows, both_backends};

/// A trigger that makes `BEFORE INSERT ON table` fail (or, with
/// [`bump_user_version`](Self::bump_user_version), meddle), installed
/// straight into the database and removed again.
struct InjectedFailure {
    /// What it does, for failure messages.
    what: &'static str,
    table: &'static str,
    /// SQL condition on `NEW`, or `None` for every insert.
    when: Option<String>,
    /// The trigger's body on SQLite / PostgreSQL.
    sqlite_body: &'static str,
    postgres_body: &'static str,
}

impl InjectedFailure {
    /// Every insert into `table` (matching `when`) fails.
    fn abort_insert(table: &'static str, when: Option<&str>) -> Self {
        InjectedFailure {
            what: "an insert failing",
            table,
            when: when.map(str::to_owned),
            sqlite_body: "SELECT RAISE(ABORT, 'injected failure');",
            postgres_body: "RAISE EXCEPTION 'injected failure';",
        }
    }

    /// Inserting a lock also changes its user's version, as a concurrent
    /// writer would between the engine's read and its write.
    fn bump_user_version_on_lock() -> Self {
        InjectedFailure {
            what: "the user's version bumped",
            table: "locks",
            when: None,
            sqlite_body: "UPDATE users SET version = version + 1 WHERE id = NEW.user_id;",
            postgres_body: "UPDATE users SET version = version + 1 WHERE id = NEW.user_id; RETURN NEW;",
        }
    }

    fn install(&self, server: &TestServer) {
        let table = self.table;
        let sql = match server.backend {
            Backend::Sqlite => {
                let when = self
                    .when
                    .as_ref()
                    .map_or(String::new(), |when| format!("WHEN {when}"));
                format!(
                    "CREATE TRIGGER injected BEFORE INSERT ON {table} {when} BEGIN {} END;",
                    self.sqlite_body
                )
            }
            Backend::Postgres => {
                let when = self
                    .when
                    .as_ref()
                    .map_or(String::new(), |when| format!("WHEN ({when})"));
                format!(
                    "CREATE FUNCTION injected() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {} END $$; \
                     CREATE TRIGGER injected BEFORE INSERT ON {table} FOR EACH ROW {when} EXECUTE FUNCTION injected();",
                    self.postgres_body
                )
            }
        };
        server.execute(&sql);
    }

    fn remove(&self, server: &TestServer) {
        server.execute(&match server.backend {
            Backend::Sqlite => "DROP TRIGGER injected;".to_owned(),
            Backend::Postgres => format!(
                "DROP TRIGGER injected ON {}; DROP FUNCTION injected();",
                self.table
            ),
        });
    }
}

/// How a deprovisioning is asked for.
#[derive(Debug, Clone, Copy)]
enum Route {
    AdminDeprovision,
    ScimPatch,
    ScimPut,
    ScimDelete,
}

const ROUTES: [Route; 4] = [
    Route::AdminDeprovision,
    Route::ScimPatch,
    Route::ScimPut,
    Route::ScimDelete,
];

/// A provisioned user holding everything a deprovisioning takes away: the
/// default role, a group, a session and a personal key.
struct Holder {
    user_name: String,
    id: String,
    session: String,
    personal_key: String,
}

fn holder(server: &TestServer, idp: &Idp, user_name: &str) -> Holder {
    let user = created(
        &idp.post(
            "/Users",
            json!({ "schemas": [USER_SCHEMA], "userName": user_name, "active": true }),
        ),
        "User",
    );
    let id = id_of(&user);
    created(
        &idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": format!("group-{user_name}"), "members": [{ "value": id }] })),
        "Group",
    );
    let (status, _, session) = server.http(
        Method::POST,
        &format!("/admin/v1/users/{user_name}/sessions"),
        Some(&server.root_token),
        Some(json!({})),
    );
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let (status, _, key) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": format!("{user_name} laptop"), "scopes": ["users:read"], "owner": user_name })),
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    Holder {
        user_name: user_name.to_owned(),
        id,
        session: session["token"].as_str().expect("session token").to_owned(),
        personal_key: key["token"].as_str().expect("key token").to_owned(),
    }
}

/// Asks for `holder`'s deprovisioning by `route`; the status and body.
fn deprovision(
    server: &TestServer,
    idp: &Idp,
    route: Route,
    holder: &Holder,
) -> (StatusCode, Value) {
    let path = format!("/Users/{}", holder.id);
    let reply = match route {
        Route::AdminDeprovision => {
            let (status, _, body) = server.http(
                Method::POST,
                &format!("/admin/v1/users/{}/deprovision", holder.user_name),
                Some(&server.root_token),
                Some(json!({ "reason": "leaver" })),
            );
            return (status, body);
        }
        Route::ScimPatch => idp.patch(
            &path,
            json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "replace", "path": "active", "value": false }] }),
        ),
        Route::ScimPut => idp.put(
            &path,
            json!({ "schemas": [USER_SCHEMA], "userName": holder.user_name, "active": false }),
        ),
        Route::ScimDelete => idp.delete(&path),
    };
    (reply.status, reply.body)
}

/// Asserts `holder` still has every credential: the session introspects
/// live, the personal key authenticates, verification finds access.
#[track_caller]
fn assert_still_has_access(server: &TestServer, holder: &Holder, context: &str) {
    let (code, out) = cli_introspect(server, &holder.session);
    assert_eq!(code, 0, "{context}: the session is still live: {out}");
    let (status, _, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&holder.personal_key),
        None,
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "{context}: the personal key still works: {body}"
    );
    let (code, out) = cli_verify(server, &holder.user_name);
    assert_eq!(code, 5, "{context}: not deprovisioned: {out}");
}

/// Runs every deprovisioning route against a fresh holder with `failure`
/// installed: each answers `expected` and changes nothing; without the
/// failure, the same request deprovisions.
fn each_route_fails_cleanly(server: &TestServer, failure: &InjectedFailure, expected: StatusCode) {
    let idp = Idp::generic(server);
    set_settings(server, json!({ "default_role": "auditor" }));
    for route in ROUTES {
        let context = format!("{route:?} with {} on {}", failure.what, failure.table);
        let holder = holder(server, &idp, &format!("{route:?}").to_lowercase());
        failure.install(server);
        let before = server.snapshot();

        let (status, body) = deprovision(server, &idp, route, &holder);
        assert_eq!(status, expected, "{context}: {body}");
        if matches!(route, Route::AdminDeprovision) {
            assert!(
                body["error"]["message"].is_string(),
                "{context}: an admin error body: {body}"
            );
        } else {
            assert_eq!(
                body["status"],
                expected.as_u16().to_string(),
                "{context}: a SCIM error body: {body}"
            );
        }
        assert_same_rows(&before, &server.snapshot(), &context);
        let audited = server.query_rows(&format!(
            "SELECT id FROM audit_log WHERE action LIKE 'user.%' AND target = '{}' AND action <> 'user.create'",
            holder.user_name
        ));
        assert!(audited.is_empty(), "{context}: no audit entry: {audited:?}");
        assert_still_has_access(server, &holder, &context);

        failure.remove(server);
        let (status, body) = deprovision(server, &idp, route, &holder);
        assert!(
            status.is_success(),
            "{context}: without the failure it goes through: {status} {body}"
        );
        let (code, out) = cli_verify(server, &holder.user_name);
        assert_eq!(code, 0, "{context}: then deprovisioned: {out}");
    }
}

both_backends! {
    fn a_failed_audit_insert_undoes_the_deprovisioning(server: &TestServer) {
        let failure = InjectedFailure::abort_insert("audit_log", Some("NEW.action = 'user.deprovision'"));
        each_route_fails_cleanly(server, &failure, StatusCode::INTERNAL_SERVER_ERROR);
    }

    fn a_failed_lock_insert_undoes_the_steps_before_it(server: &TestServer) {
        // Roles, groups, keys and sessions are gone by the time the lock is
        // written: all of that must come back.
        let failure = InjectedFailure::abort_insert("locks", None);
        each_route_fails_cleanly(server, &failure, StatusCode::INTERNAL_SERVER_ERROR);
    }

    fn a_concurrent_change_to_the_user_is_refused_not_overwritten(server: &TestServer) {
        let failure = InjectedFailure::bump_user_version_on_lock();
        each_route_fails_cleanly(server, &failure, StatusCode::CONFLICT);
    }

    fn a_failed_audit_insert_undoes_a_pending_deprovisioning(server: &TestServer) {
        let idp = Idp::generic(server);
        set_settings(server, json!({ "auto_deprovisioning": false, "default_role": "auditor" }));
        let holder = holder(server, &idp, "pending");
        let failure = InjectedFailure::abort_insert("audit_log", Some("NEW.action = 'user.deprovision_pending'"));
        failure.install(server);
        let before = server.snapshot();
        let (status, body) = deprovision(server, &idp, Route::ScimPatch, &holder);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_same_rows(&before, &server.snapshot(), "the user is neither inactive nor pending");
        assert_eq!(idp.get(&format!("/Users/{}", holder.id)).expect(StatusCode::OK)["active"], true);
    }

    fn no_change_commits_without_its_audit_entry(server: &TestServer) {
        // Every change the admin and SCIM APIs make, with every audit insert
        // failing: each is refused and leaves the database as it was.
        let idp = Idp::generic(server);
        let user = created(&idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "una", "active": true })), "User");
        let user_id = id_of(&user);
        let group = created(&idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "ops" })), "Group");
        let group_id = id_of(&group);
        let (status, _, key) = server.http(Method::POST, "/admin/v1/keys", Some(&server.root_token), Some(json!({ "name": "victim", "scopes": ["users:read"] })));
        assert_eq!(status, StatusCode::CREATED);
        let key_id = key["id"].as_str().expect("id").to_owned();
        let (status, _, report) = server.http(Method::POST, "/admin/v1/users", Some(&server.root_token), Some(json!({ "user_name": "locked" })));
        assert_eq!(status, StatusCode::CREATED, "{report}");
        let (status, _, report) = server.http(Method::POST, "/admin/v1/users/locked/deprovision", Some(&server.root_token), Some(json!({})));
        assert_eq!(status, StatusCode::OK, "{report}");
        let lock_id = report["lock"].as_str().expect("lock").to_owned();

        let failure = InjectedFailure::abort_insert("audit_log", Some("NEW.action <> 'auth.denied'"));
        failure.install(server);
        let before = server.snapshot();
        let admin: Vec<(Method, String, Option<Value>)> = vec![
            (Method::POST, "/admin/v1/keys".into(), Some(json!({ "name": "new", "scopes": ["users:read"] }))),
            (Method::DELETE, format!("/admin/v1/keys/{key_id}"), None),
            (Method::PATCH, "/admin/v1/settings".into(), Some(json!({ "auto_provisioning": false }))),
            (Method::POST, "/admin/v1/allowlist".into(), Some(json!({ "entries": [{ "cidr": "127.0.0.0/8" }] }))),
            (Method::POST, "/admin/v1/roles".into(), Some(json!({ "name": "viewer", "permissions": ["users:read"] }))),
            (Method::POST, "/admin/v1/users".into(), Some(json!({ "user_name": "newcomer" }))),
            (Method::POST, "/admin/v1/users/una/sessions".into(), Some(json!({}))),
            (Method::POST, "/admin/v1/users/una/deprovision".into(), Some(json!({}))),
            (Method::DELETE, format!("/admin/v1/locks/{lock_id}"), None),
        ];
        for (method, path, body) in admin {
            let (status, _, answer) = server.http(method.clone(), &path, Some(&server.root_token), body);
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: {answer}");
        }
        let scim = [
            idp.post("/Users", json!({ "schemas": [USER_SCHEMA], "userName": "vera", "active": true })),
            idp.patch(&format!("/Users/{user_id}"), json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "nickName", "value": "U" }] })),
            idp.put(&format!("/Users/{user_id}"), json!({ "schemas": [USER_SCHEMA], "userName": "una", "title": "new" })),
            idp.post("/Groups", json!({ "schemas": [GROUP_SCHEMA], "displayName": "devs" })),
            idp.patch(&format!("/Groups/{group_id}"), json!({ "schemas": [PATCH_OP], "Operations": [{ "op": "add", "path": "members", "value": [{ "value": user_id }] }] })),
            idp.delete(&format!("/Groups/{group_id}")),
            idp.delete(&format!("/Users/{user_id}")),
        ];
        for reply in scim {
            assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{} {}: {}", reply.method, reply.path, reply.body);
        }
        assert_same_rows(&before, &server.snapshot(), "no change without its audit entry");
        failure.remove(server);
    }
}
