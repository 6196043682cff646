//! Who is calling and may they: bearer-key authentication for a whole API,
//! and the per-route scope check. Both audit what they refuse.

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::client_ip::ClientIp;
use super::error::{ApiError, Denial};
use super::limits::Throttled;
use crate::api::ApiKey;
use crate::domain::actor::Actor;
use crate::domain::policy::Policy;
use crate::domain::scope::Scope;
use crate::domain::token::PresentedToken;
use crate::domain::{self, denials, keys};

/// The authenticated caller, put in the request's extensions by
/// [`authenticate`] for handlers to take with `Extension<Caller>`.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
    pub actor: Actor,
    /// The settings and allowlist this request is judged by.
    pub policy: Arc<Policy>,
}

/// Why a request was refused, already audited as `auth.denied`. Each API
/// words it in its own error format.
#[derive(Debug)]
pub enum Refusal {
    /// The address is not in the IP allowlist (403); the message says how
    /// to get it allowed.
    NotAllowed(String),
    /// No live key (401): missing, malformed, unknown, revoked or expired.
    Unauthenticated(String),
    /// The key lacks a scope (403).
    MissingScope(Scope),
    /// The check itself failed (the database); the cause is logged.
    Failed(domain::Error),
    /// The key is good but has made too many requests (429); not audited.
    Throttled(Throttled),
}

impl From<domain::Error> for Refusal {
    fn from(err: domain::Error) -> Self {
        Refusal::Failed(err)
    }
}

/// What the checks need to know about a request, and to audit it.
pub struct RequestFacts<'a> {
    pub ip: std::net::IpAddr,
    pub method: &'a str,
    /// As the client sent it (see [`original_path`]).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

/// The one door of every API: the address must be in the IP allowlist and
/// the bearer key live; anything else is audited and refused. One query
/// reads the key, its owner and the config version; the allowlist is the
/// replica's copy at that version (see `domain::policy`). The allowlist is
/// judged first: a refused address learns nothing about its key.
pub async fn identify(state: &AppState, request: &RequestFacts<'_>) -> Result<Caller, Refusal> {
    let presented = bearer_token(request.headers);
    let authentication = keys::authenticate(&state.store, presented).await?;
    let policy = state
        .policy
        .at(&state.store, authentication.config_version)
        .await?;
    let presented_id = || {
        presented
            .and_then(PresentedToken::parse)
            .map(|token| token.id.to_owned())
    };
    let unauthenticated = |key_id| Actor {
        key_id,
        name: "unauthenticated".to_owned(),
        scopes: Default::default(),
        source_ip: Some(request.ip),
        request_id: request_id(request.headers),
    };
    if !policy.admits(request.ip) {
        let ip = request.ip;
        let reason = format!("address {ip} is not in the IP allowlist");
        tracing::info!(%ip, path = request.path, "refused by the IP allowlist");
        // The key's id is worth recording: a key used from outside the
        // allowed networks may have leaked.
        let actor = unauthenticated(presented_id());
        state.limiter.failed_authentication(ip, None);
        record_denial(state, &actor, &reason, request).await?;
        return Err(Refusal::NotAllowed(format!(
            "{reason}; ask an administrator to allow it (`scimctl allowlist add {ip}`) or \
             connect from an allowed network"
        )));
    }
    match authentication.verdict {
        Ok(keys::Authenticated { mut key, scopes }) => {
            keys::note_use(&state.store, &mut key, request.ip).await?;
            state
                .limiter
                .request_with_key(&key.id)
                .map_err(Refusal::Throttled)?;
            let actor = Actor {
                key_id: Some(key.id.clone()),
                name: key.name.clone(),
                scopes,
                source_ip: Some(request.ip),
                request_id: request_id(request.headers),
            };
            Ok(Caller { key, actor, policy })
        }
        Err(reason) => {
            let actor = unauthenticated(presented_id());
            state
                .limiter
                .failed_authentication(request.ip, actor.key_id.as_deref());
            record_denial(state, &actor, &reason, request).await?;
            Err(Refusal::Unauthenticated(reason))
        }
    }
}

async fn record_denial(
    state: &AppState,
    actor: &Actor,
    reason: &str,
    request: &RequestFacts<'_>,
) -> Result<(), domain::Error> {
    denials::record(
        &state.store,
        &state.denials,
        actor,
        reason,
        request.method,
        request.path,
    )
    .await
}

/// The caller's key must carry `scope`; a refusal is audited.
pub async fn require(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    request: &RequestFacts<'_>,
) -> Result<(), Refusal> {
    if caller.actor.has(scope) {
        return Ok(());
    }
    let reason = format!("key lacks scope {scope}");
    record_denial(state, &caller.actor, &reason, request).await?;
    Err(Refusal::MissingScope(scope))
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotAllowed(message) => ApiError::new(StatusCode::FORBIDDEN, message),
            Refusal::Unauthenticated(reason) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("{reason}; for the CLI set SCIMCTL_TOKEN or run `scimctl login`"),
            ),
            Refusal::MissingScope(scope) => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "key lacks scope {scope}; use a key that has it (`scimctl keys create --scope {scope}`)"
                ),
            ),
            Refusal::Failed(err) => err.into(),
            Refusal::Throttled(throttled) => ApiError::throttled(throttled),
        }
    }
}

/// Middleware: lets a request through only from an allowed address with a
/// live API key.
pub async fn authenticate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let facts = RequestFacts {
        ip,
        method: request.method().as_str(),
        path: original_path(&request),
        headers: request.headers(),
    };
    let caller = identify(&state, &facts).await?;
    let (method, path) = (facts.method.to_owned(), facts.path.to_owned());
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    // A permission the domain refused (the privilege ceiling) is audited
    // like a missing scope; the refused change itself rolled back.
    if let Some(Denial(reason)) = response.extensions().get::<Denial>() {
        denials::record(
            &state.store,
            &state.denials,
            &caller.actor,
            reason,
            &method,
            &path,
        )
        .await?;
    }
    Ok(response)
}

/// Middleware for one route: the caller's key must carry `scope`. Runs
/// inside [`authenticate`].
pub async fn require_scope(
    State((state, scope)): State<(AppState, Scope)>,
    ClientIp(ip): ClientIp,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = request
        .extensions()
        .get::<Caller>()
        .expect("require_scope is layered inside authenticate");
    let facts = RequestFacts {
        ip,
        method: request.method().as_str(),
        path: original_path(&request),
        headers: request.headers(),
    };
    require(&state, caller, scope, &facts).await?;
    Ok(next.run(request).await)
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
