//! `scimctl provisioning|deprovisioning status|enable|disable` and
//! `scimctl default-role show|set`: the service settings that decide what an
//! IdP's pushes do.

use super::complete;
use clap::builder::NonEmptyStringValueParser;
use clap::{Args, Subcommand};

use super::Context;
use crate::api::settings::{Settings, Toggle, UpdateSettingsRequest};
use crate::output::Output;
use crate::output::settings::{Setting, SettingShown};

/// The subcommands of `provisioning` and `deprovisioning`.
#[derive(Subcommand, Debug)]
pub enum ToggleCommand {
    /// Show whether it is on, and what that means
    Status,
    /// Turn it on, on every replica at once
    Enable,
    /// Turn it off, on every replica at once
    Disable,
}

#[derive(Subcommand, Debug)]
pub enum DefaultRoleCommand {
    /// Show the role new users get
    Show,
    /// Make ROLE the one every newly provisioned user gets
    ///
    /// Users who already exist keep their roles. ROLE must exist: an unknown
    /// one is refused (exit 3) with the list of roles (`scimctl roles list`).
    Set(SetRoleArgs),
}

#[derive(Args, Debug)]
pub struct SetRoleArgs {
    /// The role's name, e.g. member
    #[arg(value_name = "ROLE", value_parser = NonEmptyStringValueParser::new(), add = complete::roles())]
    pub role: String,
}

/// `scimctl provisioning …` or `scimctl deprovisioning …`.
pub async fn toggle(
    ctx: &Context,
    toggle: Toggle,
    command: ToggleCommand,
) -> anyhow::Result<Output> {
    let want = match command {
        ToggleCommand::Status => None,
        ToggleCommand::Enable => Some(true),
        ToggleCommand::Disable => Some(false),
    };
    let (client, _) = ctx.client().await?;
    let current = client.get_settings().await?;
    let setting = Setting::Toggle(toggle);
    let Some(want) = want else {
        return Ok(shown(current, setting));
    };
    let label = sentence_case(toggle.label());
    if current.is_on(toggle) == want {
        let state = if want { "on" } else { "off" };
        return Ok(
            shown(current, setting).note(format!("{label} was already {state}; nothing changed."))
        );
    }
    let updated = client
        .update_settings(&UpdateSettingsRequest::turn(toggle, want))
        .await?;
    let done = if want { "enabled" } else { "disabled" };
    Ok(shown(updated, setting).note(format!("{label} {done}.")))
}

pub async fn default_role(ctx: &Context, command: DefaultRoleCommand) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let current = client.get_settings().await?;
    let role = match command {
        DefaultRoleCommand::Show => return Ok(shown(current, Setting::DefaultRole)),
        DefaultRoleCommand::Set(args) => args.role,
    };
    if current.default_role == role {
        return Ok(shown(current, Setting::DefaultRole).note(format!(
            "{role} was already the default role; nothing changed."
        )));
    }
    let updated = client
        .update_settings(&UpdateSettingsRequest {
            default_role: Some(role),
            ..UpdateSettingsRequest::default()
        })
        .await?;
    let note = format!(
        "New users now get the role {}; existing users keep theirs.",
        updated.default_role
    );
    Ok(shown(updated, Setting::DefaultRole).note(note))
}

fn shown(settings: Settings, setting: Setting) -> Output {
    Output::one(SettingShown { settings, setting })
}

/// `auto-provisioning` → `Auto-provisioning`, to open a sentence.
fn sentence_case(label: &str) -> String {
    let mut chars = label.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
