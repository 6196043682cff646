//! The SCIM load benchmark: drives a `scimctl server` over loopback at a fixed
//! concurrency and prints requests/s and p50/p99 latency for create, get by
//! id, filter by userName and PATCH, and the wall time to provision N users,
//! on SQLite and on PostgreSQL.
//!
//! ```sh
//! cargo bench --bench scim_load                      # both backends, defaults
//! cargo bench --bench scim_load -- --backend sqlite --users 2000
//! cargo bench --bench scim_load -- --help
//! ```
//!
//! Besides throughput and latency it prints the server's CPU time per
//! request: the machine's busy time less the load generator's threads, so
//! the server's database (PostgreSQL's processes too) and work it put off
//! (the journal's batches) count. `--journal both` runs a server with the
//! SCIM request journal and one without side by side, taking turns slice
//! by slice, and prints what the journal costs as on/off ratios: measured
//! in the same minutes, they hold on a shared machine where one run's
//! figures against another's do not.
//!
//! It prints figures and asserts nothing about them: a baseline to compare
//! against, not a timed test. It fails only when the server answers wrongly
//! (a figure of failing requests would mean nothing). By default the server
//! runs in this process on `127.0.0.1:0`, on a fresh SQLite file and, when
//! `SCIMCTL_BENCH_POSTGRES_URL` (or `SCIMCTL_TEST_POSTGRES_URL`) names a role
//! that may create databases, on a fresh PostgreSQL database dropped
//! afterwards. `--addr` benchmarks a server that is already running instead.
//! `RUST_LOG=warn` shows the in-process server's log (why a request failed).

use std::future::Future;
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Parser, ValueEnum};
use reqwest::StatusCode;
use scimctl::api::CreateKeyRequest;
use scimctl::credentials::Secret;
use scimctl::domain::scope::Scope;
use scimctl::server::{Server, ServerConfig};
use scimctl::store::DatabaseUrl;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _};
use tokio::sync::oneshot;

/// The allocator the `scimctl` binary runs on (see `src/main.rs`), so the
/// in-process servers measure as deployed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POSTGRES_URL_VARS: [&str; 2] = ["SCIMCTL_BENCH_POSTGRES_URL", "SCIMCTL_TEST_POSTGRES_URL"];
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SCIM_JSON: &str = "application/scim+json";
/// A request slower than this is a hang, not a data point.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Failed requests shown per phase; the rest are only counted.
const ERRORS_SHOWN: usize = 3;
/// The name of the load generator's threads (see [`CpuClock`]).
const CLIENT_THREAD: &str = "bench-client";
/// How long after a phase its CPU time is still counted: work the server
/// put off (the journal's batches) lands in the phase that caused it.
const SETTLE: Duration = Duration::from_millis(600);

/// Load benchmark of the SCIM endpoints (prints figures; asserts nothing about them)
#[derive(Parser, Debug)]
#[command(name = "scim_load")]
struct Args {
    /// Requests in flight at any time
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,

    /// Users provisioned (POST /Users) before the read and PATCH phases
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    users: u32,

    /// Requests in each of the GET, filter and PATCH phases
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    requests: u32,

    /// Unmeasured requests of each kind first (connections, caches, JIT-free but cold pages)
    #[arg(long, default_value_t = 300)]
    warmup: u32,

    /// Which store to run the in-process server on
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,

    /// The in-process server's SCIM request journal: on (as deployed), off,
    /// or both side by side, taking turns (see --slices), to measure what it
    /// costs
    #[arg(long, value_enum, default_value_t = JournalChoice::On)]
    journal: JournalChoice,

    /// Slices each phase is cut into with `--journal both`: the two servers
    /// take turns slice by slice (on, off, off, on, …), so a machine that
    /// slows down or speeds up (a shared host) weighs on both alike
    ///
    /// Let a slice run for seconds (`--requests 40000 --slices 4`): the
    /// journal writes what a slice's last quarter second brought in the
    /// pause after it, which its CPU figure counts but its req/s does not,
    /// so short slices flatter the journal's req/s.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    slices: u16,

