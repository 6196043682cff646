//! `scimctl server recover`: break-glass repairs made on the database
//! directly, from the server's host, for an operator the API no longer
//! lets in (an allowlist that shuts everyone out, the last admin key
//! revoked).

use std::path::PathBuf;

use super::{CliError, Context};
use crate::domain::recover::{self, Recovery};
use crate::output::Output;
use crate::server::config::ConfigFile;
use crate::store::{DatabaseUrl, Store};

#[derive(clap::Args, Debug)]
pub struct RecoverArgs {
    /// The server's database: sqlite:///path/to/scimctl.db or postgres://…
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    pub database: Option<DatabaseUrl>,

    /// The server's settings file, to take `database` from
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Mint a new API key with every scope; its token is printed once
    #[arg(long)]
    pub new_admin_key: bool,

    /// Empty the IP allowlist, so every address may connect again
    #[arg(long)]
    pub clear_allowlist: bool,
}

pub async fn run(ctx: &Context, args: RecoverArgs) -> anyhow::Result<Output> {
    let what = Recovery {
        new_admin_key: args.new_admin_key,
        clear_allowlist: args.clear_allowlist,
    };
    if !what.new_admin_key && !what.clear_allowlist {
        return Err(CliError::Usage(
            "say what to recover: --new-admin-key, --clear-allowlist, or both".to_owned(),
        )
        .into());
    }
    let database = match (args.database, &args.config) {
        (Some(url), _) => url,
        (None, Some(path)) => ConfigFile::load(path)?.database.ok_or_else(|| {
            CliError::Usage(format!(
                "{} has no `database`: pass --database URL",
                path.display()
            ))
        })?,
        (None, None) => {
            return Err(
                CliError::Usage("pass --database URL (or --config FILE)".to_owned()).into(),
            );
        }
    };
    let mut changes = Vec::new();
    if what.new_admin_key {
        changes.push("mint a new API key with every scope");
    }
    if what.clear_allowlist {
        changes.push("empty the IP allowlist");
    }
    let action = format!("{} in {database}", changes.join(" and "));
    if ctx.must_confirm(&action)? {
        ctx.confirm(
            format!("Recover: {action}, bypassing the API (audited as system.recover)?"),
            "nothing was changed".to_owned(),
        )
        .await?;
    }
    let store = Store::connect(&database).await?;
    let recovered = recover::recover(&store, what).await;
    store.close().await;
    let recovered = recovered?;

    let mut output = match recovered.key {
        Some(created) => Output::one(created).note(
            "A new key with every scope: its token is shown only now. Log in with it, \
             then make narrower keys and revoke this one.",
        ),
        None => Output::default(),
    };
    if what.clear_allowlist {
        output = output.note(if recovered.cleared.is_empty() {
            "The allowlist was already empty: every address may connect.".to_owned()
        } else {
            format!(
                "Emptied the allowlist (removed {}): every address may connect. \
                 Rebuild it with `scimctl allowlist add`.",
                recovered.cleared.join(", ")
            )
        });
    }
    Ok(output)
}
