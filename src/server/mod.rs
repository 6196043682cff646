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
mod metrics;
mod openapi;
mod routes;
mod scim;
mod text_guard;

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::domain;
use crate::store::Store;

pub use config::{ConfigFile, ServerConfig};

/// What every handler can reach.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Store,
    /// This server's Prometheus counters (see `metrics.rs`).
    pub metrics: std::sync::Arc<metrics::Metrics>,
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
        Ok(Server {
            config,
            state: AppState {
                store,
                metrics: Default::default(),
            },
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
        let app = routes::router(self.state.clone(), &self.config);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server stopped with an error")?;
        self.state.store.close().await;
        Ok(())
    }
}
