//! The route table: every path, its handler and the scope it needs.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::error::ApiError;
use super::{AppState, ServerConfig, admin, auth, health};
use crate::api::ADMIN_PREFIX;
use crate::domain::scope::Scope;

pub fn router(state: AppState, config: &ServerConfig) -> Router {
    let needs =
        |scope: Scope| middleware::from_fn_with_state((state.clone(), scope), auth::require_scope);

    let admin_api = Router::new()
        .route("/whoami", get(admin::whoami::whoami))
        .route(
            "/keys",
            get(admin::keys::list)
                .post(admin::keys::create)
                .route_layer(needs(Scope::KeysManage)),
        )
        .route(
            "/keys/{id}",
            get(admin::keys::show)
                .delete(admin::keys::revoke)
                .route_layer(needs(Scope::KeysManage)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .nest(ADMIN_PREFIX, admin_api)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http())
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not supported on {}", uri.path()),
    )
}
