//! `/admin/v1/groups`: groups, as the directory holds them.

use axum::Json;
use axum::extract::{Path, State};

use crate::api::groups::{Group, GroupListQuery};
use crate::api::{ErrorBody, Page};
use crate::domain::groups;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;

/// List groups, ordered by display name, a page at a time.
#[utoipa::path(
    get,
    path = "/groups",
    operation_id = "groups_list",
    tag = "groups",
    params(GroupListQuery),
    responses(
        (status = OK, body = Page<Group>, description = "A page of groups, without their members."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad query parameter, limit or cursor."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<GroupListQuery>,
) -> Result<Json<Page<Group>>, ApiError> {
    Ok(Json(groups::list(&state.store, &query).await?))
}

/// Show a group and its members.
#[utoipa::path(
    get,
    path = "/groups/{group}",
    operation_id = "groups_show",
    tag = "groups",
    params(("group", description = "The group's id or display name.")),
    responses(
        (status = OK, body = Group, description = "The group, with its members."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such group."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Group>, ApiError> {
    Ok(Json(groups::show(&state.store, &group).await?))
}
