//! `scimctl sessions issue` and `scimctl introspect`: session tokens for
//! users, and whether a session token or API key is live.

use super::complete;
use std::io::BufRead as _;
use std::time::Duration;

use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};

use super::{CliError, Context};
use crate::api::sessions::IssueSessionRequest;
use crate::output::sessions::session_summary;
use crate::output::{Answer, Output};

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// Issue a session token for a user and print it, this once
    ///
    /// For SSO front doors and tests. In table mode stdout is the token
    /// alone, so `TOKEN=$(scimctl sessions issue alice)` works; its id and
    /// expiry go to stderr. With -o json, read the `token` field. Refused
    /// for an inactive or locked user.
    Issue(IssueArgs),
}

#[derive(Args, Debug)]
pub struct IssueArgs {
    /// The user's userName (any case) or id
    #[arg(value_name = "USER", value_parser = NonEmptyStringValueParser::new(), add = complete::users())]
    pub user: String,

    /// How long the session lasts, 1m to 30d [default: 8h]
    ///
    /// A duration such as 8h, 30m or "1d 12h".
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub ttl: Option<u64>,
}

#[derive(Args, Debug)]
pub struct IntrospectArgs {
    /// The session token or API key; `-` reads it from stdin
    ///
    /// `-` keeps the token out of shell history and `ps`:
    /// `printf '%s\n' "$TOKEN" | scimctl introspect -`.
    #[arg(value_name = "TOKEN", value_parser = NonEmptyStringValueParser::new())]
    pub token: String,
}

pub async fn run(ctx: &Context, command: SessionsCommand) -> anyhow::Result<Output> {
    match command {
        SessionsCommand::Issue(args) => {
            let (client, _) = ctx.client().await?;
            let session = client
                .issue_session(
                    &args.user,
                    &IssueSessionRequest {
                        ttl_seconds: args.ttl,
                    },
                )
                .await?;
            let note = session_summary(&session);
            Ok(Output::one(session).note(note))
        }
    }
}

/// `scimctl introspect`: exit 0 when the token is live, 5 when it is not.
pub async fn introspect(ctx: &Context, args: IntrospectArgs) -> anyhow::Result<Output> {
    let token = if args.token == "-" {
        read_stdin_token().await?
    } else {
        args.token
    };
    let (client, _) = ctx.client().await?;
    let answer = client.introspect(&token).await?;
    let live = if answer.active {
        Answer::Yes
    } else {
        Answer::No
    };
    Ok(Output {
        answer: live,
        ..Output::one(answer)
    })
}

/// The first line of stdin, trimmed.
async fn read_stdin_token() -> anyhow::Result<String> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await??;
    let token = line.trim().to_owned();
    if token.is_empty() {
        return Err(CliError::Usage(
            "no token on stdin: pipe the token in, e.g. printf '%s\\n' \"$TOKEN\" | scimctl introspect -"
                .to_owned(),
        )
        .into());
    }
    Ok(token)
}

const TTL_MIN: u64 = 60;
const TTL_MAX: u64 = 30 * 24 * 3600;

/// `--ttl`: checked while parsing, so a bad value is a usage error before
/// any request.
fn parse_ttl(value: &str) -> Result<u64, String> {
    let duration: Duration = humantime::parse_duration(value.trim())
        .map_err(|_| "expected a duration such as 8h, 30m or \"1d 12h\"".to_owned())?;
    let seconds = duration.as_secs();
    if !(TTL_MIN..=TTL_MAX).contains(&seconds) {
        return Err("a session lasts from 1m to 30d".to_owned());
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("scimctl").chain(args.iter().copied()))
    }

    #[test]
    fn ttl_takes_durations_within_limits() {
        assert_eq!(parse_ttl("8h"), Ok(8 * 3600));
        assert_eq!(parse_ttl("1d 12h"), Ok(36 * 3600));
        assert_eq!(parse_ttl("1m"), Ok(60));
        assert_eq!(parse_ttl("30d"), Ok(TTL_MAX));
        assert!(
            parse_ttl("59s")
                .expect_err("too short")
                .contains("1m to 30d")
        );
        assert!(
            parse_ttl("31d")
                .expect_err("too long")
                .contains("1m to 30d")
        );
        assert!(
            parse_ttl("soon")
                .expect_err("not a duration")
                .contains("8h")
        );
    }

    #[test]
    fn issue_and_introspect_parse() {
        let cli = parse(&["sessions", "issue", "alice", "--ttl", "2h"]).expect("parses");
        let Command::Sessions(SessionsCommand::Issue(args)) = cli.command else {
            panic!("not sessions issue");
        };
        assert_eq!((args.user.as_str(), args.ttl), ("alice", Some(7200)));

        let cli = parse(&["introspect", "-"]).expect("parses");
        let Command::Introspect(args) = cli.command else {
            panic!("not introspect");
        };
        assert_eq!(args.token, "-");

        let err = parse(&["sessions", "issue", "alice", "--ttl", "10s"]).expect_err("too short");
        assert_eq!(err.exit_code(), 2);
        assert!(parse(&["introspect", ""]).is_err());
    }
}
