//! The CLI knowing what it talks to and with which key (issue 9): a wrong
//! address never reads as "not found", a stored key only goes to the address
//! it was stored for, `auth status` and `profiles list` say what is in use,
//! and empty `SCIMCTL_*` variables mean unset. The real binary against the
//! real server on loopback, and against small throwaway HTTP servers.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::support::{Backend, TestServer, free_port_addr};

fn sqlite() -> TestServer {
    TestServer::start(Backend::Sqlite).expect("SQLite tests always run")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            stderr(output)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    );
}

/// A throwaway server on `127.0.0.1:0` that reads each request's head and
/// answers `response` as is, recording the heads it got.
struct Canned {
    addr: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Canned {
    fn start(response: Vec<u8>) -> Canned {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a throwaway server");
        let addr = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                seen.lock()
                    .expect("requests lock")
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(&response);
                let _ = stream.flush();
            }
        });
        Canned { addr, requests }
    }

    /// An HTTP response with `status`, `content_type` and `body`.
    fn http(status: &str, content_type: &str, body: &str) -> Canned {
        Canned::start(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests lock").clone()
    }
}

/// `scimctl ARGS` with `SCIMCTL_ADDR=addr` and a token from the environment,
/// in `server`'s clean CLI environment.
fn at(server: &TestServer, addr: &str, args: &[&str]) -> Output {
    server
        .cli_as_root()
        .env("SCIMCTL_ADDR", addr)
        .args(args)
        .output()
        .expect("run scimctl")
}

fn login(server: &TestServer, profile: &str, token: &str) {
    let output = server
        .cli()
        .args(["login", "--token-stdin", "--profile", profile])
        .write_stdin(format!("{token}\n"))
        .output()
        .expect("run scimctl login");
    assert_exit(&output, 0);
}

