//! `scimctl doctor` through the real CLI against the real server, on
//! SQLite and PostgreSQL: a healthy connection passes every check (exit
//! 0); each failure it detects fails its own line (exit 5); a key expiring
//! soon is a warning (exit 0); an unreachable address is one failed check.

use std::process::Output;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::cli_output::{stderr, stdout, stdout_json};
use crate::scim_support::{Idp, set_settings};
use crate::support::{TestServer, bare_cli, both_backends, free_port_addr};

/// `scimctl doctor --token-stdin -o json` (plus `extra`) with `key` on
/// stdin, the root key as the operator's; asserts the exit code.
fn doctor(server: &TestServer, key: &str, extra: &[&str], code: i32) -> Vec<Value> {
    let output = run(server, key, &[&["-o", "json"], extra].concat());
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(&output),
        stderr(&output)
    );
    stdout_json(&output)
        .as_array()
        .expect("a list of checks")
        .clone()
}

fn run(server: &TestServer, key: &str, args: &[&str]) -> Output {
    server
        .cli_as_root()
        .args(["doctor", "--token-stdin"])
        .args(args)
        .write_stdin(format!("{key}\n"))
        .output()
        .expect("run scimctl doctor")
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:?}"))
}

/// The names of the checks that did not pass.
fn not_passed(checks: &[Value]) -> Vec<&str> {
    checks
        .iter()
        .filter(|check| check["passed"] == false)
        .map(|check| check["name"].as_str().expect("name"))
        .collect()
}

fn key_with(
    server: &TestServer,
    scopes: &[&str],
    expires_in: Option<Duration>,
) -> (String, String) {
    let mut body = json!({ "name": "idp", "scopes": scopes });
    if let Some(after) = expires_in {
        let at = (OffsetDateTime::now_utc() + after)
            .format(&Rfc3339)
            .expect("format");
        body["expires_at"] = json!(at);
    }
    let (status, _, key) = server.http(
        Method::POST,
        "/admin/v1/keys",
        Some(&server.root_token),
        Some(body),
    );
    assert_eq!(status, StatusCode::CREATED, "{key}");
    (
        key["token"].as_str().expect("token").to_owned(),
        key["id"].as_str().expect("id").to_owned(),
    )
}

fn ranges_file(server: &TestServer, text: &str) -> String {
    let path = server.home().join("ranges.txt");
    std::fs::write(&path, text).expect("write the ranges");
    path.to_str().expect("utf-8").to_owned()
}

