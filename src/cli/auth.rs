//! `scimctl auth status`, and the rules that tie a stored token to its
//! profile's address: where a token may be sent, and how its origin is named
//! in errors.

use clap::Subcommand;

use super::{Context, Settings};
use crate::client::{self, Client, ClientError};
use crate::config::AddrSource;
use crate::credentials::{CredentialsError, TokenSource};
use crate::output::Output;
use crate::output::auth::{AuthStatus, KeySummary, Store};

#[derive(Subcommand, Debug)]
pub enum AuthCommand {
    /// Show the profile, server, credential and key in use, and whether they work
    ///
    /// Asks the server who the key is (nothing changes). Exits 0 when the
    /// server accepts the key, 4 when there is no key or it is refused (or a
    /// stored key would go to another address than its own), 1 when the
    /// server cannot be reached or is not a scimctl server.
    ///
    /// -o json prints one object: profile, addr, addr_from (flag, profile or
    /// default), credential_store (env, keyring, file, or null),
    /// credentials_file, reachable (true, false, or null when not asked),
    /// authenticated, key (id, name, scopes, expires_at; null when not
    /// authenticated) and error (null when authenticated).
    Status,
}

pub async fn run(ctx: &Context, command: AuthCommand) -> anyhow::Result<Output> {
    match command {
        AuthCommand::Status => status(ctx).await,
    }
}

/// Refuses a stored token when the address in use was set by `--addr` or
/// `SCIMCTL_ADDR` and is not the profile's: the token was stored for the
/// profile's server, and would otherwise be handed to another one. A token
/// from `SCIMCTL_TOKEN` goes wherever it is told.
pub fn check_binding(settings: &Settings, source: &TokenSource) -> Result<(), CredentialsError> {
    if *source == TokenSource::Env || settings.resolved.addr_source != AddrSource::Flag {
        return Ok(());
    }
    let profile = &settings.resolved.profile;
    let stored_for = settings
        .config
        .profiles
        .get(profile)
        .and_then(|p| p.addr.clone())
        .unwrap_or_else(|| crate::config::DEFAULT_ADDR.to_owned());
    let asked = &settings.resolved.addr;
    if client::same_server(&stored_for, asked) {
        return Ok(());
    }
    Err(CredentialsError::OtherAddress {
        profile: profile.clone(),
        stored_for: client::normalize_addr(&stored_for).unwrap_or(stored_for),
        asked: client::normalize_addr(asked).unwrap_or_else(|_| asked.clone()),
    })
}

/// Where a token came from, as errors name it.
pub fn credential_label(source: &TokenSource, profile: &str) -> String {
    match source {
        TokenSource::Env => source.to_string(),
        TokenSource::Keyring | TokenSource::File(_) => format!("{source} (profile {profile:?})"),
    }
}

async fn status(ctx: &Context) -> anyhow::Result<Output> {
    let settings = ctx.settings()?;
    let resolved = &settings.resolved;
    let mut report = AuthStatus {
        profile: resolved.profile.clone(),
        addr: client::normalize_addr(&resolved.addr).unwrap_or_else(|_| resolved.addr.clone()),
        addr_from: match resolved.addr_source {
            AddrSource::Flag => "flag",
            AddrSource::Profile(_) => "profile",
            AddrSource::Default => "default",
        },
        credential_store: None,
        credentials_file: None,
        reachable: None,
        authenticated: false,
        key: None,
        error: None,
    };

    let (token, source) = match settings.credentials().token().await {
        Ok(found) => found,
        Err(err @ CredentialsError::NotLoggedIn { .. }) => {
            // No key to check; whether a scimctl server answers is still
            // worth knowing, and asking sends nothing secret.
            report.reachable = Some(probe(ctx, &resolved.addr).await);
            return Ok(failed(report, err.into()));
        }
        Err(err) => return Ok(failed(report, err.into())),
    };
    report.credential_store = Some(match &source {
        TokenSource::Env => Store::Env,
        TokenSource::Keyring => Store::Keyring,
        TokenSource::File(path) => {
            report.credentials_file = Some(path.display().to_string());
            Store::File
        }
    });
    if let Err(err) = check_binding(&settings, &source) {
        // Not sent: the key belongs to another server.
        return Ok(failed(report, err.into()));
    }
    let client = Client::new(&resolved.addr, &token)?
        .verbose(ctx.global.verbose)
        .credential(credential_label(&source, &resolved.profile));
    match client.whoami().await {
        Ok(who) => {
            report.reachable = Some(true);
            report.authenticated = true;
            report.key = Some(KeySummary {
                id: who.key.id,
                name: who.key.name,
                scopes: who.key.scopes,
                expires_at: who.key.expires_at,
            });
            Ok(Output::one(report))
        }
        Err(err) => {
            report.reachable = Some(answered(&err));
            Ok(failed(report, err.into()))
        }
    }
}

/// Whether a scimctl server answers at `addr`: asked without a token, it
/// says 401 in its own format.
async fn probe(ctx: &Context, addr: &str) -> bool {
    let Ok(client) = Client::anonymous(addr) else {
        return false;
    };
    match client.verbose(ctx.global.verbose).whoami().await {
        Ok(_) => true,
        Err(err) => answered(&err),
    }
}

/// Whether the error came from a scimctl server that answered.
fn answered(err: &ClientError) -> bool {
    matches!(err, ClientError::Denied { .. } | ClientError::Api { .. })
}

fn failed(mut report: AuthStatus, err: anyhow::Error) -> Output {
    report.error = Some(err.to_string());
    Output::one(report).fail(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Config};
    use std::path::PathBuf;

    fn settings(flag_addr: Option<&str>, profile: &str) -> Settings {
        let config: Config = toml::from_str(
            r#"
            [profiles.prod]
            addr = "https://scim.example.com"
            "#,
        )
        .expect("config");
        let resolved = config::resolve(flag_addr, Some(profile), &config).expect("resolve");
        Settings {
            config_dir: PathBuf::from("/nonexistent"),
            config,
            resolved,
        }
    }

    fn file() -> TokenSource {
        TokenSource::File(PathBuf::from("/c/credentials.toml"))
    }

    #[test]
    fn a_stored_key_goes_only_to_its_profiles_address() {
        // The profile's own address, however it is spelt.
        assert!(check_binding(&settings(None, "prod"), &file()).is_ok());
        let spelt = settings(Some("HTTPS://Scim.Example.com:443/"), "prod");
        assert!(check_binding(&spelt, &TokenSource::Keyring).is_ok());

        let err = check_binding(&settings(Some("http://other:8080"), "prod"), &file())
            .expect_err("another server");
        let text = err.to_string();
        assert!(
            text.contains("is for https://scim.example.com, not http://other:8080"),
            "{text}"
        );
        assert!(text.contains("nothing was sent"), "{text}");

        // A profile without an address is bound to the default one.
        assert!(check_binding(&settings(Some(config::DEFAULT_ADDR), "new"), &file()).is_ok());
        assert!(check_binding(&settings(Some("http://other:8080"), "new"), &file()).is_err());
    }

    #[test]
    fn an_explicit_token_goes_where_it_is_told() {
        let other = settings(Some("http://other:8080"), "prod");
        assert!(check_binding(&other, &TokenSource::Env).is_ok());
    }

    #[test]
    fn credentials_are_named_with_their_profile() {
        assert_eq!(
            credential_label(&TokenSource::Env, "prod"),
            "the SCIMCTL_TOKEN environment variable"
        );
        assert_eq!(
            credential_label(&file(), "prod"),
            "/c/credentials.toml (profile \"prod\")"
        );
    }
}
