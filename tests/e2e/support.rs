//! The e2e harness: a real `scimctl` server on a free loopback port, backed by
//! SQLite or PostgreSQL, plus the real `scimctl` binary, raw HTTP and direct
//! database reads pointed at it.
//!
//! Tests are plain synchronous `#[test]` functions; each [`TestServer`] owns
//! the tokio runtime its server runs on. Write a test once for both backends
//! with [`both_backends!`].
//!
//! PostgreSQL tests need `SCIMCTL_TEST_POSTGRES_URL` (a role with CREATEDB;
//! `.ci/run` sets it up). Each test gets a fresh database created from it and
//! dropped afterwards. Without the variable they fail, unless
//! `SCIMCTL_TEST_SKIP_POSTGRES=1` says to skip them: then each one prints
//! `SKIPPED` with its name. Under `CI` they never skip.

// Not every test module uses every helper.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Once;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use scimctl::server::{Server, ServerConfig};
use scimctl::store::DatabaseUrl;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection as _, Row as _, TypeInfo as _, ValueRef as _};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// Where the PostgreSQL tests find their server: a URL whose role may create
/// databases.
pub const POSTGRES_URL_VAR: &str = "SCIMCTL_TEST_POSTGRES_URL";

/// Set to `1` to skip the PostgreSQL tests on a machine without PostgreSQL;
/// each skipped test then says so. Ignored under `CI`.
pub const SKIP_POSTGRES_VAR: &str = "SCIMCTL_TEST_SKIP_POSTGRES";

/// How long a CLI run, an HTTP request or a database connection may take
/// before the test fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(60);

/// How long `Drop` waits for the server to drain after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The store a [`TestServer`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One database row read by [`TestServer::query_rows`]: column name → value
/// rendered as text (SQL NULL as `""`).
pub type DbRow = BTreeMap<String, String>;

/// One database row read by [`TestServer::query_rows_nullable`]: column name
/// → value rendered as text, `None` for SQL NULL.
pub type NullableDbRow = BTreeMap<String, Option<String>>;

/// A `scimctl` server running in this process on `127.0.0.1:<free port>`,
/// on a brand-new database. Dropping it shuts the server down and removes its
/// database and temporary directories.
pub struct TestServer {
    /// Base URL, `http://127.0.0.1:PORT`, no trailing slash.
    pub addr: String,
    /// The initial admin key (every scope) the server created on its brand-new
    /// database.
    pub root_token: String,
    pub backend: Backend,
    home: PathBuf,
    client: Option<reqwest::Client>,
    shutdown: Option<oneshot::Sender<()>>,
    server_task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Field order is drop order: the runtime stops before the database (and
    // its temporary directory: SQLite file, HOME) is dropped.
    runtime: Option<tokio::runtime::Runtime>,
    database: TestDatabase,
}

impl TestServer {
    /// Starts a server on a fresh database of `backend`.
    ///
    /// Returns `None` only for [`Backend::Postgres`] when
    /// `SCIMCTL_TEST_POSTGRES_URL` is unset and `SCIMCTL_TEST_SKIP_POSTGRES=1`
    /// asks to skip (outside CI); panics when it is unset otherwise, and
    /// whenever the server cannot be started.
    pub fn start(backend: Backend) -> Option<TestServer> {
        Some(TestServer::start_on(TestDatabase::create(backend)?, None))
    }

