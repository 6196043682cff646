//! The append-only `audit_log` table: entries are written on the same
//! connection (transaction) as the change they record, and read back by
//! filter, newest first or (for following) oldest first after an id.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::{Conn, StoreError, from_millis, to_millis};

/// One entry to append.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub at: OffsetDateTime,
    pub actor_key_id: Option<&'a str>,
    pub actor_name: &'a str,
    pub source_ip: Option<String>,
    pub request_id: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub details: serde_json::Value,
}

pub async fn append(conn: &mut Conn, entry: &NewEntry<'_>) -> Result<(), StoreError> {
    insert(entry, "").execute(conn).await?;
    Ok(())
}

/// [`append`], returning the new entry's id.
pub async fn append_returning_id(conn: &mut Conn, entry: &NewEntry<'_>) -> Result<i64, StoreError> {
    let row = insert(entry, " RETURNING id").fetch_one(conn).await?;
    Ok(row.try_get("id")?)
}

/// The one exception to append-only: an aggregate `auth.denied` entry's
/// details (its count) grow while its minute lasts. Nothing else is ever
/// updated.
pub async fn update_aggregate_details(
    conn: &mut Conn,
    id: i64,
    details: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE audit_log SET details = $1 WHERE id = $2 AND action = 'auth.denied'")
        .bind(details.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

fn insert<'q>(
    entry: &'q NewEntry<'q>,
    returning: &'static str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let sql = format!(
        "INSERT INTO audit_log \
         (at, actor_key_id, actor_name, source_ip, request_id, action, target, outcome, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){returning}"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(to_millis(entry.at))
        .bind(entry.actor_key_id)
        .bind(entry.actor_name)
        .bind(entry.source_ip.as_deref())
        .bind(entry.request_id)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.outcome)
        .bind(entry.details.to_string())
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub actor_key_id: Option<String>,
    pub actor_name: String,
    pub source_ip: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub details: serde_json::Value,
}

/// How an action is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    Exact(String),
    /// Every action starting with this text (`user.` for `user.*`).
    Prefix(String),
}

/// Which entries to read; every condition set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `at >= since`.
    pub since: Option<OffsetDateTime>,
    /// `at < until`.
    pub until: Option<OffsetDateTime>,
    /// The actor's key id or name.
    pub actor: Option<String>,
    pub action: Option<ActionMatch>,
    /// Entries whose target is any of these (none: every entry).
    pub targets: Vec<String>,
    pub outcome: Option<String>,
}

/// Which way a page runs from its starting point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first, from ids below `before` (all when `None`).
    NewestFirst { before: Option<i64> },
    /// Oldest first, from ids above `after`.
    OldestFirst { after: i64 },
}

/// A value bound to a numbered placeholder.
enum Arg {
    Int(i64),
    Text(String),
}

/// A WHERE clause built from constant SQL fragments; values only ever go in
/// as bound arguments.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    args: Vec<Arg>,
}

impl Conditions {
    /// Binds `arg` and returns its placeholder (`$3`).
    fn bind(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    fn text(&mut self, value: &str) -> String {
        self.bind(Arg::Text(value.to_owned()))
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// Up to `limit` entries matching `filter`, in `order`.
pub async fn list(
    conn: &mut Conn,
    filter: &Filter,
    order: Order,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    let mut cond = Conditions::default();
    if let Some(since) = filter.since {
        let p = cond.bind(Arg::Int(to_millis(since)));
        cond.clauses.push(format!("at >= {p}"));
    }
    if let Some(until) = filter.until {
        let p = cond.bind(Arg::Int(to_millis(until)));
        cond.clauses.push(format!("at < {p}"));
    }
    if let Some(actor) = &filter.actor {
        let (id, name) = (cond.text(actor), cond.text(actor));
        cond.clauses
            .push(format!("(actor_key_id = {id} OR actor_name = {name})"));
    }
    match &filter.action {
        Some(ActionMatch::Exact(action)) => {
            let p = cond.text(action);
            cond.clauses.push(format!("action = {p}"));
        }
        // `substr`/`length` mean the same on both backends and, unlike LIKE,
        // are case-sensitive on both and need no escaping of `_` and `%`.
        Some(ActionMatch::Prefix(prefix)) => {
            let (a, b) = (cond.text(prefix), cond.text(prefix));
            cond.clauses
                .push(format!("substr(action, 1, length({a})) = {b}"));
        }
        None => {}
    }
    if !filter.targets.is_empty() {
        let placeholders: Vec<String> = filter
            .targets
            .iter()
            .map(|target| cond.text(target))
            .collect();
        cond.clauses
            .push(format!("target IN ({})", placeholders.join(", ")));
    }
    if let Some(outcome) = &filter.outcome {
        let p = cond.text(outcome);
        cond.clauses.push(format!("outcome = {p}"));
    }
    let direction = match order {
        Order::NewestFirst { before } => {
            if let Some(before) = before {
                let p = cond.bind(Arg::Int(before));
                cond.clauses.push(format!("id < {p}"));
            }
            "DESC"
        }
        Order::OldestFirst { after } => {
            let p = cond.bind(Arg::Int(after));
            cond.clauses.push(format!("id > {p}"));
            "ASC"
        }
    };
    let limit_param = cond.bind(Arg::Int(i64::from(limit)));
    // Built from constants and placeholder numbers only: nothing a caller
    // sends reaches the SQL text.
    let sql = format!(
        "SELECT id, at, actor_key_id, actor_name, source_ip, request_id, action, target, \
         outcome, details FROM audit_log {} ORDER BY id {direction} LIMIT {limit_param}",
        cond.sql()
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for arg in cond.args {
        query = match arg {
            Arg::Int(value) => query.bind(value),
            Arg::Text(value) => query.bind(value),
        };
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter().map(entry_from_row).collect()
}

/// The entries a request (by its `X-Request-Id`) wrote, oldest first.
pub async fn by_request_id(conn: &mut Conn, request_id: &str) -> Result<Vec<EntryRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, actor_key_id, actor_name, source_ip, request_id, action, target, \
         outcome, details FROM audit_log WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(entry_from_row).collect()
}

fn entry_from_row(row: &AnyRow) -> Result<EntryRow, StoreError> {
    let id: i64 = row.try_get("id")?;
    let details: String = row.try_get("details")?;
    let details = serde_json::from_str(&details)
        .map_err(|err| StoreError::Corrupt(format!("audit entry {id} has bad details: {err}")))?;
    Ok(EntryRow {
        id,
        at: from_millis(row.try_get("at")?)?,
        actor_key_id: row.try_get("actor_key_id")?,
        actor_name: row.try_get("actor_name")?,
        source_ip: row.try_get("source_ip")?,
        request_id: row.try_get("request_id")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        details,
    })
}
