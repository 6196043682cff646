//! The OpenAPI document of `/admin/v1` and `/auth/v1`, served at
//! `GET /openapi.json`. Each operation comes from its handler's
//! `#[utoipa::path]` as `routes.rs` registers it; what the auth layers add
//! (the scope, the 401 and 403 answers) is written in by [`needs_scope`] and
//! [`needs_key`] where `routes.rs` puts those layers on, so the document
//! states exactly what the server enforces.

use axum::body::Bytes;
use axum::http::header;
use axum::routing::{MethodRouter, get};
use utoipa::openapi::path::{Operation, Paths};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;
use crate::api::ErrorBody;
use crate::domain::scope::Scope;

/// The name of the security scheme every operation refers to.
const BEARER: &str = "bearer";

/// Everything but the operations. The version is the crate's (utoipa's
/// default), so the document always names the server that serves it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimctl admin API",
        description = "The admin API (`/admin/v1`) that the `scimctl` CLI wraps, and the auth \
                       API (`/auth/v1`) that apps and SSO front doors use to check whether a \
                       session token or API key is live (`POST /auth/v1/introspect`).\n\n\
                       Every request needs an API key as a bearer token; each operation names \
                       the scope its key must carry. Every non-2xx answer has the body \
                       `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}` (`ErrorBody`), \
                       and every answer carries an `X-Request-Id`."
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme)
)]
struct Frame;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("scimctl_<id>_<secret>")
            .description(Some(
                "An API key, `Authorization: Bearer scimctl_<id>_<secret>`: shown once when the \
                 key is created (`scimctl keys create`); the server keeps only a hash of the \
                 secret.",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

/// The document's frame, for `OpenApiRouter::with_openapi`.
pub fn frame() -> utoipa::openapi::OpenApi {
    Frame::openapi()
}

/// `GET /openapi.json`. The document never changes while the server runs,
/// so it is serialized once.
pub fn serve(document: &utoipa::openapi::OpenApi) -> MethodRouter<AppState> {
    let json =
        Bytes::from(serde_json::to_vec(document).expect("an OpenAPI document is plain JSON data"));
    get(move || async move { ([(header::CONTENT_TYPE, "application/json")], json) })
}

/// Writes into the operations of `paths` that their key must carry `scope`.
pub fn needs_scope(paths: &mut Paths, scope: Scope) {
    for operation in operations(paths) {
        operation.security = Some(vec![SecurityRequirement::new(BEARER, [scope.as_str()])]);
    }
}

/// Writes into the operations of `paths` what authentication and the
/// allowlist add: a live key (of any scope, unless [`needs_scope`] named
/// one), their `401` and `403`, and the body limit's `413`. A handler's own
/// description of a status wins.
pub fn needs_key(paths: &mut Paths) {
    for operation in operations(paths) {
        operation
            .security
            .get_or_insert_with(|| vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        let responses = &mut operation.responses.responses;
        responses
            .entry("401".into())
            .or_insert_with(|| error("No live API key: missing, unknown, expired or revoked."));
        responses.entry("403".into()).or_insert_with(|| {
            error("The key lacks the scope this operation needs, or the caller's address is not in the IP allowlist.")
        });
        if operation.request_body.is_some() {
            responses
                .entry("413".into())
                .or_insert_with(|| error("The body is larger than the server accepts."));
        }
    }
}

fn operations(paths: &mut Paths) -> impl Iterator<Item = &mut Operation> {
    paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

fn error(description: &str) -> RefOr<Response> {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build()
        .into()
}
