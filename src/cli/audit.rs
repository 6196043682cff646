//! `scimctl audit list [--follow]`: the audit log, filtered, streamed page by
//! page, or followed like `tail -f`.

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::follow::{self, Feed};
use super::listing::{self, Paging};
use super::{Context, complete};
use crate::api::Page;
use crate::api::audit::{self as wire, AuditEntry, AuditQuery};
use crate::client::{Client, ClientError};
use crate::output::Output;

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
    let (client, _) = ctx.client().await?;
    let feed = AuditFeed {
        client: &client,
        query: args.query(),
    };
    let recent = args.paging.limit.unwrap_or(follow::FOLLOW_RECENT);
    follow::follow(ctx, &feed, recent).await
}

/// The audit log, as `--follow` reads it.
struct AuditFeed<'a> {
    client: &'a Client,
    query: AuditQuery,
}

impl Feed for AuditFeed<'_> {
    type Item = AuditEntry;
    const MAX_PAGE: u32 = wire::MAX_LIMIT;

    fn id(entry: &AuditEntry) -> i64 {
        entry.id
    }

    async fn newest_first(
        &self,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<AuditEntry>, ClientError> {
        let query = AuditQuery {
            limit: Some(limit.to_string()),
            cursor,
            ..self.query.clone()
        };
        self.client.list_audit_page(&query).await
    }

    async fn newest_id(&self) -> Result<i64, ClientError> {
        let newest = AuditQuery {
            limit: Some("1".to_owned()),
            ..AuditQuery::default()
        };
        let page = self.client.list_audit_page(&newest).await?;
        Ok(page.items.first().map_or(0, |entry| entry.id))
    }

    async fn after(
        &self,
        after: i64,
        cursor: Option<String>,
    ) -> Result<Page<AuditEntry>, ClientError> {
        let query = AuditQuery {
            after: Some(after.to_string()),
            cursor,
            limit: Some(wire::MAX_LIMIT.to_string()),
            ..self.query.clone()
        };
        self.client.list_audit_page(&query).await
    }
}
