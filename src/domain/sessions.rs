//! User sessions: issuing them to live users, and introspection — whether a
//! session token or an API key is live right now, and for whom.

use serde_json::json;
use time::Duration;

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::keys::{self, KeyCheck};
use super::token::{NewToken, PresentedToken, TokenKind};
use super::users::find_for_update;
use super::{Error, Result, access};
use crate::api::sessions::{CredentialKind, Introspection, IssuedSession};
use crate::api::users::UserRef;
use crate::store::sessions::{self as session_rows, SessionRow};
use crate::store::users::{self as user_rows, UserRow};
use crate::store::{self, Conn, Store, StoreError, groups};

const DEFAULT_TTL_SECONDS: u64 = 8 * 60 * 60;
const MIN_TTL_SECONDS: u64 = 60;
const MAX_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;

/// `POST /admin/v1/users/{user}/sessions`: never for an inactive or locked user.
pub async fn issue(
    store: &Store,
    actor: &Actor,
    id_or_name: &str,
    ttl_seconds: Option<u64>,
) -> Result<IssuedSession> {
    let ttl = ttl_seconds.unwrap_or(DEFAULT_TTL_SECONDS);
    if !(MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(&ttl) {
        return Err(Error::Invalid(format!(
            "ttl_seconds {ttl} is out of range: use {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} (30 days)"
        )));
    }
    let mut tx = store.begin().await?;
    // Locked until commit: a deprovisioning of this user either finished
    // before (then the lock refuses) or waits and revokes this session.
    let user = find_for_update(&mut tx, id_or_name).await?;
    if let Some(reason) = access::of_user(&mut tx, &user).await?.blocked_because() {
        return Err(Error::Conflict(format!(
            "cannot issue a session to {}: {reason}; `scimctl users reactivate` restores access",
            user.user_name
        )));
    }
    let minted = NewToken::generate(TokenKind::Session);
    let now = store::now();
    let row = SessionRow {
        id: minted.id.clone(),
        user_id: user.id.clone(),
        secret_hash: minted.secret_hash.clone(),
        created_at: now,
        created_by: actor.key_id.clone(),
        expires_at: now + Duration::seconds(ttl as i64),
        revoked_at: None,
    };
    session_rows::insert(&mut tx, &row).await?;
    audit::record(
        &mut tx,
        actor,
        "session.issue",
        Some(&user.user_name),
        Outcome::Success,
        json!({ "session": row.id, "expires_at": crate::api::rfc3339(row.expires_at) }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(IssuedSession {
        id: row.id,
        user: UserRef {
            id: user.id,
            user_name: user.user_name,
        },
        expires_at: row.expires_at,
        token: minted.reveal(),
    })
}

/// `POST /auth/v1/introspect`: answers for a session token or an API key,
/// checked against the database as it is now. Changes nothing.
pub async fn introspect(store: &Store, token: &str) -> Result<Introspection> {
    let mut conn = store.conn().await?;
    let Some(presented) = PresentedToken::parse(token.trim()) else {
        return Ok(inactive(None, "not a scimctl session token or API key"));
    };
    match presented.kind {
        TokenKind::Session => introspect_session(&mut conn, &presented).await,
        TokenKind::ApiKey => introspect_key(&mut conn, &presented).await,
    }
}

async fn introspect_session(
    conn: &mut Conn,
    presented: &PresentedToken<'_>,
) -> Result<Introspection> {
    let kind = Some(CredentialKind::Session);
    let session = match session_rows::get(conn, presented.id).await? {
        Some(session) if presented.matches(&session.secret_hash) => session,
        _ => return Ok(inactive(kind, "unknown session")),
    };
    let now = store::now();
    if session.revoked_at.is_some() {
        return Ok(inactive(kind, "session revoked"));
    }
    if session.expires_at <= now {
        return Ok(inactive(kind, "session expired"));
    }
    let Some(user) = user_rows::get(conn, &session.user_id).await? else {
        return Ok(inactive(kind, "the user no longer exists"));
    };
    if let Some(blocked) = access::of_user(conn, &user).await?.blocked_because() {
        return Ok(inactive(kind, blocked));
    }
    let mut live = for_user(conn, &user, kind).await?;
    live.expires_at = Some(session.expires_at);
    Ok(live)
}

async fn introspect_key(conn: &mut Conn, presented: &PresentedToken<'_>) -> Result<Introspection> {
    let kind = Some(CredentialKind::ApiKey);
    match keys::check(conn, presented, store::now()).await? {
        KeyCheck::Unknown => Ok(inactive(kind, "unknown API key")),
        KeyCheck::Refused { reason, .. } => Ok(inactive(kind, &reason)),
        KeyCheck::Live { row, scopes } => {
            let owner = match &row.owner_user_id {
                Some(owner_id) => user_rows::get(conn, owner_id).await?,
                None => None,
            };
            let mut live = match owner {
                Some(owner) => for_user(conn, &owner, kind).await?,
                None => active(kind),
            };
            live.scopes = scopes.into_iter().collect();
            live.expires_at = row.expires_at;
            Ok(live)
        }
    }
}

/// A live answer for `user`, with their roles and groups.
async fn for_user(
    conn: &mut Conn,
    user: &UserRow,
    kind: Option<CredentialKind>,
) -> Result<Introspection, StoreError> {
    let ids = [user.id.as_str()];
    let roles = user_rows::roles_of(conn, &ids)
        .await?
        .remove(&user.id)
        .unwrap_or_default();
    let groups = groups::groups_of(conn, &ids)
        .await?
        .remove(&user.id)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    Ok(Introspection {
        user: Some(UserRef {
            id: user.id.clone(),
            user_name: user.user_name.clone(),
        }),
        roles,
        groups,
        ..active(kind)
    })
}

fn active(kind: Option<CredentialKind>) -> Introspection {
    Introspection {
        active: true,
        kind,
        user: None,
        roles: Vec::new(),
        groups: Vec::new(),
        scopes: Vec::new(),
        expires_at: None,
        reason: None,
    }
}

fn inactive(kind: Option<CredentialKind>, reason: &str) -> Introspection {
    Introspection {
        active: false,
        reason: Some(reason.to_owned()),
        ..active(kind)
    }
}
