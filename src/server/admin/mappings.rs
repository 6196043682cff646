//! `/admin/v1/mappings`: roles granted for a group or a SCIM `roles` value.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::api::mappings::{CreateMappingRequest, Mapping, MappingChange, RemoveMappingQuery};
use crate::api::{ErrorBody, Page};
use crate::domain::mappings;
use crate::server::AppState;
use crate::server::auth::Caller;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ApiQuery};

/// List mappings.
// One page: a directory has a handful of mappings, never enough to page.
#[utoipa::path(
    get,
    path = "/mappings",
    operation_id = "mappings_list",
    tag = "mappings",
    responses((status = OK, body = Page<Mapping>, description = "Every mapping, by role.")),
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Page<Mapping>>, ApiError> {
    Ok(Json(Page {
        items: mappings::list(&state.store).await?,
        next_cursor: None,
    }))
}

/// Map a group or a SCIM `roles` value to a role.
///
/// Everyone who has the source gets the role at once, in one transaction
/// with its audit entries; the answer lists who gained it. With `dry_run`
/// the answer is the same and nothing changes.
#[utoipa::path(
    post,
    path = "/mappings",
    operation_id = "mappings_create",
    tag = "mappings",
    request_body = CreateMappingRequest,
    responses(
        (status = CREATED, body = MappingChange, description = "The mapping, and who gained the role."),
        (status = OK, body = MappingChange, description = "A dry run: what adding it would change."),
        (status = BAD_REQUEST, body = ErrorBody, description = "Not exactly one source, or a bad value."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `roles:manage` or a permission the role carries, or the address is not allowed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such group or role."),
        (status = CONFLICT, body = ErrorBody, description = "The source is already mapped to this role."),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreateMappingRequest>,
) -> Result<(StatusCode, Json<MappingChange>), ApiError> {
    let change = mappings::add(&state.store, &caller.actor, request).await?;
    let status = match change.dry_run {
        true => StatusCode::OK,
        false => StatusCode::CREATED,
    };
    Ok((status, Json(change)))
}

/// Remove a mapping.
///
/// Its role is taken from everyone who has it from no other source, in one
/// transaction; the answer lists who lost it. With `dry_run` the answer is
/// the same and nothing changes.
#[utoipa::path(
    delete,
    path = "/mappings/{id}",
    operation_id = "mappings_remove",
    tag = "mappings",
    params(("id", description = "The mapping's id."), RemoveMappingQuery),
    responses(
        (status = OK, body = MappingChange, description = "The mapping removed, and who lost the role."),
        (status = FORBIDDEN, body = ErrorBody, description = "The caller's key lacks `roles:manage` or a permission the role carries, or the address is not allowed."),
        (status = NOT_FOUND, body = ErrorBody, description = "No mapping with this id."),
        (status = CONFLICT, body = ErrorBody, description = "It would take `admin` from the last active admin."),
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RemoveMappingQuery>,
) -> Result<Json<MappingChange>, ApiError> {
    Ok(Json(
        mappings::remove(&state.store, &caller.actor, &id, query.dry_run).await?,
    ))
}
