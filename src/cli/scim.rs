//! `scimctl scim log|show|explain|replay`: what identity providers sent to
//! `/scim/v2`, what they were answered and why, and what the same request
//! would do now, from the server's journal.

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use super::follow::{self, Feed};
use super::listing::{self, Paging};
use super::{Context, complete};
use crate::api::Page;
use crate::api::audit::parse_time_bound;
use crate::api::journal::{JournalEntry, MAX_LIMIT};
use crate::api::journal::{JournalQuery, parse_status};
use crate::client::{Client, ClientError};
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub enum ScimCommand {
    /// List SCIM requests the identity provider sent, newest first
    ///
    /// Each with its time, request id, method, path, status, duration, the
    /// key id its token named and where it came from. Filters combine:
    /// `--failed --since 1h` is every failed request of the last hour;
    /// --follow keeps printing them as they come. The
    /// server keeps the journal for a bounded time and size (`[journal]` in
    /// its config; 7 days and 200 MB by default).
    Log(LogArgs),
    /// Show one SCIM request and its answer, whole, and the audit entries
    /// it wrote
    ///
    /// Redacted: passwords are never kept, tokens only by their key id, and
    /// of the headers only Content-Type, Accept, User-Agent, If-Match,
    /// If-None-Match and X-Forwarded-For.
    Show(ShowArgs),
    /// Explain one SCIM request: why it was answered as it was, and the fix
    ///
    /// For a refusal, the cause from the state behind it (the key missing,
    /// unknown, revoked, expired or with a wrong secret; the address the
    /// allowlist shuts out; a missing scope; provisioning off; the user a
    /// taken userName belongs to; a deleted user; a stale ETag; a malformed
    /// filter or PATCH) and what to do. For a success, what it changed or
    /// held back (pending, protected, the breaker). Notes say what was read
    /// the IdP's way (Entra ID's "Replace" and "False", Okta's PUT).
    Explain(ShowArgs),
    /// Show what one SCIM request would do if the identity provider sent it
    /// again now, changing nothing
    ///
    /// The request goes through the same checks (key, scope, allowlist) and
    /// the same code as a real one, in a transaction that is rolled back.
    /// The answer is the status it would get, each attribute it would
    /// change (before → after), and the audit entries it would write (a
    /// deactivation, roles revoked, sessions ended). Useful after a fix:
    /// replay the request Okta or Entra ID failed to see that it now goes
    /// through, then retry it from the IdP.
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only requests answered with an error (status 400 or more)
    #[arg(long)]
    pub failed: bool,

    /// Only requests about this user: id or userName (any case)
    #[arg(long, value_name = "USER", value_parser = NonEmptyStringValueParser::new(), add = complete::users())]
    pub user: Option<String>,

    /// Only this status (409) or class of statuses (4xx, 5xx)
    #[arg(long, value_name = "STATUS", value_parser = parse_status_arg)]
    pub status: Option<String>,

    /// Only requests from this time on: a duration ago (30m, 1h, 7d) or an
    /// RFC 3339 time
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<String>,

    #[command(flatten)]
    pub paging: Paging,

    /// Keep printing new requests as they come, until Ctrl-C
    ///
    /// First the most recent ones (10, or --limit), oldest first; with -o
    /// json one JSON object per line.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The request's id (its X-Request-Id), as `scimctl scim log` shows it
    #[arg(value_name = "REQUEST_ID", value_parser = NonEmptyStringValueParser::new())]
    pub request_id: String,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The request's id (its X-Request-Id), as `scimctl scim log` shows it
    #[arg(value_name = "REQUEST_ID", value_parser = NonEmptyStringValueParser::new())]
    pub request_id: String,

    /// Change nothing: show what the request would do (required; to apply
    /// it, retry it from the identity provider, which owns the change)
    #[arg(long, required = true)]
    pub dry_run: bool,
}

fn parse_status_arg(value: &str) -> Result<String, String> {
    parse_status(value)?;
    Ok(value.trim().to_owned())
}

fn parse_when(value: &str) -> Result<String, String> {
    parse_time_bound(value, OffsetDateTime::now_utc())?;
    Ok(value.trim().to_owned())
}

pub async fn run(ctx: &Context, command: ScimCommand) -> anyhow::Result<Output> {
    match command {
        ScimCommand::Log(args) if args.follow => {
            let (client, _) = ctx.client().await?;
            let recent = args.paging.limit.unwrap_or(follow::FOLLOW_RECENT);
            let feed = JournalFeed {
                client: &client,
                query: args.query(),
            };
            follow::follow(ctx, &feed, recent).await
        }
        ScimCommand::Log(args) => log(ctx, args).await,
        ScimCommand::Show(args) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::one(client.show_journal(&args.request_id).await?))
        }
        ScimCommand::Explain(args) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::one(client.explain_journal(&args.request_id).await?))
        }
        ScimCommand::Replay(args) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::one(client.replay_journal(&args.request_id).await?))
        }
    }
}

impl LogArgs {
    /// The filters, without paging.
    fn query(&self) -> JournalQuery {
        JournalQuery {
            failed: self.failed.then_some(true),
            status: self.status.clone(),
            user: self.user.clone(),
            since: self.since.clone(),
            ..JournalQuery::default()
        }
    }
}

async fn log(ctx: &Context, args: LogArgs) -> anyhow::Result<Output> {
    let query = args.query();
    let filtered = query != JournalQuery::default();
    let (client, _) = ctx.client().await?;
    let client = &client;
    let count = listing::stream(ctx, "SCIM requests", args.paging, |cursor, limit| {
        let query = JournalQuery {
            limit,
            cursor,
            ..query.clone()
        };
        async move { client.list_journal_page(&query).await }
    })
    .await?;
    Ok(match (count, filtered) {
        (0, true) => Output::default().note("No SCIM requests match."),
        (0, false) => Output::default().note(
            "The journal holds no SCIM request: none came yet, or the server keeps no journal \
             (`[journal] enabled = false`).",
        ),
        _ => Output::default(),
    })
}

/// The SCIM request journal, as `scim log --follow` reads it.
struct JournalFeed<'a> {
    client: &'a Client,
    query: JournalQuery,
}

impl Feed for JournalFeed<'_> {
    type Item = JournalEntry;
    const MAX_PAGE: u32 = MAX_LIMIT;

    fn id(entry: &JournalEntry) -> i64 {
        entry.seq
    }

    async fn newest_first(
        &self,
        limit: u32,
        cursor: Option<String>,
    ) -> Result<Page<JournalEntry>, ClientError> {
        let query = JournalQuery {
            limit: Some(limit),
            cursor,
            ..self.query.clone()
        };
        self.client.list_journal_page(&query).await
    }

    async fn newest_id(&self) -> Result<i64, ClientError> {
        let newest = JournalQuery {
            limit: Some(1),
            ..JournalQuery::default()
        };
        let page = self.client.list_journal_page(&newest).await?;
        Ok(page.items.first().map_or(0, |entry| entry.seq))
    }

    async fn after(
        &self,
        after: i64,
        cursor: Option<String>,
    ) -> Result<Page<JournalEntry>, ClientError> {
        let query = JournalQuery {
            after: Some(after),
            cursor,
            limit: Some(MAX_LIMIT),
            ..self.query.clone()
        };
        self.client.list_journal_page(&query).await
    }
}
