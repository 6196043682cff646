//! Who is calling and may they: bearer-key authentication for a whole API,
//! and the per-route scope check. Both audit what they refuse.

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::api::ApiKey;
use crate::domain::actor::Actor;
use crate::domain::scope::Scope;
use crate::domain::token::PresentedToken;
use crate::domain::{self, keys};

/// The authenticated caller, put in the request's extensions by
/// [`authenticate`] for handlers to take with `Extension<Caller>`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
    pub actor: Actor,
}

/// Middleware: lets a request through only with a live API key.
pub async fn authenticate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let request_id = request_id(request.headers());
    let presented = bearer_token(request.headers());
    let outcome = match presented {
        Some(token) => keys::authenticate(&state.store, token, ip).await,
        None => Err(domain::Error::Unauthenticated(
            "missing API key: send `Authorization: Bearer <key>`; for the CLI set SCIMCTL_TOKEN or run `scimctl login`"
                .to_owned(),
        )),
    };
    match outcome {
        Ok(keys::Authenticated { key, scopes }) => {
            let actor = Actor {
                key_id: Some(key.id.clone()),
                name: key.name.clone(),
                scopes,
                source_ip: Some(ip),
                request_id,
            };
            request.extensions_mut().insert(Caller { key, actor });
            Ok(next.run(request).await)
        }
        Err(domain::Error::Unauthenticated(reason)) => {
            let actor = Actor {
                key_id: presented
                    .and_then(PresentedToken::parse)
                    .map(|token| token.id.to_owned()),
                name: "unauthenticated".to_owned(),
                scopes: Default::default(),
                source_ip: Some(ip),
                request_id,
            };
            keys::record_denial(
                &state.store,
                &actor,
                &reason,
                request.method().as_str(),
                original_path(&request),
            )
            .await?;
            Err(ApiError::new(StatusCode::UNAUTHORIZED, reason))
        }
        Err(other) => Err(other.into()),
    }
}

/// Middleware for one route: the caller's key must carry `scope`. Runs
/// inside [`authenticate`].
pub async fn require_scope(
    State((state, scope)): State<(AppState, Scope)>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .expect("require_scope is layered inside authenticate");
    if caller.actor.has(scope) {
        return Ok(next.run(request).await);
    }
    let reason = format!("key lacks scope {scope}");
    keys::record_denial(
        &state.store,
        &caller.actor,
        &reason,
        request.method().as_str(),
        original_path(&request),
    )
    .await?;
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!("{reason}; use a key that has it (`scimctl keys create --scope {scope}`)"),
    ))
}

pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub(super) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// The path as the client sent it: inside a nested router `uri()` has lost
/// its prefix, and the audit log should name what was asked for.
pub fn original_path(request: &Request) -> &str {
    request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri().path(), |OriginalUri(uri)| uri.path())
}
