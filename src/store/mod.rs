//! Persistence on SQLite or PostgreSQL. Every query is
//! written once: both backends share the SQL text (`$N` placeholders, TEXT
//! ids, BIGINT unix-millisecond times) and differ only in their migrations.

pub mod allowlist;
pub mod audit;
mod connect;
pub mod grants;
pub mod groups;
pub mod journal;
pub mod keys;
pub mod locks;
pub mod mappings;
pub mod rails;
pub mod roles;
mod schema;
pub mod scim_query;
pub mod scim_search;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod state;
pub mod upgrade;
pub mod users;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Executor};
use time::OffsetDateTime;

/// A transaction: a change and its audit entry commit or roll back together.
pub type Tx = sqlx::Transaction<'static, Any>;
/// A connection, from the pool or inside a transaction (`&mut *tx`).
pub type Conn = sqlx::AnyConnection;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `problem` says what went wrong and what to check, in words.
    #[error("cannot open the database {url}: {problem}")]
    Connect {
        url: DatabaseUrl,
        problem: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot bring the database schema up to date")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    #[error(
        "cannot write the SCIM request journal's file {}: check that the server's user may \
         write it and its directory has room, or turn the journal off (enabled = false under \
         [journal] in scimctl.toml)",
        file.display()
    )]
    JournalFile {
        file: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Whether a UNIQUE constraint refused the write (a name taken
    /// concurrently), on either backend.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(err)) if err.is_unique_violation())
    }
}

/// `error: cause: cause …`, for the log.
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Which engine a [`DatabaseUrl`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL: `sqlite:///path/to/file.db` or `postgres://user:pass@host/db`.
/// Shown with its password masked, so it can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "unsupported database URL {shown:?}: use sqlite:///path/to/scimctl.db or postgres://user:password@host/database"
)]
pub struct UnsupportedDatabaseUrl {
    shown: String,
}

impl DatabaseUrl {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password, for the driver only.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn sqlite_file(path: &std::path::Path) -> Self {
        DatabaseUrl {
            raw: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
        }
    }

