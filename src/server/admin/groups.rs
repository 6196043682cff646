//! `/admin/v1/groups`: teams, as the directory holds them.

use axum::Json;
use axum::extract::{Path, State};

use crate::api::groups::{Team, TeamListQuery};
use crate::api::{ErrorBody, Page};
use crate::domain::teams;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;

/// List teams, ordered by display name, a page at a time.
#[utoipa::path(
    get,
    path = "/groups",
    operation_id = "groups_list",
    tag = "groups",
    params(TeamListQuery),
    responses(
        (status = OK, body = Page<Team>, description = "A page of teams, without their members."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad query parameter, limit or cursor."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TeamListQuery>,
) -> Result<Json<Page<Team>>, ApiError> {
    Ok(Json(teams::list(&state.store, &query).await?))
}

/// Show a team and its members.
#[utoipa::path(
    get,
    path = "/groups/{group}",
    operation_id = "groups_show",
    tag = "groups",
    params(("group", description = "The team's id or display name.")),
    responses(
        (status = OK, body = Team, description = "The team, with its members."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such team."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Team>, ApiError> {
    Ok(Json(teams::show(&state.store, &group).await?))
}
