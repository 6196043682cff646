//! Server settings: the resolved [`ServerConfig`] and the TOML file
//! (`--config scimctl.toml`) it can be read from.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::domain::journal::Retention;
use crate::store::DatabaseUrl;

/// Largest request body accepted; bigger ones get `413`.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database: DatabaseUrl,
    pub body_limit: usize,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client.
    /// From any other peer the header is ignored: anyone can send it.
    pub trusted_proxies: Vec<IpNet>,
    /// Rate limits, lockout, timeouts and connection caps (`[limits]`).
    pub limits: Limits,
    /// How long and how much of the SCIM request journal to keep
    /// (`[journal]`); `None` when it is off.
    pub journal: Option<Retention>,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, database: DatabaseUrl) -> Self {
        ServerConfig {
            listen,
            database,
            body_limit: DEFAULT_BODY_LIMIT,
            trusted_proxies: Vec::new(),
            limits: Limits::default(),
            journal: Some(Retention::default()),
        }
    }
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    pub const fn new(per_second: f64, burst: u32) -> Rate {
        Rate { per_second, burst }
    }
}

/// What one client may ask of the server, and for how long (`[limits]` in
/// `scimctl.toml`). The defaults and why they are what they are:
/// `docs/security.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Requests from one client address to the APIs (`/scim/v2`,
    /// `/admin/v1`, `/auth/v1`, `/metrics`, `/openapi.json`); `/healthz` and
    /// `/readyz` are never limited.
    pub per_address: Rate,
    /// Requests made with one API key, from wherever.
    pub per_key: Rate,
    /// Refused authentications (no key, a wrong or dead key, an address the
    /// allowlist refuses), per address and per presented key id. Once spent,
    /// every request from that address or with that key id is `429` until
    /// the bucket refills, whatever it presents.
    pub failed_auth: Rate,
    /// `auth.denied` entries written for one address in one minute; further
    /// refusals in that minute are counted in one aggregate entry.
    pub denials_logged_per_minute: u32,
    /// The request line and headers must arrive within this, counted from
    /// when the connection opens or its previous response ends: it bounds
    /// slow header senders and idle keep-alive connections alike.
    pub header_read_timeout: Duration,
    /// Whether a connection may carry more than one request.
    pub keep_alive: bool,
    /// The whole request body must arrive within this.
    pub body_timeout: Duration,
    /// A request must be answered within this (`408` otherwise).
    pub handler_timeout: Duration,
    /// Open connections at most; at the cap the server stops accepting
    /// (connections wait in the kernel's queue) until one closes. Lowered at
    /// start-up to fit the process's file-descriptor limit.
    pub max_connections: usize,
    /// Open connections from one peer address at most; more are closed at
    /// once. Trusted proxies are exempt (every client comes through them).
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_address: Rate::new(5000.0, 50_000),
            per_key: Rate::new(5000.0, 50_000),
            failed_auth: Rate::new(1.0, 100),
            denials_logged_per_minute: 60,
            header_read_timeout: Duration::from_secs(10),
            keep_alive: true,
            body_timeout: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 512,
        }
    }
}

/// `[limits]`: every key optional, defaults from [`Limits::default`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub per_address: Option<Rate>,
    pub per_key: Option<Rate>,
    pub failed_auth: Option<Rate>,
    pub denials_logged_per_minute: Option<u32>,
    #[serde(default, deserialize_with = "duration")]
    pub header_read_timeout: Option<Duration>,
    pub keep_alive: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub body_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub handler_timeout: Option<Duration>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
}

impl LimitsFile {
    /// The limits this section sets over the defaults, checked.
    pub fn resolve(&self) -> Result<Limits, String> {
        let base = Limits::default();
        let limits = Limits {
            per_address: self.per_address.unwrap_or(base.per_address),
            per_key: self.per_key.unwrap_or(base.per_key),
            failed_auth: self.failed_auth.unwrap_or(base.failed_auth),
            denials_logged_per_minute: self
                .denials_logged_per_minute
                .unwrap_or(base.denials_logged_per_minute),
            header_read_timeout: self.header_read_timeout.unwrap_or(base.header_read_timeout),
            keep_alive: self.keep_alive.unwrap_or(base.keep_alive),
            body_timeout: self.body_timeout.unwrap_or(base.body_timeout),
            handler_timeout: self.handler_timeout.unwrap_or(base.handler_timeout),
            max_connections: self.max_connections.unwrap_or(base.max_connections),
            max_connections_per_address: self
                .max_connections_per_address
                .unwrap_or(base.max_connections_per_address),
        };
        limits.check()?;
        Ok(limits)
    }
}

