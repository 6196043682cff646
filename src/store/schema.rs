//! The schema migrations, embedded in the binary: the files under
//! `migrations/<backend>/` (and `migrations/sqlite_journal/`, the SCIM
//! request journal's own SQLite file), each named once here. sqlx's `migrate!` macro
//! would find them by itself, but using it builds sqlx's drivers, SQLite
//! and a TLS stack a second time, for the proc-macro; a test holds this list
//! to the directories, so a new file cannot be forgotten.

use std::borrow::Cow;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

/// `(version, description, SQLite text, PostgreSQL text)`, in order. The
/// description is the file name's, as `migrate!` derived it.
const MIGRATIONS: [(i64, &str, &str, &str); 10] = [
    (
        1,
        "keys and audit",
        include_str!("migrations/sqlite/0001_keys_and_audit.sql"),
        include_str!("migrations/postgres/0001_keys_and_audit.sql"),
    ),
    (
        2,
        "directory",
        include_str!("migrations/sqlite/0002_directory.sql"),
        include_str!("migrations/postgres/0002_directory.sql"),
    ),
    (
        3,
        "allowlist",
        include_str!("migrations/sqlite/0003_allowlist.sql"),
        include_str!("migrations/postgres/0003_allowlist.sql"),
    ),
    (
        4,
        "config version",
        include_str!("migrations/sqlite/0004_config_version.sql"),
        include_str!("migrations/postgres/0004_config_version.sql"),
    ),
    (
        5,
        "groups",
        include_str!("migrations/sqlite/0005_groups.sql"),
        include_str!("migrations/postgres/0005_groups.sql"),
    ),
    (
        6,
        "mappings",
        include_str!("migrations/sqlite/0006_mappings.sql"),
        include_str!("migrations/postgres/0006_mappings.sql"),
    ),
    (
        7,
        "safety rails",
        include_str!("migrations/sqlite/0007_safety_rails.sql"),
        include_str!("migrations/postgres/0007_safety_rails.sql"),
    ),
    (
        8,
        "journal",
        include_str!("migrations/sqlite/0008_journal.sql"),
        include_str!("migrations/postgres/0008_journal.sql"),
    ),
    (
        9,
        "journal file",
        include_str!("migrations/sqlite/0009_journal_file.sql"),
        include_str!("migrations/postgres/0009_journal_file.sql"),
    ),
    (
        10,
        "journal user indexes",
        include_str!("migrations/sqlite/0010_journal_user_indexes.sql"),
        include_str!("migrations/postgres/0010_journal_user_indexes.sql"),
    ),
];

/// `(version, description, text)` of the SCIM request journal's own SQLite
/// database, versioned apart from the directory's (each file has its own
/// `_sqlx_migrations`).
const JOURNAL_MIGRATIONS: [(i64, &str, &str); 4] = [
    (
        1,
        "journal",
        include_str!("migrations/sqlite_journal/0001_journal.sql"),
    ),
    (
        2,
        "partial user indexes",
        include_str!("migrations/sqlite_journal/0002_partial_user_indexes.sql"),
    ),
    (
        3,
        "append order user index",
        include_str!("migrations/sqlite_journal/0003_append_order_user_index.sql"),
    ),
    (
        4,
        "prune from the narrow index",
        include_str!("migrations/sqlite_journal/0004_prune_from_the_narrow_index.sql"),
    ),
];

/// The migrations of `backend`, ready to run.
pub fn migrator(backend: Backend) -> Migrator {
    embedded(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                (version, description, sql)
            }),
    )
}

/// The migrations of the SCIM request journal's SQLite file, ready to run.
pub fn journal_migrator() -> Migrator {
    embedded(JOURNAL_MIGRATIONS.iter().copied())
}

fn embedded(migrations: impl Iterator<Item = (i64, &'static str, &'static str)>) -> Migrator {
    Migrator::with_migrations(
        migrations
            .map(|(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// The list matches the files: versions, descriptions and checksums, so
    /// databases migrated by earlier builds (which used `migrate!`) accept
    /// it, and a new file is not left out.
    #[tokio::test]
    async fn the_embedded_migrations_are_the_files() {
        for (embedded, dir) in [
            (migrator(Backend::Sqlite), "sqlite"),
            (migrator(Backend::Postgres), "postgres"),
            (journal_migrator(), "sqlite_journal"),
        ] {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("src/store/migrations")
                .join(dir);
            let files = Migrator::new(path).await.expect("read the migration files");
            let summary = |migrator: &Migrator| -> Vec<(i64, String, Vec<u8>)> {
                migrator
                    .iter()
                    .map(|m| (m.version, m.description.to_string(), m.checksum.to_vec()))
                    .collect()
            };
            assert_eq!(summary(&embedded), summary(&files), "{dir}");
        }
    }
}
