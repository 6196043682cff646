//! The client's address: which address a request comes from (the
//! connection's peer, or `X-Forwarded-For` only when the peer is a
//! configured trusted proxy), worked out once per request for the
//! allowlist, authentication and the audit log.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::error::ApiError;
use crate::domain::allowlist;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address a request comes from, as the allowlist, the audit log and
/// `whoami` see it. Take it as an extractor; [`resolve`] works it out once
/// per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The proxies whose `X-Forwarded-For` is believed (server config
/// `trusted_proxies`). Empty: the header is ignored.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(proxies: &[IpNet]) -> Self {
        TrustedProxies(proxies.into())
    }

    pub(super) fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy;
/// then `X-Forwarded-For` is read from its right end (the hop nearest us)
/// leftwards, skipping trusted proxies, and the first address that is not
/// one is the client. Everything left of it could have been written by the
/// client itself, so it is never believed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let mut client = allowlist::canonical(peer);
    if !trusted.trusts(client) {
        return client;
    }
    // Several X-Forwarded-For headers read as one list, in order.
    let hops: Vec<&str> = headers
        .get_all(X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !trusted.trusts(ip) {
                    return ip;
                }
            }
            // A trusted proxy passed on something unreadable: stop at the
            // last address we could read rather than guess past it.
            None => return client,
        }
    }
    client
}

/// One `X-Forwarded-For` element: an address, perhaps with a port
/// (`10.1.2.3:5000`, `[2001:db8::1]:443`) as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(allowlist::canonical(ip));
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|addr| allowlist::canonical(addr.ip()))
}

/// Middleware for the whole app: works out the [`ClientIp`] once and puts it
/// in the request's extensions.
pub async fn resolve(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        let ip = client_ip(peer, request.headers(), &trusted);
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(*ip);
        }
        // A router served without `resolve` (none is, today): the peer is
        // all we know, and trusting no proxy is the safe reading.
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(ClientIp(allowlist::canonical(peer.ip())));
        }
        tracing::error!("request without a peer address: serve with connect info");
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; the server log has the details",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        let nets: Vec<IpNet> = list
            .iter()
            .map(|net| net.parse().expect("test CIDR"))
            .collect();
        TrustedProxies::new(&nets)
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                X_FORWARDED_FOR,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let headers = forwarded(&["10.9.9.9"]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers, &TrustedProxies::default()),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_ip(ip("192.0.2.1"), &headers, &proxies(&["10.0.0.0/8"])),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &forwarded(&["203.0.113.7"]), &trusted),
            ip("203.0.113.7")
        );
        // No header: the proxy itself is all there is.
        assert_eq!(
            client_ip(ip("10.0.0.5"), &HeaderMap::new(), &trusted),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn spoofed_hops_left_of_the_client_are_ignored() {
        // The client sent "1.1.1.1" itself; the trusted proxy appended the
        // address it saw.
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["1.1.1.1, 203.0.113.7"]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &headers, &trusted),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn chains_of_trusted_proxies_are_walked() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.0.0/16"]);
        let headers = forwarded(&["203.0.113.7, 192.168.1.1", "10.2.2.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &headers, &trusted),
            ip("203.0.113.7")
        );
        // Every hop trusted: the leftmost is the best we know.
        let headers = forwarded(&["10.3.3.3, 10.2.2.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &headers, &trusted),
            ip("10.3.3.3")
        );
    }

    #[test]
    fn ports_mapped_addresses_and_garbage() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            client_ip(ip("10.0.0.5"), &forwarded(&["203.0.113.7:5123"]), &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.5"), &forwarded(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(
                ip("::ffff:10.0.0.5"),
                &forwarded(&["::ffff:203.0.113.7"]),
                &trusted
            ),
            ip("203.0.113.7")
        );
        // Unreadable: stop at the last readable (trusted) hop, never skip it.
        assert_eq!(
            client_ip(
                ip("10.0.0.5"),
                &forwarded(&["203.0.113.7, unknown"]),
                &trusted
            ),
            ip("10.0.0.5")
        );
    }
}
