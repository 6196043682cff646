//! What one client without a key (or with one) can take from the server:
//! rate limits and failed-authentication lockout (429 + `Retry-After`),
//! bounded `auth.denied` entries, and connections closed when they idle or
//! dribble. Every test sets its own short timeouts or low limits and waits on
//! events (a socket closing) with a generous deadline, never on a speed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use scimctl::server::config::Rate;
use serde_json::{Value, json};

use crate::support::{Backend, TestServer, both_backends};

/// How long a test waits for the server to close a connection it should
/// close after a 1 s timeout: far longer than needed, so a slow machine
/// never fails it, and still bounded.
const CLOSE_DEADLINE: Duration = Duration::from_secs(20);

const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `token` with its secret replaced: the same key id, a wrong secret.
fn wrong_secret(token: &str) -> String {
    let (head, secret) = token.rsplit_once('_').expect("a token ends in _<secret>");
    let forged: String = secret
        .chars()
        .map(|c| if c == 'a' { 'b' } else { 'a' })
        .collect();
    format!("{head}_{forged}")
}

/// A client whose requests leave from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    scimctl::client::http_builder()
        .local_address(Some(source.parse().expect("address")))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn send_from(
    server: &TestServer,
    client: &reqwest::Client,
    path: &str,
    token: &str,
) -> (StatusCode, Value) {
    server.block_on(async {
        let response = client
            .get(format!("{}{path}", server.addr))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    })
}

#[track_caller]
fn assert_throttled(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &Value) -> u64 {
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds: u64 = headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("429 without a Retry-After in seconds: {headers:?}"));
    assert!(seconds >= 1, "{seconds}");
    seconds
}

/// Bytes the `auth.denied` entries hold, column by column.
fn denial_bytes(server: &TestServer) -> (usize, u64) {
    let rows = server.query_rows(
        "SELECT actor_key_id, actor_name, source_ip, request_id, action, target, outcome, details \
         FROM audit_log WHERE action = 'auth.denied'",
    );
    let bytes = rows
        .iter()
        .map(|row| row.values().map(|value| value.len() as u64).sum::<u64>())
        .sum();
    (rows.len(), bytes)
}

/// On-disk size of the audit table: SQLite's file after a checkpoint, or
/// PostgreSQL's relation with its indexes.
fn stored_size(server: &TestServer) -> u64 {
    let sql = match server.backend {
        Backend::Sqlite => {
            server.execute("PRAGMA wal_checkpoint(TRUNCATE)");
            "SELECT page_count * page_size AS size FROM pragma_page_count(), pragma_page_size()"
        }
        Backend::Postgres => "SELECT pg_total_relation_size('audit_log') AS size",
    };
    server.query_rows(sql)[0]["size"].parse().expect("a size")
}

both_backends! {
    fn a_thousand_unauthenticated_requests_with_64_kb_paths_add_under_a_megabyte(server: &TestServer) {
        let before = stored_size(server);
        // 64,000 characters: near the 65,534 bytes an HTTP URI may have.
        let long_path = format!("/scim/v2/{}", "a".repeat(64_000));
        for _ in 0..1000 {
            let (status, _, _) = server.http(Method::GET, &long_path, None, None);
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
                "{status}"
            );
        }
        let (rows, bytes) = denial_bytes(server);
        let grown = stored_size(server).saturating_sub(before);
        eprintln!("auth.denied after 1,000 requests with 64 KB paths: {rows} rows, {bytes} bytes of content, storage grew {grown} bytes");
        assert!(bytes < 1_000_000, "{bytes} bytes in {rows} rows");
        assert!(grown < 1_000_000, "the audit table grew {grown} bytes");
    }
}

