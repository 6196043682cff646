//! `/admin/v1/keys`: create, list, show and revoke API keys.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::{ApiKey, CreateKeyRequest, CreatedKey, ErrorBody, Page};
use crate::domain::keys;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

/// Create an API key; its token is in the answer, this once.
#[utoipa::path(
    post,
    path = "/keys",
    operation_id = "keys_create",
    tag = "keys",
    request_body = CreateKeyRequest,
    responses(
        (status = CREATED, body = CreatedKey, description = "The key and its token."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad name, no scopes, or an expiry in the past."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `keys:manage` or a scope it asks to grant, the owner's roles lack one, or the address is not allowed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such owner."),
        (status = CONFLICT, body = ErrorBody, description = "The owner is inactive or locked."),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let created = keys::create(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include revoked keys.
    #[serde(default)]
    include_revoked: bool,
}

/// List API keys.
#[utoipa::path(
    get,
    path = "/keys",
    operation_id = "keys_list",
    tag = "keys",
    params(ListQuery),
    responses(
        (status = OK, body = Page<ApiKey>, description = "Every key, in one page."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad query parameter."),
    )
)]
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

/// Show an API key.
#[utoipa::path(
    get,
    path = "/keys/{id}",
    operation_id = "keys_show",
    tag = "keys",
    params(("id", description = "The key's id.")),
    responses(
        (status = OK, body = ApiKey, description = "The key."),
        (status = NOT_FOUND, body = ErrorBody, description = "No key with this id."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiKey>, ApiError> {
    Ok(Json(keys::show(&state.store, &id).await?))
}

/// Revoke an API key at once; revoking a revoked key changes nothing.
#[utoipa::path(
    delete,
    path = "/keys/{id}",
    operation_id = "keys_revoke",
    tag = "keys",
    params(("id", description = "The key's id."), RevokeQuery),
    responses(
        (status = OK, body = ApiKey, description = "The key, revoked."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `keys:manage` or a scope of the key to revoke."),
        (status = NOT_FOUND, body = ErrorBody, description = "No key with this id."),
        (status = CONFLICT, body = ErrorBody, description = "It is the key in use or the last live key that can manage keys, and `force` is not set."),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RevokeQuery>,
) -> Result<Json<ApiKey>, ApiError> {
    let revoked = keys::revoke(&state.store, &caller.actor, &id, query.force).await?;
    Ok(Json(revoked))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevokeQuery {
    /// Revoke even the key this request uses, or the last live key that
    /// can manage keys.
    #[serde(default)]
    force: bool,
}
