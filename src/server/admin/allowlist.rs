//! `/admin/v1/allowlist`: list, add, remove, replace and check an address.
//! Enforcement on every request lives in `server::client_ip`.

use axum::extract::State;
use axum::{Extension, Json};

use crate::api::allowlist::{
    AddEntriesRequest, AllowlistChange, AllowlistCheck, AllowlistCheckQuery, AllowlistEntry,
    RemoveEntriesRequest, ReplaceAllowlistRequest,
};
use crate::api::{ErrorBody, Page};
use crate::domain::allowlist;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

/// List the IP allowlist.
#[utoipa::path(
    get,
    path = "/allowlist",
    operation_id = "allowlist_list",
    tag = "allowlist",
    responses((status = OK, body = Page<AllowlistEntry>, description = "Every entry, in one page: the list is small.")),
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<AllowlistEntry>>, ApiError> {
    Ok(Json(Page {
        items: allowlist::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// Add entries to the IP allowlist.
#[utoipa::path(
    post,
    path = "/allowlist",
    operation_id = "allowlist_add",
    tag = "allowlist",
    request_body = AddEntriesRequest,
    responses(
        (status = OK, body = AllowlistChange, description = "What changed, with notes, and the list now."),
        (status = BAD_REQUEST, body = ErrorBody, description = "No entries, or one that is not a CIDR (named precisely); nothing changed."),
        (status = CONFLICT, body = ErrorBody, description = "The change would lock out the caller's address and `force` is not set."),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<AddEntriesRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::add(&state.store, &caller.actor, request).await?,
    ))
}

/// Remove entries from the IP allowlist.
// POST rather than DELETE: a body on DELETE is awkward for many clients.
#[utoipa::path(
    post,
    path = "/allowlist/remove",
    operation_id = "allowlist_remove",
    tag = "allowlist",
    request_body = RemoveEntriesRequest,
    responses(
        (status = OK, body = AllowlistChange, description = "What changed and the list now."),
        (status = BAD_REQUEST, body = ErrorBody, description = "No entries, or one that is not a CIDR; nothing changed."),
        (status = NOT_FOUND, body = ErrorBody, description = "An entry is not in the list; nothing changed."),
        (status = CONFLICT, body = ErrorBody, description = "The change would lock out the caller's address and `force` is not set."),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<RemoveEntriesRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::remove(&state.store, &caller.actor, request).await?,
    ))
}

/// Replace the whole IP allowlist; an empty list allows every address.
#[utoipa::path(
    put,
    path = "/allowlist",
    operation_id = "allowlist_replace",
    tag = "allowlist",
    request_body = ReplaceAllowlistRequest,
    responses(
        (status = OK, body = AllowlistChange, description = "What changed and the list now."),
        (status = BAD_REQUEST, body = ErrorBody, description = "An entry that is not a CIDR; nothing changed."),
        (status = CONFLICT, body = ErrorBody, description = "The change would lock out the caller's address and `force` is not set."),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<ReplaceAllowlistRequest>,
) -> Result<Json<AllowlistChange>, ApiError> {
    Ok(Json(
        allowlist::replace(&state.store, &caller.actor, request).await?,
    ))
}

/// Check whether the IP allowlist lets an address in.
#[utoipa::path(
    get,
    path = "/allowlist/check",
    operation_id = "allowlist_check",
    tag = "allowlist",
    params(AllowlistCheckQuery),
    responses(
        (status = OK, body = AllowlistCheck, description = "Whether it is allowed, and by which entry."),
        (status = BAD_REQUEST, body = ErrorBody, description = "Not an IP address."),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AllowlistCheckQuery>,
) -> Result<Json<AllowlistCheck>, ApiError> {
    Ok(Json(allowlist::check(&state.store, &query.ip).await?))
}
