//! Smoke tests of the e2e harness itself: a server starts on each backend,
//! answers HTTP, knows its root key, and its database can be read directly.

use reqwest::{Method, StatusCode};

use crate::support::{TestServer, both_backends, free_port_addr};

both_backends! {
    fn server_answers_health_and_whoami(server: &TestServer) {
        let (status, headers, _) = server.http(Method::GET, "/healthz", None, None);
        assert_eq!(status, StatusCode::OK, "GET /healthz");
        assert!(headers.contains_key("x-request-id"), "every response carries X-Request-Id");

        let (status, _, body) =
            server.http(Method::GET, "/admin/v1/whoami", Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "whoami with the root key: {body}");

        let (status, _, body) = server.http(Method::GET, "/admin/v1/whoami", None, None);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "whoami without a key: {body}");
    }

    fn database_is_readable_directly(server: &TestServer) {
        let rows = server.query_rows(
            "SELECT CAST(42 AS TEXT) AS answer, NULL AS missing, 'text' AS word",
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["answer"], "42");
        assert_eq!(rows[0]["missing"], "");
        assert_eq!(rows[0]["word"], "text");

        let rows = server.query_rows_nullable("SELECT NULL AS missing, '' AS empty");
        assert_eq!(rows[0]["missing"], None);
        assert_eq!(rows[0]["empty"].as_deref(), Some(""));
    }

    fn cli_reaches_the_server_with_a_token(server: &TestServer) {
        server.cli_as_root().args(["whoami", "-o", "json"]).assert().success();
    }
}

#[test]
fn free_port_has_no_listener() {
    let addr = free_port_addr();
    let host = addr.strip_prefix("http://").expect("an http:// address");
    assert!(
        std::net::TcpStream::connect(host).is_err(),
        "nothing listens on {addr}"
    );
}
