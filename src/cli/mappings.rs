//! `scimctl mappings list|add|remove`: roles granted to everyone in a group
//! or with a SCIM `roles` value, previewed before they change anyone.

use std::io::{self, Write as _};

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, Subcommand};

use super::listing::Limit;
use super::{Context, complete};
use crate::api::mappings::{CreateMappingRequest, MappingChange};
use crate::output::mappings::change_summary;
use crate::output::{self, Format, Output, Style};

/// A change to more users than this asks first on a terminal (and needs
/// --yes without one).
const ASK_ABOVE: usize = 10;

#[derive(Subcommand, Debug)]
pub enum MappingsCommand {
    /// List the mappings: which group or SCIM role grants which role
    List(Limit),
    /// Grant ROLE to everyone in a group, or with a SCIM roles value
    ///
    /// Everyone who has the source gets the role at once, and from then on
    /// whoever the IdP adds to the group (or gives the value) gets it, and
    /// whoever it removes loses it, unless another source gives it too.
    /// Prints who gains the role. When more than 10 users would change it
    /// asks first on a terminal, and needs --yes without one; --dry-run
    /// shows the change and makes none.
    Add(AddArgs),
    /// Remove a mapping: its role goes from everyone who has it from no other
    /// source
    ///
    /// Prints who loses the role. The last active admin never loses admin
    /// this way (refused). Asks first as `add` does; --dry-run shows the
    /// change and makes none.
    Remove(RemoveArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("source").required(true).args(["group", "scim_role"])))]
pub struct AddArgs {
    /// The group: its display name (any case) or id
    #[arg(long, value_name = "GROUP", value_parser = NonEmptyStringValueParser::new(), add = complete::groups())]
    pub group: Option<String>,

    /// A value of the SCIM roles attribute (an Entra ID app role's value),
    /// matched ignoring case
    #[arg(long, value_name = "VALUE", value_parser = NonEmptyStringValueParser::new())]
    pub scim_role: Option<String>,

    /// The role to grant
    #[arg(long, value_name = "ROLE", value_parser = NonEmptyStringValueParser::new(), add = complete::roles())]
    pub role: String,

    /// Show who would gain the role, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The mapping's id, as `scimctl mappings list` shows it
    #[arg(value_name = "ID", value_parser = NonEmptyStringValueParser::new(), add = complete::mappings())]
    pub id: String,

    /// Show who would lose the role, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(ctx: &Context, command: MappingsCommand) -> anyhow::Result<Output> {
    match command {
        MappingsCommand::List(limit) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::list(limit.apply(client.list_mappings().await?)))
        }
        MappingsCommand::Add(args) => {
            let (client, _) = ctx.client().await?;
            let request = |dry_run| CreateMappingRequest {
                group: args.group.clone(),
                scim_role: args.scim_role.clone(),
                role: args.role.clone(),
                dry_run,
            };
            let change = if args.dry_run {
                client.create_mapping(&request(true)).await?
            } else {
                let plan = client.create_mapping(&request(true)).await?;
                confirm_large(ctx, &plan, "add this mapping").await?;
                client.create_mapping(&request(false)).await?
            };
            Ok(shown(change, false))
        }
        MappingsCommand::Remove(args) => {
            let (client, _) = ctx.client().await?;
            let change = if args.dry_run {
                client.remove_mapping(&args.id, true).await?
            } else {
                let plan = client.remove_mapping(&args.id, true).await?;
                confirm_large(ctx, &plan, "remove this mapping").await?;
                client.remove_mapping(&args.id, false).await?
            };
            Ok(shown(change, true))
        }
    }
}

fn shown(change: MappingChange, removing: bool) -> Output {
    let note = change_summary(&change, removing);
    Output::one(change).note(note)
}

/// A change to more than [`ASK_ABOVE`] users is shown (on stderr) and
/// confirmed on a terminal; without one it needs --yes.
async fn confirm_large(ctx: &Context, plan: &MappingChange, action: &str) -> anyhow::Result<()> {
    let users = plan.users_changed();
    if users <= ASK_ABOVE || !ctx.must_confirm(&format!("{action}, which changes {users} users"))? {
        return Ok(());
    }
    let mut stderr = io::stderr().lock();
    let style = Style {
        tty: true,
        color: !output::no_color(),
    };
    output::write_one(&mut stderr, plan, Format::Table, style)?;
    writeln!(stderr)?;
    drop(stderr);
    ctx.confirm(
        format!(
            "{}? It changes the roles of {users} users",
            capitalised(action)
        ),
        "nothing was changed".to_owned(),
    )
    .await
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
