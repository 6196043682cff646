//! Prometheus metrics: the counters this server keeps, the middleware that
//! counts requests, and `/metrics`, which serves them in the OpenMetrics
//! text format Prometheus scrapes.
//!
//! Each server owns its registry (in `AppState`) rather than a process-wide
//! one, so several servers in one process (the tests) count separately.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use crate::api::rails::HoldReason;
pub use crate::domain::deprovision::Trigger;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Route label of a request no route matched. Raw paths are never used as
/// labels: anyone could mint unbounded series by probing random paths.
const UNMATCHED: &str = "unmatched";

// `trigger="admin"` or `trigger="scim"`: the words the audit log uses too.
impl EncodeLabelValue for Trigger {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

// `reason="protected"`, `"breaker"` or `"last_admin"`: the held rows' words.
impl EncodeLabelValue for HoldReason {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HeldLabels {
    reason: HoldReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// The route template, e.g. `/admin/v1/keys/{id}`.
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DeprovisionLabels {
    trigger: Trigger,
}

/// The server's counters and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    deprovisionings: Family<DeprovisionLabels, Counter>,
    held: Family<HeldLabels, Counter>,
    breaker_open: Gauge,
    throttled: Counter,
    connections_refused: Counter,
    journal_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        // Registered without `_total`: the encoder appends it to counters.
        registry.register(
            "scimctl_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let deprovisionings = Family::<DeprovisionLabels, Counter>::default();
        registry.register(
            "scimctl_deprovisionings",
            "Users deprovisioned (dry runs not counted), by what triggered it",
            deprovisionings.clone(),
        );
        // Both series exist from the start at 0, so a rate over them works
        // before the first deprovisioning.
        for trigger in [Trigger::Admin, Trigger::Scim] {
            let _ = deprovisionings.get_or_create(&DeprovisionLabels { trigger });
        }
        let held = Family::<HeldLabels, Counter>::default();
        registry.register(
            "scimctl_held_deprovisionings",
            "SCIM deactivations and deletions held instead of carried out, by reason",
            held.clone(),
        );
        for reason in HoldReason::ALL {
            let _ = held.get_or_create(&HeldLabels { reason });
        }
        let breaker_open = Gauge::default();
        registry.register(
            "scimctl_breaker_open",
            "1 while the mass-deprovisioning circuit breaker is open (read from the database at each scrape)",
            breaker_open.clone(),
        );
        let throttled = Counter::default();
        registry.register(
            "scimctl_throttled_requests",
            "Requests answered 429 by a rate limit or a failed-authentication lockout",
            throttled.clone(),
        );
        let connections_refused = Counter::default();
        registry.register(
            "scimctl_connections_refused",
            "Connections closed at once: their address already held its share",
            connections_refused.clone(),
        );
        let journal_dropped = Counter::default();
        registry.register(
            "scimctl_journal_dropped",
            "SCIM exchanges not journaled: the journal's writer had fallen behind or failed",
            journal_dropped.clone(),
        );
        Metrics {
            registry,
            requests,
            deprovisionings,
            held,
            breaker_open,
            throttled,
            connections_refused,
            journal_dropped,
        }
    }

    /// Counts `count` SCIM exchanges the journal could not keep.
    pub fn journal_dropped(&self, count: u64) {
        self.journal_dropped.inc_by(count);
    }

    /// Counts one request refused with 429.
    pub fn throttled(&self) {
        self.throttled.inc();
    }

    /// Counts one connection closed for its address's connection cap.
    pub fn connection_refused(&self) {
        self.connections_refused.inc();
    }

    /// Counts one deprovisioning that was carried out (not a dry run, not a
    /// no-op on a user already deprovisioned).
    pub fn deprovisioned(&self, trigger: Trigger) {
        self.deprovisionings
            .get_or_create(&DeprovisionLabels { trigger })
            .inc();
    }

    /// Counts one SCIM deprovisioning held for `reason`.
    pub fn held(&self, reason: HoldReason) {
        self.held.get_or_create(&HeldLabels { reason }).inc();
    }

    /// Sets the breaker gauge.
    pub fn breaker_open(&self, open: bool) {
        self.breaker_open.set(i64::from(open));
    }

    fn request(&self, route: &str, method: &Method, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method_label(method).to_owned(),
                status,
            })
            .inc();
    }

    /// Every metric in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; the encoder's error type only
        // exists for other writers.
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %err, "cannot encode the metrics");
        }
        text
    }
}

/// Methods outside the standard set share one label value, so a client
/// sending made-up methods cannot mint series either.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware: counts every request by route template, method and status.
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    state
        .metrics
        .request(&route, &method, response.status().as_u16());
    response
}

/// `GET /metrics`, unauthenticated like `/healthz`: counters carry no
/// secrets, and scrapers seldom hold API keys.
pub async fn serve(State(state): State<AppState>) -> Response {
    // The breaker is shared by every replica: its state comes from the
    // database, not from what this replica happened to see. A database that
    // does not answer leaves the last value (and `/readyz` says so).
    match crate::domain::rails::is_open(&state.store).await {
        Ok(open) => state.metrics.breaker_open(open),
        Err(err) => tracing::warn!(error = %err, "cannot read the breaker state for /metrics"),
    }
    let mut response = state.metrics.encode().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_template_method_and_status() {
        let metrics = Metrics::new();
        metrics.request("/admin/v1/keys/{id}", &Method::GET, 200);
        metrics.request("/admin/v1/keys/{id}", &Method::GET, 200);
        metrics.request(
            UNMATCHED,
            &Method::from_bytes(b"BREW").expect("method"),
            404,
        );
        let text = metrics.encode();
        assert!(
            text.contains(
                "scimctl_http_requests_total{route=\"/admin/v1/keys/{id}\",method=\"GET\",status=\"200\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "scimctl_http_requests_total{route=\"unmatched\",method=\"other\",status=\"404\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn deprovisionings_start_at_zero_and_count_by_trigger() {
        let metrics = Metrics::new();
        let text = metrics.encode();
        assert!(
            text.contains("scimctl_deprovisionings_total{trigger=\"admin\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("scimctl_deprovisionings_total{trigger=\"scim\"} 0\n"),
            "{text}"
        );
        metrics.deprovisioned(Trigger::Scim);
        let text = metrics.encode();
        assert!(
            text.contains("scimctl_deprovisionings_total{trigger=\"scim\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn held_deprovisionings_count_by_reason_from_zero() {
        let metrics = Metrics::new();
        metrics.held(HoldReason::Breaker);
        metrics.breaker_open(true);
        let text = metrics.encode();
        for line in [
            "scimctl_held_deprovisionings_total{reason=\"breaker\"} 1\n",
            "scimctl_held_deprovisionings_total{reason=\"protected\"} 0\n",
            "scimctl_breaker_open 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn each_instance_counts_on_its_own() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.deprovisioned(Trigger::Admin);
        assert!(
            b.encode()
                .contains("scimctl_deprovisionings_total{trigger=\"admin\"} 0\n")
        );
    }
}
