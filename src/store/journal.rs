//! The `scim_journal` table: SCIM requests and their answers, redacted,
//! appended in batches, read by filter newest first (or oldest first after
//! an id, to follow), and pruned by age and total size. On SQLite it lives
//! in a database file of its own ([`file_for`]); every function here takes
//! a connection from [`Store::journal_conn`](super::Store::journal_conn).

use std::path::{Path, PathBuf};

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::sql::Conditions;
use super::{Conn, StoreError, from_millis, to_millis};

/// The SQLite file that holds the journal of the SQLite database `database`:
/// beside it, named after it. Not `<database>-journal`, which is SQLite's
/// own name for a rollback journal.
pub fn file_for(database: &Path) -> PathBuf {
    let mut file = database.as_os_str().to_owned();
    file.push(".scim-journal");
    PathBuf::from(file)
}

/// One exchange to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub at: OffsetDateTime,
    pub request_id: String,
    pub key_id: Option<String>,
    pub source_ip: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_us: i64,
    pub user_id: Option<String>,
    pub user_name_key: Option<String>,
    /// A JSON object.
    pub request_headers: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

impl NewEntry {
    /// What the row weighs against the size cap: its text, plus a fixed
    /// amount for the row and its index entries.
    pub fn size(&self) -> i64 {
        const ROW: usize = 256;
        let text = [
            self.request_id.len(),
            self.key_id.as_ref().map_or(0, String::len),
            self.source_ip.as_ref().map_or(0, String::len),
            self.method.len(),
            self.path.len(),
            self.user_id.as_ref().map_or(0, String::len),
            self.user_name_key.as_ref().map_or(0, String::len),
            self.request_headers.len(),
            self.request_body.as_ref().map_or(0, String::len),
            self.response_body.as_ref().map_or(0, String::len),
        ];
        i64::try_from(ROW + text.iter().sum::<usize>()).unwrap_or(i64::MAX)
    }
}

const COLUMNS: usize = 15;
/// Rows per `INSERT`. Few: sqlx's SQLite driver finds each bound value's
/// place by a scan of the statement's parameters, so binding costs the
/// square of their number (500 rows, 7,000 values, took 13 % of the
/// server's CPU under SCIM load), and statements of at most this many rows
/// are few enough to stay prepared.
const ROWS_PER_INSERT: usize = 20;

/// The columns an append writes, in the order of their values.
const INSERTED: &str = "at, request_id, key_id, source_ip, method, path, status, duration_us, \
                        user_id, user_name_key, request_headers, request_body, response_body, size";