    /// [`start`](Self::start) with settings changed by `configure` (short
    /// timeouts, low limits).
    pub fn start_with(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Option<TestServer> {
        Some(TestServer::start_configured(
            TestDatabase::create(backend)?,
            None,
            configure,
        ))
    }

    /// Starts a server on `database`, as it is (the server migrates it).
    /// `root_token` is the key the tests use as root; `None` takes the
    /// initial admin key the server creates on a brand-new database.
    pub fn start_on(database: TestDatabase, root_token: Option<String>) -> TestServer {
        TestServer::start_configured(database, root_token, |_| {})
    }

    fn start_configured(
        database: TestDatabase,
        root_token: Option<String>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        init_tracing();
        let backend = database.backend;
        let home = database.dir.path().join("home");
        std::fs::create_dir_all(home.join(".config")).expect("create the CLI's HOME");

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("e2e-server")
            .enable_all()
            .build()
            .expect("build the harness's tokio runtime");

        let url = DatabaseUrl::from_str(&database.url)
            .expect("the harness builds database URLs the server accepts");
        let (listener, server) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a free loopback port for the test server");
            let listen = listener.local_addr().expect("read the bound address");
            let mut config = ServerConfig::new(listen, url);
            configure(&mut config);
            let server = Server::prepare(config)
                .await
                .unwrap_or_else(|err| panic!("Server::prepare failed on {backend:?}: {err:#}"));
            (listener, server)
        });
        let port = listener
            .local_addr()
            .expect("read the bound address")
            .port();
        let root_token = root_token.unwrap_or_else(|| {
            server
                .initial_token()
                .expect("a brand-new database yields an initial admin key")
                .to_owned()
        });

        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let server_task = runtime.spawn(server.run(listener, async move {
            // A dropped sender also means "stop".
            let _ = shutdown_rx.await;
        }));

        let client = scimctl::client::http_builder()
            .timeout(TIMEOUT)
            .build()
            .expect("build the harness's HTTP client");

        TestServer {
            addr: format!("http://127.0.0.1:{port}"),
            root_token,
            backend,
            home,
            client: Some(client),
            shutdown: Some(shutdown),
            server_task: Some(server_task),
            runtime: Some(runtime),
            database,
        }
    }

    /// The raw URL of this server's database (with the password, for
    /// PostgreSQL): to start a second server on it or read it directly.
    pub fn database_url(&self) -> &str {
        &self.database.url
    }

    /// This server's database, to read or change directly.
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    /// The `HOME` every [`cli`](Self::cli) run of this server shares
    /// (`XDG_CONFIG_HOME` is `<home>/.config`): profiles and the credentials
    /// file land here.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The real `scimctl` binary, pointed at this server (`SCIMCTL_ADDR`) with
    /// no credentials, in a clean environment (see [`bare_cli`]) whose
    /// `HOME` is this server's [`home`](Self::home): what one `login`
    /// stores, the next run of this server's CLI finds.
    pub fn cli(&self) -> assert_cmd::Command {
        let mut cmd = clean_cli(&self.home);
        cmd.env("SCIMCTL_ADDR", &self.addr).current_dir(&self.home);
        cmd
    }

    /// [`cli`](Self::cli) with `SCIMCTL_TOKEN=token`.
    pub fn cli_with_token(&self, token: &str) -> assert_cmd::Command {
        let mut cmd = self.cli();
        cmd.env("SCIMCTL_TOKEN", token);
        cmd
    }

    /// A new API key with `scopes`, created by root; returns its token.
    #[track_caller]
    pub fn new_key(&self, name: &str, scopes: &[&str]) -> String {
        let (status, _, key) = self.http(
            Method::POST,
            "/admin/v1/keys",
            Some(&self.root_token),
            Some(serde_json::json!({ "name": name, "scopes": scopes })),
        );
        assert_eq!(status, StatusCode::CREATED, "create key {name:?}: {key}");
        key["token"].as_str().expect("token").to_owned()
    }

    /// [`cli`](Self::cli) authenticated with the root key.
    pub fn cli_as_root(&self) -> assert_cmd::Command {
        self.cli_with_token(&self.root_token)
    }

    /// One HTTP request to this server: `path` is appended to
    /// [`addr`](Self::addr), `token` goes in `Authorization: Bearer`, `body`
    /// is sent as JSON. The response body is parsed as JSON, `Value::Null`
    /// when it is empty or not JSON.
    pub fn http(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.request(method, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request)
    }

