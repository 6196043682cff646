//! The door to `/scim/v2`: the IP allowlist, then a live API key, then the
//! `scim:provision` scope — the admin API's rules, answered in the SCIM
//! error format (`401` with `WWW-Authenticate`, `403` naming what is
//! missing) and audited as `auth.denied` like every other refusal.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::super::AppState;
use super::super::auth::{self, Caller, Refusal, RequestFacts};
use super::super::client_ip::ClientIp;
use super::super::limits::Throttled;
use super::error::ScimHttpError;
use crate::domain::allowlist;
use crate::domain::scope::Scope;

/// The one scope every SCIM endpoint needs.
pub const SCOPE: Scope = Scope::ScimProvision;

/// Middleware for every `/scim/v2` request, matched or not: lets it through
/// with a [`Caller`] in its extensions (handlers take `Extension<Caller>`),
/// or answers the refusal.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Checked on the parts: a body is not `Sync`, so a borrowed request could
    // not be held across the database calls.
    let (mut parts, body) = request.into_parts();
    match admit(&state, &parts).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(Refused::Throttled(throttled)) => throttled.scim_response(),
        Err(Refused::Error(refusal)) => refusal.into_response(),
    }
}

/// Why the gate stayed shut.
enum Refused {
    Error(ScimHttpError),
    /// A key over its rate limit: `429` with `Retry-After`.
    Throttled(Throttled),
}

impl From<ScimHttpError> for Refused {
    fn from(err: ScimHttpError) -> Self {
        Refused::Error(err)
    }
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Throttled(throttled) => Refused::Throttled(throttled),
            other => Refused::Error(other.into()),
        }
    }
}

async fn admit(state: &AppState, request: &Parts) -> Result<Caller, Refused> {
    let Some(ip) = client_ip(request) else {
        tracing::error!("request without a peer address: serve with connect info");
        return Err(ScimHttpError::internal().into());
    };
    let facts = RequestFacts {
        ip,
        method: request.method.as_str(),
        // As the client sent it: inside the nested router the URI has lost
        // its prefix, and the audit log should name what was asked for.
        path: request
            .extensions
            .get::<OriginalUri>()
            .map_or(request.uri.path(), |OriginalUri(uri)| uri.path()),
        headers: &request.headers,
    };
    let caller = auth::identify(state, &facts).await?;
    auth::require(state, &caller, SCOPE, &facts).await?;
    Ok(caller)
}

impl From<Refusal> for ScimHttpError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotAllowed(message) => {
                ScimHttpError::new(StatusCode::FORBIDDEN, None, message)
            }
            Refusal::Unauthenticated(reason) => ScimHttpError::new(
                StatusCode::UNAUTHORIZED,
                None,
                format!(
                    "{reason}; the identity provider needs a key with scope {SCOPE} \
                     (`scimctl keys create --name okta --scope {SCOPE}`)"
                ),
            ),
            Refusal::MissingScope(scope) => ScimHttpError::new(
                StatusCode::FORBIDDEN,
                None,
                format!(
                    "key lacks scope {scope}; give the identity provider a key that has it \
                     (`scimctl keys create --name okta --scope {scope}`)"
                ),
            ),
            Refusal::Failed(err) => err.into(),
            Refusal::Throttled(throttled) => {
                ScimHttpError::new(StatusCode::TOO_MANY_REQUESTS, None, throttled.message())
            }
        }
    }
}

/// The address `client_ip::resolve` worked out, or the peer's when it did
/// not run.
fn client_ip(request: &Parts) -> Option<std::net::IpAddr> {
    if let Some(ClientIp(ip)) = request.extensions.get::<ClientIp>() {
        return Some(*ip);
    }
    request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| allowlist::canonical(peer.ip()))
}