/// Appends `entries`; run it in one transaction. On an SQLite file the
/// server appends with an [`Appender`] instead.
pub async fn insert_batch(
    conn: &mut Conn,
    entries: impl IntoIterator<Item = NewEntry>,
) -> Result<(), StoreError> {
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        let mut conditions = Conditions::default();
        let rows: Vec<String> = entries
            .by_ref()
            .take(ROWS_PER_INSERT)
            .map(|entry| {
                let size = entry.size();
                let values = [
                    conditions.bind(to_millis(entry.at)),
                    conditions.bind(entry.request_id),
                    conditions.bind(entry.key_id),
                    conditions.bind(entry.source_ip),
                    conditions.bind(entry.method),
                    conditions.bind(entry.path),
                    conditions.bind(i32::from(entry.status)),
                    conditions.bind(entry.duration_us),
                    conditions.bind(entry.user_id),
                    conditions.bind(entry.user_name_key),
                    conditions.bind(entry.request_headers),
                    conditions.bind(entry.request_body),
                    conditions.bind(entry.response_body),
                    conditions.bind(size),
                ];
                debug_assert_eq!(values.len() + 1, COLUMNS);
                format!("({})", values.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO scim_journal ({INSERTED}) VALUES {}",
            rows.join(", ")
        );
        sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Appends to the journal's SQLite file on a connection of its own,
/// through `rusqlite`: one prepared statement run for each row, in the
/// calling thread, where sqlx would bind every value through its Any
/// layer and hop to its connection's worker thread for each statement,
/// which took as much CPU again as SQLite's own work on the 2-core
/// benchmark (see `benches/sqlite_driver.rs` for the same gap on reads).
/// Blocking: call it from `spawn_blocking`.
pub struct Appender {
    conn: std::sync::Mutex<rusqlite::Connection>,
    file: PathBuf,
}

impl Appender {
    /// Opens the journal file `file`, which exists (empty when new); give it
    /// its tables before the first append.
    pub fn open(file: &Path) -> Result<Appender, StoreError> {
        let failed = |source| StoreError::JournalFile {
            file: file.to_owned(),
            source,
        };
        let conn = rusqlite::Connection::open_with_flags(
            file,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        // Pages of 16 KB in a new file (an existing one keeps its own: WAL
        // fixes the size). A batch is then a quarter as many pages to write
        // to the WAL and copy back, each a syscall or two; its appends split
        // pages a quarter as often; and the WAL, checkpointed every 1,000
        // pages, is copied into the database every few batches rather than
        // after each (the last pages of the table and its indexes, which
        // every batch rewrites, once for several). The writer's thread spent
        // a fifth less CPU than with 4 KB pages under SCIM load.
        // WAL, as the readers' connections set it; a batch's pages fit
        // in the cache (16 MB), so each is written once at commit.
        conn.execute_batch(
            "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; \
             PRAGMA cache_size = -16384;",
        )
        .map_err(failed)?;
        Ok(Appender {
            conn: std::sync::Mutex::new(conn),
            file: file.to_owned(),
        })
    }

    /// Appends `entries` in one transaction.
    pub fn append(&self, entries: impl IntoIterator<Item = NewEntry>) -> Result<(), StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        insert_rows(&mut conn, entries).map_err(|source| StoreError::JournalFile {
            file: self.file.clone(),
            source,
        })
    }
}

fn insert_rows(
    conn: &mut rusqlite::Connection,
    entries: impl IntoIterator<Item = NewEntry>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO scim_journal ({INSERTED}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ))?;
        for entry in entries {
            insert.execute(rusqlite::params![
                to_millis(entry.at),
                entry.request_id,
                entry.key_id,
                entry.source_ip,
                entry.method,
                entry.path,
                entry.status,
                entry.duration_us,
                entry.user_id,
                entry.user_name_key,
                entry.request_headers,
                entry.request_body,
                entry.response_body,
                entry.size(),
            ])?;
        }
    }
    tx.commit()
}

/// An exchange as stored; the bodies are `None` in listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub id: i64,
    pub at: OffsetDateTime,
    pub request_id: String,
    pub key_id: Option<String>,
    pub source_ip: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub duration_us: i64,
    pub user_id: Option<String>,
    pub request_headers: String,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
}

/// Which exchanges to read; every condition set must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since: Option<OffsetDateTime>,
    /// Status within `min..=max`.
    pub status: Option<(u16, u16)>,
    /// About this user: their id, or a userName key (lower case).
    pub user_id: Option<String>,
    pub user_name_key: Option<String>,
}

/// Which way a page runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first, from ids below `before` (all when `None`).
    NewestFirst { before: Option<i64> },
    /// Oldest first, after `after`: for following.
    OldestFirst { after: i64 },
}

const LISTED: &str = "id, at, request_id, key_id, source_ip, method, path, status, duration_us, \
                      user_id, request_headers";

/// Up to `limit` exchanges matching `filter`, without their bodies.
pub async fn list(
    conn: &mut Conn,
    filter: &Filter,
    order: Order,
    limit: u32,
) -> Result<Vec<EntryRow>, StoreError> {
    let (sql, conditions) = listing(filter, order, limit, is_postgres(conn));
    let rows = sqlx::query_with(AssertSqlSafe(sql), conditions.into_args())
        .fetch_all(conn)
        .await?;
    rows.iter().map(|row| from_row(row, false)).collect()
}