    fn redacted(&self) -> String {
        // postgres://user:secret@host/db → postgres://user:***@host/db
        let Some((scheme, rest)) = self.raw.split_once("://") else {
            return self.raw.clone();
        };
        match rest.split_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => self.raw.clone(),
            },
            None => self.raw.clone(),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = UnsupportedDatabaseUrl;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let backend = if raw.starts_with("sqlite:") {
            Backend::Sqlite
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            let shown = DatabaseUrl {
                raw: raw.to_owned(),
                backend: Backend::Postgres,
            }
            .redacted();
            return Err(UnsupportedDatabaseUrl { shown });
        };
        Ok(DatabaseUrl {
            raw: raw.to_owned(),
            backend,
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// The file an SQLite URL names (`sqlite:///abs`, `sqlite://rel`,
/// `sqlite:rel`), or `None` for an in-memory database.
fn sqlite_path(raw: &str) -> Option<std::path::PathBuf> {
    let rest = raw.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
    (!in_memory).then(|| std::path::PathBuf::from(path))
}

/// The database file and its WAL and shared-memory files readable by this
/// user only. SQLite gives the WAL and SHM files the main file's mode, so
/// creating the main file 0600 before SQLite does is what makes all three
/// private; files an older version left readable are tightened.
fn make_private(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            let file = std::path::PathBuf::from(file);
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(file = %file.display(), "the database file was readable by others; made it 0600");
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Concurrent readers on SQLite, beside its one writer.
const SQLITE_READERS: u32 = 8;
/// sqlx connections to the SCIM request journal's SQLite file: its
/// pruning and a few readers (`scim log`, `scim show`, followers); appends
/// have a connection of their own ([`journal::Appender`]).
const SQLITE_JOURNAL_CONNECTIONS: u32 = 4;

/// The database, ready for queries: connected and migrated.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    backend: Backend,
}

/// Where connections come from. On SQLite every write goes through one
/// connection, so writers wait their turn in the pool's queue (in memory,
/// first come first served) instead of sleeping and retrying on the file
/// lock; readers have their own connections and never wait for a writer
/// (WAL). On PostgreSQL both are the same pool.
///
/// The SCIM request journal is a log that no change reads or writes in its
/// transaction: on SQLite it has a database of its own (a file beside the
/// main one, [`journal::file_for`]; in memory, a database of its own too),
/// so appending to it never takes the writer from a SCIM change. On
/// PostgreSQL it is the same pool again.
#[derive(Clone)]
struct Pools {
    readers: AnyPool,
    writer: AnyPool,
    journal: AnyPool,
    /// Appends to the journal's SQLite file; `None` in memory and on
    /// PostgreSQL, where they go through `journal`.
    journal_appender: Option<Arc<journal::Appender>>,
}

impl Store {
    /// Connects (creating an SQLite file, and its journal's file, that do
    /// not exist yet) and runs the pending migrations. Replicas starting
    /// together on one PostgreSQL database are safe: the migrator takes an
    /// advisory lock.
    pub async fn connect(url: &DatabaseUrl) -> Result<Store, StoreError> {
        install_default_drivers();
        let pools = match url.backend() {
            Backend::Sqlite => {
                let raw = url.as_str();
                let path = sqlite_path(raw);
                let shown = path.clone().unwrap_or_else(|| ":memory:".into());
                let connect_error = |source| connect::sqlite_error(url, &shown, source);
                if let Some(path) = &path {
                    make_private(path).map_err(|err| connect_error(sqlx::Error::Io(err)))?;
                }
                let with_create = if raw.contains('?') {
                    raw.to_owned()
                } else {
                    format!("{raw}?mode=rwc")
                };
                let options = |connections| {
                    AnyPoolOptions::new()
                        .max_connections(connections)
                        .after_connect(|conn, _meta| {
                            Box::pin(async move {
                                // WAL lets readers run beside the writer;
                                // NORMAL sync in WAL mode still survives a
                                // killed process. The busy timeout only
                                // matters for another process's writes: this
                                // one's queue for the writer in memory.
                                conn.execute(
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                                )
                                .await?;
                                Ok(())
                            })
                        })
                };
                let writer = options(1)
                    .connect(&with_create)
                    .await
                    .map_err(connect_error)?;
                // An in-memory database exists once per connection: its
                // readers must be the writer.
                let readers = match &path {
                    Some(_) => options(SQLITE_READERS)
                        .connect(&with_create)
                        .await
                        .map_err(connect_error)?,
                    None => writer.clone(),
                };
                let journal_file = path.as_deref().map(journal::file_for);
                let (journal, journal_appender) = match &journal_file {
                    Some(file) => {
                        let journal_error = |source| connect::sqlite_error(url, file, source);
                        make_private(file).map_err(|err| journal_error(sqlx::Error::Io(err)))?;
                        // Before the pool: a new file takes its page size
                        // from the first connection that writes it.
                        let appender = journal::Appender::open(file)?;
                        let pool = options(SQLITE_JOURNAL_CONNECTIONS)
                            .connect(&format!("sqlite://{}?mode=rwc", file.display()))
                            .await
                            .map_err(journal_error)?;
                        (pool, Some(Arc::new(appender)))
                    }
                    // One connection, kept: closing it would drop the
                    // database.
                    None => {
                        let pool = options(1)
                            .idle_timeout(None)
                            .max_lifetime(None)
                            .connect("sqlite::memory:")
                            .await
                            .map_err(connect_error)?;
                        (pool, None)
                    }
                };
                schema::journal_migrator().run(&journal).await?;
                Pools {
                    readers,
                    writer,
                    journal,
                    journal_appender,
                }
            }
            Backend::Postgres => {
                connect::probe_postgres(url).await?;
                let connect_error = |source| connect::postgres_error(url, source);
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url.as_str())
                    .await
                    .map_err(connect_error)?;
                Pools {
                    readers: pool.clone(),
                    writer: pool.clone(),
                    journal: pool,
                    journal_appender: None,
                }
            }
        };
        schema::migrator(url.backend()).run(&pools.writer).await?;
        let store = Store {
            pools,
            backend: url.backend(),
        };
        upgrade::run(&store).await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads, then writes,
    /// fails with "database is locked" when another writer got there first,
    /// instead of waiting its turn.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pools.writer.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => Ok(self.pools.writer.begin().await?),
        }
    }

    /// A connection for reading.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pools.readers.acquire().await?)
    }

    /// A connection for one write outside a transaction (an audit entry of
    /// a refusal, a key's last use): on SQLite, the writer.
    pub async fn write_conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pools.writer.acquire().await?)
    }

    /// A connection to the SCIM request journal ([`journal`]), to read it or
    /// append to it, never inside a transaction of the directory's: on
    /// SQLite it is the journal's own database, so its writes neither wait
    /// for the directory's writer nor hold it; on PostgreSQL, a connection
    /// of the one pool (do not hold another while taking it).
    pub async fn journal_conn(&self) -> Result<sqlx::pool::PoolConnection<Any>, StoreError> {
        Ok(self.pools.journal.acquire().await?)
    }

    /// Appends a batch of exchanges to the SCIM request journal, in one
    /// transaction. Each entry is taken from `entries` just before it is
    /// stored, on SQLite in the appender's thread: an entry made there (an
    /// iterator that redacts as it goes) is made, stored and freed there.
    pub async fn append_journal<I>(&self, entries: I) -> Result<(), StoreError>
    where
        I: IntoIterator<Item = journal::NewEntry> + Send + 'static,
    {
        match &self.pools.journal_appender {
            Some(appender) => {
                let appender = Arc::clone(appender);
                tokio::task::spawn_blocking(move || appender.append(entries))
                    .await
                    .unwrap_or_else(|panicked| std::panic::resume_unwind(panicked.into_panic()))?;
            }
            None => {
                let mut tx = self.pools.journal.begin().await?;
                journal::insert_batch(&mut tx, entries).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Whether the database answers, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pools.readers).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pools.readers.close().await;
        self.pools.writer.close().await;
        self.pools.journal.close().await;
    }
}