#[test]
fn a_wrong_address_is_named_with_a_hint_and_never_exits_3() {
    let server = sqlite();

    // A real "not found" from scimctl stays 3.
    let output = server
        .cli_as_root()
        .args(["users", "show", "nobody"])
        .output()
        .expect("run");
    assert_exit(&output, 3);

    // Another web server's HTML 404.
    let html = Canned::http(
        "404 Not Found",
        "text/html",
        "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
    );
    let output = at(&server, &html.addr, &["users", "show", "alice"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: {} is not a scimctl admin API (HTTP 404 with an HTML page titled \"404 Not Found\")",
            html.addr
        )),
        "{text}"
    );
    assert!(
        text.contains("hint: another web server or a proxy answered"),
        "{text}"
    );
    assert!(!text.contains("<h1>"), "no page dump: {text}");

    // Logging in there says so too, and keeps nothing.
    let output = server
        .cli()
        .env("SCIMCTL_ADDR", &html.addr)
        .args(["login", "--token-stdin"])
        .write_stdin(format!("{}\n", server.root_token))
        .output()
        .expect("run login");
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: cannot log in to {}; nothing was saved\n  caused by: {} is not a scimctl admin API",
            html.addr, html.addr
        )),
        "{text}"
    );
    assert!(
        !server
            .home()
            .join(".config/scimctl/credentials.toml")
            .exists(),
        "nothing stored"
    );

    // A SCIM service's error at the SCIM base URL someone pasted.
    let scim = Canned::http(
        "404 Not Found",
        "application/scim+json",
        r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"Resource not found"}"#,
    );
    let pasted = format!("{}/scim/v2", scim.addr);
    let output = at(&server, &pasted, &["users", "show", "alice"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: {pasted} is not a scimctl admin API (HTTP 404 with a SCIM error: Resource not found)"
        )),
        "{text}"
    );
    assert!(text.contains(&format!("use {}\n", scim.addr)), "{text}");

    // The real server's own SCIM base URL, pasted.
    let pasted = format!("{}/scim/v2/", server.addr);
    let output = at(&server, &pasted, &["users", "show", "alice"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains("is not a scimctl admin API (HTTP 404 with a SCIM error"),
        "{text}"
    );
    assert!(
        text.contains(&format!("the server's base address: use {}\n", server.addr)),
        "{text}"
    );

    // The real server under a path it does not serve.
    let output = at(&server, &format!("{}/admin", server.addr), &["whoami"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains(&format!("use its base address, {}", server.addr)),
        "{}",
        stderr(&output)
    );

    // A web server answering 200 with a page, where JSON was expected.
    let page = Canned::http(
        "200 OK",
        "text/html",
        "<!doctype html><html><body>app</body></html>",
    );
    let output = at(&server, &page.addr, &["whoami"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("is not a scimctl admin API (HTTP 200 with an HTML body)"),
        "{}",
        stderr(&output)
    );

    // A proxy whose backend is down.
    let gateway = Canned::http(
        "502 Bad Gateway",
        "text/html",
        "<html><body>Bad Gateway</body></html>",
    );
    let output = at(&server, &gateway.addr, &["whoami"]);
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("hint: a proxy answered for the server"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn https_to_plain_http_and_http_to_tls_say_which_to_use() {
    let server = sqlite();
    let https = server.addr.replacen("http://", "https://", 1);
    let output = at(&server, &https, &["whoami"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: {https} is not a scimctl admin API (the TLS handshake failed:"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "hint: the server speaks plain HTTP: use {}\n",
            server.addr
        )),
        "{text}"
    );

    // A TLS server's answer to a plain-HTTP request: a TLS alert record.
    let tls = Canned::start(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
    let output = at(&server, &tls.addr, &["whoami"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!("error: {} is not a scimctl admin API", tls.addr)),
        "{text}"
    );
    let https = tls.addr.replacen("http://", "https://", 1);
    assert!(
        text.contains(&format!("hint: the server speaks HTTPS: use {https}")),
        "{text}"
    );
}

#[test]
fn refused_and_unknown_hosts_name_the_address_and_what_to_check() {
    let server = sqlite();
    let nobody = free_port_addr();
    let output = at(&server, &nobody, &["whoami"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: nothing is listening at {nobody} (connection refused)"
        )),
        "{text}"
    );
    assert!(text.contains("hint: check the address and port"), "{text}");
    assert!(
        !text.contains("  "),
        "hints are wrapped by the terminal, not the source: {text}"
    );

    let output = at(&server, "http://no-such-host.invalid:8080", &["whoami"]);
    assert_exit(&output, 1);
    let text = stderr(&output);
    assert!(
        text.contains("error: cannot resolve the host name \"no-such-host.invalid\" of http://no-such-host.invalid:8080"),
        "{text}"
    );
    assert!(
        text.contains("hint: check the host name for typos"),
        "{text}"
    );
}

#[test]
fn a_stored_key_only_goes_to_the_address_it_was_stored_for() {
    let server = sqlite();
    login(&server, "prod", &server.root_token);
    let other = Canned::http("200 OK", "application/json", r#"{"key":{}}"#);

    // The same address, spelt differently, is the same server.
    let port = server.addr.rsplit(':').next().expect("port");
    for spelling in [
        format!("{}/", server.addr),
        format!("HTTP://127.0.0.1:{port}"),
    ] {
        let output = server
            .cli()
            .env("SCIMCTL_PROFILE", "prod")
            .env("SCIMCTL_ADDR", &spelling)
            .args(["whoami", "-o", "json"])
            .output()
            .expect("run");
        assert_exit(&output, 0);
    }

    // Another address, by environment or flag: refused before sending.
    for by_flag in [false, true] {
        let mut cmd = server.cli();
        cmd.env("SCIMCTL_PROFILE", "prod");
        if by_flag {
            cmd.args(["--addr", &other.addr]);
        } else {
            cmd.env("SCIMCTL_ADDR", &other.addr);
        }
        let output = cmd.arg("whoami").output().expect("run");
        assert_exit(&output, 4);
        let text = stderr(&output);
        assert!(
            text.contains(&format!(
                "the API key stored for profile \"prod\" is for {}, not {}",
                server.addr, other.addr
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "scimctl login --addr {} --profile NAME",
                other.addr
            )),
            "{text}"
        );
        assert!(text.contains("SCIMCTL_TOKEN"), "{text}");
    }
    assert!(
        other.requests().is_empty(),
        "nothing was sent: {:?}",
        other.requests()
    );

    // An explicit SCIMCTL_TOKEN goes where it is told.
    let output = server
        .cli_with_token("scimctl_explicit_token")
        .env("SCIMCTL_PROFILE", "prod")
        .env("SCIMCTL_ADDR", &other.addr)
        .arg("whoami")
        .output()
        .expect("run");
    assert_exit(&output, 1);
    let requests = other.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer scimctl_explicit_token"),
        "{requests:?}"
    );
}

#[test]
fn refused_keys_name_the_server_and_where_the_key_came_from() {
    let server = sqlite();
    let token = server.new_key("ci", &["users:read"]);
    login(&server, "ci", &token);
    let config = server.home().join(".config/scimctl/credentials.toml");

    // 403: the stored key lacks a scope.
    let output = server
        .cli()
        .args(["--profile", "ci", "keys", "list"])
        .output()
        .expect("run");
    assert_exit(&output, 4);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: {} denied the request with the API key from {} (profile \"ci\"): ",
            server.addr,
            config.display()
        )),
        "{text}"
    );
    assert!(text.contains("keys:manage"), "{text}");

    // 401: the key was revoked since.
    let id = token.split('_').nth(1).expect("key id");
    let (status, _, body) = server.http(
        Method::DELETE,
        &format!("/admin/v1/keys/{id}"),
        Some(&server.root_token),
        None,
    );
    assert!(status.is_success(), "{body}");
    let output = server
        .cli()
        .args(["--profile", "ci", "whoami"])
        .output()
        .expect("run");
    assert_exit(&output, 4);
    let text = stderr(&output);
    assert!(
        text.contains(&format!(
            "error: {} refused the API key from {}",
            server.addr,
            config.display()
        )),
        "{text}"
    );
    assert!(text.contains("hint: log in again"), "{text}");

    // From the environment.
    let output = server
        .cli_with_token("scimctl_nope_nope")
        .arg("whoami")
        .output()
        .expect("run");
    assert_exit(&output, 4);
    assert!(
        stderr(&output).contains(&format!(
            "error: {} refused the API key from the SCIMCTL_TOKEN environment variable",
            server.addr
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn auth_status_says_what_is_in_use_and_exits_by_whether_it_works() {
    let server = sqlite();
    let credentials = server.home().join(".config/scimctl/credentials.toml");

    // Not logged in: 4, and the server was found all the same.
    let output = server
        .cli()
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 4);
    let status = stdout_json(&output);
    assert_eq!(status["authenticated"], false);
    assert_eq!(status["reachable"], true);
    assert_eq!(status["credential_store"], Value::Null);
    assert!(
        stderr(&output).contains("not logged in"),
        "{}",
        stderr(&output)
    );

    login(&server, "default", &server.root_token);
    let output = server
        .cli()
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let status = stdout_json(&output);
    assert_eq!(status["profile"], "default");
    assert_eq!(status["addr"], server.addr.as_str());
    assert_eq!(status["addr_from"], "flag");
    assert_eq!(status["credential_store"], "file");
    assert_eq!(
        status["credentials_file"],
        credentials.display().to_string()
    );
    assert_eq!(status["reachable"], true);
    assert_eq!(status["authenticated"], true);
    assert_eq!(status["error"], Value::Null);
    let id = server.root_token.split('_').nth(1).expect("key id");
    assert_eq!(status["key"]["id"], id);
    assert!(
        status["key"]["scopes"]
            .as_array()
            .is_some_and(|s| s.len() > 5),
        "{status}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&server.root_token));

    // The table, for people; the profile's own address this time.
    let output = server
        .cli()
        .env_remove("SCIMCTL_ADDR")
        .args(["auth", "status"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let table = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "Profile".to_owned(),
        format!("{} (from the profile)", server.addr),
        format!("credentials file {}", credentials.display()),
        "Authenticated  yes".to_owned(),
        id.to_owned(),
    ] {
        assert!(table.contains(&expected), "{expected:?} in\n{table}");
    }

    // The environment's key, refused: 4, reachable.
    let output = server
        .cli_with_token("scimctl_nope_nope")
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 4);
    let status = stdout_json(&output);
    assert_eq!(status["credential_store"], "env");
    assert_eq!(status["reachable"], true);
    assert_eq!(status["authenticated"], false);
    assert!(
        status["error"]
            .as_str()
            .is_some_and(|e| e.contains("refused")),
        "{status}"
    );

    // Nothing there: 1, unreachable.
    let output = server
        .cli_as_root()
        .env("SCIMCTL_ADDR", free_port_addr())
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 1);
    let status = stdout_json(&output);
    assert_eq!(status["reachable"], false);
    assert_eq!(status["authenticated"], false);

    // The stored key and another address: 4, not asked.
    let output = server
        .cli()
        .env("SCIMCTL_ADDR", free_port_addr())
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 4);
    let status = stdout_json(&output);
    assert_eq!(status["reachable"], Value::Null);
    assert!(
        status["error"]
            .as_str()
            .is_some_and(|e| e.contains("only sent to the address")),
        "{status}"
    );
}

#[test]
fn profiles_list_shows_every_profile_and_never_a_key() {
    let server = sqlite();
    login(&server, "prod", &server.root_token);
    let ci = server.new_key("ci", &["users:read"]);
    login(&server, "ci", &ci);

    let output = server
        .cli()
        .env("SCIMCTL_PROFILE", "ci")
        .args(["profiles", "list", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        !text.contains(&server.root_token) && !text.contains(&ci),
        "no secrets: {text}"
    );
    let profiles = stdout_json(&output);
    let profiles = profiles.as_array().expect("an array");
    let names: Vec<&str> = profiles
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["ci", "prod"]);
    for profile in profiles {
        assert_eq!(profile["addr"], server.addr.as_str());
        assert_eq!(profile["credential"], "file");
        assert_eq!(profile["active"], profile["name"] == "ci");
    }

    // Logged out, a profile stays, without a key; the default is listed
    // as the active one even with nothing configured for it.
    let output = server
        .cli()
        .args(["logout", "--profile", "prod"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let output = server
        .cli()
        .args(["profiles", "list"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    let table = String::from_utf8_lossy(&output.stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].contains("PROFILE") && lines[0].contains("CREDENTIAL"),
        "{table}"
    );
    assert!(
        lines[1].contains("ci") && lines[1].trim_end().ends_with("file"),
        "{table}"
    );
    assert!(
        lines[2].trim_start().starts_with("* ") && lines[2].contains("default"),
        "{table}"
    );
    assert!(
        lines[3].contains("prod") && lines[3].trim_end().ends_with('-'),
        "{table}"
    );
}

#[test]
fn empty_token_and_address_variables_mean_unset() {
    let server = sqlite();

    // Not logged in, SCIMCTL_TOKEN empty: "not logged in", not a bad key.
    let output = server
        .cli()
        .env("SCIMCTL_TOKEN", "")
        .arg("whoami")
        .output()
        .expect("run");
    assert_exit(&output, 4);
    assert!(
        stderr(&output).contains("not logged in"),
        "{}",
        stderr(&output)
    );

    login(&server, "default", &server.root_token);
    // SCIMCTL_TOKEN empty: the stored key is used.
    let output = server
        .cli()
        .env("SCIMCTL_TOKEN", "")
        .args(["auth", "status", "-o", "json"])
        .output()
        .expect("run");
    assert_exit(&output, 0);
    assert_eq!(stdout_json(&output)["credential_store"], "file");

    // SCIMCTL_ADDR empty: the profile's address, as when it is unset.
    for empty in ["", "  "] {
        let output = server
            .cli()
            .env("SCIMCTL_ADDR", empty)
            .args(["auth", "status", "-o", "json"])
            .output()
            .expect("run");
        assert_exit(&output, 0);
        let status = stdout_json(&output);
        assert_eq!(status["addr_from"], "profile");
        assert_eq!(status["addr"], server.addr.as_str());
    }
}