/// The query [`list`] runs, and its values.
fn listing(filter: &Filter, order: Order, limit: u32, postgres: bool) -> (String, Conditions) {
    let mut conditions = Conditions::default();
    if let Some(since) = filter.since {
        let at = conditions.bind(to_millis(since));
        conditions.and(format!("at >= {at}"));
    }
    if let Some((min, max)) = filter.status {
        let (min, max) = (
            conditions.bind(i32::from(min)),
            conditions.bind(i32::from(max)),
        );
        conditions.and(format!("status BETWEEN {min} AND {max}"));
    }
    match (&filter.user_id, &filter.user_name_key) {
        (Some(id), Some(name)) => {
            let (id, name) = (conditions.bind(id.clone()), conditions.bind(name.clone()));
            conditions.and(format!("(user_id = {id} OR user_name_key = {name})"));
        }
        (Some(id), None) => {
            let id = conditions.bind(id.clone());
            conditions.and(format!("user_id = {id}"));
        }
        (None, Some(name)) => {
            let name = conditions.bind(name.clone());
            conditions.and(format!("user_name_key = {name}"));
        }
        (None, None) => {}
    }
    let direction = match order {
        Order::NewestFirst { before } => {
            if let Some(before) = before {
                let before = conditions.bind(before);
                conditions.and(format!("id < {before}"));
            }
            "DESC"
        }
        Order::OldestFirst { after } => {
            let after = conditions.bind(after);
            conditions.and(format!("id > {after}"));
            "ASC"
        }
    };
    let limit = conditions.bind(i64::from(limit));
    let matching = format!(
        "{} ORDER BY id {direction} LIMIT {limit}",
        conditions.where_clause()
    );
    let sql = if postgres {
        format!("SELECT {LISTED} FROM scim_journal {matching}")
    } else {
        // SQLite has no index keyed by user (see its journal migration
        // 0003): the matching ids come from a scan of the narrow index that
        // holds every filtered column, newest first, never of the table.
        format!(
            "SELECT {LISTED} FROM scim_journal WHERE id IN \
             (SELECT id FROM scim_journal INDEXED BY scim_journal_filtered {matching}) \
             ORDER BY id {direction}"
        )
    };
    (sql, conditions)
}

/// The exchange with this request id, bodies included.
pub async fn by_request_id(
    conn: &mut Conn,
    request_id: &str,
) -> Result<Option<EntryRow>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {LISTED}, request_body, response_body FROM scim_journal \
         WHERE request_id = $1 ORDER BY id DESC LIMIT 1"
    )))
    .bind(request_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(|row| from_row(row, true)).transpose()
}

fn from_row(row: &AnyRow, with_bodies: bool) -> Result<EntryRow, StoreError> {
    let status: i32 = row.try_get("status")?;
    let (request_body, response_body) = if with_bodies {
        (row.try_get("request_body")?, row.try_get("response_body")?)
    } else {
        (None, None)
    };
    Ok(EntryRow {
        id: row.try_get("id")?,
        at: from_millis(row.try_get("at")?)?,
        request_id: row.try_get("request_id")?,
        key_id: row.try_get("key_id")?,
        source_ip: row.try_get("source_ip")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(status)
            .map_err(|_| StoreError::Corrupt(format!("journal status {status}")))?,
        duration_us: row.try_get("duration_us")?,
        user_id: row.try_get("user_id")?,
        request_headers: row.try_get("request_headers")?,
        request_body,
        response_body,
    })
}

/// Deletes the exchanges recorded before `cutoff`; how many went.
pub async fn prune_older_than(conn: &mut Conn, cutoff: OffsetDateTime) -> Result<u64, StoreError> {
    let sql = older_than(is_postgres(conn));
    let done = sqlx::query(sql)
        .bind(to_millis(cutoff))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The statement [`prune_older_than`] runs. SQLite has no index on `at`
/// (see its journal migration 0004): the ids come from a scan of the
/// narrow index.
fn older_than(postgres: bool) -> &'static str {
    match postgres {
        true => "DELETE FROM scim_journal WHERE at < $1",
        false => {
            "DELETE FROM scim_journal WHERE id IN \
             (SELECT id FROM scim_journal INDEXED BY scim_journal_filtered WHERE at < $1)"
        }
    }
}