both_backends! {
    fn a_healthy_connection_passes_every_check(server: &TestServer) {
        let okta = Idp::okta(server);
        root_allowlist(server, &["127.0.0.0/8", "203.0.113.0/25", "203.0.113.128/25"]);
        let ranges = ranges_file(server, "# Okta cell\n203.0.113.0/24\n127.0.0.1\n");
        let checks = doctor(server, &okta.token, &["--ranges", &ranges], 0);
        let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().expect("name")).collect();
        assert_eq!(
            names,
            [
                "server", "scim-key", "scim-key-expiry", "auto-provisioning",
                "auto-deprovisioning", "default-role", "allowlist",
                "okta-connection-test", "entra-connection-test",
            ]
        );
        assert!(not_passed(&checks).is_empty(), "{checks:#?}");
        let version = format!("scimctl {}", env!("CARGO_PKG_VERSION"));
        assert!(check(&checks, "server")["message"].as_str().expect("message").starts_with(&version));
        for check in &checks {
            assert_eq!(check["severity"], "error");
            assert_eq!(check["fix"], Value::Null);
        }

        // The table: one `ok` line per check (no terminal, NO_COLOR).
        let output = run(server, &okta.token, &["--idp", "entra"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let table = stdout(&output);
        assert_eq!(table.lines().count(), 7, "{table}");
        assert!(table.lines().all(|line| line.starts_with("ok ")), "{table}");
        assert!(stderr(&output).contains("pass --ranges FILE"), "{}", stderr(&output));
    }

    fn a_revoked_an_expired_and_a_scopeless_key_fail(server: &TestServer) {
        let (revoked, id) = key_with(server, &["scim:provision"], None);
        let (status, _, body) = server.http(Method::DELETE, &format!("/admin/v1/keys/{id}"), Some(&server.root_token), None);
        assert_eq!(status, StatusCode::OK, "{body}");
        let checks = doctor(server, &revoked, &["--idp", "okta"], 5);
        assert_eq!(not_passed(&checks), ["scim-key", "okta-connection-test"]);
        let scim_key = check(&checks, "scim-key");
        assert!(scim_key["message"].as_str().expect("message").contains("refuses the SCIM key"), "{scim_key}");
        assert!(scim_key["fix"].as_str().expect("fix").contains("scimctl keys create"), "{scim_key}");

        let (expiring, _) = key_with(server, &["scim:provision"], Some(Duration::seconds(2)));
        std::thread::sleep(std::time::Duration::from_secs(3));
        let checks = doctor(server, &expiring, &["--idp", "okta"], 5);
        assert_eq!(not_passed(&checks), ["scim-key", "okta-connection-test"]);

        let (scopeless, _) = key_with(server, &["users:read"], None);
        let checks = doctor(server, &scopeless, &["--idp", "entra"], 5);
        assert_eq!(not_passed(&checks), ["scim-key", "entra-connection-test"]);
        assert!(
            check(&checks, "scim-key")["message"].as_str().expect("message").contains("lacks scim:provision"),
            "{checks:?}"
        );
    }

    fn a_key_expiring_in_10_days_is_a_warning_not_a_failure(server: &TestServer) {
        let (key, _) = key_with(server, &["scim:provision"], Some(Duration::days(10)));
        let checks = doctor(server, &key, &[], 0);
        assert_eq!(not_passed(&checks), ["scim-key-expiry"]);
        let expiry = check(&checks, "scim-key-expiry");
        assert_eq!(expiry["severity"], "warning");
        assert!(expiry["message"].as_str().expect("message").contains("(9 days left)")
            || expiry["message"].as_str().expect("message").contains("(10 days left)"), "{expiry}");
        // In the table, a WARN line with the fix under it.
        let output = run(server, &key, &[]);
        assert_eq!(output.status.code(), Some(0));
        assert!(stdout(&output).contains("WARN scim-key-expiry"), "{}", stdout(&output));
    }

    fn an_allowlist_that_leaves_out_a_range_fails(server: &TestServer) {
        let okta = Idp::okta(server);
        root_allowlist(server, &["127.0.0.0/8", "203.0.113.0/25"]);
        let ranges = ranges_file(server, "203.0.113.0/24\n198.51.100.0/24 # another cell\n127.0.0.0/8\n");
        let checks = doctor(server, &okta.token, &["--ranges", &ranges, "--idp", "okta"], 5);
        assert_eq!(not_passed(&checks), ["allowlist"]);
        let allowlist = check(&checks, "allowlist");
        assert!(
            allowlist["message"].as_str().expect("message")
                .contains("does not admit 2 of the IdP's 3 ranges: 203.0.113.0/24, 198.51.100.0/24"),
            "{allowlist}"
        );
        assert_eq!(
            allowlist["fix"],
            "scimctl allowlist add 203.0.113.0/24 198.51.100.0/24 --note \"IdP egress\""
        );
    }

    fn provisioning_off_and_an_admin_default_role_fail(server: &TestServer) {
        let okta = Idp::okta(server);
        set_settings(server, json!({ "auto_provisioning": false, "auto_deprovisioning": false }));
        let checks = doctor(server, &okta.token, &["--idp", "okta"], 5);
        assert_eq!(not_passed(&checks), ["auto-provisioning", "auto-deprovisioning"]);
        assert_eq!(check(&checks, "auto-provisioning")["fix"], "scimctl provisioning enable");
        assert_eq!(check(&checks, "auto-deprovisioning")["severity"], "warning");

        set_settings(server, json!({ "auto_provisioning": true, "auto_deprovisioning": true, "default_role": "admin" }));
        let checks = doctor(server, &okta.token, &["--idp", "okta"], 5);
        assert_eq!(not_passed(&checks), ["default-role"]);
        assert_eq!(check(&checks, "default-role")["fix"], "scimctl default-role set member");
    }
}

fn root_allowlist(server: &TestServer, cidrs: &[&str]) {
    let entries: Vec<Value> = cidrs.iter().map(|cidr| json!({ "cidr": cidr })).collect();
    let (status, _, body) = server.http(
        Method::PUT,
        "/admin/v1/allowlist",
        Some(&server.root_token),
        Some(json!({ "entries": entries })),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[test]
fn an_unreachable_address_is_one_failed_check() {
    let output = bare_cli()
        .env("SCIMCTL_ADDR", free_port_addr())
        .env("SCIMCTL_TOKEN", "scimctl_a_b")
        .args(["doctor", "--token-stdin", "-o", "json"])
        .write_stdin("scimctl_x_y\n")
        .output()
        .expect("run scimctl doctor");
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    let checks = stdout_json(&output);
    let checks = checks.as_array().expect("a list");
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0]["name"], "server");
    assert_eq!(checks[0]["passed"], false);
    assert!(
        checks[0]["message"]
            .as_str()
            .expect("message")
            .contains("cannot connect"),
        "{checks:?}"
    );
    assert!(
        checks[0]["fix"]
            .as_str()
            .expect("fix")
            .contains("scimctl server"),
        "{checks:?}"
    );
}

#[test]
fn without_a_terminal_the_key_must_come_on_stdin() {
    let output = bare_cli()
        .env("SCIMCTL_ADDR", free_port_addr())
        .args(["doctor"])
        .output()
        .expect("run scimctl doctor");
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("--token-stdin"),
        "{}",
        stderr(&output)
    );
}

