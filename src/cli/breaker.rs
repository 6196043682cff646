//! `scimctl provisioning status|enable|disable|breaker …`: the provisioning
//! toggle, and the mass-deprovisioning circuit breaker that guards what the
//! IdP's deprovisionings do.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::Context;
use super::settings::{self as settings_cli, ToggleCommand};
use crate::api::rails::{BREAKER_WINDOW_SECONDS, BreakerReleaseRequest, BreakerState};
use crate::api::settings::{Toggle, UpdateSettingsRequest};
use crate::output::Output;
use crate::output::rails::{change_summary, status_summary};
use crate::output::settings::{Setting, SettingShown};

#[derive(Subcommand, Debug)]
pub enum ProvisioningCommand {
    /// Show whether it is on, and what that means (and the circuit breaker)
    Status,
    /// Turn it on, on every replica at once
    Enable,
    /// Turn it off, on every replica at once
    Disable,
    /// The mass-deprovisioning circuit breaker
    ///
    /// When the IdP deactivates or deletes more users within the window
    /// than the threshold allows (more than 25, or 10% of active users if
    /// that is more, in 10 minutes, by default), the breaker opens: that
    /// and every further SCIM deprovisioning is held (the IdP is answered
    /// as usual, the user shows inactive and pending and keeps their access)
    /// until an operator releases or resets it.
    #[command(subcommand)]
    Breaker(BreakerCommand),
}

#[derive(Subcommand, Debug)]
pub enum BreakerCommand {
    /// Show the breaker: state, window, threshold now, count in the window
    /// and the held users
    Status,

    /// Apply exactly the held deprovisionings, then close the breaker
    ///
    /// Each held user gets what the IdP asked for: with auto-deprovisioning
    /// on, they lose their access; off, they stay pending until `scimctl
    /// users deprovision`. A held deletion becomes a deletion. Asks on a
    /// terminal; without one, pass --yes. --dry-run lists them and changes
    /// nothing.
    Release(ReleaseArgs),

    /// Discard the held deprovisionings and close the breaker
    ///
    /// Nothing was torn down, so the held users are made active again with
    /// the access they kept. If the IdP meant it, its next push deactivates
    /// them again (and counts toward the breaker anew). Asks on a terminal;
    /// without one, pass --yes.
    Reset,

    /// Change when the breaker opens
    ///
    /// It opens when SCIM deprovisions more than THRESHOLD users, or more
    /// than PERCENT of active users if that is more, within WINDOW. Needs
    /// settings:manage. Options not given keep their value.
    Set(SetArgs),
}

#[derive(Args, Debug)]
pub struct ReleaseArgs {
    /// List the held users release would apply; change nothing, do not ask
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("change").args(["threshold", "percent", "window"]).multiple(true).required(true)))]
pub struct SetArgs {
    /// Users per window that may be deprovisioned, at least 1 (default 25)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threshold: Option<u32>,

    /// Share of active users per window, 1 to 100 (default 10)
    #[arg(long, value_name = "P", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub percent: Option<u32>,

    /// The sliding window, from 1m to 1d, e.g. 10m or 1h (default 10m)
    #[arg(long, value_name = "DURATION", value_parser = parse_window)]
    pub window: Option<u32>,
}

/// `--window`: checked while parsing, so a bad value is a usage error
/// before any request.
fn parse_window(value: &str) -> Result<u32, String> {
    let duration: Duration = humantime::parse_duration(value.trim())
        .map_err(|_| "expected a duration such as 10m, 1h or \"1h 30m\"".to_owned())?;
    u32::try_from(duration.as_secs())
        .ok()
        .filter(|seconds| BREAKER_WINDOW_SECONDS.contains(seconds))
        .ok_or_else(|| "the window lasts from 1m to 1d".to_owned())
}

pub async fn run(ctx: &Context, command: ProvisioningCommand) -> anyhow::Result<Output> {
    let toggle = |command| settings_cli::toggle(ctx, Toggle::AutoProvisioning, command);
    match command {
        ProvisioningCommand::Status => toggle(ToggleCommand::Status).await,
        ProvisioningCommand::Enable => toggle(ToggleCommand::Enable).await,
        ProvisioningCommand::Disable => toggle(ToggleCommand::Disable).await,
        ProvisioningCommand::Breaker(command) => breaker(ctx, command).await,
    }
}

