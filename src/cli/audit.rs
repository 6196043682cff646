//! `scimctl audit list [--follow]`: the audit log, filtered, streamed page by
//! page, or followed like `tail -f`.

use super::complete;
use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::time::{Duration, Instant};

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::Context;
use super::listing::{self, Paging};
use crate::api::audit::{self as wire, AuditEntry, AuditQuery};
use crate::client::{Client, ClientError};
use crate::output::stream::ListWriter;
use crate::output::{Output, RenderError, Style};

/// How often `--follow` asks for new entries.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How many recent entries `--follow` shows before the new ones.
const FOLLOW_RECENT: u64 = 10;
/// How long `--follow` waits for an id it skipped to turn up (see
/// [`Tracker`]).
const GAP_PATIENCE: Duration = Duration::from_secs(10);
/// Longest wait between retries while the server cannot be reached.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// List audit entries, newest first, or follow new ones as they happen
    ///
    /// Every change and every refused request is recorded with its actor
    /// (key id and name), source IP, request id, action, target, outcome
    /// and details. Filters combine: `--since 1h --action 'user.*'` is every
    /// user change of the last hour.
    ///
    /// Without --limit every matching entry is listed, fetched and printed
    /// page by page (--page-size entries per request). With -o json the
    /// output is one JSON array of entries.
    ///
    /// --follow prints the most recent entries (10, or --limit) oldest
    /// first, then each new entry as it is recorded, until interrupted
    /// (Ctrl-C, exit 0), like `tail -f`. With -o json it prints one compact
    /// JSON object per line (JSON Lines), never an array, so a script can
    /// read entries as they arrive.
    List(ListArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only entries from this time on
    ///
    /// A duration ago (30m, 1h, 7d, "1h 30m") or an RFC 3339 time
    /// (2026-01-31T09:00:00Z).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<String>,

    /// Only entries before this time (same forms as --since)
    #[arg(long, value_name = "WHEN", value_parser = parse_when, conflicts_with = "follow")]
    pub until: Option<String>,

    /// Only entries by this API key: its id or its name (`system` for the
    /// server itself)
    #[arg(long, value_name = "KEY", value_parser = NonEmptyStringValueParser::new(), add = complete::keys())]
    pub actor: Option<String>,

    /// Only this action (key.create), or a family of them (user.*)
    #[arg(long, value_name = "ACTION", value_parser = NonEmptyStringValueParser::new())]
    pub action: Option<String>,

    /// Only entries about this target: a user (id or userName, any case), a
    /// key id, a group's name, a path
    #[arg(long, value_name = "TARGET", value_parser = NonEmptyStringValueParser::new(), add = complete::users())]
    pub target: Option<String>,

    /// Only entries with this outcome
    #[arg(long, value_name = "OUTCOME", value_parser = ["success", "denied"])]
    pub outcome: Option<String>,

    #[command(flatten)]
    pub paging: Paging,

    /// Keep printing new entries as they are recorded, until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
}

impl ListArgs {
    /// The filters, without paging.
    fn query(&self) -> AuditQuery {
        AuditQuery {
            since: self.since.clone(),
            until: self.until.clone(),
            actor: self.actor.clone(),
            action: self.action.clone(),
            target: self.target.clone(),
            outcome: self.outcome.clone(),
            ..AuditQuery::default()
        }
    }

    fn filtered(&self) -> bool {
        self.query() != AuditQuery::default()
    }
}

/// `--since`/`--until`: checked while parsing, so a bad value is a usage
/// error before any request; sent as typed, for the server to read against
/// its own clock.
fn parse_when(value: &str) -> Result<String, String> {
    wire::parse_time_bound(value, OffsetDateTime::now_utc())?;
    Ok(value.trim().to_owned())
}

pub async fn run(ctx: &Context, command: AuditCommand) -> anyhow::Result<Output> {
    match command {
        AuditCommand::List(args) if args.follow => follow(ctx, args).await,
        AuditCommand::List(args) => list(ctx, args).await,
    }
}

async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let client = &client;
    let query = args.query();
    let count = listing::stream(ctx, "audit entries", args.paging, |cursor, limit| {
        let query = AuditQuery {
            limit: limit.map(|limit| limit.to_string()),
            cursor,
            ..query.clone()
        };
        async move { client.list_audit_page(&query).await }
    })
    .await?;
    Ok(match (count, args.filtered()) {
        (0, true) => Output::default().note("No audit entries match."),
        (0, false) => Output::default().note("The audit log is empty."),
        _ => Output::default(),
    })
}

async fn follow(ctx: &Context, args: ListArgs) -> anyhow::Result<Output> {
    // Never paged: a pager would hold what is followed until it quits.
    let mut writer = ListWriter::follow(io::stdout(), ctx.global.view(), Style::detect());
    // A bad --columns is a usage error before any request.
    writer.prepare::<AuditEntry>()?;
    let (client, _) = ctx.client().await?;
    let query = args.query();
    let start = starting_point(&client, &query, args.paging.limit.unwrap_or(FOLLOW_RECENT)).await?;
    let mut tracker = Tracker::new(start, GAP_PATIENCE);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut retry_delay = POLL_INTERVAL;
    let mut unreachable = false;
    loop {
        let outcome = tokio::select! {
            _ = &mut interrupted => break,
            outcome = poll(&client, &query, &mut tracker, &mut writer) => outcome,
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
async fn starting_point(client: &Client, query: &AuditQuery, recent: u64) -> anyhow::Result<i64> {
    // Read before the recent entries: anything recorded in between has a
    // greater id and is printed as new.
    let newest = client
        .list_audit_page(&AuditQuery {
            limit: Some("1".to_owned()),
            ..AuditQuery::default()
        })
        .await?
        .items
        .first()
        .map_or(0, |entry| entry.id);
    let mut remaining = recent;
    let mut oldest: Option<i64> = None;
    let mut cursor: Option<String> = None;
    while remaining > 0 {
        let page_size = remaining.min(u64::from(wire::MAX_LIMIT));
        let page = client
            .list_audit_page(&AuditQuery {
                limit: Some(page_size.to_string()),
                cursor: cursor.clone(),
                ..query.clone()
            })
            .await?;
        remaining = remaining.saturating_sub(page.items.len() as u64);
        if let Some(last) = page.items.last() {
            oldest = Some(last.id);
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
async fn poll(
    client: &Client,
    query: &AuditQuery,
    tracker: &mut Tracker,
    writer: &mut ListWriter<io::Stdout>,
) -> Result<(), Failure> {
    let after = tracker.watermark().to_string();
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .list_audit_page(&AuditQuery {
                after: Some(after.clone()),
                cursor: cursor.clone(),
                limit: Some(wire::MAX_LIMIT.to_string()),
                ..query.clone()
            })
            .await
            .map_err(Failure::Client)?;
        let now = Instant::now();
        let fresh: Vec<AuditEntry> = page
            .items
            .into_iter()
            .filter(|entry| tracker.saw(entry.id, now))
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
