//! `scimctl login` and `scimctl logout`: getting an API key from the
//! operator, checking it with the server, and storing or forgetting it.

use std::io::BufRead;

use anyhow::Context as _;
use clap::Args;

use super::{CliError, Context, env_token_note};
use crate::client::Client;
use crate::config;
use crate::credentials::{Saved, Secret, TokenSource};
use crate::output::Output;

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Read the API key from standard input (its first line)
    ///
    /// For scripts and CI, where there is no terminal to prompt on:
    /// `printf '%s\n' "$KEY" | scimctl login --token-stdin`.
    #[arg(long)]
    pub token_stdin: bool,
}

pub async fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let addr = settings.resolved.addr.clone();
    let profile = settings.resolved.profile.clone();

    let token = if args.token_stdin {
        read_token_line().await?
    } else if ctx.can_prompt() {
        prompt_token(format!("API key for {addr}")).await?
    } else {
        return Err(CliError::Usage(
            "no terminal to prompt for the API key on: pass --token-stdin and pipe the key in"
                .to_owned(),
        )
        .into());
    };

    // Check before saving, so a typo never replaces a working key.
    let client = Client::new(&addr, &token)?.verbose(ctx.global.verbose);
    let who = client
        .whoami()
        .await
        // The cause says why: a refused key, or an address that is not a
        // scimctl server at all.
        .with_context(|| format!("cannot log in to {addr}; nothing was saved"))?;

    let config_path = config::save_profile_addr(&settings.config_dir, &profile, client.addr())?;
    ctx.debug(|| format!("saved the address in {}", config_path.display()));
    let saved = settings.credentials().save(&token).await?;

    let mut output = Output::default();
    if let Saved::File {
        keyring_unavailable: Some(reason),
        ..
    } = &saved
    {
        output = output.warn(format!(
            "no OS keyring is available ({reason}); storing the key in a file instead"
        ));
    }
    let place = match &saved {
        Saved::Keyring => TokenSource::Keyring.to_string(),
        Saved::File { path, .. } => format!("{} (readable only by you)", path.display()),
    };
    output = output.note(format!(
        "Logged in to {} as API key {} ({}), profile {:?}.\nThe key is stored in {place}.",
        client.addr(),
        who.key.id,
        who.key.name,
        profile
    ));
    if let Some(note) = env_token_note() {
        output = output.note(note);
    }
    Ok(output)
}

pub async fn logout(ctx: &Context) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let profile = &settings.resolved.profile;
    let removed = settings.credentials().delete().await?;
    let mut output = if removed.is_empty() {
        Output::default().note(format!("No API key was stored for profile {profile:?}."))
    } else {
        let places: Vec<String> = removed.iter().map(ToString::to_string).collect();
        Output::default().note(format!(
            "Removed the API key of profile {profile:?} from {}.",
            places.join(" and ")
        ))
    };
    if let Some(note) = env_token_note() {
        output = output.note(note);
    }
    Ok(output)
}

/// The first line of stdin, without surrounding whitespace.
pub(crate) async fn read_token_line() -> anyhow::Result<Secret> {
    let line = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading standard input")?
    .context("cannot read the API key from standard input")?;
    let token = line.trim();
    if token.is_empty() {
        return Err(CliError::Usage(
            "--token-stdin: standard input is empty; pipe the API key in".to_owned(),
        )
        .into());
    }
    Ok(Secret::new(token))
}

/// Asks for a key on the terminal, hidden, with `prompt`.
pub(crate) async fn prompt_token(prompt: String) -> anyhow::Result<Secret> {
    let token = tokio::task::spawn_blocking(move || {
        dialoguer::Password::new().with_prompt(prompt).interact()
    })
    .await
    .context("prompting for the API key")?
    .context("cannot read the API key from the terminal")?;
    let token = token.trim();
    if token.is_empty() {
        return Err(CliError::Usage("no API key entered".to_owned()).into());
    }
    Ok(Secret::new(token))
}