async fn breaker(ctx: &Context, command: BreakerCommand) -> anyhow::Result<Output> {
    match command {
        BreakerCommand::Status => {
            let (client, _) = ctx.client().await?;
            let status = client.breaker_status().await?;
            let note = status_summary(&status);
            Ok(Output::one(status).note(note))
        }
        BreakerCommand::Release(args) => release(ctx, args).await,
        BreakerCommand::Reset => reset(ctx).await,
        BreakerCommand::Set(args) => set(ctx, args).await,
    }
}

async fn release(ctx: &Context, args: ReleaseArgs) -> anyhow::Result<Output> {
    let request = |dry_run| BreakerReleaseRequest { dry_run };
    if args.dry_run {
        let (client, _) = ctx.client().await?;
        let change = client.breaker_release(&request(true)).await?;
        let note = change_summary(&change);
        return Ok(Output::one(change).note(note));
    }
    // Decided before any request: without a terminal and --yes, nothing
    // is sent, so nothing can change.
    let ask = ctx.must_confirm("release the held deprovisionings (or --dry-run to list them)")?;
    let (client, _) = ctx.client().await?;
    if ask {
        let plan = client.breaker_release(&request(true)).await?;
        ctx.confirm(
            format!(
                "Apply the {} held SCIM deprovisioning(s) and close the breaker?",
                plan.users.len()
            ),
            "the breaker was not released".to_owned(),
        )
        .await?;
    }
    let change = client.breaker_release(&request(false)).await?;
    let note = change_summary(&change);
    Ok(Output::one(change).note(note))
}

async fn reset(ctx: &Context) -> anyhow::Result<Output> {
    let ask = ctx.must_confirm("discard the held deprovisionings and close the breaker")?;
    let (client, _) = ctx.client().await?;
    if ask {
        let status = client.breaker_status().await?;
        ctx.confirm(
            format!(
                "Discard {} held SCIM deprovisioning(s)? Those users become active again",
                status.held.len()
            ),
            "the breaker was not reset".to_owned(),
        )
        .await?;
    }
    let change = client.breaker_reset().await?;
    let note = change_summary(&change);
    Ok(Output::one(change).note(note))
}

async fn set(ctx: &Context, args: SetArgs) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let updated = client
        .update_settings(&UpdateSettingsRequest {
            breaker_threshold: args.threshold,
            breaker_percent: args.percent,
            breaker_window_seconds: args.window,
            ..UpdateSettingsRequest::default()
        })
        .await?;
    let note = match updated.breaker {
        BreakerState::Closed => "Breaker thresholds saved.".to_owned(),
        BreakerState::Open => "Breaker thresholds saved; it stays open until `scimctl \
                               provisioning breaker release` or `reset`."
            .to_owned(),
    };
    Ok(Output::one(SettingShown {
        settings: updated,
        setting: Setting::Breaker,
    })
    .note(note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<ProvisioningCommand, clap::Error> {
        let cli = Cli::try_parse_from(
            ["scimctl", "provisioning"]
                .into_iter()
                .chain(args.iter().copied()),
        )?;
        match cli.command {
            Command::Provisioning(command) => Ok(command),
            other => panic!("not a provisioning command: {other:?}"),
        }
    }

    #[test]
    fn set_takes_thresholds_in_range() {
        let ProvisioningCommand::Breaker(BreakerCommand::Set(args)) = parse(&[
            "breaker",
            "set",
            "--threshold",
            "40",
            "--percent",
            "5",
            "--window",
            "1h",
        ])
        .expect("parses") else {
            panic!("not breaker set");
        };
        assert_eq!(
            (args.threshold, args.percent, args.window),
            (Some(40), Some(5), Some(3600))
        );
        for bad in [
            &["breaker", "set", "--threshold", "0"][..],
            &["breaker", "set", "--percent", "0"],
            &["breaker", "set", "--percent", "101"],
            &["breaker", "set", "--window", "30s"],
            &["breaker", "set", "--window", "2d"],
            &["breaker", "set"],
        ] {
            let err = parse(bad).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn the_toggle_subcommands_stay() {
        assert!(matches!(
            parse(&["status"]).expect("parses"),
            ProvisioningCommand::Status
        ));
        assert!(matches!(
            parse(&["breaker", "release", "--dry-run"]).expect("parses"),
            ProvisioningCommand::Breaker(BreakerCommand::Release(ReleaseArgs { dry_run: true }))
        ));
    }
}