    /// Benchmark this running server (http://host:port) instead of starting one
    ///
    /// Its key comes from SCIMCTL_BENCH_TOKEN and needs scope scim:provision.
    /// The users it creates stay there.
    #[arg(long, value_name = "URL", conflicts_with = "backend")]
    addr: Option<String>,

    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,

    /// Passed by `cargo bench` (a name filter); ignored.
    #[arg(hide = true)]
    filter: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JournalChoice {
    On,
    Off,
    Both,
}

impl JournalChoice {
    /// The journal setting of each server run side by side.
    fn servers(self) -> &'static [bool] {
        match self {
            JournalChoice::On => &[true],
            JournalChoice::Off => &[false],
            JournalChoice::Both => &[true, false],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The in-process server's logs (why a request failed), only when asked:
    // logging every request would slow the server being measured.
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .try_init();
    }
    // The load generator and the in-process servers on runtimes of their
    // own, so the servers' CPU time can be told apart from the client's.
    let client = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(CLIENT_THREAD)
        .build()
        .context("cannot build the client's tokio runtime")?;
    let servers = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-server")
        .build()
        .context("cannot build the servers' tokio runtime")?;
    client.block_on(run(args, servers.handle().clone()))
}

async fn run(args: Args, servers: tokio::runtime::Handle) -> anyhow::Result<()> {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let build = if cfg!(debug_assertions) {
        "DEBUG build (figures are not a baseline; use `cargo bench`)"
    } else {
        "release build"
    };
    println!(
        "scimctl SCIM load benchmark: concurrency {}, {} users provisioned, {} requests per \
         GET/filter/PATCH phase, {} warm-up requests each",
        args.concurrency, args.users, args.requests, args.warmup
    );
    println!("{build}, {cpus} CPUs, loopback HTTP/1.1 with keep-alive");

    let mut reports = Vec::new();
    if let Some(addr) = &args.addr {
        let token = std::env::var("SCIMCTL_BENCH_TOKEN")
            .context("--addr needs SCIMCTL_BENCH_TOKEN: a key with scope scim:provision")?;
        let target = Target::new("external", addr.trim_end_matches('/'), &token, &args)?;
        reports.extend(bench(&args, vec![target]).await?);
    } else {
        let mut backends = Vec::new();
        if args.backend != BackendChoice::Postgres {
            backends.push(Backend::Sqlite);
        }
        if args.backend != BackendChoice::Sqlite {
            match postgres_admin_url() {
                Some(url) => backends.push(Backend::Postgres(url)),
                None if args.backend == BackendChoice::Postgres => bail!(
                    "--backend postgres needs SCIMCTL_BENCH_POSTGRES_URL (or \
                     SCIMCTL_TEST_POSTGRES_URL): a postgres:// URL whose role may CREATE DATABASE"
                ),
                None => eprintln!(
                    "SKIPPED postgres: set SCIMCTL_BENCH_POSTGRES_URL (or \
                     SCIMCTL_TEST_POSTGRES_URL) to a postgres:// URL whose role may CREATE \
                     DATABASE to benchmark PostgreSQL too"
                ),
            }
        }
        for backend in &backends {
            let mut servers_up = Vec::new();
            let outcome = async {
                let mut targets = Vec::new();
                for &journal in args.journal.servers() {
                    let server = LocalServer::start(&servers, backend, journal).await?;
                    let mut name = backend.name().to_owned();
                    if args.journal == JournalChoice::Both {
                        name += if journal {
                            " (journal on)"
                        } else {
                            " (journal off)"
                        };
                    }
                    let (addr, token) = (server.addr.clone(), provisioning_key(&server).await);
                    // Kept before anything can fail, so it is stopped below.
                    servers_up.push(server);
                    targets.push(Target::new(&name, &addr, &token?, &args)?);
                }
                bench(&args, targets).await
            }
            .await;
            for server in servers_up {
                server.stop().await;
            }
            let mut backend_reports = outcome?;
            for (report, &journal) in backend_reports.iter_mut().zip(args.journal.servers()) {
                report.run = Some((backend.name(), journal));
            }
            reports.extend(backend_reports);
        }
    }
    let failed = reports.iter().any(Report::failed);

    println!();
    print_table(&reports);
    if args.journal == JournalChoice::Both {
        println!();
        print_journal_cost(&reports);
    }
    if failed {
        bail!(
            "the server answered some requests wrongly (see above); these figures are no baseline"
        );
    }
    Ok(())
}

/// What one backend's run measured.
struct Report {
    backend: String,
    /// The in-process server's backend and journal setting.
    run: Option<(&'static str, bool)>,
    phases: Vec<Phase>,
    /// Wall time of the provisioning phase (N creates at the concurrency).
    provision_wall: Duration,
    users: usize,
}

impl Report {
    fn failed(&self) -> bool {
        self.phases.iter().any(|phase| phase.errors > 0)
    }
}

/// Runs the warm-up and the measured phases against every target, taking
/// turns slice by slice when there are two; a report per target.
async fn bench(args: &Args, targets: Vec<Target>) -> anyhow::Result<Vec<Report>> {
    let targets: Arc<Vec<Target>> = Arc::new(targets);
    let plan = Plan {
        concurrency: usize::from(args.concurrency),
        slices: usize::from(args.slices),
        targets: targets.len(),
    };
    let users = usize::try_from(args.users).context("--users does not fit in memory")?;
    let requests = usize::try_from(args.requests).context("--requests does not fit in memory")?;
    let warmup = usize::try_from(args.warmup).context("--warmup does not fit in memory")?;
    // Distinct userNames on every run, so an --addr server can be benchmarked
    // again without 409s.
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    for target in targets.iter() {
        eprintln!("\n[{}] benchmarking {}", target.name, target.base);
    }
    let show = |phases: &[Phase]| {
        for (target, phase) in targets.iter().zip(phases) {
            eprintln!("[{}] {}", target.name, phase.summary());
        }
    };

    // Warm-up: the same kinds of request, on users of their own.
    if warmup > 0 {
        let warm = run_phase("warm-up", plan, warmup, {
            let (targets, run) = (targets.clone(), run.clone());
            move |t, i| {
                let (targets, run) = (targets.clone(), run.clone());
                async move {
                    let target = &targets[t];
                    let id = target.create(&format!("warm-{run}-{i}"), i).await?;
                    target.get(&id).await?;
                    target.find(&format!("warm-{run}-{i}")).await?;
                    target.patch(&id, i).await?;
                    Ok(None)
                }
            }
        })
        .await;
        for (target, warm) in targets.iter().zip(&warm) {
            if warm.errors > 0 {
                bail!(
                    "[{}] the warm-up already failed ({} of {} requests); is /scim/v2 \
                     implemented and does the key have scim:provision?",
                    target.name,
                    warm.errors,
                    warm.requests
                );
            }
        }
    }

    let provision = run_phase("POST /Users (create)", plan, users, {
        let (targets, run) = (targets.clone(), run.clone());
        move |t, i| {
            let (targets, run) = (targets.clone(), run.clone());
            async move { targets[t].create(&user_name(&run, i), i).await.map(Some) }
        }
    })
    .await;
    show(&provision);
    // Each server's users, by id and by userName (a failed create left no
    // user, and is already counted as an error).
    let ids: Arc<Vec<Vec<String>>> = Arc::new(
        provision
            .iter()
            .map(|phase| phase.outputs.iter().flatten().cloned().collect())
            .collect(),
    );
    let names: Arc<Vec<Vec<String>>> = Arc::new(
        provision
            .iter()
            .map(|phase| {
                let created = phase
                    .outputs
                    .iter()
                    .enumerate()
                    .filter(|(_, id)| id.is_some());
                created.map(|(i, _)| user_name(&run, i)).collect()
            })
            .collect(),
    );
    if let Some((target, _)) = targets
        .iter()
        .zip(ids.iter())
        .find(|(_, ids)| ids.is_empty())
    {
        bail!(
            "[{}] no user was created; nothing to read or patch",
            target.name
        );
    }

    let get = run_phase("GET /Users/{id}", plan, requests, {
        let (targets, ids) = (targets.clone(), ids.clone());
        move |t, i| {
            let (targets, ids) = (targets.clone(), ids.clone());
            async move {
                let id = &ids[t][pick(i, ids[t].len())];
                targets[t].get(id).await.map(|()| None)
            }
        }
    })
    .await;
    show(&get);

    let filter = run_phase("GET /Users?filter=userName eq", plan, requests, {
        let (targets, names) = (targets.clone(), names.clone());
        move |t, i| {
            let (targets, names) = (targets.clone(), names.clone());
            async move {
                let name = &names[t][pick(i, names[t].len())];
                targets[t].find(name).await.map(|()| None)
            }
        }
    })
    .await;
    show(&filter);

    let patch = run_phase("PATCH /Users/{id}", plan, requests, {
        let (targets, ids) = (targets.clone(), ids.clone());
        move |t, i| {
            let (targets, ids) = (targets.clone(), ids.clone());
            async move {
                let id = &ids[t][pick(i, ids[t].len())];
                targets[t].patch(id, i).await.map(|()| None)
            }
        }
    })
    .await;
    show(&patch);

    let mut phases: Vec<_> = [provision, get, filter, patch]
        .into_iter()
        .map(Vec::into_iter)
        .collect();
    Ok(targets
        .iter()
        .zip(ids.iter())
        .map(|(target, ids)| {
            let phases: Vec<Phase> = phases.iter_mut().filter_map(Iterator::next).collect();
            Report {
                backend: target.name.clone(),
                run: None,
                users: ids.len(),
                provision_wall: phases[0].wall,
                phases,
            }
        })
        .collect())
}

/// The userName of the `i`th provisioned user of a run.
fn user_name(run: &str, i: usize) -> String {
    format!("bench-{run}-{i}@example.com")
}

/// Spreads request `i` over `0..len` (SplitMix64), so reads hit the whole
/// table rather than the hot end the creates just wrote, the same way on
/// every run.
fn pick(i: usize, len: usize) -> usize {
    let mut z = (i as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The remainder is below `len`, so it fits back into usize.
    (z % len as u64) as usize
}

/// The SCIM endpoints of one server, with the bearer key.
struct Target {
    /// What the figures are labelled with.
    name: String,
    http: reqwest::Client,
    base: String,
    auth: String,
}

impl Target {
    fn new(name: &str, addr: &str, token: &str, args: &Args) -> anyhow::Result<Target> {
        let http = scimctl::client::http_builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(usize::from(args.concurrency))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Target {
            name: name.to_owned(),
            http,
            base: format!("{addr}/scim/v2"),
            auth: format!("Bearer {token}"),
        })
    }

    /// `POST /Users` the way Okta creates a user; answers its id.
    async fn create(&self, user_name: &str, i: usize) -> Result<String, String> {
        let body = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
            "userName": user_name,
            "externalId": format!("ext-{user_name}"),
            "name": {"givenName": "Bench", "familyName": format!("User {i}")},
            "displayName": format!("Bench User {i}"),
            "emails": [{"value": user_name, "type": "work", "primary": true}],
            "title": "Engineer",
            "active": true,
            ENTERPRISE_SCHEMA: {"department": "Engineering", "employeeNumber": i.to_string()},
        });
        let request = self.http.post(format!("{}/Users", self.base)).json(&body);
        let created = self.send(request, StatusCode::CREATED).await?;
        match created.get("id").and_then(Value::as_str) {
            Some(id) => Ok(id.to_owned()),
            None => Err(format!("POST /Users answered 201 without an id: {created}")),
        }
    }

