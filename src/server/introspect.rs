//! `POST /auth/v1/introspect`: for apps and SSO front doors, whether a
//! session token or API key is live right now.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::api::directory::{IntrospectRequest, Introspection};
use crate::domain::sessions;

pub async fn introspect(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<IntrospectRequest>,
) -> Result<Json<Introspection>, ApiError> {
    Ok(Json(
        sessions::introspect(&state.store, &request.token).await?,
    ))
}
