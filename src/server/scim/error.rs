//! The SCIM surface's one error answer (RFC 7644 §3.12): every refusal under
//! `/scim/v2` — a protocol error from `scim`, a domain error, a refusal at
//! the gate — becomes a status, an optional `scimType` and a `detail` here,
//! and nowhere else.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::http::{WWW_AUTHENTICATE, scim_body};
use crate::domain;
use crate::scim::ERROR_SCHEMA;
use crate::scim::error::{Problem, ScimError, ScimType};

/// A SCIM error with the HTTP status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimHttpError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimHttpError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimHttpError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        ScimHttpError::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimHttpError::new(StatusCode::NOT_FOUND, None, detail)
    }

    /// 500, the cause left in the server log.
    pub fn internal() -> Self {
        ScimHttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "internal error; the server log has the details",
        )
    }

    /// The error's JSON body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type.as_str());
        }
        body
    }
}

impl IntoResponse for ScimHttpError {
    fn into_response(self) -> Response {
        let mut response = scim_body(self.status, &self.body());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(WWW_AUTHENTICATE),
            );
        }
        response
    }
}

impl From<ScimError> for ScimHttpError {
    fn from(err: ScimError) -> Self {
        let status = match err.problem {
            Problem::Request(_) => StatusCode::BAD_REQUEST,
            Problem::Precondition => StatusCode::PRECONDITION_FAILED,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ScimHttpError::new(status, err.scim_type(), err.detail)
    }
}

impl From<domain::Error> for ScimHttpError {
    fn from(err: domain::Error) -> Self {
        use domain::Error;
        let (status, scim_type, detail) = match err {
            Error::Unauthenticated(detail) => (StatusCode::UNAUTHORIZED, None, detail),
            Error::Forbidden(detail) | Error::ProvisioningDisabled(detail) => {
                (StatusCode::FORBIDDEN, None, detail)
            }
            Error::NotFound(detail) => (StatusCode::NOT_FOUND, None, detail),
            Error::Conflict(detail) => (StatusCode::CONFLICT, None, detail),
            Error::Uniqueness(detail) => (StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail),
            Error::PreconditionFailed(detail) => (StatusCode::PRECONDITION_FAILED, None, detail),
            Error::Invalid(detail) => (
                StatusCode::BAD_REQUEST,
                Some(ScimType::InvalidValue),
                detail,
            ),
            Error::Scim(err) => return err.into(),
            Error::Store(err) => return err.into(),
        };
        ScimHttpError::new(status, scim_type, detail)
    }
}

impl From<crate::store::StoreError> for ScimHttpError {
    fn from(err: crate::store::StoreError) -> Self {
        if err.is_unique_violation() {
            // Two requests raced to create the same name; the loser is told
            // as if it had come second.
            return ScimHttpError::new(
                StatusCode::CONFLICT,
                Some(ScimType::Uniqueness),
                "that name is already taken",
            );
        }
        tracing::error!(error = %crate::store::describe(&err), "store error");
        ScimHttpError::internal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_follows_rfc_7644() {
        let err = ScimHttpError::bad_request(ScimType::InvalidFilter, "unexpected `)` at 12");
        assert_eq!(
            err.body(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "unexpected `)` at 12",
            })
        );
        assert!(
            ScimHttpError::not_found("x")
                .body()
                .get("scimType")
                .is_none()
        );
    }

    #[test]
    fn each_problem_and_domain_error_has_its_status() {
        let cases: [(ScimHttpError, u16, Option<ScimType>); 6] = [
            (
                ScimError::invalid(ScimType::NoTarget, "x").into(),
                400,
                Some(ScimType::NoTarget),
            ),
            (ScimError::precondition("x").into(), 412, None),
            (ScimError::internal("x").into(), 500, None),
            (
                domain::Error::Uniqueness("x".into()).into(),
                409,
                Some(ScimType::Uniqueness),
            ),
            (
                domain::Error::PreconditionFailed("x".into()).into(),
                412,
                None,
            ),
            (
                domain::Error::ProvisioningDisabled("x".into()).into(),
                403,
                None,
            ),
        ];
        for (err, status, scim_type) in cases {
            assert_eq!((err.status.as_u16(), err.scim_type), (status, scim_type));
            assert_eq!(err.detail, "x");
        }
    }
}
