//! `/admin/v1/provisioning/breaker`: the mass-deprovisioning circuit
//! breaker, its held users, and releasing or resetting it.

use axum::extract::State;
use axum::{Extension, Json};

use crate::api::ErrorBody;
use crate::api::rails::{BreakerChange, BreakerOutcome, BreakerReleaseRequest, BreakerStatus};
use crate::domain::deprovision::Trigger;
use crate::domain::rails;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::ApiJson;

/// Show the breaker: open or closed, its window and limit now, and the
/// users whose SCIM deprovisioning it holds.
#[utoipa::path(
    get,
    path = "/provisioning/breaker",
    operation_id = "breaker_status",
    tag = "provisioning",
    responses((status = OK, body = BreakerStatus, description = "The breaker and its held users.")),
)]
pub async fn status(State(state): State<AppState>) -> Result<Json<BreakerStatus>, ApiError> {
    let status = rails::status(&state.store).await?;
    state
        .metrics
        .breaker_open(status.state == crate::api::rails::BreakerState::Open);
    Ok(Json(status))
}

/// Carry out exactly the deprovisionings the breaker holds, then close it
/// (`dry_run`: list them, change nothing).
///
/// With auto-deprovisioning on the users lose their access; off, they stay
/// pending until `users deprovision`. A held deletion becomes a tombstone.
#[utoipa::path(
    post,
    path = "/provisioning/breaker/release",
    operation_id = "breaker_release",
    tag = "provisioning",
    request_body = BreakerReleaseRequest,
    responses(
        (status = OK, body = BreakerChange, description = "The users released (or, in a dry run, that would be)."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad body."),
    )
)]
pub async fn release(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<BreakerReleaseRequest>,
) -> Result<Json<BreakerChange>, ApiError> {
    let change = rails::release(&state.store, &caller.actor, request.dry_run).await?;
    if !change.dry_run && change.outcome == BreakerOutcome::Deprovisioned {
        for _ in &change.users {
            state.metrics.deprovisioned(Trigger::Admin);
        }
    }
    Ok(Json(change))
}

/// Discard the deprovisionings the breaker holds and close it: the users
/// are active again with the access they kept.
#[utoipa::path(
    post,
    path = "/provisioning/breaker/reset",
    operation_id = "breaker_reset",
    tag = "provisioning",
    responses(
        (status = OK, body = BreakerChange, description = "The users given back their access."),
        (status = FORBIDDEN, body = ErrorBody, description = "The held users' roles grant scopes the key lacks (privilege ceiling)."),
    )
)]
pub async fn reset(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<BreakerChange>, ApiError> {
    Ok(Json(rails::reset(&state.store, &caller.actor).await?))
}