    /// Like [`http`](Self::http) with `body` sent as is, labelled
    /// `Content-Type: application/json`: for malformed or oversized JSON.
    pub fn http_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self
            .request(method, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request)
    }

    /// A request builder for anything [`http`](Self::http) cannot say (raw or
    /// malformed bodies, extra headers); send it with [`send`](Self::send).
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .as_ref()
            .expect("the HTTP client lives as long as the server")
            .request(method, format!("{}{path}", self.addr))
    }

    /// Sends a request built with [`request`](Self::request), as
    /// [`http`](Self::http) does.
    pub fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
        self.block_on(async {
            let response = request
                .send()
                .await
                .unwrap_or_else(|err| panic!("HTTP request to {} failed: {err:#}", self.addr));
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response
                .bytes()
                .await
                .unwrap_or_else(|err| panic!("reading an HTTP response body failed: {err:#}"));
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, headers, body)
        })
    }

    /// [`TestDatabase::query_rows`] on this server's database.
    pub fn query_rows(&self, sql: &str) -> Vec<DbRow> {
        self.database.query_rows(sql)
    }

    /// [`TestDatabase::query_rows_nullable`] on this server's database.
    pub fn query_rows_nullable(&self, sql: &str) -> Vec<NullableDbRow> {
        self.database.query_rows_nullable(sql)
    }

    /// [`TestDatabase::execute`] on this server's database.
    pub fn execute(&self, sql: &str) {
        self.database.execute(sql);
    }

    /// [`TestDatabase::query_journal`] on this server's database.
    pub fn query_journal(&self, sql: &str) -> Vec<DbRow> {
        self.database.query_journal(sql)
    }

    /// [`TestDatabase::execute_journal`] on this server's database.
    pub fn execute_journal(&self, sql: &str) {
        self.database.execute_journal(sql);
    }

    /// [`TestDatabase::snapshot`] of this server's database.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        self.database.snapshot()
    }

    /// Runs `future` on this server's runtime, from a synchronous test.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the server")
            .block_on(future)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Idle keep-alive connections would only slow the drain down.
        self.client = None;
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let (Some(runtime), Some(task)) = (self.runtime.take(), self.server_task.take()) else {
            return;
        };
        // The timer must be created inside the runtime, hence the async block.
        let outcome = runtime.block_on(async { tokio::time::timeout(SHUTDOWN_GRACE, task).await });
        runtime.shutdown_timeout(Duration::from_secs(2));
        let problem = match outcome {
            Ok(Ok(Ok(()))) => return,
            Ok(Ok(Err(err))) => format!("the test server's run() failed: {err:#}"),
            Ok(Err(join_err)) => format!("the test server's task panicked: {join_err}"),
            Err(_) => {
                format!("the test server did not shut down within {SHUTDOWN_GRACE:?} of the signal")
            }
        };
        if std::thread::panicking() {
            loud(&problem);
        } else {
            panic!("{problem}");
        }
    }
}

/// A brand-new database for one test: an SQLite file in a temporary
/// directory, or a PostgreSQL database created for it and dropped with it.
/// The directory also holds the CLI's `HOME` of a server started on it. Read
/// and changed directly (bypassing any server) by the methods below.
pub struct TestDatabase {
    pub backend: Backend,
    /// The raw URL (with the password, for PostgreSQL).
    pub url: String,
    /// Runs the direct queries.
    runtime: tokio::runtime::Runtime,
    // Field order is drop order: the PostgreSQL database before the
    // directory.
    _postgres: Option<PostgresDatabase>,
    dir: TempDir,
}

