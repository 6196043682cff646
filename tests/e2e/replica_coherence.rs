//! Replicas agree at once: a key revocation, a lock, an allowlist change or
//! a settings change made through one server is enforced by another server
//! process on the same database from its very next request, and by the one
//! that made it. Each replica holds the settings and the allowlist in
//! memory, so this is what proves the copies never go stale. Each kind of
//! change is tried [`TRIALS`] times; a trial's staleness is how long the
//! other replica kept honouring what was taken away (polled every
//! millisecond), and the worst must stay under [`WORST_ALLOWED`].

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::server_cli::ServerProcess;
use crate::support::{TestServer, both_backends};

const TRIALS: usize = 100;
/// The bound; the design gives zero (see `domain::policy`).
const WORST_ALLOWED: Duration = Duration::from_millis(100);
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A second `scimctl server` process on the test server's database,
/// trusting loopback's `X-Forwarded-For` (so a test can speak from any
/// address) and with room for the refusals the trials provoke.
struct OtherReplica {
    addr: String,
    http: reqwest::Client,
    /// The client's own runtime: its pooled connections live on it.
    runtime: tokio::runtime::Runtime,
    _process: ServerProcess,
    _config: tempfile::TempDir,
}

impl OtherReplica {
    fn start(server: &TestServer) -> OtherReplica {
        let config = tempfile::tempdir().expect("a directory for the replica's config");
        let path = config.path().join("scimctl.toml");
        let listen = crate::support::free_port_addr();
        let listen = listen.trim_start_matches("http://");
        std::fs::write(
            &path,
            format!(
                "listen = \"{listen}\"\ndatabase = \"{}\"\ntrusted_proxies = [\"127.0.0.1\"]\n\
                 [limits]\nfailed_auth = {{ per_second = 100000.0, burst = 100000 }}\n",
                server.database_url()
            ),
        )
        .expect("write the replica's config");
        let mut process = ServerProcess::start(&["--config", path.to_str().expect("UTF-8 path")]);
        process.stderr_until("scimctl server listening on");
        OtherReplica {
            addr: format!("http://{listen}"),
            http: scimctl::client::http_builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("an HTTP client"),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the client"),
            _process: process,
            _config: config,
        }
    }

    /// The status of one request; `from` claims a client address.
    fn status(
        &self,
        method: Method,
        path: &str,
        token: &str,
        from: Option<&str>,
        body: Option<Value>,
    ) -> StatusCode {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.addr))
            .bearer_auth(token);
        if let Some(from) = from {
            request = request.header("x-forwarded-for", from);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        // Sent inside the runtime: the request's timeout is a timer on it.
        self.runtime
            .block_on(async { request.send().await })
            .expect("a request to the other replica")
            .status()
    }
}

/// How long `refused` kept answering `false` after the change: zero when
/// the first request already saw it, else the time from the first request
/// to the start of the first that did (a request's own latency is not
/// staleness). Panics past one second.
fn staleness(mut refused: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    let mut attempt = start;
    let mut first = true;
    while !refused() {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "the other replica still honours what was taken away after 1 s"
        );
        std::thread::sleep(Duration::from_millis(1));
        attempt = Instant::now();
        first = false;
    }
    if first {
        Duration::ZERO
    } else {
        attempt - start
    }
}

/// The worst staleness of a kind of change, and how many trials saw any.
#[derive(Default)]
struct Worst {
    worst: Duration,
    stale_trials: usize,
}

impl Worst {
    fn note(&mut self, staleness: Duration) {
        self.worst = self.worst.max(staleness);
        self.stale_trials += usize::from(!staleness.is_zero());
    }

    #[track_caller]
    fn check(self, what: &str, server: &TestServer) {
        eprintln!(
            "{what} on {:?}: worst staleness over {TRIALS} trials {:?} ({} trials stale)",
            server.backend, self.worst, self.stale_trials
        );
        assert!(self.worst <= WORST_ALLOWED, "{what}: {:?}", self.worst);
        // The design promises the next request, not just the bound.
        assert_eq!(
            self.stale_trials, 0,
            "{what}: trials that saw a stale replica"
        );
    }
}

fn start(backend: crate::support::Backend) -> Option<TestServer> {
    TestServer::start_with(backend, |config| {
        config.limits.failed_auth = scimctl::server::config::Rate::new(100_000.0, 100_000);
    })
}

/// `token` was just taken away through `server`: that replica refuses it
/// at once, and how long `other` kept honouring it goes to `worst`.
#[track_caller]
fn assert_refused_everywhere(
    server: &TestServer,
    other: &OtherReplica,
    token: &str,
    worst: &mut Worst,
) {
    let (status, _, _) = server.http(Method::GET, "/admin/v1/whoami", Some(token), None);
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the replica that made the change"
    );
    worst.note(staleness(|| {
        other.status(Method::GET, "/admin/v1/whoami", token, None, None) == StatusCode::UNAUTHORIZED
    }));
}

fn scim_user(user_name: &str) -> Value {
    json!({ "schemas": [USER_SCHEMA], "userName": user_name, "active": true })
}

