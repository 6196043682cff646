//! `scimctl server` as an operator runs it: the real binary, started and
//! stopped with a signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::bare_cli;

/// A `scimctl server` child process, killed if a test fails half-way.
struct ServerProcess {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl ServerProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("scimctl"))
            .arg("server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start scimctl server");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        ServerProcess { child, stdout }
    }

    /// Reads stdout lines until one contains `needle` (or the banner ends).
    fn read_until(&mut self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        while Instant::now() < deadline {
            let mut line = String::new();
            if self.stdout.read_line(&mut line).expect("read stdout") == 0 {
                break;
            }
            let found = line.contains(needle);
            lines.push(line.trim_end().to_owned());
            if found {
                break;
            }
        }
        lines
    }

    /// SIGTERM, as systemd or a container runtime would send; waits for exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for server") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn export_line(lines: &[String]) -> (String, String) {
    let line = lines
        .iter()
        .find(|line| line.trim_start().starts_with("export "))
        .unwrap_or_else(|| panic!("no export line in {lines:#?}"));
    let mut addr = None;
    let mut token = None;
    for word in line.split_whitespace() {
        if let Some(value) = word.strip_prefix("SCIMCTL_ADDR=") {
            addr = Some(value.to_owned());
        }
        if let Some(value) = word.strip_prefix("SCIMCTL_TOKEN=") {
            token = Some(value.to_owned());
        }
    }
    (addr.expect("SCIMCTL_ADDR"), token.expect("SCIMCTL_TOKEN"))
}

#[test]
fn dev_server_prints_a_working_root_key_and_stops_on_sigterm() {
    let mut server = ServerProcess::start(&["--dev", "--listen", "127.0.0.1:0"]);
    let lines = server.read_until("SCIMCTL_TOKEN=");
    let (addr, token) = export_line(&lines);
    let database_line = lines
        .iter()
        .find(|line| line.starts_with("database: "))
        .expect("the banner names the database");
    let db_path = database_line
        .trim_start_matches("database: sqlite://")
        .split(' ')
        .next()
        .expect("a path")
        .to_owned();
    assert!(std::path::Path::new(&db_path).exists(), "{db_path}");

    let whoami = bare_cli()
        .args(["whoami", "-o", "json"])
        .env("SCIMCTL_ADDR", &addr)
        .env("SCIMCTL_TOKEN", &token)
        .output()
        .expect("run whoami");
    assert!(
        whoami.status.success(),
        "{}",
        String::from_utf8_lossy(&whoami.stderr)
    );
    let me: serde_json::Value = serde_json::from_slice(&whoami.stdout).expect("JSON");
    assert_eq!(me["key"]["scopes"].as_array().expect("scopes").len(), 12);

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    assert!(
        !std::path::Path::new(&db_path).exists(),
        "the dev database is deleted on exit"
    );
}

#[test]
fn the_initial_admin_key_is_printed_on_the_first_start_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("scimctl.db").display());

    let mut first = ServerProcess::start(&["--database", &url, "--listen", "127.0.0.1:0"]);
    let lines = first.read_until("SCIMCTL_TOKEN=");
    let (_, token) = export_line(&lines);
    assert!(token.starts_with("scimctl_"));
    assert!(first.terminate().success());

    let mut second = ServerProcess::start(&["--database", &url, "--listen", "127.0.0.1:0"]);
    // Give it time to start and print whatever it prints, then stop it.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        second.child.try_wait().expect("poll").is_none(),
        "the second start is serving"
    );
    let status = second.terminate();
    assert!(status.success());
    let rest: Vec<String> = (&mut second.stdout)
        .lines()
        .map(|line| line.expect("read"))
        .collect();
    assert!(
        rest.iter().all(|line| !line.contains("SCIMCTL_TOKEN")),
        "a second start must not print a key: {rest:#?}"
    );
}

#[test]
fn server_without_a_database_says_what_to_pass() {
    let output = bare_cli().args(["server"]).output().expect("run server");
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("--database") && message.contains("--dev"),
        "{message}"
    );
}
