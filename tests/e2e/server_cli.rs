//! `scimctl server` as an operator runs it: the real binary, started and
//! stopped with a signal.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::support::{bare_cli, lines_of};

/// How long the server may take to print what a test waits for.
const WAIT: Duration = Duration::from_secs(60);

/// A `scimctl server` child process, killed if a test fails half-way. Its
/// output is read by a thread per stream, so waiting for a line can time
/// out instead of blocking on a read.
pub(crate) struct ServerProcess {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ServerProcess {
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin!("scimctl"));
        command.arg("server").args(args).env_remove("RUST_LOG");
        Self::spawn(command)
    }

    /// Runs `command` (a `scimctl server`, perhaps wrapped) with its
    /// output read line by line.
    fn spawn(mut command: Command) -> Self {
        let mut child = command
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
    pub(crate) fn stdout_until(&mut self, needle: &str) -> Vec<String> {
        Self::until(&self.stdout, needle, "stdout")
    }

    /// The stderr lines up to the first one containing `needle`.
    pub(crate) fn stderr_until(&mut self, needle: &str) -> Vec<String> {
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

pub(crate) fn export_line(lines: &[String]) -> (String, String) {
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

/// `scimctl server --database URL` that cannot start: its exit code and
/// what it says on stderr.
fn failed_start(url: &str) -> (Option<i32>, String) {
    let output = bare_cli()
        .args(["server", "--database", url, "--listen", "127.0.0.1:0"])
        .output()
        .expect("run server");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_sqlite_path_that_cannot_be_made_is_named_with_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let database = file.join("scimctl.db");
    let (code, message) = failed_start(&format!("sqlite://{}", database.display()));
    assert_eq!(code, Some(1), "{message}");
    assert!(
        message.contains(&database.display().to_string())
            && message.contains("a file is in the way"),
        "{message}"
    );
    assert!(!database.exists());
}

#[test]
fn a_missing_sqlite_directory_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("var/lib/scimctl/scimctl.db");
    let url = format!("sqlite://{}", database.display());
    let mut server = ServerProcess::start(&["--database", &url, "--listen", "127.0.0.1:0"]);
    server.stderr_until("scimctl server listening on");
    assert!(database.exists());
}

#[test]
fn postgres_refusing_connections_is_said_at_once_with_the_address() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let started = Instant::now();
    let (code, message) = failed_start(&format!(
        "postgres://scimctl:secret@127.0.0.1:{port}/scimctl"
    ));
    assert_eq!(code, Some(1), "{message}");
    assert!(
        message.contains(&format!("nothing accepts connections at 127.0.0.1:{port}"))
            && message.contains("Is PostgreSQL running"),
        "{message}"
    );
    assert!(
        !message.contains("secret"),
        "the password stays out: {message}"
    );
    // The pool alone retried until its 10 s acquire timeout; one attempt
    // answers in milliseconds. A loose bound: this is about not retrying.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn postgres_that_never_answers_is_given_up_on_within_seconds() {
    // Accepts the connection, then says nothing, as a silently dropping
    // firewall or a hung server would.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let holder = std::thread::spawn(move || listener.accept().map(|(socket, _)| socket));
    let (code, message) = failed_start(&format!(
        "postgres://scimctl:secret@127.0.0.1:{port}/scimctl"
    ));
    assert_eq!(code, Some(1), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{port} did not answer within 5 s")),
        "{message}"
    );
    drop(holder.join());
}

#[test]
fn something_else_on_the_postgres_port_is_told_apart() {
    // An HTTP server where PostgreSQL was expected.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let responder = std::thread::spawn(move || {
        use std::io::Write as _;
        if let Ok((mut socket, _)) = listener.accept() {
            let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let (code, message) = failed_start(&format!(
        "postgres://scimctl:secret@127.0.0.1:{port}/scimctl"
    ));
    assert_eq!(code, Some(1), "{message}");
    assert!(
        message.contains("does not speak PostgreSQL's protocol"),
        "{message}"
    );
    drop(responder.join());
}

#[test]
fn server_logs_to_a_pipe_carry_no_colour_codes() {
    // stderr is a pipe here, as it is for a file or journald; debug logging
    // makes the server write tracing lines (levels, targets, fields).
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("scimctl.db").display());
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("scimctl"));
    command
        .args(["server", "--database", &url, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR");
    let mut server = ServerProcess::spawn(command);
    let lines = server.stderr_until("scimctl server listening on");
    assert!(
        lines.iter().any(|line| line.contains("DEBUG")),
        "debug logging wrote tracing lines: {lines:#?}"
    );
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "ANSI escape codes in a log that is not a terminal: {lines:#?}"
    );
    assert!(server.terminate().success());
}

#[cfg(unix)]
#[test]
fn the_sqlite_database_and_its_wal_and_shm_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("scimctl.db");
    let url = format!("sqlite://{}", db.display());
    let mut server = ServerProcess::start(&["--database", &url, "--listen", "127.0.0.1:0"]);
    let lines = server.stdout_until("SCIMCTL_TOKEN=");
    let (addr, token) = export_line(&lines);
    // A write, so the WAL holds something while the server runs.
    let created = bare_cli()
        .args([
            "keys",
            "create",
            "--name",
            "ci",
            "--scope",
            "users:read",
            "-o",
            "json",
        ])
        .env("SCIMCTL_ADDR", &addr)
        .env("SCIMCTL_TOKEN", &token)
        .output()
        .expect("run keys create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|err| panic!("{}: {err}", file.display()))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", file.display());
    }
    assert!(server.terminate().success());
}

/// 1,100 idle connections from one address, under a limit of 1,024 open
/// files: the server keeps answering `/healthz` from another address.
#[cfg(target_os = "linux")]
#[test]
fn health_checks_are_answered_while_idle_sockets_exceed_the_descriptor_limit() {
    let Ok(prlimit) = which_prlimit() else {
        eprintln!("SKIPPED: no prlimit(1) on this machine");
        return;
    };
    let mut command = Command::new(prlimit);
    command
        .args(["--nofile=1024:1024", "--"])
        .arg(assert_cmd::cargo::cargo_bin!("scimctl"))
        .args(["server", "--dev", "--listen", "127.0.0.1:0"])
        .env_remove("RUST_LOG");
    let mut server = ServerProcess::spawn(command);
    let lines = server.stdout_until("SCIMCTL_TOKEN=");
    let (addr, _) = export_line(&lines);
    let target: std::net::SocketAddr = addr
        .trim_start_matches("http://")
        .parse()
        .expect("a socket address");

    // The idle sockets come from 127.0.0.2; the health check from 127.0.0.1.
    let mut idle = Vec::new();
    for _ in 0..1100 {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(
                &"127.0.0.2:0"
                    .parse::<std::net::SocketAddr>()
                    .expect("addr")
                    .into(),
            )
            .expect("bind 127.0.0.2");
        socket
            .connect_timeout(&target.into(), Duration::from_secs(10))
            .expect("connect");
        idle.push(socket);
    }
    let started = Instant::now();
    let mut health = std::net::TcpStream::connect(target).expect("connect for /healthz");
    health
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    use std::io::Write as _;
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut answer = String::new();
    health
        .read_to_string(&mut answer)
        .expect("/healthz answers while 1,100 idle sockets are open");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    eprintln!(
        "/healthz answered in {:?} with 1,100 idle sockets open under a 1,024-descriptor limit",
        started.elapsed()
    );
    drop(idle);
    assert!(server.terminate().success());
}

#[cfg(target_os = "linux")]
fn which_prlimit() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/prlimit", "/bin/prlimit"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.exists())
        .ok_or(())
}
