//! `scimctl roles list|create|delete`: named sets of permissions given to
//! users.

use super::complete;
use clap::{Args, Subcommand};

use super::Context;
use super::listing::Limit;
use crate::api::roles::{CreateRoleRequest, check_role_name};
use crate::api::scope::Scope;
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub enum RolesCommand {
    /// List roles with their permissions and how many users hold each
    List(Limit),

    /// Create a custom role
    ///
    /// Its permissions can only be ones your own key has.
    Create(CreateArgs),

    /// Delete a custom role
    ///
    /// Built-in roles, the default role and roles that users hold cannot be
    /// deleted: the refusal says which and what to do first. Asks for
    /// confirmation on a terminal; without one, pass --yes.
    Delete(RoleArg),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The new role's name: lowercase letters, digits, '-' and '_'
    #[arg(value_name = "NAME", value_parser = parse_name)]
    pub name: String,

    /// A permission of the role; repeat it or separate permissions with commas
    #[arg(
        long = "permission",
        value_name = "PERMISSION",
        required = true,
        value_delimiter = ',',
        value_enum
    )]
    pub permissions: Vec<Scope>,
}

#[derive(Args, Debug)]
pub struct RoleArg {
    /// The role's name, as `scimctl roles list` shows it
    #[arg(value_name = "NAME", add = complete::roles())]
    pub name: String,
}

pub async fn run(ctx: &Context, command: RolesCommand) -> anyhow::Result<Output> {
    match command {
        RolesCommand::List(limit) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::list(limit.apply(client.list_roles().await?)))
        }
        RolesCommand::Create(args) => {
            // The server stores a set, in the canonical order of scopes.
            let mut permissions = args.permissions;
            permissions.sort();
            permissions.dedup();
            let (client, _) = ctx.client().await?;
            let role = client
                .create_role(&CreateRoleRequest {
                    name: args.name,
                    permissions,
                })
                .await?;
            let note = format!("Created role {}.", role.name);
            Ok(Output::one(role).note(note))
        }
        RolesCommand::Delete(role) => delete(ctx, role).await,
    }
}

async fn delete(ctx: &Context, role: RoleArg) -> anyhow::Result<Output> {
    // Decided before any request: without a terminal and --yes nothing is sent.
    let ask = ctx.must_confirm(&format!("delete role {}", role.name))?;
    let (client, _) = ctx.client().await?;
    if ask {
        // Ask only about a deletion that can happen: an unknown, built-in,
        // default or held role goes straight to the server, whose refusal
        // says why.
        let found = client
            .list_roles()
            .await?
            .into_iter()
            .find(|found| found.name == role.name);
        if let Some(found) = found.filter(|r| !r.builtin && !r.default && r.user_count == 0) {
            let permissions: Vec<&str> = found.permissions.iter().map(|s| s.as_str()).collect();
            ctx.confirm(
                format!(
                    "Delete role {} ({})? No user holds it",
                    found.name,
                    permissions.join(", ")
                ),
                format!("role {} was not deleted", found.name),
            )
            .await?;
        }
    }
    let deleted = client.delete_role(&role.name).await?;
    let note = format!("Deleted role {}.", deleted.name);
    Ok(Output::one(deleted).note(note))
}

/// NAME of `roles create`: checked while parsing, so a bad name is a usage
/// error before any request.
fn parse_name(name: &str) -> Result<String, String> {
    check_role_name(name)?;
    Ok(name.to_owned())
}