/// The aggregate itself, on a server that lets every refusal through to the
/// audit log (the lockout set out of reach).
fn aggregate_on(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |config| {
        config.limits.failed_auth = Rate::new(1_000_000.0, 1_000_000);
        config.limits.denials_logged_per_minute = 5;
    }) else {
        return crate::support::skipped("aggregate_on");
    };
    // Percent-encoded on the wire, 60 KB.
    let long_path = format!("/scim/v2/{}", "é".repeat(10_000));
    for _ in 0..200 {
        let (status, _, _) = server.http(Method::GET, &long_path, None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let rows = server.query_rows(
        "SELECT target, details, source_ip FROM audit_log WHERE action = 'auth.denied' ORDER BY id",
    );
    // 5 individual entries and one aggregate per minute (two if the run
    // straddled a minute boundary: then 5 more individual ones too).
    assert!(rows.len() == 6 || rows.len() == 12, "{}", rows.len());
    for row in &rows {
        assert_eq!(
            row["target"].chars().count(),
            257,
            "256 characters and the cut mark"
        );
        assert!(row["target"].ends_with('…'));
        assert_eq!(row["source_ip"], "127.0.0.1");
    }
    let counts: u64 = rows
        .iter()
        .map(|row| serde_json::from_str::<Value>(&row["details"]).expect("JSON"))
        .filter(|details| details["aggregated"] == true)
        .map(|details| details["count"].as_u64().expect("count"))
        .sum();
    let individual = rows.len() as u64 - rows.len() as u64 / 6;
    assert_eq!(
        counts + individual,
        200,
        "every refusal is counted once: {rows:?}"
    );
}

#[test]
fn refusals_aggregate_per_address_and_minute_sqlite() {
    aggregate_on(Backend::Sqlite);
}

#[test]
fn refusals_aggregate_per_address_and_minute_postgres() {
    aggregate_on(Backend::Postgres);
}

#[test]
fn failed_authentications_lock_out_the_address_and_the_key_id() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.limits.failed_auth = Rate::new(0.001, 5);
    })
    .expect("SQLite");
    let other_key = server.new_key("other", &["scim:provision", "users:read"]);
    let forged = wrong_secret(&server.root_token);
    for _ in 0..5 {
        let (status, _, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&forged), None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // The sixth failure spends the bucket; from then on, 429 whatever is
    // presented, before the key is looked at: the right key too.
    let (status, _, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&forged), None);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, headers, body) = server.http(Method::GET, "/admin/v1/whoami", Some(&forged), None);
    assert_throttled(status, &headers, &body);
    assert_eq!(body["error"]["code"], "too_many_requests", "{body}");
    let (status, headers, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_throttled(status, &headers, &body);
    // On /scim/v2 in SCIM's error format.
    let (status, headers, body) =
        server.http(Method::GET, "/scim/v2/Users", Some(&other_key), None);
    assert_throttled(status, &headers, &body);
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], "429", "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    // Health checks are never limited.
    let (status, _, _) = server.http(Method::GET, "/healthz", None, None);
    assert_eq!(status, StatusCode::OK);

    // From another address: the root key id is locked out too (someone
    // guessed its secret), another key is not.
    let elsewhere = client_from("127.0.0.2");
    let (status, body) = send_from(&server, &elsewhere, "/admin/v1/whoami", &server.root_token);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, body) = send_from(&server, &elsewhere, "/admin/v1/whoami", &other_key);
    assert_eq!(status, StatusCode::OK, "{body}");

    // Throttled requests are not audited one by one.
    let (rows, _) = denial_bytes(&server);
    assert_eq!(rows, 6, "only the refusals that reached the key check");
}

