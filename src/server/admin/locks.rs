//! `/admin/v1/locks`: list locks, remove one by hand.

use axum::extract::{Path, State};
use axum::{Extension, Json};

use crate::api::Page;
use crate::api::directory::Lock;
use crate::domain::locks;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;

pub async fn list(State(state): State<AppState>) -> Result<Json<Page<Lock>>, ApiError> {
    Ok(Json(Page {
        items: locks::list(&state.store).await?,
        next_cursor: None,
    }))
}

pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Lock>, ApiError> {
    Ok(Json(locks::remove(&state.store, &caller.actor, &id).await?))
}