both_backends! {
    fn a_revoked_key_is_refused_by_every_replica_at_once(server: &TestServer) {
        let Some(server) = start(server.backend) else { return };
        let other = OtherReplica::start(&server);
        let mut worst = Worst::default();
        for trial in 0..TRIALS {
            let token = server.new_key(&format!("trial {trial}"), &["users:read"]);
            let id = token.split('_').nth(1).expect("a key id");
            assert_eq!(other.status(Method::GET, "/admin/v1/whoami", &token, None, None), StatusCode::OK);
            let (status, _, body) = server.http(
                Method::DELETE,
                &format!("/admin/v1/keys/{id}"),
                Some(&server.root_token),
                None,
            );
            assert_eq!(status, StatusCode::OK, "revoke: {body}");
            assert_refused_everywhere(&server, &other, &token, &mut worst);
        }
        worst.check("key revocation", &server);
    }

    fn a_deprovisioned_owner_s_key_is_refused_by_every_replica_at_once(server: &TestServer) {
        let Some(server) = start(server.backend) else { return };
        let other = OtherReplica::start(&server);
        let mut worst = Worst::default();
        for trial in 0..TRIALS {
            let user_name = format!("owner{trial}");
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/users",
                Some(&server.root_token),
                Some(json!({ "user_name": user_name, "roles": ["auditor"] })),
            );
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/keys",
                Some(&server.root_token),
                Some(json!({ "name": "laptop", "scopes": ["users:read"], "owner": user_name })),
            );
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let token = body["token"].as_str().expect("a token").to_owned();
            assert_eq!(other.status(Method::GET, "/admin/v1/whoami", &token, None, None), StatusCode::OK);
            let (status, _, body) = server.http(
                Method::POST,
                &format!("/admin/v1/users/{user_name}/deprovision"),
                Some(&server.root_token),
                Some(json!({})),
            );
            assert_eq!(status, StatusCode::OK, "deprovision: {body}");
            assert_refused_everywhere(&server, &other, &token, &mut worst);
        }
        worst.check("deprovisioning (lock)", &server);
    }

    fn an_allowlist_change_is_enforced_by_every_replica_at_once(server: &TestServer) {
        let Some(server) = start(server.backend) else { return };
        let other = OtherReplica::start(&server);
        let root = server.root_token.clone();
        // Loopback stays allowed, so both replicas stay reachable; the
        // trials add and remove a network the other replica's client
        // claims to come from (it trusts loopback as a proxy).
        let (status, _, body) = server.http(
            Method::POST,
            "/admin/v1/allowlist",
            Some(&root),
            Some(json!({ "entries": [{ "cidr": "127.0.0.0/8" }] })),
        );
        assert_eq!(status, StatusCode::OK, "allow loopback: {body}");
        let from = Some("192.0.2.7");
        let mut worst = Worst::default();
        for _ in 0..TRIALS {
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/allowlist",
                Some(&root),
                Some(json!({ "entries": [{ "cidr": "192.0.2.0/24" }] })),
            );
            assert_eq!(status, StatusCode::OK, "add: {body}");
            worst.note(staleness(|| {
                other.status(Method::GET, "/admin/v1/whoami", &root, from, None) == StatusCode::OK
            }));
            let (status, _, body) = server.http(
                Method::POST,
                "/admin/v1/allowlist/remove",
                Some(&root),
                Some(json!({ "cidrs": ["192.0.2.0/24"] })),
            );
            assert_eq!(status, StatusCode::OK, "remove: {body}");
            worst.note(staleness(|| {
                other.status(Method::GET, "/admin/v1/whoami", &root, from, None)
                    == StatusCode::FORBIDDEN
            }));
        }
        worst.check("allowlist change", &server);
    }

    fn a_settings_change_is_enforced_by_every_replica_at_once(server: &TestServer) {
        let Some(server) = start(server.backend) else { return };
        let other = OtherReplica::start(&server);
        let root = server.root_token.clone();
        let set = |on: bool| {
            let (status, _, body) = server.http(
                Method::PATCH,
                "/admin/v1/settings",
                Some(&root),
                Some(json!({ "auto_provisioning": on })),
            );
            assert_eq!(status, StatusCode::OK, "settings: {body}");
        };
        let mut worst = Worst::default();
        for trial in 0..TRIALS {
            set(false);
            let (status, _, body) = server.http(
                Method::POST,
                "/scim/v2/Users",
                Some(&root),
                Some(scim_user(&format!("held{trial}"))),
            );
            assert_eq!(status, StatusCode::FORBIDDEN, "the replica that changed it: {body}");
            worst.note(staleness(|| {
                let user = scim_user(&format!("refused{trial}"));
                other.status(Method::POST, "/scim/v2/Users", &root, None, Some(user))
                    == StatusCode::FORBIDDEN
            }));
            set(true);
            worst.note(staleness(|| {
                let user = scim_user(&format!("created{trial}"));
                other.status(Method::POST, "/scim/v2/Users", &root, None, Some(user))
                    == StatusCode::CREATED
            }));
        }
        worst.check("settings change", &server);
    }
}
