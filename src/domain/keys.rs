//! API keys: minting, listing, revoking, and checking a presented token.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::access::{self, Access};
use super::actor::Actor;
use super::audit::{self, Outcome};
use super::scope::{self, Scope};
use super::token::{NewToken, PresentedToken, TokenKind};
use super::{Error, Result, ceiling};
use crate::api::directory::UserRef;
use crate::api::{ApiKey, CreateKeyRequest, CreatedKey};
use crate::store::keys::{self as key_rows, KeyRow, OwnerAccess};
use crate::store::settings as settings_rows;
use crate::store::{self, Conn, Store, StoreError, state, users};

const MAX_NAME_LEN: usize = 100;
/// `last_used_*` is refreshed at most this often per key, so that
/// authenticating does not turn every read into a write.
const LAST_USED_RESOLUTION: Duration = Duration::seconds(60);
const INITIAL_KEY_CLAIM: &str = "initial_key_created";

pub async fn create(store: &Store, actor: &Actor, request: CreateKeyRequest) -> Result<CreatedKey> {
    let name = request.name.trim();
    crate::text::check_name("key name", name, MAX_NAME_LEN)?;
    let scopes: BTreeSet<Scope> = request.scopes.into_iter().collect();
    if scopes.is_empty() {
        return Err(Error::Invalid(
            "a key needs at least one scope; known scopes: ".to_owned()
                + &Scope::ALL.map(Scope::as_str).join(", "),
        ));
    }
    ceiling::check(actor, &scopes, "create a key with these scopes")?;
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
    let owner = match &request.owner {
        Some(owner) => Some(personal_key_owner(&mut tx, owner, &scopes).await?),
        None => None,
    };
    let new = NewKey {
        name,
        scopes: &scopes,
        created_by: actor.key_id.clone(),
        expires_at,
        owner: owner.clone(),
    };
    let (row, token) = insert_new(&mut tx, new).await?;
    audit::record(
        &mut tx,
        actor,
        "key.create",
        Some(&row.id),
        Outcome::Success,
        json!({
            "name": row.name,
            "scopes": row.scopes,
            "expires_at": expires_at.map(crate::api::rfc3339),
            "owner": owner.map(|owner| owner.user_name),
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(CreatedKey {
        key: to_api(row),
        token,
    })
}

/// The user a personal key is for, checked: live, and granted every scope
/// asked for by their roles.
async fn personal_key_owner(
    conn: &mut Conn,
    owner: &str,
    scopes: &BTreeSet<Scope>,
) -> Result<UserRef> {
    crate::text::check("owner", owner, crate::text::Kind::Name, usize::MAX)?;
    let found = users::resolve(conn, owner)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no user {owner:?} to own the key")))?;
    // Locked until commit: a deprovisioning of the owner either finished
    // before (then the lock refuses) or waits and deletes this key.
    let user = users::get_for_update(conn, &found.id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user {owner:?} was deleted while this ran")))?;
    let access = access::of_user(conn, &user).await?;
    if let Some(reason) = access.blocked_because() {
        return Err(Error::Conflict(format!(
            "cannot create a personal key for {}: {reason}",
            user.user_name
        )));
    }
    let beyond_role: Vec<&str> = scopes
        .iter()
        .filter(|scope| !access.permissions.contains(scope))
        .map(|scope| scope.as_str())
        .collect();
    if !beyond_role.is_empty() {
        return Err(Error::Forbidden(format!(
            "{}'s roles do not grant {}: a personal key never exceeds its owner's roles",
            user.user_name,
            beyond_role.join(", ")
        )));
    }
    Ok(UserRef {
        id: user.id,
        user_name: user.user_name,
    })
}

struct NewKey<'a> {
    name: &'a str,
    scopes: &'a BTreeSet<Scope>,
    created_by: Option<String>,
    expires_at: Option<OffsetDateTime>,
    owner: Option<UserRef>,
}

async fn insert_new(conn: &mut Conn, new: NewKey<'_>) -> Result<(KeyRow, String), StoreError> {
    let minted = NewToken::generate(TokenKind::ApiKey);
    let (owner_user_id, owner_user_name) = new.owner.map(|o| (o.id, o.user_name)).unzip();
    let row = KeyRow {
        id: minted.id.clone(),
        name: new.name.to_owned(),
        scopes: new
            .scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        secret_hash: minted.secret_hash.clone(),
        created_at: store::now(),
        created_by: new.created_by,
        expires_at: new.expires_at,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
        owner_user_id,
        owner_user_name,
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
    let created = mint_admin_in(&mut tx, "initial admin").await?;
    audit::record(
        &mut tx,
        &Actor::system(),
        "key.create",
        Some(&created.key.id),
        Outcome::Success,
        json!({ "name": created.key.name, "scopes": created.key.scopes, "initial": true }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Some(created.token))
}

/// A key with every scope, made by the server itself (no creator, no
/// expiry) on `conn`: the initial key, and `scimctl server recover`'s. The
/// caller audits it.
pub async fn mint_admin_in(conn: &mut Conn, name: &str) -> Result<CreatedKey, StoreError> {
    let all: BTreeSet<Scope> = Scope::ALL.into_iter().collect();
    let new = NewKey {
        name,
        scopes: &all,
        created_by: None,
        expires_at: None,
        owner: None,
    };
    let (row, token) = insert_new(conn, new).await?;
    Ok(CreatedKey {
        key: to_api(row),
        token,
    })
}

pub async fn list(store: &Store, include_revoked: bool) -> Result<Vec<ApiKey>> {
    let rows = key_rows::list(&mut *store.conn().await?, include_revoked).await?;
    Ok(rows.into_iter().map(to_api).collect())
}

pub async fn show(store: &Store, id: &str) -> Result<ApiKey> {
    let row = key_rows::get(&mut *store.conn().await?, id).await?;
    row.map(to_api).ok_or_else(|| not_found(id))
}

/// Revokes a key at once. Revoking a revoked key changes nothing. The
/// caller must hold every scope of the key (the privilege ceiling), and
/// revoking the key in use or the last live key that can manage keys needs
/// `force`: either would leave the caller, or everyone, unable to act.
pub async fn revoke(store: &Store, actor: &Actor, id: &str, force: bool) -> Result<ApiKey> {
    let mut tx = store.begin().await?;
    let Some(row) = key_rows::get(&mut tx, id).await? else {
        return Err(not_found(id));
    };
    if row.revoked_at.is_some() {
        return Ok(to_api(row));
    }
    let scopes = scope::from_stored(&row.scopes).collect();
    ceiling::check(actor, &scopes, &format!("revoke key {id}"))?;
    let now = store::now();
    if !force && let Some(danger) = self_destruction(&mut tx, actor, &row, now).await? {
        return Err(Error::Conflict(format!(
            "{danger}; pass --force (force=true) to revoke it anyway"
        )));
    }
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

/// Why revoking `row` would lock the caller or everyone out, if it would:
/// it is the key making the request, or no other live key could manage
/// keys afterwards (then only `scimctl server recover` on the host helps).
async fn self_destruction(
    conn: &mut Conn,
    actor: &Actor,
    row: &KeyRow,
    now: OffsetDateTime,
) -> Result<Option<String>> {
    if actor.key_id.as_deref() == Some(row.id.as_str()) {
        return Ok(Some(format!(
            "API key {} ({}) is the key this request uses: revoking it ends your own access",
            row.id, row.name
        )));
    }
    let manages_keys = |key: &KeyRow| {
        key.owner_user_id.is_none()
            && key.expires_at.is_none_or(|at| at > now)
            && scope::from_stored(&key.scopes).any(|scope| scope == Scope::KeysManage)
    };
    if !manages_keys(row) {
        return Ok(None);
    }
    let others = key_rows::list(conn, false)
        .await?
        .into_iter()
        .filter(|key| key.id != row.id && manages_keys(key))
        .count();
    Ok((others == 0).then(|| {
        format!(
            "API key {} ({}) is the last live key that can manage keys: without it no new key \
             can be made, short of `scimctl server recover` on the server's host",
            row.id, row.name
        )
    }))
}

/// A key that authenticated, and the scopes it may use now (for a personal
/// key, only those its owner's roles still grant).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub key: ApiKey,
    pub scopes: BTreeSet<Scope>,
}

/// What authenticating a request found out, in one round trip: the verdict
/// on the key, and the config version the request is judged at (see
/// `policy`).
#[derive(Debug)]
pub struct Authentication {
    pub config_version: i64,
    /// The live key, or why there is none (the words for the caller).
    pub verdict: std::result::Result<Authenticated, String>,
}

/// Checks a bearer token (`None` when the request has none). Changes
/// nothing: once the request is let in, [`note_use`] records the use.
pub async fn authenticate(store: &Store, presented: Option<&str>) -> Result<Authentication> {
    let Some(presented) = presented else {
        let config_version = settings_rows::config_version(&mut *store.conn().await?).await?;
        return Ok(Authentication {
            config_version,
            verdict: Err("missing API key: send `Authorization: Bearer <key>`".to_owned()),
        });
    };
    let token = PresentedToken::parse(presented).filter(|token| token.kind == TokenKind::ApiKey);
    // A token of the wrong shape is looked up under an id no key has, for
    // the config version.
    let found = key_rows::present(
        &mut *store.conn().await?,
        token.as_ref().map_or("", |token| token.id),
    )
    .await?;
    let checked = match &token {
        Some(token) => judge(found.key, token, store::now()),
        None => KeyCheck::Unknown,
    };
    let verdict = match checked {
        KeyCheck::Live { row, scopes } => Ok(Authenticated {
            key: to_api(*row),
            scopes,
        }),
        KeyCheck::Unknown => Err("invalid API key".to_owned()),
        KeyCheck::Refused { reason } => {
            Err(format!("{reason}; ask an administrator for a new key"))
        }
    };
    Ok(Authentication {
        config_version: found.config_version,
        verdict,
    })
}

/// Records that `key` let a request in from `ip`, at most once per
/// [`LAST_USED_RESOLUTION`] and address (so authenticating does not turn
/// every read into a write), and updates `key` to match.
pub async fn note_use(store: &Store, key: &mut ApiKey, ip: IpAddr) -> Result<()> {
    let (now, ip) = (store::now(), ip.to_string());
    let stale = key.last_used_at.is_none_or(|at| {
        now - at >= LAST_USED_RESOLUTION || key.last_used_ip.as_deref() != Some(&ip)
    });
    if stale {
        key_rows::record_use(&mut *store.write_conn().await?, &key.id, now, &ip).await?;
        key.last_used_at = Some(now);
    }
    key.last_used_ip = Some(ip);
    Ok(())
}

/// What a presented API key is worth right now.
pub enum KeyCheck {
    /// No key with that id, or the secret does not match.
    Unknown,
    /// A real key that must not be honoured; `reason` says why.
    Refused { reason: String },
    Live {
        row: Box<KeyRow>,
        scopes: BTreeSet<Scope>,
    },
}

/// Whether a key works, read from the database now. Changes nothing.
pub async fn check(
    conn: &mut Conn,
    token: &PresentedToken<'_>,
    now: OffsetDateTime,
) -> Result<KeyCheck> {
    Ok(judge(
        key_rows::present(conn, token.id).await?.key,
        token,
        now,
    ))
}

/// The one place that decides whether a key works: its secret, revocation,
/// expiry and, for a personal key, its owner's access.
fn judge(
    found: Option<(KeyRow, Option<OwnerAccess>)>,
    token: &PresentedToken<'_>,
    now: OffsetDateTime,
) -> KeyCheck {
    let Some((row, owner)) = found else {
        return KeyCheck::Unknown;
    };
    if !token.matches(&row.secret_hash) {
        return KeyCheck::Unknown;
    }
    judge_without_secret(Some((row, owner)), now)
}

/// Whether the key works, its secret taken as right: revocation, expiry
/// and a personal key's owner. For `scim replay`, which has the key id a
/// request named but never its secret.
pub fn judge_without_secret(
    found: Option<(KeyRow, Option<OwnerAccess>)>,
    now: OffsetDateTime,
) -> KeyCheck {
    let Some((row, owner)) = found else {
        return KeyCheck::Unknown;
    };
    let refused = |reason: String| KeyCheck::Refused { reason };
    if let Some(revoked_at) = row.revoked_at {
        return refused(format!(
            "API key {} was revoked at {}",
            row.id,
            crate::api::rfc3339(revoked_at)
        ));
    }
    if let Some(expires_at) = row.expires_at.filter(|at| *at <= now) {
        return refused(format!(
            "API key {} expired at {}",
            row.id,
            crate::api::rfc3339(expires_at)
        ));
    }
    let mut scopes: BTreeSet<Scope> = scope::from_stored(&row.scopes).collect();
    if row.owner_user_id.is_some() {
        let Some(owner) = owner else {
            return refused(format!(
                "API key {} belongs to a user who no longer exists",
                row.id
            ));
        };
        let access = Access::of_owner(&owner);
        if let Some(blocked) = access.blocked_because() {
            return refused(format!(
                "API key {} belongs to {}: {blocked}",
                row.id,
                row.owner_user_name.as_deref().unwrap_or_default()
            ));
        }
        scopes.retain(|scope| access.permissions.contains(scope));
    }
    KeyCheck::Live {
        row: Box::new(row),
        scopes,
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!(
        "no API key with id {id}; `scimctl keys list` shows the keys"
    ))
}

pub(crate) fn to_api(row: KeyRow) -> ApiKey {
    let owner = row
        .owner_user_id
        .zip(row.owner_user_name)
        .map(|(id, user_name)| UserRef { id, user_name });
    ApiKey {
        scopes: scope::from_stored(&row.scopes).collect(),
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        created_by: row.created_by,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
        revoked_at: row.revoked_at,
        owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_store::TestStore;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    async fn verdict(store: &Store, token: &str) -> std::result::Result<Authenticated, String> {
        let mut verdict = authenticate(store, Some(token))
            .await
            .expect("the check itself works")
            .verdict;
        if let Ok(live) = &mut verdict {
            note_use(store, &mut live.key, LOOPBACK)
                .await
                .expect("note the use");
        }
        verdict
    }

    #[tokio::test]
    async fn a_live_key_authenticates_with_its_scopes_and_notes_its_use() {
        let test = TestStore::new().await;
        let token = test.key(&[Scope::UsersRead, Scope::AuditRead], None).await;
        let live = verdict(&test.store, &token).await.expect("live");
        assert_eq!(
            live.scopes,
            BTreeSet::from([Scope::UsersRead, Scope::AuditRead])
        );
        let shown = show(&test.store, &live.key.id).await.expect("the key");
        assert_eq!(shown.last_used_ip.as_deref(), Some("127.0.0.1"));
    }

    #[tokio::test]
    async fn a_wrong_secret_an_unknown_id_and_no_token_are_refused() {
        let test = TestStore::new().await;
        let token = test.key(&[Scope::UsersRead], None).await;
        // The secret with its last character changed (to another one).
        let last = if token.ends_with('X') { 'Y' } else { 'X' };
        let wrong = format!("{}{last}", &token[..token.len() - 1]);
        for presented in [wrong.as_str(), "scimctl_nosuchkey0000001_secret", "garbage"] {
            let refused = verdict(&test.store, presented).await.expect_err(presented);
            assert_eq!(refused, "invalid API key");
        }
        let missing = authenticate(&test.store, None)
            .await
            .expect("the check itself works");
        assert!(
            missing
                .verdict
                .expect_err("no token")
                .starts_with("missing API key")
        );
    }

    #[tokio::test]
    async fn a_revoked_key_is_refused_and_says_when() {
        let test = TestStore::new().await;
        let token = test.key(&[Scope::UsersRead], None).await;
        let id = verdict(&test.store, &token).await.expect("live").key.id;
        revoke(&test.store, &Actor::system(), &id, false)
            .await
            .expect("revoke");
        let refused = verdict(&test.store, &token).await.expect_err("revoked");
        assert!(
            refused.contains(&format!("API key {id} was revoked at")),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_personal_key_follows_its_owner_roles_and_lock() {
        let test = TestStore::new().await;
        test.user("pia", &["auditor"], &[]).await;
        let token = test.key(&[Scope::UsersRead], Some("pia")).await;
        let live = verdict(&test.store, &token).await.expect("live");
        assert_eq!(live.scopes, BTreeSet::from([Scope::UsersRead]));
        // The owner loses the role: the key keeps nothing it grants.
        let mut conn = test.store.conn().await.expect("connection");
        let owner = crate::domain::users::find(&mut conn, "pia")
            .await
            .expect("pia");
        sqlx::query("DELETE FROM role_grants WHERE user_id = $1")
            .bind(&owner.id)
            .execute(&mut *conn)
            .await
            .expect("remove the role");
        let live = verdict(&test.store, &token).await.expect("still live");
        assert!(live.scopes.is_empty(), "{:?}", live.scopes);
        // A lock shuts it.
        crate::store::locks::ensure(&mut conn, "lock-1", &owner.id, "test", "test", store::now())
            .await
            .expect("lock pia");
        let refused = verdict(&test.store, &token).await.expect_err("locked");
        assert!(
            refused.contains("belongs to pia: the user is locked"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn an_admin_owner_grants_every_scope_whatever_the_stored_list() {
        let test = TestStore::new().await;
        test.user("ada", &["admin"], &[]).await;
        let token = test.key(&[Scope::KeysManage], Some("ada")).await;
        let mut conn = test.store.conn().await.expect("connection");
        sqlx::query("UPDATE roles SET permissions = '' WHERE name = 'admin'")
            .execute(&mut *conn)
            .await
            .expect("empty admin's stored list");
        let live = verdict(&test.store, &token).await.expect("live");
        assert_eq!(live.scopes, BTreeSet::from([Scope::KeysManage]));
    }

    #[tokio::test]
    async fn the_config_version_moves_with_the_allowlist_and_the_settings() {
        let test = TestStore::new().await;
        let version = || async {
            authenticate(&test.store, None)
                .await
                .expect("the check itself works")
                .config_version
        };
        let before = version().await;
        let mut conn = test.store.conn().await.expect("connection");
        sqlx::query(
            "INSERT INTO allowlist (cidr, note, created_at, created_by) \
             VALUES ('10.0.0.0/8', NULL, 0, 'test')",
        )
        .execute(&mut *conn)
        .await
        .expect("add an entry");
        let after_allowlist = version().await;
        assert!(after_allowlist > before);
        sqlx::query("UPDATE settings SET auto_provisioning = FALSE WHERE id = 1")
            .execute(&mut *conn)
            .await
            .expect("change a setting");
        assert!(version().await > after_allowlist);
    }
}