    /// `GET /Users/{id}`.
    async fn get(&self, id: &str) -> Result<(), String> {
        let request = self.http.get(format!("{}/Users/{id}", self.base));
        let user = self.send(request, StatusCode::OK).await?;
        if user.get("id").and_then(Value::as_str) == Some(id) {
            Ok(())
        } else {
            Err(format!("GET /Users/{id} answered another resource: {user}"))
        }
    }

    /// `GET /Users?filter=userName eq "…"`, as both IdPs look a user up
    /// before creating it; exactly one user must match.
    async fn find(&self, user_name: &str) -> Result<(), String> {
        let filter = format!("userName eq \"{user_name}\"");
        let request = self.http.get(format!("{}/Users", self.base)).query(&[
            ("filter", filter.as_str()),
            ("startIndex", "1"),
            ("count", "100"),
        ]);
        let list = self.send(request, StatusCode::OK).await?;
        match list.get("totalResults").and_then(Value::as_u64) {
            Some(1) => Ok(()),
            _ => Err(format!(
                "filter {filter} did not find exactly one user: {list}"
            )),
        }
    }

    /// `PATCH /Users/{id}`: Entra's profile-update shape (replace without
    /// the active flag, which would deprovision).
    async fn patch(&self, id: &str, i: usize) -> Result<(), String> {
        let body = json!({
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": format!("Patched User {i}")},
                {"op": "replace", "path": "title", "value": format!("Engineer {}", i % 7)},
            ],
        });
        let request = self
            .http
            .patch(format!("{}/Users/{id}", self.base))
            .json(&body);
        // RFC 7644 §3.5.2 lets the server answer 200 with the resource or 204.
        self.send_any(request, &[StatusCode::OK, StatusCode::NO_CONTENT])
            .await
            .map(drop)
    }

    /// Sends with the key and SCIM content type; the JSON body when the
    /// status is `expected`, else a short description of what came back.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Result<Value, String> {
        self.send_any(request, &[expected]).await
    }

    /// [`send`](Self::send) accepting any of `expected`; an empty body (204)
    /// reads as `null`.
    async fn send_any(
        &self,
        request: reqwest::RequestBuilder,
        expected: &[StatusCode],
    ) -> Result<Value, String> {
        let response = request
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, SCIM_JSON)
            .header(reqwest::header::ACCEPT, SCIM_JSON)
            .send()
            .await
            .map_err(|err| format!("request failed: {err}"))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|err| format!("reading the answer failed: {err}"))?;
        if !expected.contains(&status) {
            let text = String::from_utf8_lossy(&bytes);
            let shown: String = text.chars().take(300).collect();
            return Err(format!("{status} (expected {expected:?}): {shown}"));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|err| format!("{status} with a non-JSON body: {err}"))
    }
}