impl TestDatabase {
    /// An empty database of `backend`: no schema until a server (or a test)
    /// migrates it. `None` when the PostgreSQL tests are skipped (see
    /// [`TestServer::start`]).
    pub fn create(backend: Backend) -> Option<TestDatabase> {
        let dir = tempfile::Builder::new()
            .prefix("scimctl-e2e-")
            .tempdir()
            .expect("create a temporary directory for the test database");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the test database's tokio runtime");
        let (url, postgres) = match backend {
            Backend::Sqlite => (sqlite_url(dir.path()), None),
            Backend::Postgres => {
                let admin_url = postgres_admin_url()?;
                let database = runtime.block_on(PostgresDatabase::create(&admin_url));
                (database.url.clone(), Some(database))
            }
        };
        Some(TestDatabase {
            backend,
            url,
            runtime,
            _postgres: postgres,
            dir,
        })
    }

    /// Runs `future` on this database's runtime, from a synchronous test.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Reads the database directly, bypassing the server: every row
    /// of `sql` (one `SELECT`, no parameters), each column rendered as text,
    /// SQL NULL as `""` (use [`query_rows_nullable`](Self::query_rows_nullable)
    /// to tell them apart).
    ///
    /// Rendering: text as stored; numbers and booleans in decimal/`true`/
    /// `false` on PostgreSQL, but SQLite stores booleans as `1`/`0`; binary
    /// (BLOB/bytea) as `\x` + lowercase hex on both; PostgreSQL timestamps,
    /// UUIDs and JSON in their JSON text form. Write `CAST(col AS TEXT)` in
    /// `sql` where an exact, backend-independent rendering matters. On
    /// PostgreSQL the query runs as `SELECT row_to_json(q) FROM (<sql>) AS q`,
    /// so it must be a valid subquery (no trailing `;`) and its column names
    /// unique.
    pub fn query_rows(&self, sql: &str) -> Vec<DbRow> {
        without_nulls(self.query_rows_nullable(sql))
    }

    /// [`query_rows`](Self::query_rows) with SQL NULL as `None`.
    pub fn query_rows_nullable(&self, sql: &str) -> Vec<NullableDbRow> {
        self.rows_at(&self.url, sql)
    }

    /// Changes the database directly, bypassing the server: `sql`
    /// is one or more statements (no parameters), run as one script. For
    /// what a test must arrange that no API offers: a failure-injecting
    /// trigger, a time moved into the past.
    pub fn execute(&self, sql: &str) {
        self.execute_at(&self.url, sql);
    }

    /// The SCIM request journal's SQLite file (`None` on PostgreSQL, where
    /// the journal is a table of this database). It exists once a server
    /// has opened the database.
    pub fn journal_file(&self) -> Option<PathBuf> {
        match self.backend {
            Backend::Sqlite => Some(scimctl::store::journal::file_for(Path::new(
                sqlite_file_of(&self.url),
            ))),
            Backend::Postgres => None,
        }
    }

    /// [`query_rows`](Self::query_rows) on the database that holds the
    /// `scim_journal` table: its own file on SQLite, this one on PostgreSQL.
    pub fn query_journal(&self, sql: &str) -> Vec<DbRow> {
        without_nulls(self.rows_at(&self.journal_url(), sql))
    }

    /// [`execute`](Self::execute) on the database that holds the
    /// `scim_journal` table (see [`query_journal`](Self::query_journal)).
    pub fn execute_journal(&self, sql: &str) {
        self.execute_at(&self.journal_url(), sql);
    }

    fn journal_url(&self) -> String {
        match self.journal_file() {
            Some(file) => format!("sqlite://{}", file.display()),
            None => self.url.clone(),
        }
    }

    fn rows_at(&self, url: &str, sql: &str) -> Vec<NullableDbRow> {
        self.runtime.block_on(async {
            match self.backend {
                Backend::Sqlite => sqlite_rows(url, sql).await,
                Backend::Postgres => postgres_rows(url, sql).await,
            }
        })
    }

