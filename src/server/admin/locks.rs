//! `/admin/v1/locks`: list locks, remove one by hand.

use axum::extract::{Path, State};
use axum::{Extension, Json};

use crate::api::locks::Lock;
use crate::api::{ErrorBody, Page};
use crate::domain::locks;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;

/// List locks.
#[utoipa::path(
    get,
    path = "/locks",
    operation_id = "locks_list",
    tag = "locks",
    responses((status = OK, body = Page<Lock>, description = "Every lock, in one page.")),
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<Lock>>, ApiError> {
    Ok(Json(Page {
        items: locks::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// Remove a lock by hand, unblocking the user's credentials.
#[utoipa::path(
    delete,
    path = "/locks/{id}",
    operation_id = "locks_remove",
    tag = "locks",
    params(("id", description = "The lock's id.")),
    responses(
        (status = OK, body = Lock, description = "The lock, removed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No lock with this id."),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Lock>, ApiError> {
    Ok(Json(locks::remove(&state.store, &caller.actor, &id).await?))
}