/// One measured phase: `requests` calls of one kind, `concurrency` at a time.
struct Phase {
    name: &'static str,
    requests: usize,
    errors: usize,
    wall: Duration,
    /// Every request's latency, sorted.
    latencies: Vec<Duration>,
    /// What each request answered (create: the new id), by request index.
    outputs: Vec<Option<String>>,
    /// The CPU time the machine spent on anything but the load generator
    /// during the phase and [`SETTLE`] after it (see [`CpuClock`]).
    server_cpu: Option<Duration>,
    /// The same figures slice by slice, in the order run.
    slices: Vec<Slice>,
}

/// Requests, wall time and server CPU time: a slice's, or a phase's in all.
#[derive(Debug, Clone, Copy)]
struct Slice {
    requests: usize,
    wall: Duration,
    server_cpu: Option<Duration>,
}

impl Slice {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
    }

    /// Server CPU time per request, in microseconds.
    fn cpu_per_request(&self) -> Option<f64> {
        self.server_cpu
            .map(|cpu| cpu.as_secs_f64() * 1e6 / self.requests.max(1) as f64)
    }
}

impl Phase {
    fn total(&self) -> Slice {
        Slice {
            requests: self.requests,
            wall: self.wall,
            server_cpu: self.server_cpu,
        }
    }

