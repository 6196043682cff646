//! Where the CLI's API token comes from and where `login` keeps it:
//! `SCIMCTL_TOKEN` first, then the OS keyring, then a credentials file that
//! only its owner can read (0600), as `gh` does on machines without a keyring.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_PROFILE, StoreKind};

/// Environment variable whose token wins over any stored one.
pub const TOKEN_ENV: &str = "SCIMCTL_TOKEN";
/// Keyring service name; the keyring user is the profile name.
const KEYRING_SERVICE: &str = "scimctl";
/// File name of the fallback store, inside the config dir.
pub const CREDENTIALS_FILE: &str = "credentials.toml";
/// A keyring that neither answers nor fails (a locked desktop keyring waiting
/// for a dialog nobody sees) must not hang a script.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

/// A secret string. Its `Debug` is redacted so it cannot leak through a
/// `{:?}` in an error or a log line; `expose` makes every use visible.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a token was found or put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    Keyring,
    File(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env => write!(f, "the {TOKEN_ENV} environment variable"),
            TokenSource::Keyring => f.write_str("the OS keyring"),
            TokenSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What `save` did: the keyring, or the file and why not the keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Keyring,
    File {
        path: PathBuf,
        /// Set when the keyring was tried and failed: the reason, for the
        /// operator to see.
        keyring_unavailable: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "not logged in{}: run `scimctl login{}` or set SCIMCTL_TOKEN",
        profile_note(profile),
        profile_flag(profile)
    )]
    NotLoggedIn { profile: String },
    /// The stored token was about to go to another server than the one it
    /// was stored for: nothing was sent (DESIGN: a stored token is only ever
    /// sent to the address it was stored for).
    #[error(
        "the API key stored for profile {profile:?} is for {stored_for}, not {asked} (from \
         --addr or SCIMCTL_ADDR); a stored key is only sent to the address it was stored for, \
         so nothing was sent. Drop --addr and unset SCIMCTL_ADDR to use the profile's address; \
         run `scimctl login --addr {asked} --profile NAME` to store a key for {asked} under its \
         own profile; or set SCIMCTL_TOKEN to send a key there explicitly"
    )]
    OtherAddress {
        profile: String,
        /// The profile's address (the default one when config.toml has none).
        stored_for: String,
        asked: String,
    },
    /// Only when config.toml asks for the keyring explicitly; otherwise a
    /// failing keyring means the file.
    #[error("the OS keyring is not available (config.toml sets credential_store = \"keyring\")")]
    Keyring(#[source] keyring::Error),
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a valid credentials file", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// Like ssh with a private key: a file others can read may have been
    /// copied already, and using it silently would hide that.
    #[error(
        "{} is readable by other users (mode {mode:03o}); its tokens may have leaked. \
         Run `chmod 600 {}` (and consider revoking the key), then try again",
        path.display(),
        path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn profile_note(profile: &str) -> String {
    if profile == DEFAULT_PROFILE {
        String::new()
    } else {
        format!(" (profile {profile:?})")
    }
}

fn profile_flag(profile: &str) -> String {
    if profile == DEFAULT_PROFILE {
        String::new()
    } else {
        format!(" --profile {profile}")
    }
}

/// The token from `SCIMCTL_TOKEN`, if set and not empty.
pub fn token_from_env() -> Option<Secret> {
    std::env::var(TOKEN_ENV)
        .ok()
        .filter(|token| !token.trim().is_empty())
        .map(|token| Secret::new(token.trim()))
}

/// The profiles with a token in the credentials file in `config_dir`
/// (keyring entries cannot be listed; callers ask per profile).
pub fn file_profiles(config_dir: &Path) -> Result<Vec<String>, CredentialsError> {
    let file = read_file(&config_dir.join(CREDENTIALS_FILE))?;
    Ok(file.profiles.into_keys().collect())
}

/// The stored token of one profile.
#[derive(Debug, Clone)]
pub struct Credentials {
    profile: String,
    store: Option<StoreKind>,
    file: PathBuf,
}

impl Credentials {
    /// `config_dir` is scimctl's own directory (the one holding config.toml).
    pub fn new(profile: &str, store: Option<StoreKind>, config_dir: &Path) -> Self {
        Credentials {
            profile: profile.to_owned(),
            store,
            file: config_dir.join(CREDENTIALS_FILE),
        }
    }

    pub fn file_path(&self) -> &Path {
        &self.file
    }

    /// The token to use: `SCIMCTL_TOKEN`, else the stored one.
    pub async fn token(&self) -> Result<(Secret, TokenSource), CredentialsError> {
        if let Some(token) = token_from_env() {
            return Ok((token, TokenSource::Env));
        }
        self.stored()
            .await?
            .ok_or_else(|| CredentialsError::NotLoggedIn {
                profile: self.profile.clone(),
            })
    }

    /// The token `login` stored: the keyring, then the file.
    pub async fn stored(&self) -> Result<Option<(Secret, TokenSource)>, CredentialsError> {
        if self.store != Some(StoreKind::File) {
            let profile = self.profile.clone();
            match keyring_call(move || entry(&profile)?.get_password()).await {
                Ok(token) => return Ok(Some((Secret::new(token), TokenSource::Keyring))),
                Err(keyring::Error::NoEntry) => {}
                Err(err) if self.store == Some(StoreKind::Keyring) => {
                    return Err(CredentialsError::Keyring(err));
                }
                // No keyring here: the file is where login put it.
                Err(_) => {}
            }
            if self.store == Some(StoreKind::Keyring) {
                return Ok(None);
            }
        }
        refuse_if_readable_by_others(&self.file)?;
        let file = read_file(&self.file)?;
        Ok(file.profiles.get(&self.profile).map(|entry| {
            (
                Secret::new(&entry.token),
                TokenSource::File(self.file.clone()),
            )
        }))
    }

    /// Keeps `token` for the profile, replacing any earlier one.
    pub async fn save(&self, token: &Secret) -> Result<Saved, CredentialsError> {
        let keyring_unavailable = if self.store == Some(StoreKind::File) {
            None
        } else {
            let profile = self.profile.clone();
            let secret = token.clone();
            match keyring_call(move || entry(&profile)?.set_password(secret.expose())).await {
                Ok(()) => {
                    // An older token in the file would be shadowed, not used;
                    // remove it rather than leave a live secret lying around.
                    self.remove_from_file()?;
                    return Ok(Saved::Keyring);
                }
                Err(err) if self.store == Some(StoreKind::Keyring) => {
                    return Err(CredentialsError::Keyring(err));
                }
                Err(err) => Some(keyring_reason(&err)),
            }
        };
        let mut file = read_file(&self.file)?;
        file.profiles.insert(
            self.profile.clone(),
            FileEntry {
                token: token.expose().to_owned(),
            },
        );
        write_file(&self.file, &file)?;
        Ok(Saved::File {
            path: self.file.clone(),
            keyring_unavailable,
        })
    }

    /// Deletes the profile's stored token wherever it is; answers where it
    /// was found (empty when nothing was stored).
    pub async fn delete(&self) -> Result<Vec<TokenSource>, CredentialsError> {
        let mut removed = Vec::new();
        if self.store != Some(StoreKind::File) {
            let profile = self.profile.clone();
            match keyring_call(move || entry(&profile)?.delete_credential()).await {
                Ok(()) => removed.push(TokenSource::Keyring),
                Err(keyring::Error::NoEntry) => {}
                Err(err) if self.store == Some(StoreKind::Keyring) => {
                    return Err(CredentialsError::Keyring(err));
                }
                Err(_) => {}
            }
        }
        if self.store != Some(StoreKind::Keyring) && self.remove_from_file()? {
            removed.push(TokenSource::File(self.file.clone()));
        }
        Ok(removed)
    }

    fn remove_from_file(&self) -> Result<bool, CredentialsError> {
        let mut file = read_file(&self.file)?;
        if file.profiles.remove(&self.profile).is_none() {
            return Ok(false);
        }
        write_file(&self.file, &file)?;
        Ok(true)
    }
}

/// Why the keyring failed, in words: when no store could be set up at all,
/// keyring's own error ("no default store") says less than the set-up error.
fn keyring_reason(err: &keyring::Error) -> String {
    match (err, keyring::Entry::store_status()) {
        (keyring::Error::NoDefaultStore, Err(setup)) => setup.to_string(),
        _ => err.to_string(),
    }
}

fn entry(profile: &str) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(KEYRING_SERVICE, profile)
}

