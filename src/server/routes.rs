//! The route table: every path, its handler and the scope it needs. Paths
//! are written once, on each handler's `#[utoipa::path]`; registering a
//! handler here is also what puts it in the OpenAPI document
//! (`GET /openapi.json` lists them all).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::get;
use tower::util::MapRequestLayer;
use tower::{Layer, ServiceBuilder};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::admin::{
    allowlist, audit, breaker, groups, journal, keys, locks, mappings, roles, settings, users,
    whoami,
};
use super::client_ip::{self, TrustedProxies};
use super::error::ApiError;
use super::journal::Journal;
use super::{AppState, ServerConfig, auth, health, introspect, metrics, openapi};
use crate::api::{ADMIN_PREFIX, AUTH_PREFIX};
use crate::domain::scope::Scope;

pub fn router(state: AppState, config: &ServerConfig, journal: Option<Journal>) -> Router {
    let app = routes(state, config, journal);
    // SCIM URLs as other clients spell them (`/scim/v2/users/`) are
    // rewritten before routing: around the router, since what
    // `Router::layer` adds runs after routing. The root router's fallback
    // is axum's way to hand every request to a service.
    Router::new().fallback_service(MapRequestLayer::new(super::scim::normalize_path).layer(app))
}

fn routes(state: AppState, config: &ServerConfig, journal: Option<Journal>) -> Router {
    // The scope a route needs: enforced by its route layer and written into
    // its operations, by this one call.
    let needs = |scope: Scope, (schemas, mut paths, handlers): UtoipaMethodRouter<AppState>| {
        openapi::needs_scope(&mut paths, scope);
        let layer = middleware::from_fn_with_state((state.clone(), scope), auth::require_scope);
        (schemas, paths, handlers.route_layer(layer))
    };
    // Every route of an API needs a live key, from an allowed address.
    let guarded = |api: OpenApiRouter<AppState>| {
        let mut api = api.route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ));
        openapi::needs_key(&mut api.get_openapi_mut().paths);
        api
    };

    let admin_api = OpenApiRouter::new()
        .routes(routes!(whoami::whoami))
        .routes(needs(Scope::KeysManage, routes!(keys::list, keys::create)))
        .routes(needs(Scope::KeysManage, routes!(keys::show, keys::revoke)))
        .routes(needs(
            Scope::SettingsManage,
            routes!(settings::get, settings::update),
        ))
        .routes(needs(
            Scope::RolesManage,
            routes!(roles::list, roles::create),
        ))
        .routes(needs(Scope::RolesManage, routes!(roles::delete)))
        .routes(needs(
            Scope::RolesManage,
            routes!(mappings::list, mappings::create),
        ))
        .routes(needs(Scope::RolesManage, routes!(mappings::remove)))
        .routes(needs(Scope::UsersRead, routes!(users::list)))
        .routes(needs(Scope::UsersWrite, routes!(users::create)))
        .routes(needs(Scope::UsersWrite, routes!(users::grant_roles)))
        .routes(needs(Scope::UsersWrite, routes!(users::revoke_roles)))
        .routes(needs(Scope::UsersRead, routes!(users::show)))
        .routes(needs(Scope::UsersRead, routes!(users::verify)))
        .routes(needs(Scope::UsersRead, routes!(users::why)))
        .routes(needs(Scope::UsersDeprovision, routes!(users::deprovision)))
        .routes(needs(Scope::UsersDeprovision, routes!(users::deactivate)))
        .routes(needs(Scope::UsersDeprovision, routes!(users::reactivate)))
        .routes(needs(Scope::UsersDeprovision, routes!(users::protect)))
        .routes(needs(Scope::UsersDeprovision, routes!(users::unprotect)))
        .routes(needs(Scope::SessionsIssue, routes!(users::issue_session)))
        .routes(needs(Scope::UsersRead, routes!(breaker::status)))
        .routes(needs(Scope::UsersDeprovision, routes!(breaker::release)))
        .routes(needs(Scope::UsersDeprovision, routes!(breaker::reset)))
        .routes(needs(Scope::GroupsRead, routes!(groups::list)))
        .routes(needs(Scope::GroupsRead, routes!(groups::show)))
        .routes(needs(Scope::UsersRead, routes!(locks::list)))
        .routes(needs(Scope::UsersDeprovision, routes!(locks::remove)))
        .routes(needs(Scope::AuditRead, routes!(audit::list)))
        .routes(needs(Scope::AuditRead, routes!(journal::list)))
        .routes(needs(Scope::AuditRead, routes!(journal::show)))
        .routes(needs(Scope::AuditRead, routes!(journal::explain)))
        .routes(needs(Scope::AuditRead, routes!(journal::replay)))
        .routes(needs(
            Scope::AllowlistManage,
            routes!(allowlist::list, allowlist::add, allowlist::replace),
        ))
        .routes(needs(Scope::AllowlistManage, routes!(allowlist::remove)))
        .routes(needs(Scope::AllowlistManage, routes!(allowlist::check)));

    let auth_api = OpenApiRouter::new().routes(needs(
        Scope::SessionsIntrospect,
        routes!(introspect::introspect),
    ));

    let (apis, document) = OpenApiRouter::with_openapi(openapi::frame())
        .nest(ADMIN_PREFIX, guarded(admin_api))
        .nest(AUTH_PREFIX, guarded(auth_api))
        .split_for_parts();

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::serve))
        .route("/openapi.json", openapi::serve(&document))
        .merge(apis)
        // SCIM answers everything under its prefix itself (errors, unknown
        // paths and methods in SCIM form), and is not in the OpenAPI document.
        .merge(super::scim::router(state.clone(), config, journal))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the routing, so it sees the matched route template.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        // The per-address limit and the lockout, before anything touches
        // the database; inside `resolve`, which names the client.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::limits::throttle,
        ))
        .with_state(state)
        // Works out the client's address (peer or trusted X-Forwarded-For)
        // once, for the allowlist, authentication and the audit log.
        .layer(middleware::from_fn_with_state(
            TrustedProxies::new(&config.trusted_proxies),
            client_ip::resolve,
        ))
        // Before routing, so that a control character in a path or query
        // never reaches a handler, on any route.
        .layer(middleware::from_fn(
            super::text_guard::refuse_control_characters,
        ))
        .layer(DefaultBodyLimit::max(config.body_limit))
        // The handler's deadline (408), body reading included; the body has
        // its own deadline too, set where the connection is served.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.limits.handler_timeout,
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuidV7))
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

/// Request ids in time order (UUIDv7), so the SCIM journal's index on them
/// grows at one end instead of taking a write in a random page per request.
#[derive(Clone, Copy, Default)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Uuid::now_v7().to_string();
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}
