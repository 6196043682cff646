//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType`
//! keyword, and a `detail` written for the person reading the IdP's log.

use serde::Serialize;
use serde_json::{Value, json};

use super::ERROR_SCHEMA;

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

/// An error to answer with. `status` is the HTTP status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimError::new(400, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError::new(404, None, detail)
    }

    /// The error's JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type.as_str());
        }
        body
    }
}

impl Serialize for ScimError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.body().serialize(serializer)
    }
}

impl From<crate::domain::Error> for ScimError {
    fn from(err: crate::domain::Error) -> Self {
        use crate::domain::Error;
        match err {
            Error::Unauthenticated(detail) => ScimError::new(401, None, detail),
            Error::Forbidden(detail) => ScimError::new(403, None, detail),
            Error::NotFound(detail) => ScimError::not_found(detail),
            Error::Conflict(detail) => ScimError::new(409, None, detail),
            Error::Invalid(detail) => ScimError::bad_request(ScimType::InvalidValue, detail),
            Error::Store(err) => err.into(),
        }
    }
}

/// Text refused by [`crate::text`]: `400 invalidValue` naming the field.
impl From<crate::text::TextError> for ScimError {
    fn from(err: crate::text::TextError) -> Self {
        ScimError::bad_request(ScimType::InvalidValue, err.to_string())
    }
}

impl From<crate::store::StoreError> for ScimError {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_unique_violation() {
            // Two requests raced to create the same name; the loser is told
            // as if it had come second.
            return ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                "that name is already taken",
            );
        }
        tracing::error!(error = %crate::store::describe(&err), "store error");
        ScimError::new(500, None, "internal error; the server log has the details")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_rfc_7644() {
        let err = ScimError::bad_request(ScimType::InvalidFilter, "unexpected `)` at 12");
        assert_eq!(
            err.body(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "unexpected `)` at 12",
            })
        );
        assert!(ScimError::not_found("x").body().get("scimType").is_none());
    }
}