    fn rate(&self) -> f64 {
        self.total().rate()
    }

    fn cpu_per_request(&self) -> Option<f64> {
        self.total().cpu_per_request()
    }

    /// The `q` quantile (0..=1) by nearest rank.
    fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = (q * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1]
    }

    fn summary(&self) -> String {
        format!(
            "{}: {} requests, {} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, wall {:.2} s, \
             server CPU {}",
            self.name,
            self.requests,
            self.errors,
            self.rate(),
            millis(self.quantile(0.50)),
            millis(self.quantile(0.99)),
            self.wall.as_secs_f64(),
            self.cpu_per_request()
                .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.0} µs/request"))
        )
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// How a phase is run: `concurrency` requests in flight, against each of
/// `targets` servers in turn, `slices` times each.
#[derive(Debug, Clone, Copy)]
struct Plan {
    concurrency: usize,
    slices: usize,
    targets: usize,
}

/// Calls `op(t, 0..total)` for every target `t`, `concurrency` requests at
/// a time, and times every call. The indexes are cut into slices; the
/// targets take turns slice by slice (0 1, 1 0, 0 1, …), and after each
/// slice the machine idles for [`SETTLE`], counted in the slice's CPU time
/// but not its wall time, so the work a server put off lands in its own
/// CPU time and not in the next slice's throughput.
async fn run_phase<F, Fut>(name: &'static str, plan: Plan, total: usize, op: F) -> Vec<Phase>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<String>, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let mut phases: Vec<Phase> = (0..plan.targets)
        .map(|_| Phase {
            name,
            requests: total,
            errors: 0,
            wall: Duration::ZERO,
            latencies: Vec::with_capacity(total),
            outputs: vec![None; total],
            server_cpu: Some(Duration::ZERO),
            slices: Vec::with_capacity(plan.slices),
        })
        .collect();
    // One server has no one to take turns with: one slice, no gaps.
    let slices = if plan.targets > 1 { plan.slices } else { 1 };
    let slice = total.div_ceil(slices).max(1);
    for (round, start) in (0..total).step_by(slice).enumerate() {
        let end = (start + slice).min(total);
        let mut order: Vec<usize> = (0..plan.targets).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for t in order {
            let phase = &mut phases[t];
            let cpu_before = CpuClock::now();
            let started = Instant::now();
            let next = Arc::new(AtomicUsize::new(start));
            let workers: Vec<_> = (0..plan.concurrency.min(end - start))
                .map(|_| {
                    let (op, next) = (op.clone(), next.clone());
                    tokio::spawn(async move {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= end {
                                return done;
                            }
                            let sent = Instant::now();
                            let outcome = op(t, i).await;
                            done.push((i, sent.elapsed(), outcome));
                        }
                    })
                })
                .collect();
            for worker in workers {
                // A panicking request task is a bug in this file: let it show.
                let done = worker.await.expect("a benchmark task panicked");
                for (i, latency, outcome) in done {
                    phase.latencies.push(latency);
                    match outcome {
                        Ok(output) => phase.outputs[i] = output,
                        Err(err) => {
                            phase.errors += 1;
                            if phase.errors <= ERRORS_SHOWN {
                                eprintln!("  {name}: request {i} failed: {err}");
                            }
                        }
                    }
                }
            }
            let wall = started.elapsed();
            tokio::time::sleep(SETTLE).await;
            let server_cpu = match (cpu_before, CpuClock::now()) {
                (Some(before), Some(after)) => Some(after.since(before)),
                _ => None,
            };
            phase.wall += wall;
            phase.server_cpu = phase.server_cpu.zip(server_cpu).map(|(sum, cpu)| sum + cpu);
            phase.slices.push(Slice {
                requests: end - start,
                wall,
                server_cpu,
            });
        }
    }
    for phase in &mut phases {
        phase.latencies.sort_unstable();
    }
    phases
}

