//! `scimctl groups list|show`: the directory's groups, as the
//! IdP pushed them or as `users create --group` made them.

use super::complete;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};

use super::Context;
use super::listing::{self, Paging};
use crate::api::groups::GroupListQuery;
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub enum GroupsCommand {
    /// List groups with their member counts, ordered by display name
    ///
    /// Prints page by page as the server answers; -o json prints one JSON
    /// array of groups (without members: `groups show` has them).
    List(ListArgs),

    /// Show one group and its members
    Show(GroupArg),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Args, Debug)]
pub struct GroupArg {
    /// The group's display name (any case) or id
    #[arg(value_name = "GROUP", value_parser = NonEmptyStringValueParser::new(), add = complete::groups())]
    pub group: String,
}

pub async fn run(ctx: &Context, command: GroupsCommand) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    match command {
        GroupsCommand::List(args) => {
            let client = &client;
            let count = listing::stream(ctx, "groups", args.paging, |cursor, limit| {
                let query = GroupListQuery { limit, cursor };
                async move { client.list_groups_page(&query).await }
            })
            .await?;
            Ok(if count == 0 {
                Output::default().note("No groups yet.")
            } else {
                Output::default()
            })
        }
        GroupsCommand::Show(args) => {
            let group = client.get_group(&args.group).await?;
            Ok(Output::one(group))
        }
    }
}
