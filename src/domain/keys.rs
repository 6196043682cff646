//! API keys: minting, listing, revoking, and checking a presented token.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::scope::Scope;
use super::token::{NewToken, PresentedToken};
use super::{Error, Result};
use crate::api::{ApiKey, CreateKeyRequest, CreatedKey};
use crate::store::keys::{self as key_rows, KeyRow};
use crate::store::{self, Store, StoreError, state};

const MAX_NAME_LEN: usize = 100;
/// `last_used_*` is refreshed at most this often per key, so that
/// authenticating does not turn every read into a write.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);
const INITIAL_KEY_CLAIM: &str = "initial_key_created";

pub async fn create(store: &Store, actor: &Actor, request: CreateKeyRequest) -> Result<CreatedKey> {
    let name = request.name.trim();
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "key name must be 1 to {MAX_NAME_LEN} characters"
        )));
    }
    let scopes: BTreeSet<Scope> = request.scopes.into_iter().collect();
    if scopes.is_empty() {
        return Err(Error::Invalid(
            "a key needs at least one scope; known scopes: ".to_owned()
                + &Scope::ALL.map(Scope::as_str).join(", "),
        ));
    }
    // A key may only hand out what it holds, or `keys:manage` alone would be
    // a path to every other permission.
    let beyond_own: Vec<&str> = scopes
        .iter()
        .filter(|scope| !actor.has(**scope))
        .map(|scope| scope.as_str())
        .collect();
    if !beyond_own.is_empty() {
        return Err(Error::Forbidden(format!(
            "cannot grant {} that your own key lacks",
            beyond_own.join(", ")
        )));
    }
    let now = store::now();
    let expires_at = request.expires_at.map(store::truncate);
    if let Some(expires_at) = expires_at
        && expires_at <= now
    {
        return Err(Error::Invalid(format!(
            "expiry {} is in the past; give a future time or a duration such as 90d",
            crate::api::rfc3339(expires_at)
        )));
    }

    let mut tx = store.begin().await?;
    let (row, token) = insert_new(&mut tx, name, &scopes, actor.key_id.clone(), expires_at).await?;
    audit::record(
        &mut tx,
        actor,
        "key.create",
        Some(&row.id),
        Outcome::Success,
        json!({ "name": row.name, "scopes": row.scopes, "expires_at": expires_at.map(crate::api::rfc3339) }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(CreatedKey {
        key: to_api(row),
        token,
    })
}

async fn insert_new(
    conn: &mut crate::store::Conn,
    name: &str,
    scopes: &BTreeSet<Scope>,
    created_by: Option<String>,
    expires_at: Option<OffsetDateTime>,
) -> Result<(KeyRow, String), StoreError> {
    let minted = NewToken::generate();
    let row = KeyRow {
        id: minted.id.clone(),
        name: name.to_owned(),
        scopes: scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        secret_hash: minted.secret_hash.clone(),
        created_at: store::now(),
        created_by,
        expires_at,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
    };
    key_rows::insert(conn, &row).await?;
    Ok((row, minted.reveal()))
}

/// On a brand-new database, creates the initial admin key (every scope) and
/// returns its token; `None` on every later start, whichever replica won.
pub async fn create_initial(store: &Store) -> Result<Option<String>> {
    let mut tx = store.begin().await?;
    let now = crate::api::rfc3339(store::now());
    if !state::claim(&mut tx, INITIAL_KEY_CLAIM, &now).await? {
        return Ok(None);
    }
    let all: BTreeSet<Scope> = Scope::ALL.into_iter().collect();
    let (row, token) = insert_new(&mut tx, "initial admin", &all, None, None).await?;
    audit::record(
        &mut tx,
        &Actor::system(),
        "key.create",
        Some(&row.id),
        Outcome::Success,
        json!({ "name": row.name, "scopes": row.scopes, "initial": true }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Some(token))
}

pub async fn list(store: &Store, include_revoked: bool) -> Result<Vec<ApiKey>> {
    let rows = key_rows::list(&mut *store.conn().await?, include_revoked).await?;
    Ok(rows.into_iter().map(to_api).collect())
}

pub async fn show(store: &Store, id: &str) -> Result<ApiKey> {
    let row = key_rows::get(&mut *store.conn().await?, id).await?;
    row.map(to_api).ok_or_else(|| not_found(id))
}

/// Revokes a key at once. Revoking a revoked key changes nothing.
pub async fn revoke(store: &Store, actor: &Actor, id: &str) -> Result<ApiKey> {
    let mut tx = store.begin().await?;
    let Some(row) = key_rows::get(&mut tx, id).await? else {
        return Err(not_found(id));
    };
    if row.revoked_at.is_some() {
        return Ok(to_api(row));
    }
    let now = store::now();
    key_rows::revoke(&mut tx, id, now).await?;
    audit::record(
        &mut tx,
        actor,
        "key.revoke",
        Some(id),
        Outcome::Success,
        json!({ "name": row.name }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(KeyRow {
        revoked_at: Some(now),
        ..row
    }))
}

/// Checks a bearer token. On success returns the key (and notes its use);
/// every failure is an [`Error::Unauthenticated`] whose message says why.
pub async fn authenticate(store: &Store, presented: &str, ip: IpAddr) -> Result<ApiKey> {
    let invalid = || {
        Error::Unauthenticated(
            "invalid API key; check SCIMCTL_TOKEN or run `scimctl login`".to_owned(),
        )
    };
    let token = PresentedToken::parse(presented).ok_or_else(invalid)?;
    let mut conn = store.conn().await?;
    let row = key_rows::get(&mut conn, token.id)
        .await?
        .ok_or_else(invalid)?;
    if !token.matches(&row.secret_hash) {
        return Err(invalid());
    }
    let now = store::now();
    if let Some(revoked_at) = row.revoked_at {
        return Err(Error::Unauthenticated(format!(
            "API key {} was revoked at {}; ask an administrator for a new key",
            row.id,
            crate::api::rfc3339(revoked_at)
        )));
    }
    if let Some(expires_at) = row.expires_at.filter(|at| *at <= now) {
        return Err(Error::Unauthenticated(format!(
            "API key {} expired at {}; ask an administrator for a new key",
            row.id,
            crate::api::rfc3339(expires_at)
        )));
    }
    let ip = ip.to_string();
    let stale = row.last_used_at.is_none_or(|at| {
        now - at >= LAST_USED_RESOLUTION || row.last_used_ip.as_deref() != Some(&ip)
    });
    if stale {
        key_rows::record_use(&mut conn, &row.id, now, &ip).await?;
    }
    Ok(to_api(KeyRow {
        last_used_at: if stale { Some(now) } else { row.last_used_at },
        last_used_ip: Some(ip),
        ..row
    }))
}

/// Audits a refused request in a transaction of its own: nothing else
/// happened that it could share one with.
pub async fn record_denial(
    store: &Store,
    actor: &Actor,
    reason: &str,
    method: &str,
    path: &str,
) -> Result<()> {
    let mut conn = store.conn().await?;
    audit::record(
        &mut conn,
        actor,
        "auth.denied",
        Some(path),
        Outcome::Denied,
        json!({ "reason": reason, "method": method }),
    )
    .await?;
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!(
        "no API key with id {id}; `scimctl keys list` shows the keys"
    ))
}

fn to_api(row: KeyRow) -> ApiKey {
    ApiKey {
        scopes: row
            .scopes
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect(),
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        created_by: row.created_by,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
        revoked_at: row.revoked_at,
    }
}
