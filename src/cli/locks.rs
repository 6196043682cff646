//! `scimctl locks list|remove`: the locks that block every credential of a
//! deprovisioned user.

use super::complete;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};
use reqwest::StatusCode;

use super::Context;
use super::listing::{self, Limit, Paging};
use crate::client::{Client, ClientError};
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub enum LocksCommand {
    /// List locks: whose credentials are blocked, since when, and why
    List(ListArgs),

    /// Remove a lock: the user's credentials are no longer blocked by it
    ///
    /// The user stays inactive and without roles: `scimctl users reactivate`
    /// is the usual way back, and lifts the lock itself. Asks on a terminal;
    /// without one, pass --yes.
    Remove(LockArg),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub limit: Limit,
}

#[derive(Args, Debug)]
pub struct LockArg {
    /// The lock's id, as `scimctl locks list` shows it
    #[arg(value_name = "LOCK", value_parser = NonEmptyStringValueParser::new(), add = complete::locks())]
    pub id: String,
}

pub async fn run(ctx: &Context, command: LocksCommand) -> anyhow::Result<Output> {
    match command {
        LocksCommand::List(args) => {
            let (client, _) = ctx.client().await?;
            let client = &client;
            // The server sends every lock in one page: no page size to set.
            let paging = Paging {
                limit: args.limit.limit,
                page_size: None,
            };
            let count = listing::stream(ctx, "locks", paging, |cursor, _| async move {
                client.list_locks_page(cursor.as_deref()).await
            })
            .await?;
            Ok(if count == 0 {
                Output::default().note("No locks.")
            } else {
                Output::default()
            })
        }
        LocksCommand::Remove(lock) => remove(ctx, lock).await,
    }
}

async fn remove(ctx: &Context, lock: LockArg) -> anyhow::Result<Output> {
    let ask = ctx.must_confirm(&format!("remove lock {}", lock.id))?;
    let (client, _) = ctx.client().await?;
    if ask {
        // Names the user in the question; an unknown id fails (exit 3)
        // before anyone is asked anything.
        let user = lock_owner(&client, &lock.id).await?;
        ctx.confirm(
            format!(
                "Remove lock {} on {user}? Their credentials will no longer be blocked by it",
                lock.id
            ),
            format!("lock {} was not removed", lock.id),
        )
        .await?;
    }
    let removed = client.remove_lock(&lock.id).await?;
    let note = format!("Removed lock {} on {}.", removed.id, removed.user.user_name);
    Ok(Output::one(removed).note(note))
}

/// The userName of the user lock `id` blocks, found in the listing (there
/// is no endpoint for one lock).
async fn lock_owner(client: &Client, id: &str) -> Result<String, ClientError> {
    let mut cursor: Option<String> = None;
    loop {
        let page = client.list_locks_page(cursor.as_deref()).await?;
        if let Some(lock) = page.items.into_iter().find(|lock| lock.id == id) {
            return Ok(lock.user.user_name);
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => {
                return Err(ClientError::Api {
                    status: StatusCode::NOT_FOUND,
                    code: "not_found".to_owned(),
                    message: format!("no lock {id}; `scimctl locks list` shows the locks"),
                });
            }
        }
    }
}
