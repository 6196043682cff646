//! How `auth status` and `profiles list` look in the CLI. Their JSON is
//! these types, documented in the commands' help.

use std::io::{self, Write};

use serde::Serialize;
use time::OffsetDateTime;

use super::{Column, Show, Style, expiry, or_dash, scopes, write_vertical, yes_no};
use crate::api::scope::Scope;

/// Where the token in use is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    Env,
    Keyring,
    File,
}

impl Store {
    fn label(self) -> &'static str {
        match self {
            Store::Env => "SCIMCTL_TOKEN environment variable",
            Store::Keyring => "OS keyring",
            Store::File => "credentials file",
        }
    }
}

/// `auth status`: what the CLI would use, and whether it works.
#[derive(Debug, Serialize)]
pub struct AuthStatus {
    pub profile: String,
    pub addr: String,
    /// `flag` (`--addr` or `SCIMCTL_ADDR`), `profile` or `default`.
    pub addr_from: &'static str,
    pub credential_store: Option<Store>,
    pub credentials_file: Option<String>,
    /// `None` when nothing was asked (no key for that address).
    pub reachable: Option<bool>,
    pub authenticated: bool,
    pub key: Option<KeySummary>,
    pub error: Option<String>,
}

/// The key in use, as `whoami` describes it.
#[derive(Debug, Serialize)]
pub struct KeySummary {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl Show for AuthStatus {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let addr_from = match self.addr_from {
            "flag" => "--addr or SCIMCTL_ADDR",
            "profile" => "the profile",
            _ => "the default",
        };
        let store = match (self.credential_store, &self.credentials_file) {
            (Some(Store::File), Some(path)) => format!("credentials file {path}"),
            (Some(store), _) => store.label().to_owned(),
            (None, _) => "none".to_owned(),
        };
        let mut rows = vec![
            ("Profile", self.profile.clone()),
            ("Server", format!("{} (from {addr_from})", self.addr)),
            ("Credential", store),
            (
                "Reachable",
                self.reachable
                    .map_or_else(|| "not asked".to_owned(), yes_no),
            ),
            ("Authenticated", yes_no(self.authenticated)),
        ];
        if let Some(key) = &self.key {
            rows.push(("Key ID", key.id.clone()));
            rows.push(("Key name", key.name.clone()));
            rows.push(("Scopes", scopes(&key.scopes)));
            rows.push(("Expires", expiry(key.expires_at)));
        }
        write_vertical(out, rows, style)
    }
}

/// One profile of `profiles list`. Never the secret: only whether and where
/// one is stored.
#[derive(Debug, Serialize)]
pub struct ProfileEntry {
    pub name: String,
    /// `None` when config.toml has no address for it (the default applies).
    pub addr: Option<String>,
    /// The profile commands use now (`--profile`, `SCIMCTL_PROFILE`,
    /// `default_profile`, else `default`).
    pub active: bool,
    /// Where its token is stored: `keyring`, `file`, or `None`.
    pub credential: Option<Store>,
}

impl Show for ProfileEntry {
    const COLUMNS: &'static [Column] = &[
        Column::whole(" "),
        Column::whole("PROFILE"),
        Column::whole("ADDRESS"),
        Column::whole("CREDENTIAL"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            if self.active { "*" } else { "" }.to_owned(),
            self.name.clone(),
            or_dash(self.addr.as_deref()),
            match self.credential {
                Some(Store::Keyring) => "keyring".to_owned(),
                Some(Store::File) => "file".to_owned(),
                Some(Store::Env) | None => "-".to_owned(),
            },
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_vertical(
            out,
            Self::COLUMNS
                .iter()
                .map(|c| c.title)
                .zip(self.row())
                .skip(1)
                .collect(),
            style,
        )
    }
}