impl Limits {
    /// Refuses values that would make the server unusable.
    pub fn check(&self) -> Result<(), String> {
        for (name, rate) in [
            ("per_address", self.per_address),
            ("per_key", self.per_key),
            ("failed_auth", self.failed_auth),
        ] {
            if !(rate.per_second.is_finite() && rate.per_second > 0.0) || rate.burst == 0 {
                return Err(format!(
                    "limits.{name}: per_second must be a positive number and burst at least 1"
                ));
            }
        }
        for (name, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_timeout", self.body_timeout),
            ("handler_timeout", self.handler_timeout),
        ] {
            if value.is_zero() {
                return Err(format!("limits.{name} must be longer than 0s"));
            }
        }
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            return Err(
                "limits.max_connections and limits.max_connections_per_address must be at least 1"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// `scimctl.toml`. Every key is optional; command-line flags win over it.
///
/// ```toml
/// listen = "0.0.0.0:8080"
/// database = "sqlite:///var/lib/scimctl/scimctl.db"
/// body_limit = 1048576
/// trusted_proxies = ["10.0.0.0/8", "192.0.2.10"]
///
/// [limits]                      # see docs/security.md for every key
/// per_address = { per_second = 5000, burst = 50000 }
/// failed_auth = { per_second = 1, burst = 100 }
/// header_read_timeout = "10s"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub listen: Option<SocketAddr>,
    #[serde(default, deserialize_with = "database_url")]
    pub database: Option<DatabaseUrl>,
    pub body_limit: Option<usize>,
    /// CIDRs or bare addresses of the proxies whose `X-Forwarded-For` is
    /// believed.
    #[serde(default, deserialize_with = "cidr_list")]
    pub trusted_proxies: Option<Vec<IpNet>>,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub journal: JournalFile,
}

/// `[journal]`: the SCIM request journal (`scimctl scim log`).
///
/// ```toml
/// [journal]
/// enabled = true        # false: no SCIM request is recorded
/// max_age = "7d"        # older exchanges are dropped
/// max_size = "200MB"    # past this, the oldest are dropped
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalFile {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub max_age: Option<Duration>,
    #[serde(default, deserialize_with = "byte_size")]
    pub max_size: Option<u64>,
}

impl JournalFile {
    /// The retention this section sets over the defaults, or `None` when
    /// the journal is off.
    pub fn resolve(&self) -> Result<Option<Retention>, String> {
        if self.enabled == Some(false) {
            return Ok(None);
        }
        let base = Retention::default();
        let retention = Retention {
            max_age: self.max_age.unwrap_or(base.max_age),
            max_size: self.max_size.unwrap_or(base.max_size),
        };
        if retention.max_age.is_zero() || retention.max_size == 0 {
            return Err(
                "journal.max_age and journal.max_size must be more than 0; to keep no journal, \
                 set journal.enabled = false"
                    .to_owned(),
            );
        }
        Ok(Some(retention))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid scimctl server config")]
    Parse {
        path: String,
        #[source]
        source: toml::de::Error,
    },
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: shown.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigFileError::Parse {
            path: shown,
            source,
        })
    }
}

/// A duration as people write it: `"10s"`, `"2m"`, `"500ms"`.
fn duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    humantime::parse_duration(raw.trim())
        .map(Some)
        .map_err(|err| serde::de::Error::custom(format!("{raw:?} is not a duration ({err})")))
}

/// A size as people write it: `"200MB"`, `"1 GiB"`, or a number of bytes.
fn byte_size<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(u64),
        Text(String),
    }
    match Size::deserialize(deserializer)? {
        Size::Bytes(bytes) => Ok(Some(bytes)),
        Size::Text(text) => text
            .trim()
            .parse::<bytesize::ByteSize>()
            .map(|size| Some(size.as_u64()))
            .map_err(|err| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a size ({err}); write it like \"200MB\" or \"1GiB\""
                ))
            }),
    }
}

fn database_url<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DatabaseUrl>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse().map(Some).map_err(serde::de::Error::custom)
}

/// `trusted_proxies`: parsed like allowlist entries, so a typo is named
/// precisely (`10.0.0.300/8 is not a CIDR (octet 300 > 255)`).
fn cidr_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<IpNet>>, D::Error> {
    let raw = Vec::<String>::deserialize(deserializer)?;
    raw.iter()
        .map(|text| crate::domain::allowlist::parse_cidr(text).map(|cidr| cidr.net))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_parses_and_rejects_unknown_keys() {
        let file: ConfigFile =
            toml::from_str("listen = \"0.0.0.0:9000\"\ndatabase = \"postgres://u:p@db/scim\"\n")
                .expect("valid config");
        assert_eq!(file.listen, Some("0.0.0.0:9000".parse().expect("addr")));
        assert!(file.database.is_some());

        let err = toml::from_str::<ConfigFile>("listn = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listn"), "{err}");
        let err = toml::from_str::<ConfigFile>("database = \"mysql://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite:///"), "{err}");
    }

    #[test]
    fn limits_parse_with_defaults_and_are_checked() {
        let file: ConfigFile = toml::from_str(
            "[limits]\nper_key = { per_second = 5, burst = 10 }\nheader_read_timeout = \"2s\"\n",
        )
        .expect("valid config");
        let limits = file.limits.resolve().expect("valid limits");
        assert_eq!(limits.per_key, Rate::new(5.0, 10));
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        assert_eq!(limits.per_address, Limits::default().per_address);

        let err = toml::from_str::<ConfigFile>("[limits]\nbody_timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a duration"), "{err}");
        let file: ConfigFile =
            toml::from_str("[limits]\nfailed_auth = { per_second = 0, burst = 1 }").expect("toml");
        let err = file.limits.resolve().unwrap_err();
        assert!(err.contains("limits.failed_auth"), "{err}");
    }

    #[test]
    fn trusted_proxies_parse_like_allowlist_entries() {
        let file: ConfigFile = toml::from_str("trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.10\"]")
            .expect("valid config");
        let proxies: Vec<String> = file
            .trusted_proxies
            .expect("set")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.10/32"]);
        let err = toml::from_str::<ConfigFile>("trusted_proxies = [\"10.0.0.300/8\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("octet 300 > 255"), "{err}");
    }
}
