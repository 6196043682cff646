//! The SCIM request journal, off the request path: a layer on `/scim/v2`
//! copies each exchange as it passes (the request body as the
//! handler reads it, the answer once made) and hands it to a bounded
//! channel without waiting; one writer task stores what arrives in batches
//! and prunes by age and size. When the writer falls behind, exchanges are
//! dropped and counted (`scimctl_journal_dropped_total`), never the request
//! slowed; on `kill -9` the last batch is lost, which is acceptable for a
//! troubleshooting log (the audit log is written in each change's own
//! transaction).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{OriginalUri, Request};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body::Frame;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::{Layer, Service};

use super::client_ip::ClientIp;
use super::metrics::Metrics;
use crate::domain::journal::{self, Capture, KEPT_HEADERS, MAX_BODY, Retention};
use crate::store::Store;

/// Exchanges waiting for the writer; beyond this they are dropped.
const QUEUE: usize = 20_000;
/// Bytes of bodies waiting for the writer; beyond this exchanges are
/// dropped, so a writer that falls behind never holds more than this.
const MAX_QUEUED_BYTES: usize = 32 * 1024 * 1024;
/// The most exchanges one write stores.
const MAX_BATCH: usize = 5000;
/// How long the writer gathers a batch once the first exchange arrives:
/// long enough that a batch under load holds thousands (SQLite appends a
/// batch of 2,500 for a quarter less CPU a row than one of 250: each index
/// page it touches is written once a batch).
const BATCH_WAIT: Duration = Duration::from_millis(250);
/// How often old exchanges are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The sending side: a tower layer on `/scim/v2` that journals every
/// exchange passing through it (see [`Recorded`]). Cloned for each request,
/// so one counted pointer.
#[derive(Clone)]
pub(crate) struct Journal(Arc<Sending>);

struct Sending {
    sender: mpsc::Sender<Capture>,
    /// Body bytes in the queue (see [`MAX_QUEUED_BYTES`]).
    queued: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

/// The writer task; wait for it after the server stops serving, so the
/// last exchanges are stored.
pub(crate) struct Writer(JoinHandle<()>);

impl Writer {
    /// Waits up to `grace` for the writer to store what it holds.
    pub async fn finish(self, grace: Duration) {
        if tokio::time::timeout(grace, self.0).await.is_err() {
            tracing::warn!("the SCIM journal's last exchanges were not all stored in time");
        }
    }
}

impl Journal {
    /// Starts the writer on `store`. The writer ends when every [`Journal`]
    /// handle is gone (the router dropped at shutdown), after a last write.
    pub fn start(store: Store, retention: Retention, metrics: Arc<Metrics>) -> (Journal, Writer) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(write_batches(
            store,
            retention,
            Queue {
                receiver,
                queued: Arc::clone(&queued),
            },
            Arc::clone(&metrics),
        ));
        let journal = Journal(Arc::new(Sending {
            sender,
            queued,
            metrics,
        }));
        (journal, Writer(writer))
    }

    fn send(&self, capture: Capture) {
        let Sending {
            sender,
            queued,
            metrics,
        } = &*self.0;
        let size = weight(&capture);
        let before = queued.fetch_add(size, Ordering::Relaxed);
        if before + size > MAX_QUEUED_BYTES || sender.try_send(capture).is_err() {
            queued.fetch_sub(size, Ordering::Relaxed);
            metrics.journal_dropped(1);
        }
    }
}

/// What a queued exchange holds in memory, as the queue's budget counts it:
/// every part a client chooses the length of, headers too (a caller without
/// a key can send hundreds of kilobytes of them; they are cut only when
/// stored).
fn weight(capture: &Capture) -> usize {
    let headers: usize = capture.headers.iter().map(|(_, value)| value.len()).sum();
    capture.request_body.len()
        + capture.response_body.len()
        + capture.path.len()
        + capture.request_id.len()
        + capture.authorization.as_ref().map_or(0, String::len)
        + headers
}

/// The receiving side: the channel, and the budget it gives back.
struct Queue {
    receiver: mpsc::Receiver<Capture>,
    queued: Arc<AtomicUsize>,
}

impl Queue {
    async fn recv(&mut self) -> Option<Capture> {
        let capture = self.receiver.recv().await?;
        self.queued.fetch_sub(weight(&capture), Ordering::Relaxed);
        Some(capture)
    }

    /// Adds to `batch` what is waiting, up to `limit` in all, without waiting.
    async fn recv_many(&mut self, batch: &mut Vec<Capture>, limit: usize) {
        let from = batch.len();
        if from < limit && !self.receiver.is_empty() {
            self.receiver.recv_many(batch, limit - from).await;
        }
        let freed: usize = batch[from..].iter().map(weight).sum();
        self.queued.fetch_sub(freed, Ordering::Relaxed);
    }
}

async fn write_batches(
    store: Store,
    retention: Retention,
    mut receiver: Queue,
    metrics: Arc<Metrics>,
) {
    let mut pruned = None::<Instant>;
    let mut backlog = false;
    while let Some(first) = receiver.recv().await {
        // Woken once a batch, not once an exchange: sleep through the
        // window (unless the last batch left more waiting), then take what
        // gathered.
        let mut batch = vec![first];
        if !backlog {
            tokio::time::sleep(BATCH_WAIT).await;
        }
        receiver.recv_many(&mut batch, MAX_BATCH).await;
        backlog = batch.len() == MAX_BATCH;
        let count = batch.len() as u64;
        if let Err(err) = journal::record(&store, batch).await {
            tracing::warn!(error = %crate::store::describe(&err), count, "cannot store SCIM journal entries");
            metrics.journal_dropped(count);
        }
        if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned = Some(Instant::now());
            if let Err(err) = journal::prune(&store, retention).await {
                tracing::warn!(error = %crate::store::describe(&err), "cannot prune the SCIM journal");
            }
        }
    }
}

