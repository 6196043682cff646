//! Dynamic completion (issue 9): `COMPLETE=SHELL scimctl -- WORDS…` answers
//! with user names, key ids, group, role and lock names from the server the
//! command line points at, never sends a stored key elsewhere, and in bash
//! completes values that hold a colon. The real binary against the real
//! server; bash itself for the bash script.

use std::path::Path;

use crate::cli_output::{root, stderr};
use crate::support::{Backend, TestServer, bare_cli, clean_env, free_port_addr};

fn sqlite() -> TestServer {
    TestServer::start(Backend::Sqlite).expect("SQLite tests always run")
}

/// The values fish would offer for `words` (the last being completed), as
/// root against `server`; descriptions after a tab are dropped unless
/// `with_help`.
fn fish(command: &mut assert_cmd::Command, words: &[&str]) -> Vec<String> {
    let output = command
        .env("COMPLETE", "fish")
        .arg("--")
        .arg("scimctl")
        .args(words)
        .output()
        .expect("run scimctl");
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "completion prints nothing on stderr");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with("--"))
        .map(str::to_owned)
        .collect()
}

fn values(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|line| line.split('\t').next().unwrap_or_default())
        .collect()
}

#[test]
fn values_come_from_the_server_the_line_points_at() {
    let server = sqlite();
    root(
        &server,
        &[
            "users",
            "create",
            "carol",
            "--group",
            "eng",
            "--create-groups",
        ],
        0,
    );
    root(&server, &["users", "create", "Cathy"], 0);
    root(&server, &["users", "create", "bob"], 0);
    root(&server, &["users", "deprovision", "bob", "--yes"], 0);
    root(
        &server,
        &[
            "keys",
            "create",
            "--name",
            "nightly",
            "--scope",
            "users:read",
        ],
        0,
    );
    root(
        &server,
        &["roles", "create", "support", "--permission", "users:read"],
        0,
    );

    let users = fish(&mut server.cli_as_root(), &["users", "show", "ca"]);
    assert_eq!(values(&users), ["carol", "Cathy"], "userName sw, any case");
    let users = fish(&mut server.cli_as_root(), &["sessions", "issue", "b"]);
    assert_eq!(values(&users), ["bob"]);

    let keys = fish(&mut server.cli_as_root(), &["keys", "show", ""]);
    let nightly = keys
        .iter()
        .find(|line| line.ends_with("\tnightly"))
        .unwrap_or_else(|| panic!("no key described as nightly in {keys:?}"));
    let id = nightly.split('\t').next().expect("an id");
    let prefix = &id[..3];
    let keys = fish(
        &mut server.cli_as_root(),
        &["audit", "list", "--actor", prefix],
    );
    assert!(values(&keys).contains(&id), "{keys:?}");

    let groups = fish(
        &mut server.cli_as_root(),
        &["users", "create", "dave", "--group", "e"],
    );
    assert_eq!(groups, ["eng\t1 member"]);

    let roles = fish(&mut server.cli_as_root(), &["default-role", "set", "s"]);
    assert_eq!(roles, ["support\tusers:read"]);
    let roles = fish(&mut server.cli_as_root(), &["users", "list", "--role", "a"]);
    assert_eq!(values(&roles), ["admin", "auditor"]);

    let locks = fish(&mut server.cli_as_root(), &["locks", "remove", ""]);
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert!(locks[0].ends_with("\tbob"), "{locks:?}");
}

#[test]
fn no_server_or_no_key_completes_nothing_quietly() {
    let lines = fish(
        bare_cli().env("SCIMCTL_TOKEN", "scimctl_x_y"),
        &["--addr", &free_port_addr(), "users", "show", ""],
    );
    assert_eq!(lines, Vec::<String>::new());
    let lines = fish(&mut bare_cli(), &["keys", "show", ""]);
    assert_eq!(lines, Vec::<String>::new(), "not logged in");
}

#[test]
fn a_stored_key_is_not_sent_to_the_address_on_the_line() {
    let home_server = sqlite();
    let other = sqlite();
    home_server
        .cli()
        .args(["login", "--token-stdin"])
        .write_stdin(format!("{}\n", home_server.root_token))
        .assert()
        .success();
    root(&home_server, &["users", "create", "carol"], 0);
    root(&other, &["users", "create", "cora"], 0);

    let users = fish(&mut home_server.cli(), &["users", "show", "c"]);
    assert_eq!(values(&users), ["carol"], "the profile's own server");
    let users = fish(
        &mut home_server.cli(),
        &["--addr", &other.addr, "users", "show", "c"],
    );
    assert_eq!(users, Vec::<String>::new());
    let denied = other.query_rows("SELECT id FROM audit_log WHERE action = 'auth.denied'");
    assert!(denied.is_empty(), "the other server saw a key: {denied:?}");
}

/// What the bash script `COMPLETE=bash scimctl` prints offers for `words`
/// as bash splits them (at colons too), the last one being completed.
fn bash(server: &TestServer, words: &[&str]) -> Vec<String> {
    let scimctl = Path::new(assert_cmd::cargo::cargo_bin!("scimctl"));
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "source <(COMPLETE=bash '{}')\n\
         COMP_WORDS=({})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         \"$(complete -p scimctl | sed 's/.* -F \\([^ ]*\\) .*/\\1/')\" scimctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD - 1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        scimctl.display(),
        quoted.join(" ")
    );
    let mut command = assert_cmd::Command::new("bash");
    clean_env(&mut command, server.home());
    let output = command
        .env("SCIMCTL_ADDR", &server.addr)
        .env("SCIMCTL_TOKEN", &server.root_token)
        .args(["-c", &program])
        .output()
        .expect("run bash");
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_server_values_and_values_that_hold_a_colon() {
    let server = sqlite();
    root(&server, &["users", "create", "carol"], 0);
    assert_eq!(
        bash(&server, &["scimctl", "users", "show", "ca"]),
        ["carol"]
    );

    let scope = ["scimctl", "keys", "create", "--scope"];
    // `--scope users:` with the cursor after the colon: bash hands over
    // `users`, `:` and an empty word, or `users` and `:`; either way it
    // replaces only what follows the colon.
    for tail in [
        &["users", ":", ""][..],
        &["users", ":"],
        &["users", ":", "de"],
    ] {
        let words: Vec<&str> = scope.iter().chain(tail).copied().collect();
        let offered = bash(&server, &words);
        let expected: &[&str] = if tail.last() == Some(&"de") {
            &["deprovision"]
        } else {
            &["read", "write", "deprovision"]
        };
        assert_eq!(offered, expected, "{words:?}");
    }
}