fn print_table(reports: &[Report]) {
    let width = reports
        .iter()
        .map(|r| r.backend.len())
        .max()
        .unwrap_or(0)
        .max(9);
    println!(
        "{:<width$} {:<32} {:>8} {:>6} {:>9} {:>8} {:>8} {:>11}",
        "backend", "operation", "requests", "errors", "req/s", "p50 ms", "p99 ms", "cpu µs/req"
    );
    for report in reports {
        for phase in &report.phases {
            println!(
                "{:<width$} {:<32} {:>8} {:>6} {:>9.0} {:>8.2} {:>8.2} {:>11}",
                report.backend,
                phase.name,
                phase.requests,
                phase.errors,
                phase.rate(),
                millis(phase.quantile(0.50)),
                millis(phase.quantile(0.99)),
                phase
                    .cpu_per_request()
                    .map_or_else(|| "n/a".to_owned(), |us| format!("{us:.0}")),
            );
        }
    }
    println!();
    for report in reports {
        println!(
            "{:<width$} provisioned {} users in {:.2} s wall ({:.0} users/s)",
            report.backend,
            report.users,
            report.provision_wall.as_secs_f64(),
            report.users as f64 / report.provision_wall.as_secs_f64().max(f64::EPSILON)
        );
    }
}

/// What the journal costs each phase: the throughput with it on over the
/// throughput with it off, and the server's CPU time per request with it
/// on over that with it off. Each is the median of the ratios of the slices
/// the two servers ran back to back, with their range, so a slice a noisy
/// neighbour slowed moves the range and not the figure.
fn print_journal_cost(reports: &[Report]) {
    println!(
        "journal cost (on / off), median of {} slice pairs [range]: req/s (below 1 is slower), \
         server CPU per request (above 1 is dearer)",
        reports
            .first()
            .and_then(|report| report.phases.first())
            .map_or(0, |phase| phase.slices.len())
    );
    for on in reports
        .iter()
        .filter(|report| report.run.is_some_and(|(_, journal)| journal))
    {
        let Some((backend, _)) = on.run else { continue };
        let Some(off) = reports
            .iter()
            .find(|report| report.run == Some((backend, false)))
        else {
            continue;
        };
        for (on, off) in on.phases.iter().zip(&off.phases) {
            let pairs = || on.slices.iter().zip(&off.slices);
            let rates = pairs().map(|(on, off)| Some(on.rate() / off.rate().max(f64::EPSILON)));
            let cpu = pairs().map(|(on, off)| {
                on.cpu_per_request()
                    .zip(off.cpu_per_request())
                    .filter(|&(_, off)| off > 0.0)
                    .map(|(on, off)| on / off)
            });
            println!(
                "{:<9} {:<32} req/s {:<28} cpu/request {}",
                backend,
                on.name,
                ratio_summary(rates),
                ratio_summary(cpu),
            );
        }
    }
}

