//! Rate limits and lockout: token buckets per client address, per API key
//! and, for refused authentications, per address and per presented key id;
//! the middleware that answers `429` with `Retry-After` before any database
//! work is done. The buckets live in this replica's memory: each replica
//! limits what reaches it (see `docs/security.md`).

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::AppState;
use super::auth::bearer_token;
use super::client_ip::ClientIp;
use super::config::{Limits, Rate};
use super::error::ApiError;
use super::scim::error::ScimHttpError;
use crate::domain::token::PresentedToken;

/// Key ids longer than this are not real (ours are far shorter) and are not
/// tracked one by one: a client could otherwise fill memory with made-up
/// ids. Their failures still count against the address.
const MAX_TRACKED_KEY_ID: usize = 64;

/// Paths never limited: load balancers' probes must not be turned away.
const UNLIMITED_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// What may be throttled on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Address(IpAddr),
    KeyId(String),
}

/// This replica's buckets.
pub struct Limiter {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_key: DefaultKeyedRateLimiter<String>,
    failed_by_address: DefaultKeyedRateLimiter<IpAddr>,
    failed_by_key: DefaultKeyedRateLimiter<String>,
    /// Addresses and key ids whose failed-authentication bucket is spent,
    /// and until when: every request from them is refused until then,
    /// before its key is even looked at.
    locked: DashMap<Subject, Instant>,
    clock: DefaultClock,
}

/// A request refused by a limit: `429` after `wait`.
#[derive(Debug, Clone)]
pub struct Throttled {
    pub wait: Duration,
    pub message: String,
}

fn quota(rate: Rate) -> Quota {
    // `Limits::check` refused a rate of zero or a burst of zero.
    let period = Duration::from_secs_f64(1.0 / rate.per_second).max(Duration::from_nanos(1));
    Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN))
}

impl Limiter {
    pub fn new(limits: &Limits) -> Limiter {
        Limiter {
            per_address: RateLimiter::keyed(quota(limits.per_address)),
            per_key: RateLimiter::keyed(quota(limits.per_key)),
            failed_by_address: RateLimiter::keyed(quota(limits.failed_auth)),
            failed_by_key: RateLimiter::keyed(quota(limits.failed_auth)),
            locked: DashMap::new(),
            clock: DefaultClock::default(),
        }
    }

    fn take<K: Clone + Hash + Eq>(
        &self,
        limiter: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Result<(), Duration> {
        limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// One request from `ip`.
    pub fn request_from(&self, ip: IpAddr) -> Result<(), Throttled> {
        self.take(&self.per_address, &ip).map_err(|wait| Throttled {
            wait,
            message: format!("too many requests from {ip}"),
        })
    }

    /// One request made with the API key `key_id` (already authenticated).
    pub fn request_with_key(&self, key_id: &str) -> Result<(), Throttled> {
        self.take(&self.per_key, &key_id.to_owned())
            .map_err(|wait| Throttled {
                wait,
                message: format!("too many requests with API key {key_id}"),
            })
    }

    /// Whether `ip`, or the key id presented, is locked out after too many
    /// refused authentications.
    pub fn locked_out(&self, ip: IpAddr, key_id: Option<&str>) -> Option<Throttled> {
        if self.locked.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut subjects = vec![(Subject::Address(ip), format!("from {ip}"))];
        if let Some(id) = key_id.filter(|id| id.len() <= MAX_TRACKED_KEY_ID) {
            subjects.push((Subject::KeyId(id.to_owned()), format!("for API key {id}")));
        }
        for (subject, whom) in subjects {
            let until = self.locked.get(&subject).map(|entry| *entry.value());
            match until {
                Some(until) if until > now => {
                    return Some(Throttled {
                        wait: until - now,
                        message: format!("too many failed authentications {whom}"),
                    });
                }
                Some(_) => {
                    self.locked.remove_if(&subject, |_, until| *until <= now);
                }
                None => {}
            }
        }
        None
    }

    /// A request from `ip` was refused before any key was accepted: it
    /// presented none, a wrong or dead one (`key_id`, when it named one), or
    /// came from an address the allowlist refuses. Spends the address's (and
    /// the key id's) failed-authentication bucket; once one is empty, it is
    /// locked out until the bucket has a token again.
    pub fn failed_authentication(&self, ip: IpAddr, key_id: Option<&str>) {
        if let Err(wait) = self.take(&self.failed_by_address, &ip) {
            self.lock(Subject::Address(ip), wait);
        }
        if let Some(id) = key_id.filter(|id| id.len() <= MAX_TRACKED_KEY_ID) {
            let id = id.to_owned();
            if let Err(wait) = self.take(&self.failed_by_key, &id) {
                self.lock(Subject::KeyId(id), wait);
            }
        }
    }

    fn lock(&self, subject: Subject, wait: Duration) {
        let until = Instant::now() + wait;
        if self.locked.insert(subject.clone(), until).is_none() {
            // Once per lockout, not per request: the log is bounded too.
            tracing::warn!(
                ?subject,
                "too many failed authentications; locked out for now"
            );
        }
    }

    /// Forgets buckets that are full again and lockouts that are over, so
    /// memory follows the clients of the last moments, not of all time.
    pub fn sweep(&self) {
        for limiter in [&self.per_address, &self.failed_by_address] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in [&self.per_key, &self.failed_by_key] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.locked.retain(|_, until| *until > now);
        self.locked.shrink_to_fit();
    }
}

/// Which error format a refusal is written in.
fn is_scim(path: &str) -> bool {
    path == super::scim::PREFIX || path.starts_with(&format!("{}/", super::scim::PREFIX))
}

impl Throttled {
    /// `Retry-After` in whole seconds, rounded up: a client that waits that
    /// long gets through.
    pub fn retry_after_seconds(&self) -> u64 {
        let seconds = self.wait.as_secs() + u64::from(self.wait.subsec_nanos() > 0);
        seconds.max(1)
    }

    /// What the client is told.
    pub fn message(&self) -> String {
        format!(
            "{}; retry after {} s",
            self.message,
            self.retry_after_seconds()
        )
    }

    /// `429` in the SCIM error format, with `Retry-After`.
    pub fn scim_response(&self) -> Response {
        let mut response =
            ScimHttpError::new(StatusCode::TOO_MANY_REQUESTS, None, self.message()).into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_seconds()),
        );
        response
    }