    fn execute_at(&self, url: &str, sql: &str) {
        self.runtime.block_on(async {
            match self.backend {
                Backend::Sqlite => {
                    let mut conn = sqlite_connect(url).await;
                    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|err| panic!("execute({sql:?}) failed on SQLite: {err}"));
                    let _ = conn.close().await;
                }
                Backend::Postgres => {
                    let mut conn = postgres_connect(url).await;
                    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                        .execute(&mut conn)
                        .await
                        .unwrap_or_else(|err| {
                            panic!("execute({sql:?}) failed on PostgreSQL: {err}")
                        });
                    let _ = conn.close().await;
                }
            }
        });
    }

    /// Every row of every table of the application (not the migrations'
    /// bookkeeping), in a stable order, each as text: two equal snapshots
    /// mean the database holds the same thing. Leaves out what reading
    /// changes by design: a key's `last_used_*`, `auth.denied` entries, and
    /// on PostgreSQL the SCIM request journal (every request is recorded
    /// there, refused ones too, a moment after it is answered; on SQLite it
    /// has a file of its own).
    pub fn snapshot(&self) -> BTreeMap<String, Vec<String>> {
        self.tables()
            .into_iter()
            .filter(|table| table != "scim_journal")
            .map(|table| {
                let condition = if table == "audit_log" {
                    " WHERE action <> 'auth.denied'"
                } else {
                    ""
                };
                let mut rows: Vec<String> = self
                    .query_rows_nullable(&format!("SELECT * FROM {table}{condition}"))
                    .into_iter()
                    .map(|mut row| {
                        if table == "api_keys" {
                            row.remove("last_used_at");
                            row.remove("last_used_ip");
                        }
                        format!("{row:?}")
                    })
                    .collect();
                rows.sort();
                (table, rows)
            })
            .collect()
    }

    /// The application's tables, sorted: everything but the migrations'
    /// bookkeeping and SQLite's internal tables.
    pub fn tables(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT table_name AS name FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
                 AND table_name <> '_sqlx_migrations'"
            }
        };
        let mut tables: Vec<String> = self
            .query_rows(sql)
            .into_iter()
            .map(|row| row["name"].clone())
            .collect();
        tables.sort();
        tables
    }
}

/// A second `scimctl` server on a [`TestServer`]'s database and runtime,
/// with its own config.
pub struct Replica {
    /// Base URL, `http://127.0.0.1:PORT`.
    pub addr: String,
    token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    http: reqwest::Client,
    /// The client's own runtime: its pooled connections live on it.
    client_runtime: tokio::runtime::Runtime,
}

impl Replica {
    /// Starts it; `configure` adjusts its config (e.g. trusted proxies).
    pub fn start(
        server: &TestServer,
        configure: impl FnOnce(&mut ServerConfig) + Send + 'static,
    ) -> Replica {
        let database =
            DatabaseUrl::from_str(server.database_url()).expect("the harness's database URL");
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, task) = server.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a free loopback port for the replica");
            let listen = listener.local_addr().expect("read the bound address");
            let mut config = ServerConfig::new(listen, database);
            configure(&mut config);
            let replica = Server::prepare(config).await.expect("start the replica");
            assert!(replica.initial_token().is_none(), "the database is not new");
            let task = tokio::spawn(replica.run(listener, async move {
                let _ = shutdown_rx.await;
            }));
            (format!("http://{listen}"), task)
        });
        Replica {
            addr,
            token: server.root_token.clone(),
            shutdown: Some(shutdown),
            task: Some(task),
            http: scimctl::client::http_builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("build an HTTP client"),
            client_runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the replica's client"),
        }
    }

    /// One request as root, through the "proxy": `forwarded_for` becomes
    /// the `X-Forwarded-For` header.
    pub fn call(
        &self,
        method: Method,
        path: &str,
        forwarded_for: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.addr))
            .bearer_auth(&self.token);
        if let Some(forwarded_for) = forwarded_for {
            request = request.header("x-forwarded-for", forwarded_for);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.client_runtime.block_on(async {
            let response = request.send().await.expect("request to the replica");
            let status = response.status();
            let bytes = response.bytes().await.expect("read the replica's answer");
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        })
    }

    pub fn stop(mut self, server: &TestServer) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            server
                .block_on(async { tokio::time::timeout(Duration::from_secs(10), task).await })
                .expect("the replica stops within 10 s")
                .expect("the replica's task did not panic")
                .expect("the replica ran without error");
        }
    }
}

