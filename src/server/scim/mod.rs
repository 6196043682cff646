//! The SCIM 2.0 service provider's HTTP face, `/scim/v2` (RFC 7644): its
//! router, the gate every request passes (allowlist, API key, scope
//! `scim:provision`), and the answers for unknown paths and methods — all in
//! the SCIM error format — plus the other spellings of its URLs it accepts
//! (`paths.rs`). Outside the admin OpenAPI document: SCIM describes itself
//! through its discovery endpoints.
//!
//! Handlers (`users.rs`, `groups.rs`, `search.rs`, `discovery.rs`) take
//! `Extension<Caller>` for who is calling, [`BaseUrl`](crate::scim::resource::BaseUrl)
//! for where they are reached, [`http::ScimJson`] for bodies and
//! [`http::ScimQuery`] for query strings, and return
//! `Result<http::ScimResponse, error::ScimHttpError>`.

mod discovery;
pub(crate) mod error;
mod gate;
mod groups;
pub(crate) mod http;
mod listing;
mod paths;
mod search;
mod users;

use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::routing::any;
use axum::{Extension, Router, middleware};

use super::journal::Journal;
use super::{AppState, ServerConfig};
use error::ScimHttpError;
pub use paths::normalize as normalize_path;

/// Where the SCIM API is mounted.
pub const PREFIX: &str = "/scim/v2";

/// Every `/scim/v2` route, mounted at [`PREFIX`]: merge it into the app.
pub fn router(
    state: AppState,
    config: &ServerConfig,
    journal: Option<Journal>,
) -> Router<AppState> {
    let settings = http::ScimSettings {
        body_limit: config.body_limit,
        trusted_proxies: config.trusted_proxies.clone().into(),
        listen: config.listen,
    };
    let api = Router::new()
        .merge(discovery::routes())
        .merge(users::routes())
        .merge(groups::routes())
        .merge(search::routes())
        // `/scim/v2` itself; nothing is there, but it is SCIM's to say so.
        .route("/", any(no_route))
        .fallback(no_route)
        // Applies to the routes above: keep it after the last merge.
        .method_not_allowed_fallback(method_not_allowed);
    let scim = Router::new()
        .nest(PREFIX, api)
        // A nested router's catch-all fallback cannot match `/scim/v2/`.
        .route(&format!("{PREFIX}/"), any(no_route))
        // Layers wrap the fallbacks too, so an unknown path or method is
        // answered only to a caller the gate let in.
        .layer(middleware::from_fn_with_state(state, gate::gate))
        .layer(middleware::from_fn(http::scim_errors))
        .layer(Extension(settings));
    // Outermost, so refusals by the gate are journaled as answered.
    match journal {
        Some(journal) => scim.layer(journal),
        None => scim,
    }
}

async fn no_route(method: Method, OriginalUri(uri): OriginalUri) -> ScimHttpError {
    ScimHttpError::not_found(format!(
        "no such SCIM endpoint: {method} {}; this service has {PREFIX}/Users, {PREFIX}/Groups, \
         {PREFIX}/ServiceProviderConfig, {PREFIX}/ResourceTypes and {PREFIX}/Schemas",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ScimHttpError {
    ScimHttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!(
            "{method} is not supported on {}; the Allow header lists what is",
            uri.path()
        ),
    )
}
