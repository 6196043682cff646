//! The CLI's configuration file (`$XDG_CONFIG_HOME/scimctl/config.toml`):
//! named profiles with their server address, the default profile, the
//! credential store; and which address and profile a command uses.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a server is expected when nothing says otherwise: `scimctl server
/// --dev`'s address.
pub const DEFAULT_ADDR: &str = "http://127.0.0.1:8080";
/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";
pub const CONFIG_FILE: &str = "config.toml";

/// Which store holds tokens (`credential_store` in config.toml). Unset means
/// the keyring, falling back to the file where there is no keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Keyring,
    File,
}

/// config.toml as read. Unknown keys are ignored so an older scimctl can
/// read a newer one's file.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Config {
    pub default_profile: Option<String>,
    pub credential_store: Option<StoreKind>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct Profile {
    pub addr: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot find the configuration directory: set HOME (or XDG_CONFIG_HOME) so scimctl knows where to keep its settings"
    )]
    NoConfigDir,
    #[error("invalid profile name {name:?}: use letters, digits, '-', '_' and '.'")]
    InvalidProfile { name: String },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not valid configuration", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// scimctl's directory in the user's config dir (`~/.config/scimctl` on
/// Linux). Holds config.toml and, without a keyring, credentials.toml.
pub fn config_dir() -> Result<PathBuf, ConfigError> {
    dirs::config_dir()
        .map(|dir| dir.join("scimctl"))
        .ok_or(ConfigError::NoConfigDir)
}

/// Reads config.toml in `dir`; a missing file is an empty configuration.
pub fn load(dir: &Path) -> Result<Config, ConfigError> {
    let path = dir.join(CONFIG_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|source| ConfigError::Parse { path, source }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Config::default()),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Sets `[profiles.<profile>] addr` in config.toml in `dir`, keeping every
/// other key as it was (a newer scimctl's settings included).
pub fn save_profile_addr(dir: &Path, profile: &str, addr: &str) -> Result<PathBuf, ConfigError> {
    let path = dir.join(CONFIG_FILE);
    let mut table = match fs::read_to_string(&path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|source| ConfigError::Parse {
                path: path.clone(),
                source,
            })?,
        Err(err) if err.kind() == io::ErrorKind::NotFound => toml::Table::new(),
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let profiles = table
        .entry("profiles")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    // A `profiles` that is not a table is a broken file; replacing it beats
    // refusing to log in, and the old value was unusable anyway.
    if !profiles.is_table() {
        *profiles = toml::Value::Table(toml::Table::new());
    }
    if let toml::Value::Table(profiles) = profiles {
        let entry = profiles
            .entry(profile)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        if let toml::Value::Table(entry) = entry {
            entry.insert("addr".to_owned(), toml::Value::String(addr.to_owned()));
        }
    }
    let write_err = |source| ConfigError::Write {
        path: path.clone(),
        source,
    };
    let text = toml::to_string(&table).map_err(|err| write_err(io::Error::other(err)))?;
    // No secrets in here, but the same atomic write keeps a crash from
    // leaving half a file.
    crate::credentials::write_private(&path, text.as_bytes()).map_err(write_err)?;
    Ok(path)
}

/// Profile names become TOML keys and keyring user names; keep them plain.
pub fn validate_profile(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidProfile {
            name: name.to_owned(),
        })
    }
}

/// Where the address in use came from; `--verbose` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSource {
    /// `--addr` or `SCIMCTL_ADDR` (clap merges the two, flag first).
    Flag,
    Profile(String),
    Default,
}

impl fmt::Display for AddrSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrSource::Flag => f.write_str("--addr or SCIMCTL_ADDR"),
            AddrSource::Profile(name) => write!(f, "profile {name:?}"),
            AddrSource::Default => f.write_str("the default"),
        }
    }
}

/// The profile and address a command talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub profile: String,
    pub addr: String,
    pub addr_source: AddrSource,
}