/// Asserts two [`TestServer::snapshot`]s are equal, showing only the tables
/// that differ, row by row.
#[track_caller]
pub fn assert_same_rows(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
    context: &str,
) {
    let mut differences = String::new();
    let tables: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for table in tables {
        let (was, is) = (before.get(table), after.get(table));
        if was == is {
            continue;
        }
        let (was, is) = (
            was.cloned().unwrap_or_default(),
            is.cloned().unwrap_or_default(),
        );
        differences.push_str(&format!("table {table}:\n"));
        for row in was.iter().filter(|row| !is.contains(row)) {
            differences.push_str(&format!("  - {row}\n"));
        }
        for row in is.iter().filter(|row| !was.contains(row)) {
            differences.push_str(&format!("  + {row}\n"));
        }
    }
    assert!(
        differences.is_empty(),
        "{context}: the database changed (- before, + after):\n{differences}"
    );
}

/// Writes one test body that runs on both backends:
///
/// ```ignore
/// both_backends! {
///     fn revoked_key_gets_401(server: &TestServer) { ... }
/// }
/// ```
///
/// becomes `mod revoked_key_gets_401 { #[test] fn sqlite() {…} #[test] fn
/// postgres() {…} }`, both calling the body with a fresh [`TestServer`]. The
/// PostgreSQL one prints `SKIPPED` and returns when [`TestServer::start`]
/// skips it (`SCIMCTL_TEST_SKIP_POSTGRES=1`, outside CI). Several functions
/// may be given in one invocation; the generated module sees the caller's
/// imports.
macro_rules! both_backends {
    ($(
        $(#[$meta:meta])*
        fn $name:ident($server:ident : $ty:ty) $body:block
    )+) => {$(
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body($server: $ty) $body

            #[test]
            fn sqlite() {
                let server = $crate::support::TestServer::start($crate::support::Backend::Sqlite)
                    .expect("SQLite tests always run");
                body(&server);
            }

            #[test]
            fn postgres() {
                match $crate::support::TestServer::start($crate::support::Backend::Postgres) {
                    Some(server) => body(&server),
                    None => $crate::support::skipped(module_path!()),
                }
            }
        }
    )+};
}
pub(crate) use both_backends;

/// The real `scimctl` binary in a clean environment, pointed at no server:
/// every `SCIMCTL_*` variable of the caller removed, `HOME` and the XDG dirs
/// in a fresh (not yet created) directory under cargo's test scratch dir, no
/// D-Bus session (so no OS keyring: the CLI takes its headless path),
/// `NO_COLOR=1`, empty stdin (not a terminal), and a timeout instead of a
/// hang.
pub fn bare_cli() -> assert_cmd::Command {
    let home = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("e2e-home-{}", uuid::Uuid::new_v4().simple()));
    clean_cli(&home)
}

fn clean_cli(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(assert_cmd::cargo::cargo_bin!("scimctl"));
    clean_env(&mut cmd, home);
    cmd.timeout(TIMEOUT);
    cmd
}

/// The environment `bare_cli` gives the CLI, for any command (a shell that
/// runs `scimctl`): no `SCIMCTL_*`, `HOME` and XDG dirs under `home`, no
/// D-Bus session, `NO_COLOR=1`, empty stdin.
pub fn clean_env(cmd: &mut assert_cmd::Command, home: &Path) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SCIMCTL_") {
            cmd.env_remove(key);
        }
    }
    // Without a session bus address the keyring cannot reach a Secret
    // Service ($XDG_RUNTIME_DIR/bus is where it would look next).
    for key in ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "RUST_LOG"] {
        cmd.env_remove(key);
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("NO_COLOR", "1")
        .write_stdin("");
}

