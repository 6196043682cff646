//! `/admin/v1/users`: the directory's users, the roles given them by hand,
//! their deprovisioning, verification, reactivation and sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::grants::{UserRolesChange, UserRolesRequest};
use crate::api::mappings::WhyReport;
use crate::api::sessions::{IssueSessionRequest, IssuedSession};
use crate::api::users::{
    CreateUserRequest, DeprovisionReport, DeprovisionRequest, ReactivateRequest, User,
    UserListQuery, VerificationReport,
};
use crate::api::{ErrorBody, Page};
use crate::domain::deprovision::{self, Trigger};
use crate::domain::{grants, rails, sessions, users, why};
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

/// List users, ordered by userName, a page at a time.
#[utoipa::path(
    get,
    path = "/users",
    operation_id = "users_list",
    tag = "users",
    params(UserListQuery),
    responses(
        (status = OK, body = Page<User>, description = "A page of users."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad query parameter, limit or cursor."),
        (status = NOT_FOUND, body = ErrorBody, description = "An unknown role or group to filter by."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    Ok(Json(users::list(&state.store, &query).await?))
}

/// Show a user.
#[utoipa::path(
    get,
    path = "/users/{user}",
    operation_id = "users_show",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = User, description = "The user."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(users::show(&state.store, &user).await?))
}

/// Create a manual user (for organisations without an identity provider yet).
#[utoipa::path(
    post,
    path = "/users",
    operation_id = "users_create",
    tag = "users",
    request_body = CreateUserRequest,
    responses(
        (status = CREATED, body = User, description = "The user."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad userName or email."),
        (status = NOT_FOUND, body = ErrorBody, description = "An unknown role, or an unknown group without `create_groups`; nothing is created."),
        (status = CONFLICT, body = ErrorBody, description = "A user with this userName exists."),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = users::create_manual(&state.store, &caller.actor, request).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Deprovision a user, or report what that would remove (`dry_run`).
///
/// In one transaction: deactivate; remove roles, group memberships, personal
/// keys and sessions; lock every credential.
#[utoipa::path(
    post,
    path = "/users/{user}/deprovision",
    operation_id = "users_deprovision",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    request_body = DeprovisionRequest,
    responses(
        (status = OK, body = DeprovisionReport, description = "What was (or would be) removed."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad body."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
        (status = CONFLICT, body = ErrorBody, description = "The user changed while the request ran; retry."),
    )
)]
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

/// Verify a deprovisioning: a checklist of the access a user has left.
#[utoipa::path(
    get,
    path = "/users/{user}/deprovision",
    operation_id = "users_verify",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = VerificationReport, description = "The checklist, each check with its evidence."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<VerificationReport>, ApiError> {
    Ok(Json(deprovision::verify(&state.store, &user).await?))
}

/// Where each of a user's roles and groups comes from.
///
/// Each role with every source that gives it (the default role, a mapping
/// from a group or a SCIM `roles` value, or given by hand by a key), and
/// each group membership with how it came (SCIM push or by hand).
#[utoipa::path(
    get,
    path = "/users/{user}/why",
    operation_id = "users_why",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = WhyReport, description = "The user's roles with their sources, and groups."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
    )
)]
pub async fn why(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> Result<Json<WhyReport>, ApiError> {
    Ok(Json(why::why(&state.store, &user).await?))
}

/// Give a user roles by hand.
///
/// Each role is recorded as given by hand (source `manual`, with the key
/// that gave it) and stays until taken away by hand or the user is
/// deprovisioned: a mapping never removes it. A role already given by hand
/// changes nothing; one held from the default role or a mapping is given by
/// hand too, so it outlives that source (`also_from` names it). All roles or
/// none, in one transaction with the audit entries (`role.grant`). With
/// `dry_run` the answer is the same and nothing changes.
#[utoipa::path(
    post,
    path = "/users/{user}/roles",
    operation_id = "users_grant_roles",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    request_body = UserRolesRequest,
    responses(
        (status = OK, body = UserRolesChange, description = "What became of each role, and the user's roles now."),
        (status = BAD_REQUEST, body = ErrorBody, description = "No role named, or a bad name; nothing changed."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `users:write` or a permission a role carries (privilege ceiling), or the address is not allowed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such user or role; nothing changed."),
        (status = CONFLICT, body = ErrorBody, description = "The user is inactive, pending, deprovisioned, deleted or locked: reactivate them first."),
    )
)]
pub async fn grant_roles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<UserRolesRequest>,
) -> Result<Json<UserRolesChange>, ApiError> {
    Ok(Json(
        grants::grant(&state.store, &caller.actor, &user, request).await?,
    ))
}

