//! The door to `/scim/v2`: the IP allowlist, then a live API key, then the
//! `scim:provision` scope — the admin API's rules, answered in the SCIM
//! error format (`401` with `WWW-Authenticate`, `403` naming what is
//! missing) and audited as `auth.denied` like every other refusal.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::super::AppState;
use super::super::auth::{Caller, bearer_token, request_id};
use super::super::client_ip::{self, ClientIp};
use crate::domain::actor::Actor;
use crate::domain::scope::Scope;
use crate::domain::token::PresentedToken;
use crate::domain::{self, allowlist, keys};
use crate::scim::error::ScimError;

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
        Err(refusal) => refusal.into_response(),
    }
}

async fn admit(state: &AppState, request: &Parts) -> Result<Caller, ScimError> {
    let Some(ip) = client_ip(request) else {
        tracing::error!("request without a peer address: serve with connect info");
        return Err(internal());
    };
    let method = request.method.as_str();
    // The path as the client sent it: inside the nested router the URI has
    // lost its prefix, and the audit log should name what was asked for.
    let path = request
        .extensions
        .get::<OriginalUri>()
        .map_or(request.uri.path(), |OriginalUri(uri)| uri.path());
    let headers = &request.headers;

    // The allowlist first: a refused address learns nothing about its key.
    let denied = client_ip::denial(state, ip, method, path, headers)
        .await
        .map_err(|_| internal())?;
    if let Some(message) = denied {
        return Err(ScimError::new(403, None, message));
    }

    let presented = bearer_token(headers);
    let outcome = match presented {
        Some(token) => keys::authenticate(&state.store, token, ip).await,
        None => Err(domain::Error::Unauthenticated(
            "missing API key: send `Authorization: Bearer <key>` with a key that has scope \
             scim:provision (`scimctl keys create --scope scim:provision`)"
                .to_owned(),
        )),
    };
    let authenticated = match outcome {
        Ok(authenticated) => authenticated,
        Err(domain::Error::Unauthenticated(reason)) => {
            let actor = Actor {
                key_id: presented
                    .and_then(PresentedToken::parse)
                    .map(|token| token.id.to_owned()),
                name: "unauthenticated".to_owned(),
                scopes: Default::default(),
                source_ip: Some(ip),
                request_id: request_id(headers),
            };
            keys::record_denial(&state.store, &actor, &reason, method, path).await?;
            return Err(ScimError::new(401, None, reason));
        }
        Err(other) => return Err(other.into()),
    };

    let keys::Authenticated { key, scopes } = authenticated;
    let actor = Actor {
        key_id: Some(key.id.clone()),
        name: key.name.clone(),
        scopes,
        source_ip: Some(ip),
        request_id: request_id(headers),
    };
    if !actor.has(SCOPE) {
        let reason = format!("key lacks scope {SCOPE}");
        keys::record_denial(&state.store, &actor, &reason, method, path).await?;
        return Err(ScimError::new(
            403,
            None,
            format!(
                "{reason}; give the identity provider a key that has it (`scimctl keys create \
                 --name okta --scope {SCOPE}`)"
            ),
        ));
    }
    Ok(Caller { key, actor })
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

/// A refusal that is the server's fault. Its cause is in the log: logged
/// above, or by `ApiError::from` when the allowlist could not be read.
fn internal() -> ScimError {
    ScimError::new(500, None, "internal error; the server log has the details")
}