impl<S> Layer<S> for Journal {
    type Service = Recorded<S>;

    fn layer(&self, inner: S) -> Recorded<S> {
        Recorded {
            inner,
            journal: self.clone(),
        }
    }
}

/// A service journaled by [`Journal`]: passes each request on with its body
/// copied as it is read, and the answer on once it is whole, then queues
/// the exchange. A layer of its own rather than `middleware::from_fn`,
/// which clones the service it wraps for every request.
#[derive(Clone)]
pub(crate) struct Recorded<S> {
    inner: S,
    journal: Journal,
}

impl<S> Service<Request> for Recorded<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let (asked, request) = Asked::of(request);
        let answering = self.inner.call(request);
        let journal = self.journal.clone();
        Box::pin(async move {
            let response = answering.await?;
            Ok(asked.answered(response, &journal).await)
        })
    }
}

/// A request being answered: what the journal keeps of it, the answer's
/// part still to come.
struct Asked {
    started: Instant,
    /// Every part but the answer's (status, duration, body) and the
    /// request body, which `body` gathers as the handler reads it.
    capture: Capture,
    /// `None` when the request has no body.
    body: Option<Arc<Mutex<BytesMut>>>,
}

impl Asked {
    /// Takes what is kept of `request`, and the request to pass on, its
    /// body copied as it is read.
    fn of(request: Request) -> (Asked, Request) {
        let uri = request
            .extensions()
            .get::<OriginalUri>()
            .map_or(request.uri(), |OriginalUri(uri)| uri);
        let path = uri
            .path_and_query()
            .map_or(uri.path(), |path| path.as_str());
        let text = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let mut asked = Asked {
            started: Instant::now(),
            capture: Capture {
                at: OffsetDateTime::now_utc(),
                request_id: text("x-request-id").unwrap_or_default(),
                authorization: text("authorization"),
                source_ip: request
                    .extensions()
                    .get::<ClientIp>()
                    .map(|ClientIp(ip)| *ip),
                method: request.method().as_str().to_owned(),
                path: path.to_owned(),
                status: 0,
                duration: Duration::ZERO,
                headers: KEPT_HEADERS
                    .iter()
                    .filter_map(|name| text(name).map(|value| (*name, value)))
                    .collect(),
                request_body: Bytes::new(),
                response_body: Bytes::new(),
            },
            body: None,
        };
        // A GET has no body: nothing to copy, so nothing to allocate.
        if http_body::Body::is_end_stream(request.body()) {
            return (asked, request);
        }
        let seen = Arc::new(Mutex::new(BytesMut::new()));
        asked.body = Some(Arc::clone(&seen));
        let request = request.map(|inner| Body::new(Tee { inner, seen }));
        (asked, request)
    }

    /// Queues the exchange `response` completes, and gives the response
    /// back to be sent.
    async fn answered(self, response: Response, journal: &Journal) -> Response {
        let Asked {
            started,
            mut capture,
            body,
        } = self;
        let (parts, answer) = response.into_parts();
        // SCIM answers are made whole in memory: this copies nothing.
        let answer = match axum::body::to_bytes(answer, usize::MAX).await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read a SCIM answer to journal it");
                Bytes::new()
            }
        };
        if capture.request_id.is_empty()
            && let Some(id) = parts
                .headers
                .get("x-request-id")
                .and_then(|value| value.to_str().ok())
        {
            id.clone_into(&mut capture.request_id);
        }
        if let Some(seen) = body {
            capture.request_body =
                std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner())).freeze();
        }
        capture.status = parts.status.as_u16();
        capture.duration = started.elapsed();
        // Copied when cut, so a long answer's buffer is not held in the queue.
        capture.response_body = match answer.len() > MAX_BODY * 2 {
            true => Bytes::copy_from_slice(&answer[..MAX_BODY * 2]),
            false => answer.clone(),
        };
        journal.send(capture);
        Response::from_parts(parts, Body::from(answer))
    }
}

/// A request body that copies what the handler reads (up to twice what the
/// journal keeps: redaction may shorten it) as it passes.
struct Tee {
    inner: Body,
    seen: Arc<Mutex<BytesMut>>,
}

impl http_body::Body for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let room = (MAX_BODY * 2).saturating_sub(seen.len());
            seen.extend_from_slice(&data[..data.len().min(room)]);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Long headers weigh on the queue's budget as bodies do, so a flood of
    /// keyless requests with huge headers cannot grow the queue past it.
    #[test]
    fn every_part_a_client_sizes_weighs_on_the_queue() {
        let big = "x".repeat(300_000);
        let capture = Capture {
            at: OffsetDateTime::UNIX_EPOCH,
            request_id: big.clone(),
            authorization: Some(big.clone()),
            source_ip: None,
            method: "GET".to_owned(),
            path: "/scim/v2/Users".to_owned(),
            status: 401,
            duration: Duration::ZERO,
            headers: vec![("user-agent", big.clone())],
            request_body: Bytes::new(),
            response_body: Bytes::new(),
        };
        assert!(weight(&capture) >= 3 * big.len(), "{}", weight(&capture));
    }
}