/// Take away roles given by hand.
///
/// Only the grant by hand goes: a role the default role or a mapping also
/// gives stays held (`also_from` names the source). A role the user does not
/// hold changes nothing. Refused, with nothing changed: a role only the
/// default role or a mapping gives (the answer names it), and `admin` from
/// the last active admin. All roles or none, in one transaction with the
/// audit entries (`role.revoke`). With `dry_run` the answer is the same and
/// nothing changes.
// POST rather than DELETE: several roles in one change, in a body.
#[utoipa::path(
    post,
    path = "/users/{user}/roles/remove",
    operation_id = "users_revoke_roles",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    request_body = UserRolesRequest,
    responses(
        (status = OK, body = UserRolesChange, description = "What became of each role, and the user's roles now."),
        (status = BAD_REQUEST, body = ErrorBody, description = "No role named, or a bad name; nothing changed."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `users:write` or a permission a role carries (privilege ceiling), or the address is not allowed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such user or role; nothing changed."),
        (status = CONFLICT, body = ErrorBody, description = "A role no grant by hand gives, or `admin` from the last active admin; nothing changed."),
    )
)]
pub async fn revoke_roles(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<UserRolesRequest>,
) -> Result<Json<UserRolesChange>, ApiError> {
    Ok(Json(
        grants::revoke(&state.store, &caller.actor, &user, request).await?,
    ))
}

/// Deactivate a user, as an identity provider would.
///
/// With auto-deprovisioning on the user is deprovisioned at once; with it
/// off, flagged pending until an operator deprovisions them.
#[utoipa::path(
    post,
    path = "/users/{user}/deactivate",
    operation_id = "users_deactivate",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = User, description = "The user, inactive."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
        (status = CONFLICT, body = ErrorBody, description = "The user changed while the request ran; retry."),
    )
)]
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

/// Reactivate a user: lift the lock and give the default role again.
#[utoipa::path(
    post,
    path = "/users/{user}/reactivate",
    operation_id = "users_reactivate",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    request_body = ReactivateRequest,
    responses(
        (status = OK, body = User, description = "The user, active."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad body."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
        (status = CONFLICT, body = ErrorBody, description = "The user changed while the request ran; retry."),
    )
)]
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

/// Issue a session token to a user (for SSO front doors).
#[utoipa::path(
    post,
    path = "/users/{user}/sessions",
    operation_id = "sessions_issue",
    tag = "sessions",
    params(("user", description = "The user's id or userName.")),
    request_body = IssueSessionRequest,
    responses(
        (status = CREATED, body = IssuedSession, description = "The session and its token, shown this once."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A lifetime out of range."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
        (status = CONFLICT, body = ErrorBody, description = "The user is inactive or locked."),
    )
)]
pub async fn issue_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
    ApiJson(request): ApiJson<IssueSessionRequest>,
) -> Result<(StatusCode, Json<IssuedSession>), ApiError> {
    let session = sessions::issue(&state.store, &caller.actor, &user, request.ttl_seconds).await?;
    Ok((StatusCode::CREATED, Json(session)))
}

/// Protect a user: SCIM may still update their attributes, but never
/// deprovisions, deletes or demotes them; such changes are held.
#[utoipa::path(
    post,
    path = "/users/{user}/protect",
    operation_id = "users_protect",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = User, description = "The user, protected (already protected: unchanged)."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
    )
)]
pub async fn protect(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        rails::protect(&state.store, &caller.actor, &user).await?,
    ))
}

/// Lift a user's protection: the IdP's next deactivation or deletion goes
/// through. Changes already held stay held.
#[utoipa::path(
    post,
    path = "/users/{user}/unprotect",
    operation_id = "users_unprotect",
    tag = "users",
    params(("user", description = "The user's id or userName.")),
    responses(
        (status = OK, body = User, description = "The user, unprotected (not protected: unchanged)."),
        (status = FORBIDDEN, body = ErrorBody, description = "The user's roles grant scopes the key lacks (privilege ceiling)."),
        (status = NOT_FOUND, body = ErrorBody, description = "No user with this id or userName."),
    )
)]
pub async fn unprotect(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(user): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(
        rails::unprotect(&state.store, &caller.actor, &user).await?,
    ))
}
