//! `/admin/v1/users`: the directory's users, their deprovisioning,
//! verification, reactivation and sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::Page;
use crate::api::directory::{
    CreateUserRequest, DeprovisionReport, DeprovisionRequest, IssueSessionRequest, IssuedSession,
    ReactivateRequest, User, UserListQuery, VerificationReport,
};
use crate::domain::deprovision::{self, Trigger};
use crate::domain::{sessions, users};
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    Ok(Json(users::list(&state.store, &query).await?))
}

pub async fn show(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(users::show(&state.store, &user).await?))
}

pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = users::create_manual(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

pub async fn deprovision(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<DeprovisionRequest>,
) -> Result<Json<DeprovisionReport>, ApiError> {
    let report = deprovision::deprovision(
        &state.store,
        &caller.actor,
        &user,
        request.reason.as_deref(),
        request.dry_run,
    )
    .await?;
    if !report.dry_run && !report.already_deprovisioned {
        state.metrics.deprovisioned(Trigger::Admin);
    }
    Ok(Json(report))
}

pub async fn verify(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<VerificationReport>, ApiError> {
    Ok(Json(deprovision::verify(&state.store, &user).await?))
}

pub async fn deactivate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<User>, ApiError> {
    let (user, report) = deprovision::deactivate(&state.store, &caller.actor, &user).await?;
    if report.is_some_and(|report| !report.already_deprovisioned) {
        state.metrics.deprovisioned(Trigger::Admin);
    }
    Ok(Json(user))
}

pub async fn reactivate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<ReactivateRequest>,
) -> Result<Json<User>, ApiError> {
    let user = deprovision::reactivate(
        &state.store,
        &caller.actor,
        &user,
        request.reason.as_deref(),
    )
    .await?;
    Ok(Json(user))
}

pub async fn issue_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<IssueSessionRequest>,
) -> Result<(StatusCode, Json<IssuedSession>), ApiError> {
    let session = sessions::issue(&state.store, &caller.actor, &user, request.ttl_seconds).await?;
    Ok((StatusCode::CREATED, Json(session)))
}