    /// `429` in the format of the API at `path`.
    pub fn response(self, path: &str) -> Response {
        if is_scim(path) {
            self.scim_response()
        } else {
            ApiError::throttled(self).into_response()
        }
    }
}

/// Middleware for the whole app (inside `client_ip::resolve`): the
/// per-address bucket and the failed-authentication lockout, checked before
/// the allowlist, the key or anything else touches the database.
pub async fn throttle(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if UNLIMITED_PATHS.contains(&path) {
        return next.run(request).await;
    }
    let key_id = bearer_token(request.headers())
        .and_then(PresentedToken::parse)
        .map(|token| token.id);
    let refused = state
        .limiter
        .request_from(ip)
        .err()
        .or_else(|| state.limiter.locked_out(ip, key_id));
    match refused {
        Some(throttled) => {
            state.metrics.throttled();
            throttled.response(path)
        }
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn limits(failed: Rate) -> Limits {
        Limits {
            failed_auth: failed,
            ..Limits::default()
        }
    }

    #[test]
    fn failures_lock_out_the_address_and_the_key_id_until_the_bucket_refills() {
        let limiter = Limiter::new(&limits(Rate::new(0.01, 3)));
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(limiter.locked_out(ip, Some("k1")).is_none());
            limiter.failed_authentication(ip, Some("k1"));
        }
        assert!(
            limiter.locked_out(ip, None).is_none(),
            "three failures fit the burst"
        );
        limiter.failed_authentication(ip, Some("k1"));
        let locked = limiter
            .locked_out(ip, None)
            .expect("the address is locked out");
        assert!(locked.wait > Duration::from_secs(50), "{locked:?}");
        let by_key = limiter
            .locked_out(other, Some("k1"))
            .expect("the key id is locked out from anywhere");
        assert!(by_key.message.contains("API key k1"), "{by_key:?}");
        assert!(limiter.locked_out(other, Some("k2")).is_none());
    }

    #[test]
    fn made_up_key_ids_are_not_tracked_one_by_one() {
        let limiter = Limiter::new(&limits(Rate::new(0.01, 1)));
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let long = "x".repeat(MAX_TRACKED_KEY_ID + 1);
        limiter.failed_authentication(ip, Some(&long));
        limiter.failed_authentication(ip, Some(&long));
        assert_eq!(limiter.locked.len(), 1, "only the address");
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let throttled = Throttled {
            wait: Duration::from_millis(1200),
            message: "too many".into(),
        };
        let response = throttled.clone().response("/scim/v2/Users");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let response = throttled.response("/admin/v1/users");
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
