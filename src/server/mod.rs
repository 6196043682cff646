//! The HTTP service: configuration, start-up (database, initial key) and the
//! serve loop. Routes live in `routes.rs`, one module per resource beside it.

mod admin;
mod auth;
mod client_ip;
pub mod config;
mod error;
mod extract;
mod health;
mod introspect;
mod journal;
mod limits;
mod metrics;
mod openapi;
mod routes;
mod scim;
mod serve;
mod text_guard;

use std::future::Future;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::domain;
use crate::store::Store;

pub use config::{ConfigFile, ServerConfig};

/// How often the rate limiter forgets idle clients.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a stopping server waits for the journal's last write.
const JOURNAL_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    /// This server's Prometheus counters (see `metrics.rs`).
    pub metrics: std::sync::Arc<metrics::Metrics>,
    /// Rate limits and lockout (see `limits.rs`).
    pub limiter: std::sync::Arc<limits::Limiter>,
    /// The window that keeps `auth.denied` entries bounded.
    pub denials: std::sync::Arc<domain::denials::DenialLog>,
    /// This replica's copy of the settings and the allowlist.
    pub policy: std::sync::Arc<domain::policy::PolicyCache>,
}

/// A server whose database is connected and migrated, ready to serve.
pub struct Server {
    config: ServerConfig,
    state: AppState,
    initial_token: Option<String>,
}

impl Server {
    /// Connects, runs migrations and, on a brand-new database, creates the
    /// initial admin key (every scope).
    pub async fn prepare(config: ServerConfig) -> anyhow::Result<Server> {
        let store = Store::connect(&config.database).await?;
        let initial_token = domain::keys::create_initial(&store)
            .await
            .context("cannot create the initial admin key")?;
        let state = AppState {
            store,
            metrics: Default::default(),
            limiter: std::sync::Arc::new(limits::Limiter::new(&config.limits)),
            denials: std::sync::Arc::new(domain::denials::DenialLog::new(
                config.limits.denials_logged_per_minute,
            )),
            policy: Default::default(),
        };
        Ok(Server {
            config,
            state,
            initial_token,
        })
    }

    /// The initial admin key's token when this start created it, else `None`.
    pub fn initial_token(&self) -> Option<&str> {
        self.initial_token.as_deref()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets requests in
    /// flight finish.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (journal, writer) = match self.config.journal {
            Some(retention) => {
                let metrics = std::sync::Arc::clone(&self.state.metrics);
                let (journal, writer) =
                    journal::Journal::start(self.state.store.clone(), retention, metrics);
                (Some(journal), Some(writer))
            }
            None => (None, None),
        };
        let app = routes::router(self.state.clone(), &self.config, journal);
        // Buckets that are full again are forgotten now and then, so the
        // limiter's memory follows recent clients only.
        let limiter = std::sync::Arc::clone(&self.state.limiter);
        let sweeper = tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                limiter.sweep();
            }
        });
        let options = serve::ServeOptions {
            limits: self.config.limits.clone(),
            trusted_proxies: client_ip::TrustedProxies::new(&self.config.trusted_proxies),
            metrics: std::sync::Arc::clone(&self.state.metrics),
        };
        serve::serve(listener, app, options, shutdown).await;
        sweeper.abort();
        if let Some(writer) = writer {
            writer.finish(JOURNAL_GRACE).await;
        }
        self.state.store.close().await;
        Ok(())
    }
}
