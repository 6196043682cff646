//! `/admin/v1/roles`: list, create and delete roles.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::Page;
use crate::api::settings::{CreateRoleRequest, Role};
use crate::domain::roles;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;

/// Every role in one page: there are a handful, never enough to page.
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<Role>>, ApiError> {
    Ok(Json(Page {
        items: roles::list(&state.store).await?,
        next_cursor: None,
    }))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = roles::create(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Role>, ApiError> {
    Ok(Json(
        roles::delete(&state.store, &caller.actor, &name).await?,
    ))
}