/// The lines of `stream` (a child's stdout or stderr), as they come, until
/// it closes: read by a thread, so a test can wait with a timeout.
pub fn lines_of(stream: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead as _;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// `http://127.0.0.1:PORT` where nothing listens (bound, then released), for
/// "no server" tests.
pub fn free_port_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    let port = listener
        .local_addr()
        .expect("read the bound address")
        .port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Prints to the real stderr, past libtest's output capture, so a note is
/// seen even when the test passes.
fn loud(message: &str) {
    let _ = writeln!(std::io::stderr(), "{message}");
}

/// Server logs in test output when `RUST_LOG` is set (e.g. `RUST_LOG=debug`).
fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if std::env::var_os("RUST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
                .with_test_writer()
                .try_init();
        }
    });
}

fn sqlite_url(dir: &Path) -> String {
    // `dir` is absolute, so this reads `sqlite:///tmp/…/scimctl.db`.
    format!("sqlite://{}/scimctl.db", dir.display())
}

/// Whether we run in CI, where nothing may be skipped.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.trim(), "" | "0" | "false"))
}

/// `SCIMCTL_TEST_POSTGRES_URL`; `None` when it is unset and the caller
/// asked to skip PostgreSQL (never under CI); panics when it is unset
/// otherwise, so a local run cannot pass by testing only SQLite unawares.
fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => {
            let url = url.trim().to_owned();
            assert!(
                url.starts_with("postgres://") || url.starts_with("postgresql://"),
                "{POSTGRES_URL_VAR} must be a postgres:// URL, got {}",
                redact(&url)
            );
            Some(url)
        }
        _ if in_ci() => panic!(
            "{POSTGRES_URL_VAR} is not set, but CI is: CI must run the PostgreSQL tests, \
             never skip them. Run the tests through .ci/run, which starts PostgreSQL and sets it."
        ),
        _ if skip_postgres_requested() => None,
        _ => panic!(
            "{POSTGRES_URL_VAR} is not set: set it to a postgres://user:password@host:port/db \
             URL whose role may CREATE DATABASE (see README; .ci/run sets one up), or set \
             {SKIP_POSTGRES_VAR}=1 to skip the PostgreSQL tests and test SQLite only"
        ),
    }
}

/// Whether `SCIMCTL_TEST_SKIP_POSTGRES` asks to skip the PostgreSQL tests.
fn skip_postgres_requested() -> bool {
    std::env::var(SKIP_POSTGRES_VAR).is_ok_and(|value| value.trim() == "1")
}

/// Says, past libtest's capture, that the PostgreSQL run of `test` (its
/// module path) was skipped: a skipped test must not pass for a tested one.
pub fn skipped(test: &str) {
    loud(&format!(
        "SKIPPED: {test}::postgres ({SKIP_POSTGRES_VAR}=1, {POSTGRES_URL_VAR} unset)"
    ));
}

/// `url` with its password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `url` pointing at database `name` instead of its own, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL has a scheme");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    format!("{scheme}://{authority}/{name}{query}")
}

/// A database created for one test on the PostgreSQL server, dropped (with
/// `FORCE`, best effort) when this guard drops, even when the test panicked.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    url: String,
}

impl PostgresDatabase {
    async fn create(admin_url: &str) -> PostgresDatabase {
        let name = format!("scimctl_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = postgres_connect(admin_url).await;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "CREATE DATABASE {name} on {} failed: {err}; the role needs CREATEDB",
                    redact(admin_url)
                )
            });
        let _ = conn.close().await;
        PostgresDatabase {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let result = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| err.to_string())
            .and_then(|runtime| {
                runtime.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&self.admin_url)
                        .await
                        .map_err(|err| err.to_string())?;
                    let drop_sql =
                        format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
                    let outcome = sqlx::query(AssertSqlSafe(drop_sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                    outcome.map(drop).map_err(|err| err.to_string())
                })
            });
        if let Err(err) = result {
            loud(&format!(
                "warning: could not drop test database {}: {err}",
                self.name
            ));
        }
    }
}

