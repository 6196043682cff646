//! `POST /scim/v2/.search`: one search across Users and Groups (RFC 7644
//! §3.4.3). Which resources it finds, and in what order, is
//! `domain::scim_search`'s.

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::Value;

use super::super::AppState;
use super::error::ScimHttpError;
use super::http::{ScimJson, ScimResponse};
use super::listing::{ListQuery, answer_page};
use crate::domain::scim_search;
use crate::scim::resource::BaseUrl;

pub fn routes() -> Router<AppState> {
    Router::new().route("/.search", post(search))
}

async fn search(
    State(state): State<AppState>,
    base: BaseUrl,
    ScimJson(body): ScimJson<Value>,
) -> Result<ScimResponse, ScimHttpError> {
    let query = ListQuery::from_search(&body)?;
    let params = query.params()?;
    let projection = query.projection()?;
    let with_members = !projection.leaves_out("members");
    let (total, resources) =
        scim_search::search(&state.store, &params, with_members, &base).await?;
    Ok(answer_page(
        total,
        params.start_index,
        resources,
        &projection,
    ))
}
