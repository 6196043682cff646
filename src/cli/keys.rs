//! `scimctl keys create|list|show|revoke`: the admin API's scoped API keys.

use super::complete;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use time::OffsetDateTime;

use reqwest::StatusCode;

use super::Context;
use super::exit::CliError;
use super::listing::Limit;
use crate::api::scope::Scope;
use crate::api::when::{self, Direction};
use crate::api::{ApiKey, CreateKeyRequest};
use crate::client::{Client, ClientError};
use crate::output::{Data, Output};

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key and print its token, this once
    ///
    /// The token (scimctl_<id>_<secret>) is shown only now: the server keeps
    /// just a hash of the secret. Store it where its user will read it (a
    /// CI secret, the IdP's SCIM connector settings). With -o json, read it
    /// from the `token` field.
    Create(CreateArgs),

    /// List API keys
    ///
    /// Revoked keys are left out unless --all is given.
    List(ListArgs),

    /// Show one API key, by id or by name
    Show(KeyArg),

    /// Revoke an API key (by id or by name): every request with it fails
    /// from now on
    ///
    /// Asks for confirmation on a terminal, naming the key and what it can
    /// do; without one, pass --yes. The key in use, or the last live key
    /// that can manage keys, is only revoked with --force.
    Revoke(RevokeArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// What the key is for, e.g. "okta-prod" or "ci-deploy"
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub name: String,

    /// A permission of the key; repeat it or separate scopes with commas
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        required = true,
        value_delimiter = ',',
        value_enum
    )]
    pub scopes: Vec<Scope>,

    /// When the key stops working [default: never]
    ///
    /// A duration from now (90d, 12h, 1y, "2w 3d") or an RFC 3339 time
    /// (2027-01-31T00:00:00Z).
    #[arg(long, value_name = "WHEN", value_parser = parse_expires)]
    pub expires: Option<OffsetDateTime>,

    /// Make it a personal key of this user (userName or id)
    ///
    /// A personal key never exceeds its owner's role, and stops working
    /// when the owner is deactivated, locked or deprovisioned (which also
    /// deletes it). Without --owner the key is a service key.
    #[arg(long, value_name = "USER", value_parser = NonEmptyStringValueParser::new(), add = complete::users())]
    pub owner: Option<String>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Include revoked keys
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub limit: Limit,
}

#[derive(Args, Debug)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub key: KeyArg,

    /// Revoke even the key you are using, or the last live key that can
    /// manage keys (recovery then needs `scimctl server recover` on the host)
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct KeyArg {
    /// The key's id, or its name when only one key has it
    ///
    /// A name held by a live key and by revoked ones means the live key. A
    /// name held by several live keys is refused (exit 2) with their ids;
    /// one no key has exits 3.
    #[arg(value_name = "KEY", value_parser = NonEmptyStringValueParser::new(), add = complete::keys())]
    pub id: String,
}

pub async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<Output> {
    match command {
        KeysCommand::Create(args) => create(ctx, args).await,
        KeysCommand::List(args) => {
            let (client, _) = ctx.client().await?;
            let keys = args.limit.apply(client.list_keys(args.all).await?);
            let output = if keys.is_empty() && args.all {
                Output::default().note("No API keys.")
            } else if keys.is_empty() {
                Output::default().note("No live API keys (--all includes revoked ones).")
            } else {
                Output::default()
            };
            Ok(Output {
                data: Data::list(keys),
                ..output
            })
        }
        KeysCommand::Show(key) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::one(find(&client, &key.id).await?))
        }
        KeysCommand::Revoke(args) => revoke(ctx, args).await,
    }
}

