//! `scimctl server`: resolves the server's settings from flags, the config
//! file and `--dev`, starts it, and stops it on SIGINT/SIGTERM.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use tokio::net::TcpListener;

use super::CliError;
use crate::server::Server;
use crate::server::config::{ConfigFile, DEFAULT_LISTEN, ServerConfig};
use crate::store::DatabaseUrl;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServerArgs {
    #[command(subcommand)]
    pub action: Option<ServerAction>,

    /// Throwaway server: SQLite in a fresh temporary directory, deleted on exit
    ///
    /// Prints the address, the `export` line to paste for the CLI, and a
    /// one-time root API key with every scope.
    #[arg(long, conflicts_with_all = ["database", "config"])]
    pub dev: bool,

    /// Settings file (TOML: listen, database, body_limit, trusted_proxies, [limits]); flags win over it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// sqlite:///path/to/scimctl.db or postgres://user:password@host/database
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
}

/// What `scimctl server` does instead of serving.
#[derive(clap::Subcommand, Debug)]
pub enum ServerAction {
    /// Break-glass repair on the server's host, bypassing the API
    ///
    /// For an operator locked out: mints a new API key with every scope
    /// and/or empties the IP allowlist, working on the database directly
    /// (run it where the server runs, with its --database or --config).
    /// Audited as `system.recover`. Asks first on a terminal; without one,
    /// pass --yes.
    Recover(super::recover::RecoverArgs),
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logging();
    // Kept alive for the whole run: dropping it deletes the dev database.
    let mut dev_dir = None;
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let listen = args.listen.or(file.listen).unwrap_or_else(|| {
        DEFAULT_LISTEN
            .parse()
            .expect("default listen address is valid")
    });
    let database = if args.dev {
        let dir = tempfile::Builder::new()
            .prefix("scimctl-dev-")
            .tempdir()
            .context("cannot create a temporary directory for the dev database")?;
        let url = DatabaseUrl::sqlite_file(&dir.path().join("scimctl.db"));
        dev_dir = Some(dir);
        url
    } else {
        args.database.or(file.database).ok_or_else(|| {
            CliError::Usage(
                "no database: pass --database sqlite:///path/to/scimctl.db (or postgres://…), \
                 set `database` in a --config file, or try `scimctl server --dev`"
                    .to_owned(),
            )
        })?
    };
    let mut config = ServerConfig::new(listen, database);
    if let Some(limit) = file.body_limit {
        config.body_limit = limit;
    }
    if let Some(proxies) = file.trusted_proxies {
        config.trusted_proxies = proxies;
    }
    let in_file = |problem: String| {
        let shown = args
            .config
            .as_ref()
            .map_or_else(String::new, |path| format!("{}: ", path.display()));
        CliError::Usage(format!("{shown}{problem}"))
    };
    config.limits = file.limits.resolve().map_err(in_file)?;
    config.journal = file.journal.resolve().map_err(in_file)?;

    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = format!("http://{}", listener.local_addr()?);
    let server = Server::prepare(config.clone()).await?;
    let shutdown = shutdown_signal()?;

    if dev_dir.is_some() {
        print_dev_banner(&address, &config, server.initial_token());
    } else {
        eprintln!(
            "scimctl server listening on {address} (database {})",
            config.database
        );
        if let Some(token) = server.initial_token() {
            print_initial_key(&address, token);
        }
    }
    server.run(listener, shutdown).await?;
    eprintln!("scimctl server stopped");
    drop(dev_dir);
    Ok(())
}

fn print_dev_banner(address: &str, config: &ServerConfig, token: Option<&str>) {
    println!("scimctl dev server listening on {address}");
    println!(
        "database: {} (deleted when the server stops)",
        config.database
    );
    if let Some(token) = token {
        println!();
        println!("Paste this into another shell to point the CLI at it:");
        println!();
        println!("  export SCIMCTL_ADDR={address} SCIMCTL_TOKEN={token}");
        println!();
        println!("The root key has every scope and is shown only now. Stop with Ctrl-C.");
    }
}

fn print_initial_key(address: &str, token: &str) {
    println!("This database is new: its initial admin key (every scope) is shown only now.");
    println!();
    println!("  export SCIMCTL_ADDR={address} SCIMCTL_TOKEN={token}");
    println!();
    println!("Store it safely, create narrower keys with `scimctl keys create`, then revoke it.");
}

/// Logs go to stderr; `RUST_LOG` picks what (default: `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a file or journald would
    // store the escape codes as text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // A second init (tests running several servers) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// A future that resolves on Ctrl-C or SIGTERM (what container runtimes and
/// systemd send). The handlers are installed now, before the banner is
/// printed, so a signal sent the moment the server says it is up is caught.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {},
            _ = terminate.recv() => {},
        }
        eprintln!("shutting down: finishing requests in flight");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("shutting down: finishing requests in flight");
    })
}