#[test]
fn a_key_or_an_address_over_its_rate_gets_429_with_retry_after() {
    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.limits.per_key = Rate::new(0.001, 3);
    })
    .expect("SQLite");
    let idp = server.new_key("idp", &["scim:provision"]);
    for _ in 0..3 {
        let (status, _, body) = server.http(Method::GET, "/scim/v2/Users", Some(&idp), None);
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, headers, body) = server.http(Method::GET, "/scim/v2/Users", Some(&idp), None);
    let wait = assert_throttled(status, &headers, &body);
    assert!(
        wait > 60,
        "the bucket refills one request in 1,000 s: {wait}"
    );
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("too many requests"),
        "{body}"
    );
    // Another key from the same address is not held back.
    let (status, _, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    let server = TestServer::start_with(Backend::Sqlite, |config| {
        config.limits.per_address = Rate::new(0.001, 4);
    })
    .expect("SQLite");
    for _ in 0..4 {
        let (status, _, body) = server.http(
            Method::GET,
            "/admin/v1/whoami",
            Some(&server.root_token),
            None,
        );
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, headers, body) = server.http(
        Method::GET,
        "/admin/v1/whoami",
        Some(&server.root_token),
        None,
    );
    assert_throttled(status, &headers, &body);
    let (status, _, _) = server.http(Method::GET, "/healthz", None, None);
    assert_eq!(status, StatusCode::OK, "health checks are never limited");
    let (status, body) = send_from(
        &server,
        &client_from("127.0.0.2"),
        "/admin/v1/whoami",
        &server.root_token,
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "another address has its own bucket: {body}"
    );
}

/// A server whose connections time out after 1 s.
fn impatient_server() -> TestServer {
    TestServer::start_with(Backend::Sqlite, |config| {
        config.limits.header_read_timeout = Duration::from_secs(1);
        config.limits.body_timeout = Duration::from_secs(1);
    })
    .expect("SQLite")
}

fn connect(server: &TestServer) -> TcpStream {
    let addr = server.addr.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("read timeout");
    stream
}

/// Reads (and keeps) what the server sends until it closes the connection,
/// calling `tick` between reads; panics if it is still open after
/// [`CLOSE_DEADLINE`].
#[track_caller]
fn until_closed(stream: &mut TcpStream, mut tick: impl FnMut(&mut TcpStream)) -> String {
    let deadline = Instant::now() + CLOSE_DEADLINE;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        assert!(
            Instant::now() < deadline,
            "the server left the connection open for {CLOSE_DEADLINE:?}; it sent {:?}",
            String::from_utf8_lossy(&received)
        );
        match stream.read(&mut buffer) {
            Ok(0) => return String::from_utf8_lossy(&received).into_owned(),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                tick(stream);
            }
            // Reset: closed too.
            Err(_) => return String::from_utf8_lossy(&received).into_owned(),
        }
    }
}

#[test]
fn an_idle_connection_is_closed_after_the_header_timeout() {
    let server = impatient_server();
    let mut idle = connect(&server);
    let received = until_closed(&mut idle, |_| {});
    // hyper may answer 408 before closing; it must not answer anything else.
    assert!(
        received.is_empty() || received.starts_with("HTTP/1.1 408"),
        "{received}"
    );

    // Kept alive after a request, then idle: closed as well.
    let mut kept = connect(&server);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    let received = until_closed(&mut kept, |_| {});
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
}

#[test]
fn a_slowloris_connection_is_closed_after_the_header_timeout() {
    let server = impatient_server();
    let mut slow = connect(&server);
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .expect("send");
    let mut sent = 0;
    // One header line every 100 ms, forever: never a complete head.
    let received = until_closed(&mut slow, |stream| {
        sent += 1;
        let _ = stream.write_all(format!("X-Slow-{sent}: a\r\n").as_bytes());
    });
    assert!(!received.contains("200 OK"), "{received}");
}

#[test]
fn a_slow_body_is_cut_off_after_the_body_timeout() {
    let server = impatient_server();
    let mut slow = connect(&server);
    let head = format!(
        "POST /admin/v1/keys HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{",
        server.root_token
    );
    slow.write_all(head.as_bytes()).expect("send");
    // A byte every 100 ms: never idle, never done.
    let received = until_closed(&mut slow, |stream| {
        let _ = stream.write_all(b" ");
    });
    assert!(!received.starts_with("HTTP/1.1 201"), "{received}");
    let (_, keys) = {
        let (status, _, keys) = server.http(
            Method::GET,
            "/admin/v1/keys",
            Some(&server.root_token),
            None,
        );
        (status, keys)
    };
    assert_eq!(
        keys["items"].as_array().map(Vec::len),
        Some(1),
        "no key was created: {keys}"
    );
}
