//! `/admin/v1/allowlist`: list, add, remove, replace and check an address.
//! Enforcement on every request lives in `server::client_ip`.

use axum::extract::State;
use axum::{Extension, Json};

use crate::api::Page;
use crate::api::allowlist::{
    AddEntriesRequest, AllowlistChange, AllowlistCheck, AllowlistCheckQuery, AllowlistEntry,
    RemoveEntriesRequest, ReplaceAllowlistRequest,
};
use crate::domain::allowlist;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

/// `GET /admin/v1/allowlist`: every entry (the list is small: one page).
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<AllowlistEntry>>, ApiError> {
    Ok(Json(Page {
        items: allowlist::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// `POST /admin/v1/allowlist`.
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<AddEntriesRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::add(&state.store, &caller.actor, request).await?,
    ))
}

/// `POST /admin/v1/allowlist/remove` (a body on DELETE is awkward for many
/// clients).
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<RemoveEntriesRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::remove(&state.store, &caller.actor, request).await?,
    ))
}

/// `PUT /admin/v1/allowlist`.
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<ReplaceAllowlistRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::replace(&state.store, &caller.actor, request).await?,
    ))
}

/// `GET /admin/v1/allowlist/check?ip=…`.
pub async fn check(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AllowlistCheckQuery>,
) -> Result<Json<AllowlistCheck>, ApiError> {
    Ok(Json(allowlist::check(&state.store, &query.ip).await?))
}