/// The current time at the store's resolution (milliseconds, UTC), so a
/// value returned at creation equals the one read back later.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

/// `at` in UTC at the store's resolution.
pub fn truncate(at: OffsetDateTime) -> OffsetDateTime {
    from_millis(to_millis(at)).unwrap_or(at)
}

/// `FOR UPDATE` on PostgreSQL, so a row read in a write transaction stays
/// as read until it commits and concurrent writers queue instead of failing
/// their version check; nothing on SQLite, where `BEGIN IMMEDIATE` already
/// serialises writers.
pub(crate) fn for_update(conn: &Conn) -> &'static str {
    if conn.backend_name() == "PostgreSQL" {
        "FOR UPDATE"
    } else {
        ""
    }
}

/// An aggregate joining `expr` over the rows with spaces (`NULL` when there
/// are none): `string_agg` on PostgreSQL, `group_concat` on SQLite.
pub(crate) fn concat_words(conn: &Conn, expr: &str) -> String {
    if conn.backend_name() == "PostgreSQL" {
        format!("string_agg({expr}, ' ')")
    } else {
        format!("group_concat({expr}, ' ')")
    }
}

/// A scalar sub-select giving, as a JSON array of arrays (text; `NULL` on
/// PostgreSQL when there is none), `items` of the rows `from` selects, in
/// `order`: what hangs off a row, read with it in one query.
/// `json_agg(json_build_array(…))` on PostgreSQL, `json_group_array(
/// json_array(…))` on SQLite. Every argument is SQL built from constants.
pub(crate) fn json_rows(conn: &Conn, items: &str, from: &str, order: &str) -> String {
    if conn.backend_name() == "PostgreSQL" {
        format!("(SELECT json_agg(json_build_array({items}) ORDER BY {order}) {from})::text")
    } else {
        format!("(SELECT json_group_array(json_array({items}) ORDER BY {order}) {from})")
    }
}

/// Reads a [`json_rows`] column.
pub(crate) fn from_json_rows<T: serde::de::DeserializeOwned>(
    row: &sqlx::any::AnyRow,
    column: &str,
) -> Result<Vec<T>, StoreError> {
    use sqlx::Row as _;
    let text: Option<String> = row.try_get(column)?;
    serde_json::from_str(text.as_deref().unwrap_or("[]"))
        .map_err(|err| StoreError::Corrupt(format!("{column} does not read back: {err}")))
}

/// What hangs off each of `ids`, in one query: `select` gets the
/// placeholder list for `IN (…)` and returns SQL built from constants whose
/// first column, named `owner`, is the id a row belongs to; `item` reads the
/// rest of the row. Rows keep the query's order within each id.
pub(crate) async fn grouped<T>(
    conn: &mut Conn,
    ids: &[&str],
    select: impl FnOnce(&str) -> String,
    item: impl Fn(&sqlx::any::AnyRow) -> Result<T, StoreError>,
) -> Result<std::collections::HashMap<String, Vec<T>>, StoreError> {
    use sqlx::Row as _;
    let mut by_owner: std::collections::HashMap<String, Vec<T>> = Default::default();
    if ids.is_empty() {
        return Ok(by_owner);
    }
    let mut conditions = sql::Conditions::default();
    let placeholders = conditions.bind_all(ids.iter().map(|id| id.to_string()));
    let rows = sqlx::query_with(
        sqlx::AssertSqlSafe(select(&placeholders)),
        conditions.into_args(),
    )
    .fetch_all(conn)
    .await?;
    for row in &rows {
        by_owner
            .entry(row.try_get("owner")?)
            .or_default()
            .push(item(row)?);
    }
    Ok(by_owner)
}

/// Times are stored as unix milliseconds: both backends compare and index
/// them the same way.
pub(crate) fn to_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub(crate) fn from_millis(millis: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {millis} ms is out of range")))
}

