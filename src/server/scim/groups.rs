//! `/scim/v2/Groups`: list and search, get, create, replace, patch, delete.
//! What a request does to groups and memberships is in `domain::scim_groups`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::super::AppState;
use super::super::auth::Caller;
use super::error::ScimHttpError;
use super::http::{ScimJson, ScimQuery, ScimResponse};
use super::listing::{ListQuery, ProjectionQuery, answer_page};
use crate::domain::scim_groups;
use crate::scim::etag::Preconditions;
use crate::scim::resource::BaseUrl;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Groups", get(list).post(create))
        .route("/Groups/.search", post(search))
        .route(
            "/Groups/{id}",
            get(show).put(replace).patch(patch).delete(delete),
        )
}

async fn list(
    State(state): State<AppState>,
    base: BaseUrl,
    ScimQuery(query): ScimQuery<ListQuery>,
) -> Result<ScimResponse, ScimHttpError> {
    answer_list(&state, &base, &query).await
}

async fn search(
    State(state): State<AppState>,
    base: BaseUrl,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    answer_list(&state, &base, &ListQuery::from_search(&body)?).await
}

async fn answer_list(
    state: &AppState,
    base: &BaseUrl,
    query: &ListQuery,
) -> Result<ScimResponse, ScimHttpError> {
    let params = query.params()?;
    let projection = query.projection()?;
    let with_members = !projection.leaves_out("members");
    let (total, resources) = scim_groups::list(&state.store, &params, with_members, base).await?;
    Ok(answer_page(
        total,
        params.start_index,
        resources,
        &projection,
    ))
}

async fn show(
    State(state): State<AppState>,
    base: BaseUrl,
    Path(id): Path<String>,
    ScimQuery(query): ScimQuery<ProjectionQuery>,
    preconditions: Preconditions,
) -> Result<ScimResponse, ScimHttpError> {
    let projection = query.projection()?;
    let with_members = !projection.leaves_out("members");
    let resource = scim_groups::get(&state.store, &id, with_members, &base).await?;
    ScimResponse::projected(resource, &projection, &preconditions)
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    base: BaseUrl,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let resource = scim_groups::create(&state.store, &caller.actor, &body, &base).await?;
    Ok(ScimResponse::created(resource))
}

async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    base: BaseUrl,
    Path(id): Path<String>,
    preconditions: Preconditions,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let resource = scim_groups::replace(
        &state.store,
        &caller.actor,
        &id,
        &body,
        &preconditions,
        &base,
    )
    .await?;
    Ok(ScimResponse::resource(resource))
}

/// Answers 204: a group's members can number thousands, and RFC 7644
/// §3.5.2 lets a service provider skip echoing the resource.
async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    preconditions: Preconditions,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    scim_groups::patch(&state.store, &caller.actor, &id, &body, &preconditions).await?;
    Ok(ScimResponse::no_content())
}

async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    preconditions: Preconditions,
) -> Result<ScimResponse, ScimHttpError> {
    scim_groups::delete(&state.store, &caller.actor, &id, &preconditions).await?;
    Ok(ScimResponse::no_content())
}