/// `0.95 (-5 %) [0.90–1.01]`: the median of `ratios` and their range;
/// `n/a` when any is missing.
fn ratio_summary(ratios: impl Iterator<Item = Option<f64>>) -> String {
    let Some(mut ratios) = ratios
        .collect::<Option<Vec<f64>>>()
        .filter(|r| !r.is_empty())
    else {
        return "n/a".to_owned();
    };
    ratios.sort_unstable_by(f64::total_cmp);
    let middle = ratios.len() / 2;
    let median = match ratios.len() % 2 {
        1 => ratios[middle],
        _ => (ratios[middle - 1] + ratios[middle]) / 2.0,
    };
    format!(
        "{median:.2} ({:+.0} %) [{:.2}–{:.2}]",
        (median - 1.0) * 100.0,
        ratios[0],
        ratios[ratios.len() - 1]
    )
}

/// Where CPU time went, in clock ticks (`USER_HZ`, 100 a second on every
/// Linux the kernel ABI covers): the whole machine's busy time, less what
/// the load generator's threads took, is what the server cost, its threads
/// and its database's processes and the kernel's work for them included.
/// Robust where throughput is not: another tenant's load on a shared
/// machine slows requests but does not add to this. Linux only (`/proc`).
#[derive(Debug, Clone, Copy)]
struct CpuClock {
    busy: u64,
    client: u64,
}

const TICKS_PER_SECOND: f64 = 100.0;

impl CpuClock {
    fn now() -> Option<CpuClock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse().ok())
            .collect::<Option<_>>()?;
        // user nice system idle iowait irq softirq steal …: idle, waiting
        // for I/O and stolen by the hypervisor are not busy.
        let busy = ticks.get(0..3)?.iter().sum::<u64>() + ticks.get(5..7)?.iter().sum::<u64>();
        let mut client = 0;
        for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if !comm.starts_with(CLIENT_THREAD) {
                continue;
            }
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            client += thread_ticks(&stat).unwrap_or(0);
        }
        Some(CpuClock { busy, client })
    }

    fn since(self, before: CpuClock) -> Duration {
        let busy = self.busy.saturating_sub(before.busy);
        let client = self.client.saturating_sub(before.client);
        Duration::from_secs_f64(busy.saturating_sub(client) as f64 / TICKS_PER_SECOND)
    }
}

/// utime + stime of a `/proc/…/stat` line: the 14th and 15th fields,
/// counted from the state after the ")" that ends the name (the 3rd).
fn thread_ticks(stat: &str) -> Option<u64> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The store an in-process server runs on.
enum Backend {
    Sqlite,
    /// The admin URL a fresh database is created from.
    Postgres(String),
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

fn postgres_admin_url() -> Option<String> {
    POSTGRES_URL_VARS.iter().find_map(|var| {
        std::env::var(var)
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty())
    })
}

