//! How the real CLI prints against the real server: `-o yaml|csv`, `--jq`,
//! `--columns`, tables fitted to a terminal, key status, and the pager.
//! Output does not depend on the store, so these run on SQLite only.
//! Terminal behaviour runs the binary in a pseudo-terminal made by
//! util-linux `script`, sized with `stty`, with no stdin (as in CI).

use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use unicode_width::UnicodeWidthStr;

use crate::cli_output::{root, stderr, stdout};
use crate::support::{Backend, TestServer, free_port_addr};

fn server() -> TestServer {
    TestServer::start(Backend::Sqlite).expect("SQLite tests always run")
}

fn create_user(server: &TestServer, body: Value) {
    let (status, _, answer) = server.http(
        Method::POST,
        "/admin/v1/users",
        Some(&server.root_token),
        Some(body),
    );
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

fn create_key(server: &TestServer, name: &str, scopes: &[&str]) -> String {
    let (status, _, key) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(json!({ "name": name, "scopes": scopes })),
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key["id"].as_str().expect("id").to_owned()
}

/// `scimctl args` as root in a pseudo-terminal `columns` wide, with `env`
/// added; returns what the terminal showed (CRs removed) and the exit code.
fn in_terminal(
    server: &TestServer,
    columns: u16,
    env: &[(&str, &str)],
    args: &str,
) -> (String, i32) {
    let binary = assert_cmd::cargo::cargo_bin!("scimctl");
    let script = format!(
        "stty cols {columns} rows 50; exec {} {args}",
        binary.display()
    );
    let mut command = Command::new("script");
    command
        .args(["-qec", &script, "/dev/null"])
        .env("HOME", server.home())
        .env("XDG_CONFIG_HOME", server.home().join(".config"))
        .env("SCIMCTL_ADDR", &server.addr)
        .env("SCIMCTL_TOKEN", &server.root_token)
        .env("NO_COLOR", "1")
        .env_remove("PAGER")
        .env_remove("LESS")
        .env_remove("SCIMCTL_PROFILE")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .expect("run script(1): util-linux is needed");
    // The progress line on stderr shares the terminal and is erased (CR,
    // erase line) before the data: keep what is left on each line.
    let text: String = stdout(&output)
        .split('\n')
        .map(|line| {
            line.rsplit("\x1b[2K")
                .next()
                .unwrap_or(line)
                .replace('\r', "")
        })
        .collect::<Vec<_>>()
        .join("\n");
    (text, output.status.code().unwrap_or(-1))
}

/// Where `pattern` starts in `line`, in display columns.
fn column(line: &str, pattern: &str) -> Option<usize> {
    line.find(pattern).map(|at| line[..at].width())
}

#[test]
fn yaml_and_csv_for_lists_streamed_lists_and_single_resources() {
    let server = server();
    create_key(&server, "ci, nightly", &["users:read", "scim:provision"]);
    for name in ["alice", "bob", "carol"] {
        create_user(
            &server,
            json!({ "user_name": name, "display_name": format!("{name} Example") }),
        );
    }

    // A list is one YAML sequence of the same objects as the JSON array.
    let json: Value =
        serde_json::from_slice(&root(&server, &["keys", "list", "-o", "json"], 0).stdout)
            .expect("json");
    let yaml: Value =
        serde_yaml_ng::from_slice(&root(&server, &["keys", "list", "-o", "yaml"], 0).stdout)
            .expect("yaml");
    assert_eq!(yaml, json);

    // A streamed listing too, and one resource is one mapping.
    let users: Value =
        serde_yaml_ng::from_slice(&root(&server, &["users", "list", "-o", "yaml"], 0).stdout)
            .expect("yaml");
    assert_eq!(users.as_array().expect("a sequence").len(), 3, "{users}");
    let alice: Value = serde_yaml_ng::from_slice(
        &root(&server, &["users", "show", "alice", "-o", "yaml"], 0).stdout,
    )
    .expect("yaml");
    assert_eq!(alice["user_name"], "alice");

    // CSV: the table's columns, one header line, quoted where needed.
    let csv = stdout(&root(&server, &["keys", "list", "-o", "csv"], 0));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..3], ["id", "name", "status"], "{csv}");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows.iter().any(|row| &row[1] == "ci, nightly"), "{csv}");

    let csv = stdout(&root(&server, &["users", "list", "-o", "csv"], 0));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "username,display-name,active,roles,groups,deprovisioning,origin"
    );
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(
        lines[1], "alice,alice Example,yes,member,-,-,manual",
        "{csv}"
    );

    // One resource: a header and its row; a setting: its JSON fields.
    let csv = stdout(&root(&server, &["users", "show", "bob", "-o", "csv"], 0));
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.starts_with("username,"), "{csv}");
    let csv = stdout(&root(&server, &["provisioning", "status", "-o", "csv"], 0));
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // Where the table shortens a cell, CSV has it whole: audit details as
    // their JSON.
    let csv = stdout(&root(
        &server,
        &["audit", "list", "-o", "csv", "--columns", "action,details"],
        0,
    ));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let created = reader
        .records()
        .map(|row| row.expect("row"))
        .find(|row| &row[0] == "key.create")
        .expect("the key's creation is audited");
    let details: Value = serde_json::from_str(&created[1]).expect("details as JSON");
    assert_eq!(details["name"], "ci, nightly", "{csv}");

    // An empty listing: `[]` in YAML, the header alone in CSV.
    let none = stdout(&root(
        &server,
        &["users", "list", "--search", "nobody", "-o", "yaml"],
        0,
    ));
    assert_eq!(none, "[]\n");
    let none = stdout(&root(
        &server,
        &["users", "list", "--search", "nobody", "-o", "csv"],
        0,
    ));
    assert_eq!(none.lines().count(), 1, "{none}");
}

