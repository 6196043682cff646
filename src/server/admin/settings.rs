//! `/admin/v1/settings`: read and change the provisioning toggles and the
//! default role.

use axum::extract::State;
use axum::{Extension, Json};

use crate::api::settings::{Settings, UpdateSettingsRequest};
use crate::domain::settings;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;

pub async fn get(State(state): State<AppState>) -> Result<Json<Settings>, ApiError> {
    Ok(Json(settings::get(&state.store).await?))
}

pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<UpdateSettingsRequest>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(
        settings::update(&state.store, &caller.actor, request).await?,
    ))
}