/// A server on this process's servers' runtime, on a brand-new database.
struct LocalServer {
    addr: String,
    root_token: String,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    postgres: Option<PostgresDatabase>,
    // Holds the SQLite file; removed when the server is dropped.
    _dir: tempfile::TempDir,
}

impl LocalServer {
    async fn start(
        runtime: &tokio::runtime::Handle,
        backend: &Backend,
        journal: bool,
    ) -> anyhow::Result<LocalServer> {
        let dir = tempfile::Builder::new()
            .prefix("scimctl-bench-")
            .tempdir()
            .context("cannot create a temporary directory")?;
        let (database_url, postgres) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/scimctl.db", dir.path().display()),
                None,
            ),
            Backend::Postgres(admin_url) => {
                let database = PostgresDatabase::create(admin_url).await?;
                (database.url.clone(), Some(database))
            }
        };
        let database = DatabaseUrl::from_str(&database_url)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .context("cannot bind a loopback port")?;
        let listen = listener.local_addr()?;
        let mut config = ServerConfig::new(listen, database);
        if !journal {
            config.journal = None;
        }
        // Prepared and run on the servers' runtime: its pools' tasks, and
        // the journal's writer, belong to the server's CPU time.
        let (ready, prepared) = oneshot::channel();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            let server = match Server::prepare(config).await {
                Ok(server) => server,
                Err(err) => {
                    let _ = ready.send(Err(err));
                    return Ok(());
                }
            };
            let token = server
                .initial_token()
                .context("a brand-new database yields an initial admin key")
                .map(str::to_owned);
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let _ = ready.send(token);
            server
                .run(listener, async move {
                    let _ = shutdown_rx.await;
                })
                .await
        });
        let root_token = match prepared
            .await
            .context("the server task ended early")
            .flatten()
        {
            Ok(token) => token,
            Err(err) => {
                if let Some(database) = postgres {
                    database.drop_it().await;
                }
                return Err(err.context(format!("cannot start the {} server", backend.name())));
            }
        };
        Ok(LocalServer {
            addr: format!("http://{listen}"),
            root_token,
            shutdown,
            task,
            postgres,
            _dir: dir,
        })
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(err))) => eprintln!("warning: the server stopped with an error: {err:#}"),
            Ok(Err(err)) => eprintln!("warning: the server task panicked: {err}"),
            Err(_) => eprintln!("warning: the server did not stop within 30s"),
        }
        if let Some(database) = self.postgres {
            database.drop_it().await;
        }
    }
}

/// A key with only `scim:provision`, made through the admin API as an
/// operator connecting an IdP would.
async fn provisioning_key(server: &LocalServer) -> anyhow::Result<String> {
    let admin =
        scimctl::client::Client::new(&server.addr, &Secret::new(server.root_token.clone()))?;
    let created = admin
        .create_key(&CreateKeyRequest {
            name: "scim-load-bench".to_owned(),
            scopes: vec![Scope::ScimProvision],
            expires_at: None,
            owner: None,
        })
        .await
        .context("cannot create the benchmark's scim:provision key")?;
    Ok(created.token)
}

/// A database created for one run, dropped (with FORCE) by [`drop_it`](Self::drop_it).
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    async fn create(admin_url: &str) -> anyhow::Result<PostgresDatabase> {
        let name = format!("scimctl_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context("cannot connect to PostgreSQL with SCIMCTL_BENCH_POSTGRES_URL")?;
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("CREATE DATABASE {name} failed; the role needs CREATEDB"))?;
        let _ = conn.close().await;
        Ok(PostgresDatabase {
            url: with_database(admin_url, &name)?,
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    async fn drop_it(self) {
        let outcome = async {
            let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
            let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
            conn.close().await
        }
        .await;
        if let Err(err) = outcome {
            eprintln!("warning: could not drop database {}: {err}", self.name);
        }
    }
}

/// `url` pointing at database `name` instead of its own, query kept.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .context("the PostgreSQL URL has no scheme (postgres://…)")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |at| &tail[at..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}
