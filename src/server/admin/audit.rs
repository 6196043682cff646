//! `/admin/v1/audit`: the audit log, filtered and paged.

use axum::Json;
use axum::extract::State;

use crate::api::audit::{AuditEntry, AuditQuery};
use crate::api::{ErrorBody, Page};
use crate::domain::audit;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;

/// List audit entries: newest first, or oldest first after `after`.
#[utoipa::path(
    get,
    path = "/audit",
    operation_id = "audit_list",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = OK, body = Page<AuditEntry>, description = "A page of entries."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad or unknown query parameter, named with the accepted forms."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    Ok(Json(audit::list(&state.store, &query).await?))
}
