//! `scimctl profiles list`: the profiles in the config dir, their addresses
//! and whether a token is stored for each (never the token).

use std::collections::BTreeSet;

use clap::Subcommand;

use super::{Context, env_token_note};
use crate::credentials::{self, Credentials, TokenSource};
use crate::output::Output;
use crate::output::auth::{ProfileEntry, Store};

#[derive(Subcommand, Debug)]
pub enum ProfilesCommand {
    /// List every profile with its address and whether a key is stored
    ///
    /// The profiles of config.toml, and any that only have a stored key. The
    /// one commands use now is marked `*` (`active` in JSON). Never shows a
    /// key: only where it is stored.
    ///
    /// -o json prints an array of objects: name, addr (null when the
    /// profile has none, so the default applies), active, and credential
    /// (keyring, file, or null).
    List,
}

pub async fn run(ctx: &Context, command: ProfilesCommand) -> anyhow::Result<Output> {
    match command {
        ProfilesCommand::List => list(ctx).await,
    }
}

async fn list(ctx: &Context) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let config = &settings.config;
    let mut names: BTreeSet<String> = config.profiles.keys().cloned().collect();
    names.extend(credentials::file_profiles(&settings.config_dir)?);
    names.extend(config.default_profile.clone());
    names.insert(settings.resolved.profile.clone());

    let mut entries = Vec::new();
    for name in names {
        // A name config.toml allows but the CLI would refuse (a space) has
        // no keyring entry or file token it could have written.
        let stored = if crate::config::validate_profile(&name).is_ok() {
            Credentials::new(&name, config.credential_store, &settings.config_dir)
                .stored()
                .await?
        } else {
            None
        };
        entries.push(ProfileEntry {
            addr: config.profiles.get(&name).and_then(|p| p.addr.clone()),
            active: name == settings.resolved.profile,
            credential: stored.map(|(_, source)| match source {
                TokenSource::Keyring => Store::Keyring,
                TokenSource::File(_) => Store::File,
                TokenSource::Env => Store::Env,
            }),
            name,
        });
    }
    let mut output = Output::list(entries);
    if let Some(note) = env_token_note() {
        output = output.note(note);
    }
    Ok(output)
}