/// Reads a boolean column: BOOLEAN on PostgreSQL, INTEGER 0/1 on SQLite
/// (whose BOOLEAN sqlx's `Any` driver cannot decode). Bind `bool` as is.
pub(crate) fn get_bool(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, StoreError> {
    use sqlx::Row as _;
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        let path = |raw: &str| sqlite_path(raw).map(|path| path.display().to_string());
        assert_eq!(
            path("sqlite:///var/lib/s.db").as_deref(),
            Some("/var/lib/s.db")
        );
        assert_eq!(path("sqlite://s.db?mode=rwc").as_deref(), Some("s.db"));
        assert_eq!(path("sqlite:s.db").as_deref(), Some("s.db"));
        assert_eq!(path("sqlite::memory:"), None);
        assert_eq!(path("sqlite://x?mode=memory"), None);
    }

    #[test]
    fn urls_pick_their_backend_and_hide_the_password() {
        let pg: DatabaseUrl = "postgres://scim:hunter2@db:5432/scim"
            .parse()
            .expect("pg url");
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.to_string(), "postgres://scim:***@db:5432/scim");
        assert!(!format!("{pg:?}").contains("hunter2"));
        let lite: DatabaseUrl = "sqlite:///var/lib/scimctl.db".parse().expect("sqlite url");
        assert_eq!(lite.backend(), Backend::Sqlite);
        let err = "mysql://root:pw@db/x"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite:///") && !err.contains("pw@"), "{err}");
    }

    #[test]
    fn the_journal_file_sits_beside_the_database() {
        let file = journal::file_for(std::path::Path::new("/var/lib/scimctl/scimctl.db"));
        assert_eq!(
            file,
            std::path::Path::new("/var/lib/scimctl/scimctl.db.scim-journal")
        );
    }

    fn journal_entry(request_id: &str) -> journal::NewEntry {
        journal::NewEntry {
            at: now(),
            request_id: request_id.to_owned(),
            key_id: None,
            source_ip: None,
            method: "GET".to_owned(),
            path: "/scim/v2/Users".to_owned(),
            status: 200,
            duration_us: 10,
            user_id: Some("u1".to_owned()),
            user_name_key: None,
            request_headers: "{}".to_owned(),
            request_body: None,
            response_body: Some("{}".to_owned()),
        }
    }

    /// Appends `entries` and reads the first back by its request id.
    async fn append_and_read(store: &Store, entries: Vec<journal::NewEntry>) -> Option<String> {
        let request_id = entries[0].request_id.clone();
        store.append_journal(entries).await.expect("append");
        let mut conn = store.journal_conn().await.expect("conn");
        let found = journal::by_request_id(&mut conn, &request_id)
            .await
            .expect("read");
        found.map(|row| row.path)
    }

    /// In memory, the journal is a database of its own too, kept as long
    /// as the store.
    #[tokio::test]
    async fn an_in_memory_store_keeps_a_journal() {
        let url: DatabaseUrl = "sqlite::memory:".parse().expect("sqlite url");
        let store = Store::connect(&url).await.expect("connect in memory");
        let found = append_and_read(&store, vec![journal_entry("r1")]).await;
        assert_eq!(found.as_deref(), Some("/scim/v2/Users"));
    }

    /// On a file, appends go through the journal file's own connection and
    /// the readers' connections see them, every row of a batch; a new
    /// journal file has the appender's large pages.
    #[tokio::test]
    async fn a_file_store_appends_to_its_journal_file() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url: DatabaseUrl = format!("sqlite://{}/scimctl.db", dir.path().display())
            .parse()
            .expect("sqlite url");
        let store = Store::connect(&url).await.expect("connect");
        let batch: Vec<_> = (0..3).map(|i| journal_entry(&format!("r{i}"))).collect();
        let found = append_and_read(&store, batch).await;
        assert_eq!(found.as_deref(), Some("/scim/v2/Users"));
        let filter = journal::Filter {
            user_id: Some("u1".to_owned()),
            ..journal::Filter::default()
        };
        let mut conn = store.journal_conn().await.expect("conn");
        let listed = journal::list(
            &mut conn,
            &filter,
            journal::Order::NewestFirst { before: None },
            10,
        )
        .await
        .expect("list");
        assert_eq!(listed.len(), 3);
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut *conn)
            .await
            .expect("page size");
        assert_eq!(page_size, 16_384);
    }

    /// A journal file the server cannot open is named, with what to do.
    #[test]
    fn a_journal_file_that_cannot_be_opened_is_named_with_the_way_out() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let missing = dir.path().join("nowhere").join("scimctl.db.scim-journal");
        let Err(err) = journal::Appender::open(&missing) else {
            panic!("a file in a missing directory opened");
        };
        let shown = err.to_string();
        assert!(shown.contains(&missing.display().to_string()), "{shown}");
        assert!(shown.contains("enabled = false"), "{shown}");
    }

    #[test]
    fn millis_round_trip() {
        let now = OffsetDateTime::now_utc();
        let back = from_millis(to_millis(now)).expect("in range");
        assert!((now - back).whole_milliseconds().abs() < 1);
    }
}
