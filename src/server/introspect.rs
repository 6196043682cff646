//! `POST /auth/v1/introspect`: for apps and SSO front doors, whether a
//! session token or API key is live right now.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::api::ErrorBody;
use crate::api::sessions::{IntrospectRequest, Introspection};
use crate::domain::sessions;

/// Whether a session token or API key is live, for whom, with which roles and groups.
#[utoipa::path(
    post,
    path = "/introspect",
    operation_id = "introspect",
    tag = "auth",
    request_body = IntrospectRequest,
    responses(
        (status = OK, body = Introspection, description = "Live or not; a dead or unknown token is `active: false`, not an error."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad body."),
    )
)]
pub async fn introspect(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<IntrospectRequest>,
) -> Result<Json<Introspection>, ApiError> {
    Ok(Json(
        sessions::introspect(&state.store, &request.token).await?,
    ))
}