async fn postgres_connect(url: &str) -> sqlx::PgConnection {
    match tokio::time::timeout(TIMEOUT, sqlx::PgConnection::connect(url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(err)) => panic!(
            "cannot connect to PostgreSQL at {}: {err}; is it running? (.ci/run starts it)",
            redact(url)
        ),
        Err(_) => panic!(
            "connecting to PostgreSQL at {} timed out after {TIMEOUT:?}",
            redact(url)
        ),
    }
}

async fn postgres_rows(url: &str, sql: &str) -> Vec<NullableDbRow> {
    let mut conn = postgres_connect(url).await;
    let wrapped = format!(
        "SELECT CAST(row_to_json(q) AS TEXT) FROM ({}) AS q",
        sql.trim().trim_end_matches(';')
    );
    let rows = sqlx::query(AssertSqlSafe(wrapped))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("query_rows({sql:?}) failed on PostgreSQL: {err}"));
    let _ = conn.close().await;
    rows.iter()
        .map(|row| {
            let json: String = row.try_get(0).expect("row_to_json gives text");
            let object: serde_json::Map<String, Value> =
                serde_json::from_str(&json).expect("row_to_json gives a JSON object");
            object
                .into_iter()
                .map(|(column, value)| {
                    let text = match value {
                        Value::Null => None,
                        Value::String(text) => Some(text),
                        other => Some(other.to_string()),
                    };
                    (column, text)
                })
                .collect()
        })
        .collect()
}

/// SQL NULL as `""`.
fn without_nulls(rows: Vec<NullableDbRow>) -> Vec<DbRow> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(column, value)| (column, value.unwrap_or_default()))
                .collect()
        })
        .collect()
}

/// The file an SQLite URL of the harness names.
fn sqlite_file_of(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .expect("the harness builds sqlite:// URLs")
}

async fn sqlite_connect(url: &str) -> sqlx::SqliteConnection {
    let path = sqlite_file_of(url);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        // The server may be writing: wait for its lock rather than fail.
        .busy_timeout(TIMEOUT);
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap_or_else(|err| panic!("cannot open the test server's SQLite file {path}: {err}"))
}

async fn sqlite_rows(url: &str, sql: &str) -> Vec<NullableDbRow> {
    let mut conn = sqlite_connect(url).await;
    let rows = sqlx::query(AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("query_rows({sql:?}) failed on SQLite: {err}"));
    let _ = conn.close().await;
    rows.iter()
        .map(|row| {
            use sqlx::Column as _;
            row.columns()
                .iter()
                .map(|column| {
                    let index = column.ordinal();
                    let raw = row.try_get_raw(index).expect("column index from the row");
                    let text = if raw.is_null() {
                        None
                    } else if raw.type_info().name() == "BLOB" {
                        let bytes: Vec<u8> = row.try_get_unchecked(index).expect("BLOB as bytes");
                        Some(format!("\\x{}", hex::encode(bytes)))
                    } else {
                        // SQLite renders INTEGER and REAL values as text itself.
                        Some(row.try_get_unchecked(index).unwrap_or_else(|err| {
                            panic!("column {} as text: {err}", column.name())
                        }))
                    };
                    (column.name().to_owned(), text)
                })
                .collect()
        })
        .collect()
}

#[test]
fn url_helpers() {
    let url = "postgres://scimctl:s3cret@127.0.0.1:5432/scimctl?sslmode=disable";
    assert_eq!(
        with_database(url, "scimctl_test_x"),
        "postgres://scimctl:s3cret@127.0.0.1:5432/scimctl_test_x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://u@localhost", "t"),
        "postgres://u@localhost/t"
    );
    assert_eq!(
        redact(url),
        "postgres://scimctl:***@127.0.0.1:5432/scimctl?sslmode=disable"
    );
    assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
}
