//! The accept loop: each connection served by hyper's HTTP/1 with a
//! header-read timeout (which also closes idle keep-alive connections), each
//! request body under a deadline; a cap on open connections (at the cap the
//! loop stops accepting until one closes, and it backs off when accepting
//! fails, e.g. out of file descriptors); a cap per peer address; and a
//! graceful shutdown that lets requests in flight finish.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use dashmap::DashMap;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;
use tower_http::timeout::DeadlineBody;

use super::client_ip::TrustedProxies;
use super::config::Limits;
use super::metrics::Metrics;
use crate::domain::allowlist;

/// Descriptors kept free for everything that is not a client connection:
/// the database pool, the listener, logs, a margin.
const RESERVED_DESCRIPTORS: u64 = 128;

/// Longest pause after a failed accept.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What the loop needs besides the app.
pub struct ServeOptions {
    pub limits: Limits,
    pub trusted_proxies: TrustedProxies,
    pub metrics: Arc<Metrics>,
}

/// The connection cap actually used: the configured one, lowered to fit
/// the process's soft limit on open files so that accepting can never be
/// what runs out of descriptors.
pub fn connection_cap(configured: usize) -> usize {
    let Some(soft) = open_file_limit() else {
        return configured;
    };
    let fits = if soft > 2 * RESERVED_DESCRIPTORS {
        soft - RESERVED_DESCRIPTORS
    } else {
        soft / 2
    };
    let fits = usize::try_from(fits).unwrap_or(usize::MAX).max(1);
    if fits < configured {
        tracing::info!(
            configured,
            used = fits,
            open_file_limit = soft,
            "limits.max_connections lowered to fit the open-file limit (raise it with \
             `ulimit -n` or LimitNOFILE= to allow more)"
        );
    }
    configured.min(fits)
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass, which lives for the
    // whole call.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    (ok && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// Open connections per peer address; an entry goes when its last
/// connection closes.
#[derive(Default)]
struct PerAddress(DashMap<IpAddr, usize>);

/// One connection's place in [`PerAddress`], given back on drop.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let mut count = self.0.entry(ip).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.table.0.remove_if_mut(&self.ip, |_, count| {
            *count -= 1;
            *count == 0
        });
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for the
/// open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let cap = connection_cap(options.limits.max_connections);
    let permits = Arc::new(Semaphore::new(cap));
    let per_address = Arc::new(PerAddress::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = Duration::ZERO;
    loop {
        // At the cap, wait here: new connections queue in the kernel
        // rather than take descriptors we do not have.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = Duration::ZERO;
                accepted
            }
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Out of descriptors (EMFILE/ENFILE) or memory: wait for
                // connections to close instead of spinning.
                backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_BACKOFF);
                tracing::warn!(error = %err, pause = ?backoff, "cannot accept a connection");
                tokio::time::sleep(backoff).await;
                continue;
            }
        };
        let ip = allowlist::canonical(peer.ip());
        let slot = if options.trusted_proxies.trusts(ip) {
            None
        } else {
            match per_address.enter(ip, options.limits.max_connections_per_address) {
                Some(slot) => Some(slot),
                None => {
                    // Closed at once: one address may not hold every slot.
                    options.metrics.connection_refused();
                    drop(stream);
                    continue;
                }
            }
        };
        let app = app.clone();
        let limits = options.limits.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, &limits, stop).await;
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it ends: having them all back
    // means every connection has finished.
    let total = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(total).await;
}

/// Errors that concern one connection only (it went away before we took
/// it): accept the next one at once.
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: &Limits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let body_timeout = limits.body_timeout;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(|body| Body::new(DeadlineBody::new(body_timeout, body)));
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(limits.keep_alive);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = async { stop.wait_for(|stop| *stop).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        // Timeouts, resets and malformed requests: the client's doing.
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_slots_are_capped_and_given_back() {
        let table = Arc::new(PerAddress::default());
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let first = table.enter(ip, 2).expect("room");
        let second = table.enter(ip, 2).expect("room");
        assert!(table.enter(ip, 2).is_none(), "the cap holds");
        assert!(table.enter("192.0.2.2".parse().expect("ip"), 2).is_some());
        drop(first);
        assert!(
            table.enter(ip, 2).is_some(),
            "a closed connection frees its slot"
        );
        drop(second);
    }

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        let cap = connection_cap(usize::MAX);
        if let Some(limit) = open_file_limit() {
            assert!((cap as u64) < limit, "{cap} < {limit}");
        }
        assert_eq!(connection_cap(1), 1);
    }
}
