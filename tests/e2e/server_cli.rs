//! `scimctl server` as an operator runs it: the real binary, started and
//! stopped with a signal.

use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::support::{bare_cli, lines_of};

/// How long the server may take to print what a test waits for.
const WAIT: Duration = Duration::from_secs(60);

/// A `scimctl server` child process, killed if a test fails half-way. Its
/// output is read by a thread per stream, so waiting for a line can time
/// out instead of blocking on a read.
struct ServerProcess {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ServerProcess {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin!("scimctl"))
            .arg("server")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start scimctl server");
        let stdout = lines_of(child.stdout.take().expect("piped stdout"));
        let stderr = lines_of(child.stderr.take().expect("piped stderr"));
        ServerProcess {
            child,
            stdout,
            stderr,
        }
    }

    /// The stdout lines up to the first one containing `needle`.
    fn stdout_until(&mut self, needle: &str) -> Vec<String> {
        Self::until(&self.stdout, needle, "stdout")
    }

    /// The stderr lines up to the first one containing `needle`.
    fn stderr_until(&mut self, needle: &str) -> Vec<String> {
        Self::until(&self.stderr, needle, "stderr")
    }

    /// Lines of `stream` up to (and with) the first containing `needle`;
    /// panics with what it read when the stream ends first or `WAIT` passes.
    fn until(stream: &Receiver<String>, needle: &str, name: &str) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stream.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    lines.push(line);
                    if found {
                        return lines;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {needle:?} on the server's {name} within {WAIT:?}: {lines:#?}")
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the server's {name} ended before {needle:?}: {lines:#?}")
                }
            }
        }
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

    /// Everything the server printed on stdout that was not read yet; call
    /// after it exited (the reader thread ends with the stream).
    fn rest_of_stdout(&mut self) -> Vec<String> {
        self.stdout.iter().collect()
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
    let lines = server.stdout_until("SCIMCTL_TOKEN=");
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
    let lines = first.stdout_until("SCIMCTL_TOKEN=");
    let (_, token) = export_line(&lines);
    assert!(token.starts_with("scimctl_"));
    assert!(first.terminate().success());

    let mut second = ServerProcess::start(&["--database", &url, "--listen", "127.0.0.1:0"]);
    second.stderr_until("scimctl server listening on");
    let status = second.terminate();
    assert!(status.success());
    let rest = second.rest_of_stdout();
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
