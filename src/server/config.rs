//! Server settings: the resolved [`ServerConfig`] and the TOML file
//! (`--config scimctl.toml`) it can be read from.

use std::net::SocketAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

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
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, database: DatabaseUrl) -> Self {
        ServerConfig {
            listen,
            database,
            body_limit: DEFAULT_BODY_LIMIT,
            trusted_proxies: Vec::new(),
        }
    }
}

/// `scimctl.toml`. Every key is optional; command-line flags win over it.
///
/// ```toml
/// listen = "0.0.0.0:8080"
/// database = "sqlite:///var/lib/scimctl/scimctl.db"
/// body_limit = 1048576
/// trusted_proxies = ["10.0.0.0/8", "192.0.2.10"]
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
