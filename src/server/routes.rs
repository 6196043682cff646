//! The route table: every path, its handler and the scope it needs.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{delete, get, post};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use super::client_ip::{self, TrustedProxies};
use super::error::ApiError;
use super::{AppState, ServerConfig, admin, auth, health, introspect, metrics};
use crate::api::{ADMIN_PREFIX, AUTH_PREFIX};
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
        .route(
            "/settings",
            get(admin::settings::get)
                .patch(admin::settings::update)
                .route_layer(needs(Scope::SettingsManage)),
        )
        .route(
            "/roles",
            get(admin::roles::list)
                .post(admin::roles::create)
                .route_layer(needs(Scope::RolesManage)),
        )
        .route(
            "/roles/{name}",
            delete(admin::roles::delete).route_layer(needs(Scope::RolesManage)),
        )
        .route(
            "/users",
            get(admin::users::list).route_layer(needs(Scope::UsersRead)),
        )
        .route(
            "/users",
            post(admin::users::create).route_layer(needs(Scope::UsersWrite)),
        )
        .route(
            "/users/{user}",
            get(admin::users::show).route_layer(needs(Scope::UsersRead)),
        )
        .route(
            "/users/{user}/deprovision",
            get(admin::users::verify).route_layer(needs(Scope::UsersRead)),
        )
        .route(
            "/users/{user}/deprovision",
            post(admin::users::deprovision).route_layer(needs(Scope::UsersDeprovision)),
        )
        .route(
            "/users/{user}/deactivate",
            post(admin::users::deactivate).route_layer(needs(Scope::UsersDeprovision)),
        )
        .route(
            "/users/{user}/reactivate",
            post(admin::users::reactivate).route_layer(needs(Scope::UsersDeprovision)),
        )
        .route(
            "/users/{user}/sessions",
            post(admin::users::issue_session).route_layer(needs(Scope::SessionsIssue)),
        )
        .route(
            "/groups",
            get(admin::groups::list).route_layer(needs(Scope::GroupsRead)),
        )
        .route(
            "/groups/{group}",
            get(admin::groups::show).route_layer(needs(Scope::GroupsRead)),
        )
        .route(
            "/locks",
            get(admin::locks::list).route_layer(needs(Scope::UsersRead)),
        )
        .route(
            "/locks/{id}",
            delete(admin::locks::remove).route_layer(needs(Scope::UsersDeprovision)),
        )
        .route(
            "/audit",
            get(admin::audit::list).route_layer(needs(Scope::AuditRead)),
        )
        .route(
            "/allowlist",
            get(admin::allowlist::list)
                .post(admin::allowlist::add)
                .put(admin::allowlist::replace)
                .route_layer(needs(Scope::AllowlistManage)),
        )
        .route(
            "/allowlist/remove",
            post(admin::allowlist::remove).route_layer(needs(Scope::AllowlistManage)),
        )
        .route(
            "/allowlist/check",
            get(admin::allowlist::check).route_layer(needs(Scope::AllowlistManage)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // allowlist: the outermost route layer, so it runs before
        // authentication. Routes added below this line escape both.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            client_ip::enforce,
        ));

    let auth_api = Router::new()
        .route(
            "/introspect",
            post(introspect::introspect).route_layer(needs(Scope::SessionsIntrospect)),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // allowlist: outermost, before authentication.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            client_ip::enforce,
        ));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::serve))
        .nest(ADMIN_PREFIX, admin_api)
        .nest(AUTH_PREFIX, auth_api)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the routing, so it sees the matched route template.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .with_state(state)
        // Works out the client's address (peer or trusted X-Forwarded-For)
        // once, for the allowlist, authentication and the audit log.
        .layer(middleware::from_fn_with_state(
            TrustedProxies::new(&config.trusted_proxies),
            client_ip::resolve,
        ))
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