#[test]
fn jq_filters_the_json_and_a_bad_filter_is_a_usage_error_before_any_request() {
    let server = server();
    create_key(&server, "nightly report", &["users:read"]);
    for name in ["alice", "bob"] {
        create_user(&server, json!({ "user_name": name }));
    }

    // Strings print raw, one per line, ready for xargs.
    let names = stdout(&root(&server, &["keys", "list", "--jq", ".[].name"], 0));
    assert_eq!(names, "nightly report\ninitial admin\n", "{names}");
    // Anything else as JSON; on a streamed listing, over the whole array.
    let users = stdout(&root(
        &server,
        &["users", "list", "--jq", "map(.user_name)"],
        0,
    ));
    let users: Value = serde_json::from_str(&users).expect("json");
    assert_eq!(users, json!(["alice", "bob"]));
    let count = stdout(&root(
        &server,
        &["users", "list", "-o", "json", "--jq", "length"],
        0,
    ));
    assert_eq!(count, "2\n");
    let one = stdout(&root(
        &server,
        &["users", "show", "alice", "--jq", ".roles"],
        0,
    ));
    assert_eq!(
        serde_json::from_str::<Value>(&one).expect("json"),
        json!(["member"])
    );

    // A bad filter: exit 2, naming the problem, with no server to ask.
    let nowhere = free_port_addr();
    let output = server
        .cli_as_root()
        .env("SCIMCTL_ADDR", &nowhere)
        .args(["users", "list", "--jq", ".[] | select(.active =="])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--jq"), "{}", stderr(&output));
    assert!(stderr(&output).contains("expected"), "{}", stderr(&output));
    let output = server
        .cli_as_root()
        .env("SCIMCTL_ADDR", &nowhere)
        .args(["keys", "list", "--jq", "nosuchfn"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("nosuchfn"), "{}", stderr(&output));

    // --jq filters JSON: another -o with it is a usage error.
    let output = root(&server, &["keys", "list", "-o", "csv", "--jq", "."], 2);
    assert!(stderr(&output).contains("--jq"), "{}", stderr(&output));

    // A filter that fails on the data is an error (exit 1), said on stderr.
    let output = root(&server, &["keys", "list", "--jq", ".name"], 1);
    assert!(stderr(&output).contains("--jq"), "{}", stderr(&output));
}

#[test]
fn columns_choose_and_order_table_and_csv_columns() {
    let server = server();
    create_user(&server, json!({ "user_name": "alice" }));

    let table = stdout(&root(
        &server,
        &["users", "list", "--columns", "origin,username"],
        0,
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines, ["ORIGIN  USERNAME", "manual  alice"], "{table}");

    let csv = stdout(&root(
        &server,
        &["keys", "list", "-o", "csv", "--columns", "status,ID"],
        0,
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(lines[0], "status,id", "{csv}");
    assert!(lines[1].starts_with("live,"), "{csv}");

    // An unknown column: exit 2 naming the valid ones, before any request
    // on a streamed listing.
    let output = server
        .cli_as_root()
        .env("SCIMCTL_ADDR", free_port_addr())
        .args(["users", "list", "--columns", "username,colour"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(text.contains("\"colour\""), "{text}");
    assert!(text.contains("username, display-name, active"), "{text}");

    // And on a whole list.
    let output = server
        .cli_as_root()
        .env("SCIMCTL_ADDR", free_port_addr())
        .args(["keys", "list", "--columns", "nope"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("last-used-ip"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn keys_list_marks_live_expired_and_revoked_keys() {
    let server = server();
    let expired = create_key(&server, "old export", &["users:read"]);
    let revoked = create_key(&server, "leaked", &["users:read"]);
    server.execute(&format!(
        "UPDATE api_keys SET expires_at = 1000 WHERE id = '{expired}'"
    ));
    root(&server, &["keys", "revoke", &revoked, "--yes"], 0);

    let table = stdout(&root(&server, &["keys", "list", "--all"], 0));
    let lines: Vec<&str> = table.lines().collect();
    let at = column(lines[0], "STATUS").expect("a STATUS column");
    let status_of = |id: &str| {
        let line = lines
            .iter()
            .find(|line| line.starts_with(id))
            .expect("the key's row");
        line[at..]
            .split_whitespace()
            .next()
            .expect("a status")
            .to_owned()
    };
    assert_eq!(status_of(&expired), "expired", "{table}");
    assert_eq!(status_of(&revoked), "revoked", "{table}");
    assert!(lines[0].contains("REVOKED"), "{table}");
    let live = lines.iter().filter(|line| line.contains(" live ")).count();
    assert_eq!(live, 1, "the root key is live:\n{table}");
}

#[test]
fn tables_fit_the_terminal_and_streamed_pages_line_up() {
    let server = server();
    create_key(
        &server,
        "nightly report for the finance team's quarterly reconciliation",
        &["scim:provision", "users:read", "users:write", "groups:read"],
    );
    // More than one page of users (100 a page), one with a long name.
    for n in 0..104 {
        create_user(
            &server,
            json!({ "user_name": format!("user{n:03}"), "display_name": "Short" }),
        );
    }
    create_user(
        &server,
        json!({
            "user_name": "zz-last",
            "display_name": "A display name far longer than any other in the directory",
        }),
    );

    let (text, code) = in_terminal(&server, 80, &[("PAGER", "")], "keys list");
    assert_eq!(code, 0, "{text}");
    for line in text.lines() {
        assert!(
            line.width() <= 80,
            "wider than the terminal: {line:?}\n{text}"
        );
    }
    assert!(text.contains('…'), "long cells are cut with …:\n{text}");
    assert!(
        !text.contains("scim:provisi\n"),
        "never broken mid-word:\n{text}"
    );
    assert_eq!(text.lines().count(), 3, "one line per key:\n{text}");

    let (text, code) = in_terminal(&server, 80, &[("PAGER", "")], "users list");
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let header = lines
        .iter()
        .position(|line| line.contains("USERNAME"))
        .expect("a header");
    let origin = column(lines[header], "ORIGIN").expect("ORIGIN column");
    let rows = &lines[header + 1..];
    assert_eq!(rows.len(), 105, "{text}");
    for row in rows {
        assert!(row.width() <= 80, "wider than the terminal: {row:?}");
        assert_eq!(
            column(row, "manual"),
            Some(origin),
            "lines up with the header: {row:?}"
        );
    }

    // Not a terminal: nothing is cut.
    let piped = stdout(&root(&server, &["users", "list"], 0));
    assert!(piped.contains("A display name far longer than any other in the directory"));
}

#[test]
fn long_tables_on_a_terminal_go_through_the_pager() {
    let server = server();
    let pager = [("PAGER", "sed s/^/PAGED:/")];

    let (text, code) = in_terminal(&server, 120, &pager, "keys list");
    assert_eq!(code, 0, "{text}");
    assert!(
        text.lines().any(|line| line.starts_with("PAGED:ID")),
        "{text}"
    );

    // Streamed listings too.
    create_user(&server, json!({ "user_name": "alice" }));
    let (text, _) = in_terminal(&server, 120, &pager, "users list");
    assert!(text.contains("PAGED:alice"), "{text}");

    // Not with --no-pager, PAGER= or PAGER=cat, nor for JSON.
    for (env, args) in [
        (pager, "keys list --no-pager"),
        ([("PAGER", "")], "keys list"),
        ([("PAGER", "cat")], "keys list"),
        (pager, "keys list -o json"),
        (pager, "keys list --jq .[].id"),
    ] {
        let (text, code) = in_terminal(&server, 120, &env, args);
        assert_eq!(code, 0, "{args}: {text}");
        assert!(
            !text.contains("PAGED:"),
            "{args} {env:?} is not paged:\n{text}"
        );
    }

    // Never when stdout is not a terminal.
    let output = server
        .cli_as_root()
        .env("PAGER", "sed s/^/PAGED:/")
        .args(["keys", "list"])
        .output()
        .expect("run");
    assert!(!stdout(&output).contains("PAGED:"), "{}", stdout(&output));

    // A pager quit before reading everything is a success.
    let (text, code) = in_terminal(&server, 120, &[("PAGER", "true")], "keys list");
    assert_eq!(code, 0, "{text}");
}
