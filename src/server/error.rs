//! The one error type of the admin and auth APIs, and how it becomes a
//! response: `{"error": {"code", "message"}}` with the matching status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, ErrorDetail};
use crate::domain;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Set when the domain refused a permission (the privilege ceiling):
    /// answered as 403 and audited as `auth.denied` by the authentication
    /// layer, which knows the caller.
    denial: bool,
    /// `Retry-After`, in seconds, for a 429.
    retry_after: Option<u64>,
}

/// A response extension marking a permission refusal, with its reason, for
/// the authentication layer to audit.
#[derive(Debug, Clone)]
pub struct Denial(pub String);

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            denial: false,
            retry_after: None,
        }
    }

    /// `429` with `Retry-After`.
    pub fn throttled(throttled: super::limits::Throttled) -> Self {
        let seconds = throttled.retry_after_seconds();
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: throttled.message(),
            denial: false,
            retry_after: Some(seconds),
        }
    }

    fn code(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
            StatusCode::REQUEST_TIMEOUT => "request_timeout",
            status if status.is_client_error() => "bad_request",
            _ => "internal",
        }
    }
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        let status = match &err {
            domain::Error::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            domain::Error::Forbidden(_) => StatusCode::FORBIDDEN,
            domain::Error::NotFound(_) => StatusCode::NOT_FOUND,
            domain::Error::Conflict(_) => StatusCode::CONFLICT,
            domain::Error::Invalid(_) => StatusCode::BAD_REQUEST,
            domain::Error::Uniqueness(_) => StatusCode::CONFLICT,
            domain::Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            domain::Error::ProvisioningDisabled(_) => StatusCode::FORBIDDEN,
            // Only SCIM requests raise these; the admin API answers them in
            // its own format all the same.
            domain::Error::Scim(scim) => match scim.problem {
                crate::scim::error::Problem::Request(_) => StatusCode::BAD_REQUEST,
                crate::scim::error::Problem::Precondition => StatusCode::PRECONDITION_FAILED,
                crate::scim::error::Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            domain::Error::Store(source) => {
                // The cause stays in the server log; the client learns only
                // that it was not its fault.
                tracing::error!(error = %crate::store::describe(source), "store error");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; the server log has the details",
                );
            }
        };
        ApiError {
            denial: matches!(err, domain::Error::Forbidden(_)),
            ..ApiError::new(status, err.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let denial = self.denial.then(|| Denial(self.message.clone()));
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code().to_owned(),
                    message: self.message,
                },
            }),
        )
            .into_response();
        if let Some(denial) = denial {
            response.extensions_mut().insert(denial);
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
