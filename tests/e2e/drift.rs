//! `scimctl drift --from FILE` through the real CLI against the real
//! server, on SQLite and PostgreSQL: Okta- and Entra-shaped exports list
//! exactly what differs (exit 5), a matching one exits 0, and a malformed
//! file is a usage error that sends nothing.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::cli_output::{root, stderr, stdout_json};
use crate::support::{TestServer, both_backends, free_port_addr};

/// The directory every test starts from: alice (eng, ops), bob (eng) and
/// carol active; dave deprovisioned.
fn directory(server: &TestServer) {
    for args in [
        &[
            "users",
            "create",
            "alice@example.com",
            "--group",
            "eng",
            "--group",
            "ops",
            "--create-groups",
        ][..],
        &["users", "create", "bob@example.com", "--group", "eng"],
        &["users", "create", "carol@example.com"],
        &["users", "create", "dave@example.com"],
        &["users", "deprovision", "dave@example.com", "--yes"],
    ] {
        root(server, args, 0);
    }
}

fn export(server: &TestServer, name: &str, text: &str) -> PathBuf {
    let path = server.home().join(name);
    std::fs::write(&path, text).expect("write the export");
    path
}

fn drift(server: &TestServer, path: &Path, code: i32) -> Output {
    let path = path.to_str().expect("utf-8 path");
    root(server, &["drift", "--from", path, "-o", "json"], code)
}

/// (userName, kind, group) of each difference, in the order printed.
fn differences(output: &Output) -> Vec<(String, String, Option<String>)> {
    stdout_json(output)
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| {
            (
                d["user_name"].as_str().expect("user_name").to_owned(),
                d["kind"].as_str().expect("kind").to_owned(),
                d["group"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn diff(user: &str, kind: &str, group: Option<&str>) -> (String, String, Option<String>) {
    (user.to_owned(), kind.to_owned(), group.map(str::to_owned))
}

both_backends! {
    fn an_okta_export_lists_each_difference(server: &TestServer) {
        directory(server);
        // Okta's people export: Username and Status, among other columns;
        // userNames in another case than the directory's.
        let path = export(server, "okta.csv", "\
id,Username,First name,Last name,Primary email,Status
00u1,ALICE@example.com,Alice,A,alice@example.com,ACTIVE
00u2,bob@example.com,Bob,B,bob@example.com,SUSPENDED
00u4,dave@example.com,Dave,D,dave@example.com,ACTIVE
00u5,erin@example.com,Erin,E,erin@example.com,PASSWORD_EXPIRED
00u6,frank@example.com,Frank,F,frank@example.com,DEPROVISIONED
");
        let output = drift(server, &path, 5);
        assert_eq!(
            differences(&output),
            vec![
                diff("bob@example.com", "inactive_in_idp", None),
                diff("carol@example.com", "not_in_idp", None),
                diff("dave@example.com", "inactive_here", None),
                diff("erin@example.com", "missing_here", None),
            ]
        );
        let err = stderr(&output);
        assert!(
            err.contains("drift: 4 differences (not_in_idp 1, inactive_in_idp 1, missing_here 1, \
                          inactive_here 1); 5 users in the export, 4 here"),
            "{err}"
        );
        assert!(err.contains("no groups column"), "{err}");
        // The table: a row per difference under USER, KIND, DETAIL.
        let path = path.to_str().expect("utf-8");
        let table = root(server, &["drift", "--from", path], 5);
        let table = String::from_utf8_lossy(&table.stdout).into_owned();
        assert!(table.starts_with("USER"), "{table}");
        assert!(table.lines().any(|l| l.starts_with("erin@example.com") && l.contains("missing_here")), "{table}");
    }

    fn an_entra_export_with_groups_lists_each_difference(server: &TestServer) {
        directory(server);
        // Entra ID's "Download users" columns, with a groups column added.
        let path = export(server, "entra.csv", "\
\u{feff}userPrincipalName,displayName,surname,mail,givenName,objectId,userType,accountEnabled,groups
alice@example.com,Alice,A,alice@example.com,Alice,1,Member,True,eng;sales
bob@example.com,Bob,B,bob@example.com,Bob,2,Member,True,eng
carol@example.com,Carol,C,carol@example.com,Carol,3,Member,False,
erin@example.com,Erin,E,erin@example.com,Erin,5,Member,False,
");
        let output = drift(server, &path, 5);
        assert_eq!(
            differences(&output),
            vec![
                diff("alice@example.com", "group_missing_here", Some("sales")),
                diff("alice@example.com", "group_only_here", Some("ops")),
                diff("carol@example.com", "inactive_in_idp", None),
            ]
        );
    }

    fn a_matching_export_exits_0(server: &TestServer) {
        directory(server);
        let path = export(server, "plain.csv", "\
userName,active,groups
alice@example.com,true,\"ops, eng\"
bob@example.com,yes,eng
carol@example.com,1,
dave@example.com,false,
");
        let output = drift(server, &path, 0);
        assert!(differences(&output).is_empty());
        assert!(stderr(&output).contains("no drift: 4 users in the export, 4 here"), "{}", stderr(&output));
    }
}

#[test]
fn a_malformed_export_is_a_usage_error_and_nothing_is_sent() {
    // Nothing listens at the address: exit 2 (not 1) shows the file was
    // refused before any request.
    let addr = free_port_addr();
    let dir = tempfile::tempdir().expect("temp dir");
    let cases = [
        (
            "userName,active\nalice,true\nbob,maybe\n",
            "line 3: column \"active\": \"maybe\" is not an active state",
        ),
        (
            "email,Status\na@example.com,ACTIVE\n",
            "line 1: no userName column",
        ),
        (
            "Username,First name\nalice,Alice\n",
            "line 1: no active column",
        ),
        (
            "userName,active\nalice,true,x\n",
            "line 2: 3 fields where the header has 2",
        ),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("export.csv");
        std::fs::write(&path, text).expect("write");
        let output = crate::support::bare_cli()
            .env("SCIMCTL_ADDR", &addr)
            .env("SCIMCTL_TOKEN", "scimctl_a_b")
            .args(["drift", "--from"])
            .arg(&path)
            .output()
            .expect("run scimctl");
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(expected),
            "{expected}: {}",
            stderr(&output)
        );
    }
    let output = crate::support::bare_cli()
        .env("SCIMCTL_ADDR", &addr)
        .env("SCIMCTL_TOKEN", "scimctl_a_b")
        .args(["drift", "--from", "/nonexistent/users.csv"])
        .output()
        .expect("run scimctl");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("cannot read it"),
        "{}",
        stderr(&output)
    );
}
