//! `/admin/v1/scim/requests`: the SCIM request journal, what identity
//! providers sent and were answered.

use axum::Json;
use axum::extract::{Path, State};

use crate::api::journal::{
    AttributeChange, Explanation, JournalEntry, JournalExchange, JournalQuery, Replay,
    ReplayOutcome,
};
use crate::api::{ErrorBody, Page};
use crate::domain::replay::{self, Run};
use crate::domain::{explain, journal};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::extract::ApiQuery;
use crate::server::scim::error::ScimHttpError;

/// List SCIM requests, newest first, a page at a time.
///
/// With `after`, only later ones, oldest first (to follow the journal).
#[utoipa::path(
    get,
    path = "/scim/requests",
    operation_id = "scim_requests_list",
    tag = "journal",
    params(JournalQuery),
    responses(
        (status = OK, body = Page<JournalEntry>, description = "A page of exchanges; `next_cursor` reads the next."),
        (status = BAD_REQUEST, body = ErrorBody, description = "A bad status, time, limit or cursor."),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<JournalQuery>,
) -> Result<Json<Page<JournalEntry>>, ApiError> {
    Ok(Json(journal::list(&state.store, &query).await?))
}

/// One SCIM request and its answer, redacted, with the audit entries it
/// wrote.
#[utoipa::path(
    get,
    path = "/scim/requests/{request_id}",
    operation_id = "scim_requests_show",
    tag = "journal",
    params(("request_id", description = "The request's `X-Request-Id`.")),
    responses(
        (status = OK, body = JournalExchange, description = "The exchange."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such request in the journal (too old, or never a SCIM request)."),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
) -> Result<Json<JournalExchange>, ApiError> {
    Ok(Json(journal::show(&state.store, &request_id).await?))
}

/// Why a SCIM request was answered as it was, and the fix, in words.
#[utoipa::path(
    get,
    path = "/scim/requests/{request_id}/explanation",
    operation_id = "scim_requests_explain",
    tag = "journal",
    params(("request_id", description = "The request's `X-Request-Id`.")),
    responses(
        (status = OK, body = Explanation, description = "The cause and the fix."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such request in the journal."),
    )
)]
pub async fn explain(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
) -> Result<Json<Explanation>, ApiError> {
    Ok(Json(explain::explain(&state.store, &request_id).await?))
}

/// What the request would do if the identity provider sent it again now,
/// changing nothing.
///
/// It runs through the same checks and code as a real request, in a
/// transaction that is rolled back.
#[utoipa::path(
    get,
    path = "/scim/requests/{request_id}/replay",
    operation_id = "scim_requests_replay",
    tag = "journal",
    params(("request_id", description = "The request's `X-Request-Id`.")),
    responses(
        (status = OK, body = Replay, description = "What it would answer and change."),
        (status = NOT_FOUND, body = ErrorBody, description = "No such request in the journal."),
    )
)]
pub async fn replay(
    State(state): State<AppState>,
    Path(request_id): Path<String>,
) -> Result<Json<Replay>, ApiError> {
    let rehearsal = replay::rehearse(&state.store, &request_id).await?;
    let mut answer = Replay {
        request: rehearsal.exchange.entry,
        outcome: ReplayOutcome::Read,
        status: None,
        detail: None,
        resource: rehearsal.resource,
        changes: Vec::new(),
        audit: Vec::new(),
    };
    match rehearsal.run {
        Run::Read => {}
        Run::NotReplayable(why) => {
            answer.outcome = ReplayOutcome::NotReplayable;
            answer.detail = Some(why);
        }
        Run::Refused { status, reason } => {
            answer.outcome = ReplayOutcome::Refused;
            (answer.status, answer.detail) = (Some(status), Some(reason));
        }
        Run::Failed(err) => {
            // Answered as the SCIM endpoint would answer it.
            let failed = ScimHttpError::from(err);
            answer.outcome = ReplayOutcome::Failed;
            (answer.status, answer.detail) = (Some(failed.status.as_u16()), Some(failed.detail));
        }
        Run::Done {
            status,
            changes,
            effects,
        } => {
            answer.outcome = match effects.is_empty() && changes.is_empty() {
                true => ReplayOutcome::Unchanged,
                false => ReplayOutcome::Changed,
            };
            answer.status = Some(status);
            answer.changes = changes
                .into_iter()
                .map(|change| AttributeChange {
                    path: change.path,
                    before: change.before,
                    after: change.after,
                })
                .collect();
            answer.audit = effects;
        }
    }
    Ok(Json(answer))
}
