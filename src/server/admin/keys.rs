//! `/admin/v1/keys`: create, list, show and revoke API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::api::{ApiKey, CreateKeyRequest, CreatedKey, Page};
use crate::domain::keys;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let created = keys::create(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    include_revoked: bool,
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ApiKey>>, ApiError> {
    let items = keys::list(&state.store, query.include_revoked).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    Ok(Json(keys::show(&state.store, &id).await?))
}

pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    Ok(Json(keys::revoke(&state.store, &caller.actor, &id).await?))
}
