//! SCIM errors (RFC 7644 §3.12) as the protocol sees them: what is wrong
//! (a `scimType` keyword, a failed precondition) and a `detail` written for
//! the person reading the IdP's log. No HTTP status: `server::scim` picks it.

/// The `scimType` keywords of RFC 7644 §3.12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// What is wrong, in the protocol's terms. Which HTTP status each is
/// answered with is the server's to decide (`server::scim::error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The request is wrong in the way the `scimType` keyword says.
    Request(ScimType),
    /// An `If-Match` or `If-None-Match` precondition does not hold.
    Precondition,
    /// What the service stored cannot be worked on: not the client's doing.
    Internal,
}

/// A SCIM request that cannot be carried out, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub problem: Problem,
    pub detail: String,
}

impl ScimError {
    /// The request is wrong as `scim_type` says.
    pub fn invalid(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError {
            problem: Problem::Request(scim_type),
            detail: detail.into(),
        }
    }

    /// A precondition (`If-Match`, `If-None-Match`) does not hold.
    pub fn precondition(detail: impl Into<String>) -> Self {
        ScimError {
            problem: Problem::Precondition,
            detail: detail.into(),
        }
    }

    /// The service's own fault.
    pub fn internal(detail: impl Into<String>) -> Self {
        ScimError {
            problem: Problem::Internal,
            detail: detail.into(),
        }
    }

    /// The `scimType` keyword, for a request that is wrong.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self.problem {
            Problem::Request(scim_type) => Some(scim_type),
            Problem::Precondition | Problem::Internal => None,
        }
    }
}

/// Text refused by [`crate::text`]: `invalidValue`, naming the field.
impl From<crate::text::TextError> for ScimError {
    fn from(err: crate::text::TextError) -> Self {
        ScimError::invalid(ScimType::InvalidValue, err.to_string())
    }
}