/// The query that weighs the whole journal: on SQLite, a sum over the
/// narrow index, which holds `size`, rather than a read of every row.
fn total_size(postgres: bool) -> &'static str {
    match postgres {
        // PostgreSQL sums BIGINT to NUMERIC: cast back.
        true => "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS total FROM scim_journal",
        false => {
            "SELECT COALESCE(SUM(size), 0) AS total \
             FROM scim_journal INDEXED BY scim_journal_filtered"
        }
    }
}

fn is_postgres(conn: &Conn) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// Deletes the oldest exchanges until what is left weighs at most
/// `max_size`; how many went.
pub async fn prune_to_size(conn: &mut Conn, max_size: i64) -> Result<u64, StoreError> {
    let total: i64 = sqlx::query(total_size(is_postgres(conn)))
        .fetch_one(&mut *conn)
        .await?
        .try_get("total")?;
    let mut excess = total - max_size;
    if excess <= 0 {
        return Ok(0);
    }
    // The oldest rows' sizes, a page at a time in id order, until they add
    // up to the excess.
    const PAGE: i64 = 10_000;
    let mut cutoff: Option<i64> = None;
    while excess > 0 {
        let rows =
            sqlx::query("SELECT id, size FROM scim_journal WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(cutoff.unwrap_or(i64::MIN))
                .bind(PAGE)
                .fetch_all(&mut *conn)
                .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            excess -= row.try_get::<i64, _>("size")?;
            cutoff = Some(row.try_get("id")?);
            if excess <= 0 {
                break;
            }
        }
    }
    let Some(cutoff) = cutoff else {
        return Ok(0);
    };
    let done = sqlx::query("DELETE FROM scim_journal WHERE id <= $1")
        .bind(cutoff)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use sqlx::Row as _;

    use super::*;
    use crate::store::{DatabaseUrl, Store};

    /// On SQLite every listing, whatever it filters on, finds its rows by
    /// the narrow index in append order and reads the table only for the
    /// rows it returns, and pruning weighs and finds old rows the same way:
    /// a scan of the table would read every body kept.
    #[tokio::test]
    async fn sqlite_listings_and_pruning_scan_the_narrow_index_never_the_table() {
        let url: DatabaseUrl = "sqlite::memory:".parse().expect("sqlite url");
        let store = Store::connect(&url).await.expect("connect");
        let by_user = Filter {
            user_id: Some("u1".to_owned()),
            user_name_key: Some("ada".to_owned()),
            ..Filter::default()
        };
        let everything = Filter {
            since: Some(OffsetDateTime::now_utc()),
            status: Some((400, 499)),
            ..by_user.clone()
        };
        let filters = [Filter::default(), by_user, everything];
        let orders = [
            Order::NewestFirst { before: None },
            Order::NewestFirst { before: Some(9) },
            Order::OldestFirst { after: 3 },
        ];
        let mut queries: Vec<(String, Conditions)> = filters
            .iter()
            .flat_map(|filter| orders.map(|order| listing(filter, order, 50, false)))
            .collect();
        let mut cutoff = Conditions::default();
        cutoff.bind(0_i64);
        queries.push((older_than(false).to_owned(), cutoff));
        queries.push((total_size(false).to_owned(), Conditions::default()));
        let mut conn = store.journal_conn().await.expect("conn");
        for (sql, conditions) in queries {
            let plan: Vec<String> = sqlx::query_with(
                AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")),
                conditions.into_args(),
            )
            .fetch_all(&mut *conn)
            .await
            .expect("plan")
            .iter()
            .map(|row| row.try_get("detail").expect("detail"))
            .collect();
            let scans_the_table = plan
                .iter()
                .any(|step| step.starts_with("SCAN") && !step.contains("COVERING INDEX"));
            assert!(!scans_the_table, "{sql}: {plan:?}");
        }
    }
}
