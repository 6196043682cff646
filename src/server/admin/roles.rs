//! `/admin/v1/roles`: list, create and delete roles.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::roles::{CreateRoleRequest, Role};
use crate::api::{ErrorBody, Page};
use crate::domain::roles;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;

/// List roles.
// One page: there are a handful, never enough to page.
#[utoipa::path(
    get,
    path = "/roles",
    operation_id = "roles_list",
    tag = "roles",
    responses((status = OK, body = Page<Role>, description = "Every role.")),
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<Role>>, ApiError> {
    Ok(Json(Page {
        items: roles::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// Create a custom role.
#[utoipa::path(
    post,
    path = "/roles",
    operation_id = "roles_create",
    tag = "roles",
    request_body = CreateRoleRequest,
    responses(
        (status = CREATED, body = Role, description = "The role."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad name, or no permissions."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `roles:manage` or a permission it puts in the role, or the address is not allowed."),
        (status = CONFLICT, body = ErrorBody, description = "A role with this name exists."),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateRoleRequest>,
) -> Result<(StatusCode, Json<Role>), ApiError> {
    let role = roles::create(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(role)))
}

/// Delete a custom role that no user holds and that is not the default.
#[utoipa::path(
    delete,
    path = "/roles/{name}",
    operation_id = "roles_delete",
    tag = "roles",
    params(("name", description = "The role's name.")),
    responses(
        (status = OK, body = Role, description = "The role, deleted."),
        (status = NOT_FOUND, body = ErrorBody, description = "No role with this name."),
        (status = CONFLICT, body = ErrorBody, description = "The role is built in, held by users, or the default role."),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Role>, ApiError> {
    Ok(Json(
        roles::delete(&state.store, &caller.actor, &name).await?,
    ))
}
