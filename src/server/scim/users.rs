//! `/scim/v2/Users`: list and search, get, create, replace, patch, delete.
//! Handlers only translate HTTP; what a request does to the directory is in
//! `domain::scim_users`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::super::AppState;
use super::super::auth::Caller;
use super::error::ScimHttpError;
use super::http::{ScimJson, ScimQuery, ScimResponse};
use super::listing::{ListQuery, ProjectionQuery, answer_page};
use crate::domain::deprovision::Trigger;
use crate::domain::scim_users::{self, Written};
use crate::scim::etag::Preconditions;
use crate::scim::resource::BaseUrl;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/Users", get(list).post(create))
        .route("/Users/.search", post(search))
        .route(
            "/Users/{id}",
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
    let (total, resources) = scim_users::list(&state.store, &params, base).await?;
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
    let resource = scim_users::get(&state.store, &id, &base).await?;
    ScimResponse::projected(resource, &projection, &preconditions)
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    base: BaseUrl,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let settings = &caller.policy.settings;
    let written = scim_users::create(&state.store, &caller.actor, settings, &body, &base).await?;
    Ok(ScimResponse::created(counted(&state, written)))
}

async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    base: BaseUrl,
    Path(id): Path<String>,
    preconditions: Preconditions,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let written = scim_users::replace(
        &state.store,
        &caller.actor,
        &id,
        &body,
        &preconditions,
        &base,
    )
    .await?;
    Ok(ScimResponse::resource(counted(&state, written)))
}

async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    base: BaseUrl,
    Path(id): Path<String>,
    preconditions: Preconditions,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let written = scim_users::patch(
        &state.store,
        &caller.actor,
        &id,
        &body,
        &preconditions,
        &base,
    )
    .await?;
    Ok(ScimResponse::resource(counted(&state, written)))
}

async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    preconditions: Preconditions,
) -> Result<ScimResponse, ScimHttpError> {
    let deleted = scim_users::delete(&state.store, &caller.actor, &id, &preconditions).await?;
    if deleted.deprovisioned {
        state.metrics.deprovisioned(Trigger::Scim);
    }
    if let Some(reason) = deleted.held {
        state.metrics.held(reason);
    }
    Ok(ScimResponse::no_content())
}

/// Counts a deprovisioning the request caused; returns the resource.
fn counted(state: &AppState, written: Written) -> Value {
    if written.deprovisioned {
        state.metrics.deprovisioned(Trigger::Scim);
    }
    if let Some(reason) = written.held {
        state.metrics.held(reason);
    }
    written.resource
}