/// Runs a keyring call off the async runtime (the keyring API blocks, and may
/// talk D-Bus) and gives up after `KEYRING_TIMEOUT`.
async fn keyring_call<T: Send + 'static>(
    call: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> keyring::Result<T> {
    match tokio::time::timeout(KEYRING_TIMEOUT, tokio::task::spawn_blocking(call)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(keyring::Error::PlatformFailure(Box::new(join))),
        Err(_) => Err(keyring::Error::NoStorageAccess(
            format!(
                "the keyring did not answer within {}s",
                KEYRING_TIMEOUT.as_secs()
            )
            .into(),
        )),
    }
}

/// `credentials.toml`: `[profiles.<name>] token = "…"`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CredentialsFile {
    #[serde(default)]
    profiles: BTreeMap<String, FileEntry>,
}

#[derive(Serialize, Deserialize)]
struct FileEntry {
    token: String,
}

impl fmt::Debug for FileEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileEntry { token: <redacted> }")
    }
}

const FILE_HEADER: &str =
    "# Written by `scimctl login`. It holds API tokens: keep it readable only by you.\n\n";

/// The credentials file must be private before a token is taken from it.
/// (`login` and `logout` rewrite it 0600, so they may run on a loose file.)
fn refuse_if_readable_by_others(path: &Path) -> Result<(), CredentialsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        match fs::metadata(path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(CredentialsError::TooOpen {
                        path: path.to_owned(),
                        mode,
                    });
                }
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(CredentialsError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn read_file(path: &Path) -> Result<CredentialsFile, CredentialsError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(CredentialsFile::default()),
        Err(source) => {
            return Err(CredentialsError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|source| CredentialsError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn write_file(path: &Path, file: &CredentialsFile) -> Result<(), CredentialsError> {
    let body = toml::to_string(file).map_err(|err| CredentialsError::Write {
        path: path.to_owned(),
        source: io::Error::other(err),
    })?;
    write_private(path, format!("{FILE_HEADER}{body}").as_bytes()).map_err(|source| {
        CredentialsError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

/// Writes a file that only its owner can read. The bytes go to a new file
/// created with mode 0600 from the start (so no other user can open it in
/// between), which then replaces the old one: a crash leaves either the old
/// file or the new one, and a file someone loosened becomes 0600 again.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("the credentials path has no directory"))?;
    create_private_dir(dir)?;
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::other("the credentials path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    // A leftover from a crashed run with the same pid would make
    // `create_new` fail; it holds nothing we need.
    match fs::remove_file(&tmp) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates the config dir if needed, 0700 on Unix: it holds the credentials.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_store(dir: &Path, profile: &str) -> Credentials {
        Credentials::new(profile, Some(StoreKind::File), dir)
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let secret = Secret::new("scimctl_abc_supersecret");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        let entry = FileEntry {
            token: "scimctl_abc_supersecret".into(),
        };
        assert!(!format!("{entry:?}").contains("supersecret"));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_file_is_created_0600_in_a_0700_dir() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("scimctl");
        let store = file_store(&dir, "default");
        let saved = store.save(&Secret::new("t1")).await.expect("save");
        assert_eq!(
            saved,
            Saved::File {
                path: dir.join(CREDENTIALS_FILE),
                keyring_unavailable: None
            }
        );
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(CREDENTIALS_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);

        // Rewriting a file someone made world-readable makes it private again.
        fs::set_permissions(
            dir.join(CREDENTIALS_FILE),
            fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let err = store.stored().await.expect_err("a loose file is not used");
        let message = err.to_string();
        assert!(
            message.contains("readable by other users (mode 644)"),
            "{message}"
        );
        assert!(
            message.contains(&format!(
                "chmod 600 {}",
                dir.join(CREDENTIALS_FILE).display()
            )),
            "{message}"
        );
        store.save(&Secret::new("t2")).await.expect("save again");
        assert_eq!(mode(&dir.join(CREDENTIALS_FILE)), 0o600);
        assert!(store.stored().await.expect("private again").is_some());
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(CREDENTIALS_FILE)]);
    }

    #[tokio::test]
    async fn profiles_are_kept_apart_and_logout_removes_one() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let prod = file_store(tmp.path(), "prod");
        let dev = file_store(tmp.path(), "dev");
        prod.save(&Secret::new("p")).await.expect("save");
        dev.save(&Secret::new("d")).await.expect("save");

        let (token, source) = prod.stored().await.expect("read").expect("stored");
        assert_eq!(token.expose(), "p");
        assert_eq!(source, TokenSource::File(tmp.path().join(CREDENTIALS_FILE)));

        assert_eq!(dev.delete().await.expect("delete").len(), 1);
        assert!(dev.stored().await.expect("read").is_none());
        assert!(dev.delete().await.expect("delete again").is_empty());
        assert!(prod.stored().await.expect("read").is_some());
    }

    #[tokio::test]
    async fn nothing_stored_is_not_logged_in() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = file_store(tmp.path(), "staging");
        assert!(store.stored().await.expect("read").is_none());
        let err = CredentialsError::NotLoggedIn {
            profile: "staging".into(),
        };
        assert_eq!(
            err.to_string(),
            "not logged in (profile \"staging\"): run `scimctl login --profile staging` or set SCIMCTL_TOKEN"
        );
    }
}
