//! `--follow` for a log the server appends to (the audit log, the SCIM
//! request journal): the most recent entries first, then each new one as it
//! is recorded, until Ctrl-C, like `tail -f`; through restarts of the
//! server and entries that commit out of order.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::time::{Duration, Instant};

use super::Context;
use crate::api::Page;
use crate::client::ClientError;
use crate::output::stream::ListWriter;
use crate::output::{Output, RenderError, Show, Style};

/// How often `--follow` asks for new entries.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How many recent entries `--follow` shows before the new ones, unless
/// `--limit` says.
pub(super) const FOLLOW_RECENT: u64 = 10;
/// How long `--follow` waits for an id it skipped to turn up (see
/// [`Tracker`]).
const GAP_PATIENCE: Duration = Duration::from_secs(10);
/// Longest wait between retries while the server cannot be reached.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// A log to follow: its entries carry ids that grow as they are recorded.
pub(super) trait Feed {
    type Item: Show + 'static;
    /// The most entries one page may hold.
    const MAX_PAGE: u32;

    fn id(item: &Self::Item) -> i64;

    /// A page of the matching entries, newest first (`cursor` from the
    /// previous page).
    async fn newest_first(
        &self,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<Self::Item>, ClientError>;

    /// The id of the newest entry of the whole log, matching or not (0 when
    /// it is empty).
    async fn newest_id(&self) -> Result<i64, ClientError>;

    /// A page of the matching entries with an id above `after`, oldest first.
    async fn after(
        &self,
        after: i64,
        cursor: Option<String>,
    ) -> Result<Page<Self::Item>, ClientError>;
}

/// Follows `feed`: the `recent` newest matching entries, then each new one.
pub(super) async fn follow<F: Feed>(
    ctx: &Context,
    feed: &F,
    recent: u64,
) -> anyhow::Result<Output> {
    // Never paged: a pager would hold what is followed until it quits.
    let mut writer = ListWriter::follow(io::stdout(), ctx.global.view(), Style::detect());
    writer.prepare::<F::Item>()?;
    let start = starting_point(feed, recent).await?;
    let mut tracker = Tracker::new(start, GAP_PATIENCE);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut retry_delay = POLL_INTERVAL;
    let mut unreachable = false;
    loop {
        let outcome = tokio::select! {
            _ = &mut interrupted => break,
            outcome = poll(feed, &mut tracker, &mut writer) => outcome,
        };
        match outcome {
            Ok(()) => {
                if unreachable {
                    say(ctx, "Reconnected; following again.");
                    unreachable = false;
                }
                retry_delay = POLL_INTERVAL;
            }
            Err(Failure::Output(err)) => return Err(err.into()),
            // The server restarting or a network blip should not end a
            // follow left running in a terminal; anything else (a revoked
            // key, a filter the server refuses) will not get better.
            Err(Failure::Client(err)) if is_transient(&err) => {
                if !unreachable {
                    say(ctx, &format!("warning: {err}; retrying until it answers"));
                    unreachable = true;
                }
                retry_delay = (retry_delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(Failure::Client(err)) => return Err(err.into()),
        }
        tokio::select! {
            _ = &mut interrupted => break,
            () = tokio::time::sleep(retry_delay) => {}
        }
    }
    // Ctrl-C is how a follow ends: a success.
    Ok(Output::default())
}

/// Where following starts: just before the oldest of the `recent` newest
/// matching entries, so they are printed first; or at the newest entry of
/// the whole log when none match. Walks back page by page keeping only an
/// id, so memory stays constant whatever `recent` is.
async fn starting_point<F: Feed>(feed: &F, recent: u64) -> anyhow::Result<i64> {
    // Read before the recent entries: anything recorded in between has a
    // greater id and is printed as new.
    let newest = feed.newest_id().await?;
    let mut remaining = recent;
    let mut oldest: Option<i64> = None;
    let mut cursor: Option<String> = None;
    while remaining > 0 {
        let page_size = u32::try_from(remaining.min(u64::from(F::MAX_PAGE))).unwrap_or(F::MAX_PAGE);
        let page = feed.newest_first(page_size, cursor.clone()).await?;
        remaining = remaining.saturating_sub(page.items.len() as u64);
        if let Some(last) = page.items.last() {
            oldest = Some(F::id(last));
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(oldest.map_or(newest, |oldest| oldest - 1))
}

enum Failure {
    Client(ClientError),
    Output(RenderError),
}

/// Fetches every matching entry after the tracker's watermark, oldest
/// first, and prints the ones not printed yet.
async fn poll<F: Feed>(
    feed: &F,
    tracker: &mut Tracker,
    writer: &mut ListWriter<io::Stdout>,
) -> Result<(), Failure> {
    let after = tracker.watermark();
    let mut cursor: Option<String> = None;
    loop {
        let page = feed
            .after(after, cursor.clone())
            .await
            .map_err(Failure::Client)?;
        let now = Instant::now();
        let fresh: Vec<F::Item> = page
            .items
            .into_iter()
            .filter(|item| tracker.saw(F::id(item), now))
            .collect();
        writer.page(&fresh).map_err(Failure::Output)?;
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => break,
        }
    }
    tracker.settle(Instant::now());
    Ok(())
}

/// A diagnostic on stderr while following (the data keeps flowing on
/// stdout, so it cannot wait for the notes printed at the end).
fn say(ctx: &Context, line: &str) {
    if !ctx.global.quiet {
        let _ = writeln!(io::stderr(), "{line}");
    }
}

fn is_transient(err: &ClientError) -> bool {
    match err {
        ClientError::Refused { .. } | ClientError::Timeout { .. } | ClientError::Network { .. } => {
            true
        }
        ClientError::Api { status, .. } => status.is_server_error(),
        _ => false,
    }
}

/// Which entries `--follow` has printed.
///
/// Entry ids grow, but on PostgreSQL they are handed out when a
/// transaction writes its entry, not when it commits: entry 41 can become
/// visible after entry 42 was printed. So following does not simply ask for
/// ids above the last one printed. It asks for ids above a *watermark*, the
/// id up to which everything has been printed or given up on, and remembers
/// the ids printed above it. A missing id is waited for up to `patience`
/// after a later entry was printed (ids of rolled-back transactions, or of
/// entries the filters exclude, never turn up).
#[derive(Debug)]
struct Tracker {
    watermark: i64,
    /// Ids printed above the watermark, and when.
    printed: BTreeMap<i64, Instant>,
    patience: Duration,
}

impl Tracker {
    fn new(watermark: i64, patience: Duration) -> Self {
        Tracker {
            watermark,
            printed: BTreeMap::new(),
            patience,
        }
    }

    fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Notes that entry `id` was fetched; `true` when it is new (to print).
    fn saw(&mut self, id: i64, now: Instant) -> bool {
        if id <= self.watermark || self.printed.contains_key(&id) {
            return false;
        }
        self.printed.insert(id, now);
        true
    }

    /// Raises the watermark past every id printed without a gap below it,
    /// and past gaps that waited longer than the patience allows.
    fn settle(&mut self, now: Instant) {
        let given_up = self
            .printed
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= self.patience)
            .map(|(id, _)| *id)
            .next_back();
        if let Some(id) = given_up {
            self.watermark = self.watermark.max(id);
        }
        while let Some((&id, _)) = self.printed.first_key_value() {
            if id <= self.watermark {
                self.printed.remove(&id);
            } else if id == self.watermark + 1 {
                self.printed.remove(&id);
                self.watermark = id;
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_secs(10);

    #[test]
    fn consecutive_ids_move_the_watermark() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(5, PATIENCE);
        assert!(tracker.saw(6, t0));
        assert!(tracker.saw(7, t0));
        assert!(!tracker.saw(7, t0), "printed once");
        assert!(!tracker.saw(5, t0), "at or below the watermark");
        tracker.settle(t0);
        assert_eq!(tracker.watermark(), 7);
        assert!(tracker.printed.is_empty());
    }

    #[test]
    fn a_late_commit_below_a_printed_id_is_still_printed() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(5, PATIENCE);
        assert!(tracker.saw(7, t0));
        tracker.settle(t0);
        assert_eq!(tracker.watermark(), 5, "6 may still commit");
        // The next poll asks after 5 again: 7 comes back, 6 has appeared.
        let t1 = t0 + Duration::from_secs(1);
        assert!(tracker.saw(6, t1));
        assert!(!tracker.saw(7, t1));
        tracker.settle(t1);
        assert_eq!(tracker.watermark(), 7);
    }

    #[test]
    fn an_id_that_never_turns_up_is_given_up_after_the_patience() {
        let t0 = Instant::now();
        let mut tracker = Tracker::new(5, PATIENCE);
        assert!(tracker.saw(8, t0));
        tracker.settle(t0 + Duration::from_secs(9));
        assert_eq!(tracker.watermark(), 5);
        assert!(tracker.saw(9, t0 + Duration::from_secs(9)));
        tracker.settle(t0 + PATIENCE);
        // 8 waited long enough; 9 is right after it.
        assert_eq!(tracker.watermark(), 9);
        assert!(tracker.printed.is_empty());
    }
}
