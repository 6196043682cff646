//! The product's rules, independent of HTTP: what a request may do and what
//! it changes, each change committed with its audit entry.

pub mod access;
pub mod actor;
pub mod allowlist;
pub mod audit;
pub mod ceiling;
pub mod denials;
pub mod deprovision;
pub mod explain;
pub mod grants;
pub mod groups;
pub mod guards;
pub mod journal;
pub mod keys;
pub mod locks;
pub mod mappings;
pub mod policy;
pub mod rails;
pub mod recover;
pub mod replay;
pub mod roles;
pub mod scim_groups;
pub mod scim_search;
pub mod scim_users;
pub mod scope;
pub mod sessions;
pub mod settings;
#[cfg(test)]
mod test_store;
pub mod token;
pub mod users;
pub mod why;

use crate::store::StoreError;

/// Why a domain operation did not happen. Each HTTP surface maps the variants
/// to its statuses once (`server::error` for the admin API,
/// `server::scim::error` for SCIM); the messages are written for the person
/// who sent the request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credential is missing, malformed, unknown, revoked or expired.
    #[error("{0}")]
    Unauthenticated(String),
    /// The credential is fine but lacks a permission.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request clashes with what exists (a taken name, a role in use).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is wrong; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// A name that must be unique is taken (SCIM's `uniqueness`).
    #[error("{0}")]
    Uniqueness(String),
    /// The resource changed while the request ran (a concurrent write won):
    /// read it again and retry.
    #[error("{0}")]
    PreconditionFailed(String),
    /// Automatic provisioning is switched off: the identity provider may not
    /// create users. Audited already, unlike [`Error::Forbidden`].
    #[error("{0}")]
    ProvisioningDisabled(String),
    /// A SCIM request the protocol refuses: malformed, an unknown attribute in
    /// a filter, a PATCH with no target, a failed `If-Match`… in RFC 7644's
    /// terms, without a status.
    #[error(transparent)]
    Scim(#[from] crate::scim::error::ScimError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Text refused by [`crate::text`] is a request to change.
impl From<crate::text::TextError> for Error {
    fn from(err: crate::text::TextError) -> Self {
        Error::Invalid(err.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
