//! `/admin/v1/groups`: teams, as the directory holds them.

use axum::Json;
use axum::extract::{Path, State};

use crate::api::Page;
use crate::api::directory::{Team, TeamListQuery};
use crate::domain::teams;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TeamListQuery>,
) -> Result<Json<Page<Team>>, ApiError> {
    Ok(Json(teams::list(&state.store, &query).await?))
}

pub async fn show(
    State(state): State<AppState>,
    Path(group): Path<String>,
) -> Result<Json<Team>, ApiError> {
    Ok(Json(teams::show(&state.store, &group).await?))
}
