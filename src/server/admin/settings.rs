//! `/admin/v1/settings`: read and change the provisioning toggles and the
//! default role.

use axum::extract::State;
use axum::{Extension, Json};

use crate::api::ErrorBody;
use crate::api::settings::{Settings, UpdateSettingsRequest};
use crate::domain::settings;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;

/// Show the provisioning settings and the default role.
#[utoipa::path(
    get,
    path = "/settings",
    operation_id = "settings_get",
    tag = "settings",
    responses((status = OK, body = Settings, description = "The settings.")),
)]
pub async fn get(State(state): State<AppState>) -> Result<Json<Settings>, ApiError> {
    Ok(Json(settings::get(&state.store).await?))
}

/// Change the settings given; the others stay as they are.
#[utoipa::path(
    patch,
    path = "/settings",
    operation_id = "settings_update",
    tag = "settings",
    request_body = UpdateSettingsRequest,
    responses(
        (status = OK, body = Settings, description = "The settings after the change."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad body."),
        (status = NOT_FOUND, body = ErrorBody, description = "An unknown default role; the message lists the roles."),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<UpdateSettingsRequest>,
) -> Result<Json<Settings>, ApiError> {
    Ok(Json(
        settings::update(&state.store, &caller.actor, request).await?,
    ))
}