async fn create(ctx: &Context, args: CreateArgs) -> anyhow::Result<Output> {
    // Keep the order given (it is the order shown back), minus repeats.
    let mut scopes: Vec<Scope> = Vec::with_capacity(args.scopes.len());
    for scope in args.scopes {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let (client, _) = ctx.client().await?;
    let created = client
        .create_key(&CreateKeyRequest {
            name: args.name,
            scopes,
            expires_at: args.expires,
            owner: args.owner,
        })
        .await?;
    Ok(Output::one(created).note(
        "The token is shown only this once: store it now. The server keeps only a hash of it.",
    ))
}

async fn revoke(ctx: &Context, args: RevokeArgs) -> anyhow::Result<Output> {
    let key = args.key;
    // Decide before any request: without a terminal and --yes nothing is sent.
    let ask = ctx.must_confirm(&format!("revoke API key {}", key.id))?;
    let (client, _) = ctx.client().await?;
    // Found first, by id or name: an unknown or ambiguous one fails before
    // anyone is asked anything, and the question names the key.
    let found = find(&client, &key.id).await?;
    if ask {
        let scopes: Vec<&str> = found.scopes.iter().map(|scope| scope.as_str()).collect();
        let owner = found.owner.as_ref().map_or(String::new(), |owner| {
            format!(", personal key of {}", owner.user_name)
        });
        let question = format!(
            "Revoke API key {} ({}{owner}, scopes {})? Requests with it will be refused from now on",
            found.id,
            found.name,
            scopes.join(", ")
        );
        ctx.confirm(question, format!("API key {} was not revoked", found.id))
            .await?;
    }
    let revoked = client.revoke_key(&found.id, args.force).await?;
    let note = format!("Revoked API key {} ({}).", revoked.id, revoked.name);
    Ok(Output::one(revoked).note(note))
}

/// The key `id_or_name` names: the key with that id, else the one key with
/// that name (the live one, when revoked keys share it).
async fn find(client: &Client, id_or_name: &str) -> anyhow::Result<ApiKey> {
    match client.get_key(id_or_name).await {
        Ok(key) => return Ok(key),
        Err(ClientError::Api { status, .. }) if status == StatusCode::NOT_FOUND => {}
        Err(err) => return Err(err.into()),
    }
    let named: Vec<ApiKey> = client
        .list_keys(true)
        .await?
        .into_iter()
        .filter(|key| key.name == id_or_name)
        .collect();
    Ok(pick(id_or_name, named)?)
}

/// The one key among those named `name`, live ones first.
fn pick(name: &str, named: Vec<ApiKey>) -> Result<ApiKey, CliError> {
    let (live, revoked): (Vec<ApiKey>, Vec<ApiKey>) =
        named.into_iter().partition(|key| key.revoked_at.is_none());
    let mut candidates = if live.is_empty() { revoked } else { live };
    match candidates.len() {
        0 => Err(CliError::NotFound(format!(
            "no API key {name} (by id or name); `scimctl keys list --all` shows the keys"
        ))),
        1 => Ok(candidates.remove(0)),
        n => Err(CliError::Usage(format!(
            "{n} API keys are named {name:?}: {}; give the id of the one you mean",
            candidates
                .iter()
                .map(|key| key.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `--expires`: checked while parsing, so a bad value is a usage error
/// before any request is made.
fn parse_expires(value: &str) -> Result<OffsetDateTime, String> {
    expires_at(value, OffsetDateTime::now_utc())
}

fn expires_at(value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let at = when::parse(value, now, Direction::FromNow)?;
    if at <= now {
        return Err("that time is in the past; give one in the future".to_owned());
    }
    // Whole seconds: what tables show and what people type back.
    Ok(at.replace_nanosecond(0).unwrap_or(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00:00.250 UTC);

    fn key(id: &str, revoked: bool) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            name: "nightly report".to_owned(),
            scopes: vec![Scope::AuditRead],
            created_at: NOW,
            created_by: None,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: revoked.then_some(NOW),
            owner: None,
        }
    }

    #[test]
    fn a_name_picks_one_key_live_ones_first() {
        let name = "nightly report";
        assert_eq!(pick(name, vec![key("a", false)]).expect("one").id, "a");
        let live_wins = pick(name, vec![key("old", true), key("new", false)]).expect("live");
        assert_eq!(live_wins.id, "new");
        assert_eq!(
            pick(name, vec![key("old", true)]).expect("revoked").id,
            "old"
        );
        assert!(matches!(pick(name, Vec::new()), Err(CliError::NotFound(_))));
        match pick(name, vec![key("a", false), key("b", false), key("c", true)]) {
            Err(CliError::Usage(message)) => {
                assert!(
                    message.contains("2 API keys") && message.contains("a, b"),
                    "{message}"
                );
            }
            other => panic!("not ambiguous: {other:?}"),
        }
    }

    #[test]
    fn durations_count_from_now() {
        assert_eq!(
            expires_at("90d", NOW),
            Ok(datetime!(2026-08-30 12:00:00 UTC))
        );
        assert_eq!(
            expires_at("12h", NOW),
            Ok(datetime!(2026-06-02 00:00:00 UTC))
        );
        assert_eq!(
            expires_at("1h 30m", NOW),
            Ok(datetime!(2026-06-01 13:30:00 UTC))
        );
    }

    #[test]
    fn rfc3339_times_are_taken_as_given() {
        assert_eq!(
            expires_at("2027-01-31T00:00:00Z", NOW),
            Ok(datetime!(2027-01-31 00:00:00 UTC))
        );
        assert_eq!(
            expires_at("2027-01-31T02:00:00+02:00", NOW),
            Ok(datetime!(2027-01-31 00:00:00 UTC))
        );
    }

    #[test]
    fn bad_values_name_the_accepted_forms() {
        for bad in ["9x", "", "tomorrow", "2027-01-31"] {
            let err = expires_at(bad, NOW).expect_err(bad);
            assert!(
                err.contains("90d") && err.contains("RFC 3339"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_past_and_overflow_are_refused() {
        assert!(expires_at("2020-01-01T00:00:00Z", NOW).is_err());
        assert!(expires_at("0s", NOW).is_err());
        assert!(expires_at("100000000y", NOW).is_err());
    }
}
