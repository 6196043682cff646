//! Exit statuses: the one mapping from a command's result to the process's
//! exit code, and the "what to do next" hint printed under an error.

use std::io;
use std::process::ExitCode;

use reqwest::StatusCode;

use crate::client::ClientError;
use crate::config::ConfigError;
use crate::credentials::CredentialsError;
use crate::output::RenderError;

/// The admin API's error code for a resource that does not exist.
const NOT_FOUND_CODE: &str = "not_found";

/// What the process exits with. Scripts branch on these, so they never change
/// meaning (DESIGN, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// The server failed, the network failed, or something unexpected.
    Failure = 1,
    /// The command line was wrong: a bad flag or value, or a confirmation
    /// that could not be asked.
    Usage = 2,
    /// The server has no such thing (HTTP 404).
    NotFound = 3,
    /// Not logged in, a bad or revoked key, a missing scope, or an address
    /// the allowlist refuses (HTTP 401/403).
    Denied = 4,
    /// A check ran and its answer is "no" (e.g. `users verify` found access
    /// left). Not a failure of the command itself.
    No = 5,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Errors the CLI itself detects, before or instead of asking the server.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input or a missing `--yes`; exits 2.
    #[error("{0}")]
    Usage(String),
    /// A name the CLI looked up itself matches nothing; exits 3, as the
    /// server's 404 does.
    #[error("{0}")]
    NotFound(String),
    /// The operator answered "no" to a confirmation prompt; exits 1 since
    /// the command did not do what it was asked.
    #[error("cancelled: {0}")]
    Cancelled(String),
}

/// The exit code for an error: the first error in the chain that has a
/// meaning decides, so `.context()` added on the way up changes nothing.
pub fn classify(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(err) = cause.downcast_ref::<ClientError>() {
            return match err {
                ClientError::Api { status, code, .. } => match *status {
                    StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Exit::Denied,
                    // Only scimctl's own "no such thing": anything else that
                    // says 404 is a wrong address, not an answer.
                    StatusCode::NOT_FOUND if code == NOT_FOUND_CODE => Exit::NotFound,
                    // The server rejected what the operator typed (a value the
                    // CLI cannot check itself): a usage error, not a failure.
                    StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => Exit::Usage,
                    _ => Exit::Failure,
                },
                ClientError::Denied { .. } => Exit::Denied,
                ClientError::InvalidAddress { .. } | ClientError::InvalidToken => Exit::Usage,
                _ => Exit::Failure,
            };
        }
        if let Some(err) = cause.downcast_ref::<CredentialsError>() {
            return match err {
                CredentialsError::NotLoggedIn { .. }
                | CredentialsError::TooOpen { .. }
                | CredentialsError::OtherAddress { .. } => Exit::Denied,
                _ => Exit::Failure,
            };
        }
        if let Some(err) = cause.downcast_ref::<ConfigError>() {
            return match err {
                ConfigError::InvalidProfile { .. } => Exit::Usage,
                _ => Exit::Failure,
            };
        }
        if let Some(err) = cause.downcast_ref::<CliError>() {
            return match err {
                CliError::Usage(_) => Exit::Usage,
                CliError::NotFound(_) => Exit::NotFound,
                CliError::Cancelled(_) => Exit::Failure,
            };
        }
        // A --columns the listing does not have is what was typed; a --jq
        // filter failing on the data, like gh's, is an error (exit 1).
        if let Some(RenderError::Columns(_)) = cause.downcast_ref::<RenderError>() {
            return Exit::Usage;
        }
    }
    Exit::Failure
}

/// What the operator can do about an error, when there is something better
/// to say than the message itself.
pub fn hint(err: &anyhow::Error) -> Option<String> {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<ClientError>())
        .and_then(|err| match err {
            ClientError::Refused { .. } => Some(
                "check the address and port (--addr, SCIMCTL_ADDR or the profile's; \
                 `scimctl auth status` shows which is in use) and that `scimctl server` runs \
                 there; to try locally, start one with `scimctl server --dev`"
                    .to_owned(),
            ),
            ClientError::UnknownHost { .. } => Some(
                "check the host name for typos (--addr, SCIMCTL_ADDR or the profile's \
                 address), and that this machine's DNS (or /etc/hosts) knows it"
                    .to_owned(),
            ),
            ClientError::NotScimctl { wrong, .. } => Some(wrong.hint()),
            ClientError::Denied { status, .. } if *status == StatusCode::UNAUTHORIZED => Some(
                "log in again with a live key (`scimctl login --addr URL [--profile NAME]`), \
                 or set SCIMCTL_TOKEN; `scimctl auth status` shows what is in use"
                    .to_owned(),
            ),
            // None for 403: the server's message already says what is missing.
            _ => None,
        })
}

/// Whether the error is stdout closing under us (`scimctl keys list | head`):
/// the reader has what it wanted, so that is a success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    fn api(status: u16) -> anyhow::Error {
        anyhow::Error::new(ClientError::Api {
            status: StatusCode::from_u16(status).expect("valid status"),
            code: "x".to_owned(),
            message: "y".to_owned(),
        })
    }

    #[test]
    fn api_statuses_map_to_the_documented_exit_codes() {
        assert_eq!(classify(&api(401)), Exit::Denied);
        assert_eq!(classify(&api(403)), Exit::Denied);
        let not_found = anyhow::Error::new(ClientError::Api {
            status: StatusCode::NOT_FOUND,
            code: "not_found".to_owned(),
            message: "no user bob".to_owned(),
        });
        assert_eq!(classify(&not_found), Exit::NotFound);
        // A 404 that is not scimctl's "not_found" is no answer about a thing.
        assert_eq!(classify(&api(404)), Exit::Failure);
        assert_eq!(classify(&api(400)), Exit::Usage);
        assert_eq!(classify(&api(500)), Exit::Failure);
        assert_eq!(classify(&api(409)), Exit::Failure);
    }

    #[test]
    fn context_does_not_hide_the_meaning() {
        let err = Err::<(), _>(api(403))
            .context("while doing something")
            .expect_err("is an error");
        assert_eq!(classify(&err), Exit::Denied);

        let refused = Err::<(), _>(ClientError::Refused {
            addr: "http://127.0.0.1:1".into(),
        })
        .context("checking the key")
        .expect_err("is an error");
        assert_eq!(classify(&refused), Exit::Failure);
        assert!(hint(&refused).is_some_and(|h| h.contains("scimctl server --dev")));

        let wrong = anyhow::Error::new(ClientError::NotScimctl {
            addr: "http://h/scim/v2".into(),
            seen: "HTTP 404 with a SCIM error: x".into(),
            wrong: crate::client::WrongThing::ScimBase {
                suggest: "http://h".into(),
            },
        });
        assert_eq!(classify(&wrong), Exit::Failure);
        assert!(hint(&wrong).is_some_and(|h| h.contains("use http://h")));
    }

    #[test]
    fn cli_and_credential_errors() {
        let usage = anyhow::Error::new(CliError::Usage("pass --yes".into()));
        assert_eq!(classify(&usage), Exit::Usage);
        let missing = anyhow::Error::new(CliError::NotFound("no API key x".into()));
        assert_eq!(classify(&missing), Exit::NotFound);
        let nli = anyhow::Error::new(CredentialsError::NotLoggedIn {
            profile: "default".into(),
        });
        assert_eq!(classify(&nli), Exit::Denied);
        assert_eq!(classify(&anyhow::anyhow!("boom")), Exit::Failure);
    }

    #[test]
    fn broken_pipe_is_recognised_through_context() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing output")
            .expect_err("is an error");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