/// A TLS front for a [`TestServer`]: `https://127.0.0.1:PORT` with a
/// certificate from a test CA, valid from yesterday for `valid_for`,
/// forwarding each connection to the plain server. Lives as long as its
/// runtime.
struct TlsFront {
    addr: String,
    ca_file: std::path::PathBuf,
    _runtime: tokio::runtime::Runtime,
}

fn tls_front(server: &TestServer, valid_for: Duration) -> TlsFront {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "scimctl test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, "scim.test");
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + valid_for;
    let leaf = params
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");

    let ca_file = server.home().join("test-ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).expect("write the CA");
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .expect("TLS config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let backend = server.addr.trim_start_matches("http://").to_owned();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        addr: format!("https://127.0.0.1:{port}"),
        ca_file,
        _runtime: runtime,
    }
}

/// doctor over https, trusting the test CA (`SSL_CERT_FILE`, which the
/// platform verifier reads on Linux) unless `trust` is false.
fn doctor_over(server: &TestServer, front: &TlsFront, key: &str, trust: bool) -> Output {
    let mut cmd = server.cli_as_root();
    cmd.env("SCIMCTL_ADDR", &front.addr);
    if trust {
        cmd.env("SSL_CERT_FILE", &front.ca_file);
    } else {
        cmd.env("SSL_CERT_FILE", server.home().join("no-such-ca.pem"));
    }
    cmd.args(["doctor", "--token-stdin", "--idp", "okta", "-o", "json"])
        .write_stdin(format!("{key}\n"))
        .output()
        .expect("run scimctl doctor")
}

#[test]
fn over_https_the_certificate_expiry_is_checked() {
    let server = TestServer::start(crate::support::Backend::Sqlite).expect("SQLite always runs");
    let okta = Idp::okta(&server);

    let front = tls_front(&server, Duration::days(90));
    let output = doctor_over(&server, &front, &okta.token, true);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let checks = stdout_json(&output).as_array().expect("checks").clone();
    assert!(not_passed(&checks).is_empty(), "{checks:#?}");
    let tls = check(&checks, "tls-certificate");
    assert!(
        tls["message"]
            .as_str()
            .expect("message")
            .contains("CN=scim.test valid until"),
        "{tls}"
    );
    assert!(
        tls["message"]
            .as_str()
            .expect("message")
            .contains("(89 days left)"),
        "{tls}"
    );

    // Ten days left: a warning, and the exit stays 0.
    let front = tls_front(&server, Duration::days(10));
    let output = doctor_over(&server, &front, &okta.token, true);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let checks = stdout_json(&output).as_array().expect("checks").clone();
    assert_eq!(not_passed(&checks), ["tls-certificate"]);
    assert_eq!(check(&checks, "tls-certificate")["severity"], "warning");

    // A certificate this machine does not trust: the server line fails,
    // saying why, and nothing else is tried.
    let output = doctor_over(&server, &front, &okta.token, false);
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let checks = stdout_json(&output).as_array().expect("checks").clone();
    assert_eq!(not_passed(&checks), ["server"]);
    assert!(
        check(&checks, "server")["message"]
            .as_str()
            .expect("message")
            .to_lowercase()
            .contains("certificate"),
        "{checks:?}"
    );
}
