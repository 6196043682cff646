//! What bounds a SCIM read on SQLite: the database work of one authenticated
//! `GET /Users/{id}` (the key with its owner's access, then the user with
//! its emails and groups: `store::keys::present` and `store::users::load`)
//! through the server's own store (sqlx), beside the same two statements,
//! with the same SQL text, through `rusqlite`, run inline on the runtime's
//! threads and via `spawn_blocking`, and beside two trivial statements
//! through sqlx (that driver's floor for two round trips).
//!
//! ```sh
//! cargo bench --bench sqlite_driver
//! cargo bench --bench sqlite_driver -- --seconds 5 --tasks 64
//! ```
//!
//! Every figure comes from the same process, database file and runtime (two
//! worker threads, as on the 2-core machine the targets are set for), so
//! the ratios hold on a noisy machine where the absolute rates do not. It
//! prints figures and asserts nothing about them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use scimctl::api::CreateKeyRequest;
use scimctl::api::users::CreateUserRequest;
use scimctl::domain::actor::Actor;
use scimctl::domain::{keys, users};
use scimctl::store::{self, DatabaseUrl, Store};

#[derive(Parser, Debug)]
#[command(about = "What a SCIM read's database work costs on SQLite, by driver")]
struct Args {
    /// Seconds each workload runs
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Concurrent tasks (wrk's connections in the HTTP bench)
    #[arg(long, default_value_t = 32)]
    tasks: usize,
    /// Runtime worker threads
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Passed by `cargo bench` (a name filter); ignored.
    #[arg(hide = true)]
    filter: Vec<String>,
}

/// The ids one GET needs: the caller's key and the user it reads.
struct Target {
    key_id: String,
    user_id: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("scimctl.db");
    let store = Store::connect(&DatabaseUrl::sqlite_file(&path)).await?;
    let target = seed(&store).await?;
    let duration = Duration::from_secs(args.seconds);
    let target = Arc::new(target);

    let store_get = {
        let (store, target) = (store.clone(), target.clone());
        measure(args.tasks, duration, move || {
            let (store, target) = (store.clone(), target.clone());
            async move {
                let mut conn = store.conn().await.expect("a reader");
                store::keys::present(&mut conn, &target.key_id)
                    .await
                    .expect("the key");
                drop(conn);
                let mut conn = store.conn().await.expect("a reader");
                store::users::load(&mut conn, &target.user_id, false)
                    .await
                    .expect("the user")
                    .expect("the user exists");
            }
        })
        .await
    };
    let sqlx_trivial = {
        let store = store.clone();
        measure(args.tasks, duration, move || {
            let store = store.clone();
            async move {
                for _ in 0..2 {
                    let mut conn = store.conn().await.expect("a reader");
                    sqlx::query("SELECT 1")
                        .fetch_one(&mut *conn)
                        .await
                        .expect("SELECT 1");
                }
            }
        })
        .await
    };
    let statements = {
        let conn = store.conn().await?;
        Arc::new([
            (store::keys::present_sql(&conn), target.key_id.clone()),
            (store::users::load_sql(&conn, false), target.user_id.clone()),
        ])
    };
    let readers = Arc::new(RusqliteReaders::open(&path, 8)?);
    let rusqlite_inline = {
        let (readers, statements) = (readers.clone(), statements.clone());
        measure(args.tasks, duration, move || {
            let (readers, statements) = (readers.clone(), statements.clone());
            async move {
                for (sql, id) in statements.iter() {
                    readers.read_row(sql, id);
                }
            }
        })
        .await
    };
    let rusqlite_blocking = {
        let (readers, statements) = (readers.clone(), statements.clone());
        measure(args.tasks, duration, move || {
            let (readers, statements) = (readers.clone(), statements.clone());
            async move {
                for index in 0..statements.len() {
                    let (readers, statements) = (readers.clone(), statements.clone());
                    tokio::task::spawn_blocking(move || {
                        let (sql, id) = &statements[index];
                        readers.read_row(sql, id);
                    })
                    .await
                    .expect("the blocking task");
                }
            }
        })
        .await
    };

    println!(
        "SQLite, {} tasks on {} worker threads, {} s each",
        args.tasks, args.threads, args.seconds
    );
    println!(
        "{:<52} {:>9} {:>8} {:>8}",
        "workload", "GETs/s", "µs/GET", "× store"
    );
    for (name, rate) in [
        ("sqlx: store::keys::present + users::load", store_get),
        ("sqlx: 2 × SELECT 1", sqlx_trivial),
        ("rusqlite: the same two statements, inline", rusqlite_inline),
        (
            "rusqlite: the same two, spawn_blocking each",
            rusqlite_blocking,
        ),
    ] {
        println!(
            "{name:<52} {rate:>9.0} {:>8.1} {:>8.2}",
            1e6 / rate,
            rate / store_get
        );
    }
    store.close().await;
    Ok(())
}

/// A manual user with an email, a role and a group, and an admin key.
async fn seed(store: &Store) -> anyhow::Result<Target> {
    let actor = Actor::system();
    let user = users::create_manual(
        store,
        &actor,
        CreateUserRequest {
            user_name: "alice".to_owned(),
            display_name: Some("Alice".to_owned()),
            emails: vec!["alice@example.com".to_owned()],
            roles: vec!["auditor".to_owned()],
            groups: vec!["Engineering".to_owned()],
            create_groups: true,
        },
    )
    .await
    .context("create the user")?;
    let key = keys::create(
        store,
        &actor,
        CreateKeyRequest {
            name: "bench".to_owned(),
            scopes: scimctl::api::scope::Scope::ALL.to_vec(),
            expires_at: None,
            owner: None,
        },
    )
    .await
    .context("create the key")?;
    Ok(Target {
        key_id: key.key.id,
        user_id: user.id,
    })
}

/// `count` read-only connections, each behind its own lock; a caller takes
/// the first free one, as a pool would, without leaving its thread.
struct RusqliteReaders {
    connections: Vec<Mutex<rusqlite::Connection>>,
    next: AtomicU64,
}

impl RusqliteReaders {
    fn open(path: &std::path::Path, count: usize) -> anyhow::Result<Self> {
        let connections = (0..count)
            .map(|_| {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                Ok(Mutex::new(conn))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(RusqliteReaders {
            connections,
            next: AtomicU64::new(0),
        })
    }

    /// Runs `sql` with `id` as its one parameter and reads every column of
    /// the row, as decoding it into a record would.
    fn read_row(&self, sql: &str, id: &str) {
        let start = self.next.fetch_add(1, Ordering::Relaxed) as usize;
        let count = self.connections.len();
        let guard = (0..count)
            .find_map(|offset| self.connections[(start + offset) % count].try_lock().ok())
            .unwrap_or_else(|| self.connections[start % count].lock().expect("a reader"));
        let mut statement = guard.prepare_cached(sql).expect("the statement prepares");
        let columns = statement.column_count();
        statement
            .query_row([id], |row| {
                for column in 0..columns {
                    let _: rusqlite::types::Value = row.get(column)?;
                }
                Ok(())
            })
            .expect("the row");
    }
}

/// Runs `op` in a loop on `tasks` tasks for `duration`; operations per second.
async fn measure<F, Fut>(tasks: usize, duration: Duration, op: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (op, done) = (op.clone(), done.clone());
            tokio::spawn(async move {
                while started.elapsed() < duration {
                    op().await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a worker");
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}
