//! `/admin/v1/audit`: the audit log, filtered and paged.

use axum::Json;
use axum::extract::State;

use crate::api::Page;
use crate::api::audit::{AuditEntry, AuditQuery};
use crate::domain::audit;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;

/// `GET /admin/v1/audit`: newest first, or oldest first after `after`. An
/// unknown query field is a `400` listing the known ones.
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    Ok(Json(audit::list(&state.store, &query).await?))
}