/// Applies the precedence: the profile is `--profile`/`SCIMCTL_PROFILE`, else
/// the config's `default_profile`, else `default`; the address is
/// `--addr`/`SCIMCTL_ADDR`, else the profile's, else `DEFAULT_ADDR`.
pub fn resolve(
    flag_addr: Option<&str>,
    flag_profile: Option<&str>,
    config: &Config,
) -> Result<Resolved, ConfigError> {
    // An empty value (`SCIMCTL_ADDR=` in a script) means unset, as an
    // empty SCIMCTL_TOKEN does: never "the empty address".
    let flag_addr = flag_addr.filter(|addr| !addr.trim().is_empty());
    let flag_profile = flag_profile.filter(|profile| !profile.trim().is_empty());
    let profile = flag_profile
        .or(config.default_profile.as_deref())
        .unwrap_or(DEFAULT_PROFILE)
        .to_owned();
    validate_profile(&profile)?;
    let profile_addr = config
        .profiles
        .get(&profile)
        .and_then(|p| p.addr.as_deref());
    let (addr, addr_source) = match (flag_addr, profile_addr) {
        (Some(addr), _) => (addr.to_owned(), AddrSource::Flag),
        (None, Some(addr)) => (addr.to_owned(), AddrSource::Profile(profile.clone())),
        (None, None) => (DEFAULT_ADDR.to_owned(), AddrSource::Default),
    };
    Ok(Resolved {
        profile,
        addr,
        addr_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        toml::from_str(text).expect("valid config")
    }

    const TWO_PROFILES: &str = r#"
        default_profile = "prod"
        credential_store = "file"
        [profiles.prod]
        addr = "https://scim.example.com"
        [profiles.dev]
        addr = "http://127.0.0.1:9000"
    "#;

    #[test]
    fn flag_beats_profile_beats_default() {
        let cfg = config(TWO_PROFILES);
        assert_eq!(cfg.credential_store, Some(StoreKind::File));

        let r = resolve(None, None, &cfg).expect("resolve");
        assert_eq!(r.profile, "prod");
        assert_eq!(r.addr, "https://scim.example.com");
        assert_eq!(r.addr_source, AddrSource::Profile("prod".into()));

        let r = resolve(None, Some("dev"), &cfg).expect("resolve");
        assert_eq!(r.profile, "dev");
        assert_eq!(r.addr, "http://127.0.0.1:9000");

        let r = resolve(Some("http://other:1"), Some("dev"), &cfg).expect("resolve");
        assert_eq!(r.addr, "http://other:1");
        assert_eq!(r.addr_source, AddrSource::Flag);

        // A profile nobody configured still works, at the default address.
        let r = resolve(None, Some("new"), &cfg).expect("resolve");
        assert_eq!(r.addr, DEFAULT_ADDR);
        assert_eq!(r.addr_source, AddrSource::Default);
    }

    #[test]
    fn without_config_the_defaults_apply() {
        let r = resolve(None, None, &Config::default()).expect("resolve");
        assert_eq!(r.profile, DEFAULT_PROFILE);
        assert_eq!(r.addr, DEFAULT_ADDR);
    }

    #[test]
    fn empty_values_mean_unset() {
        let cfg = config(TWO_PROFILES);
        let r = resolve(Some(""), Some(" "), &cfg).expect("resolve");
        assert_eq!(r.profile, "prod");
        assert_eq!(r.addr, "https://scim.example.com");
        assert_eq!(r.addr_source, AddrSource::Profile("prod".into()));
    }

    #[test]
    fn odd_profile_names_are_refused() {
        for bad in ["a b", "x/y", "p]"] {
            assert!(
                resolve(None, Some(bad), &Config::default()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn saving_an_addr_keeps_the_rest_of_the_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("scimctl");
        // No file yet: it is created.
        save_profile_addr(&dir, "dev", "http://127.0.0.1:9000").expect("save");
        assert_eq!(
            load(&dir).expect("load").profiles["dev"].addr.as_deref(),
            Some("http://127.0.0.1:9000")
        );

        fs::write(
            dir.join(CONFIG_FILE),
            format!("future_setting = 3\n{TWO_PROFILES}"),
        )
        .expect("write");
        save_profile_addr(&dir, "prod", "https://new.example.com").expect("save");
        let text = fs::read_to_string(dir.join(CONFIG_FILE)).expect("read");
        assert!(text.contains("future_setting = 3"), "{text}");
        let cfg = load(&dir).expect("load");
        assert_eq!(cfg.default_profile.as_deref(), Some("prod"));
        assert_eq!(
            cfg.profiles["prod"].addr.as_deref(),
            Some("https://new.example.com")
        );
        assert_eq!(
            cfg.profiles["dev"].addr.as_deref(),
            Some("http://127.0.0.1:9000")
        );
    }

    #[test]
    fn a_broken_file_names_its_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::write(tmp.path().join(CONFIG_FILE), "profiles = [").expect("write");
        let err = load(tmp.path()).expect_err("invalid");
        assert!(err.to_string().contains("config.toml"), "{err}");
    }
}
