//! Why the database could not be opened, in words an operator can act on:
//! the host and port or the file, what went wrong, and what to check. The
//! driver's own error stays attached as the cause.

use std::io;
use std::path::Path;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::PgConnectOptions;

use super::{DatabaseUrl, StoreError};

/// How long start-up waits for PostgreSQL to answer before saying so.
pub const POSTGRES_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens one connection to PostgreSQL before the pool does: the pool
/// retries a refused connection until its acquire timeout and then reports
/// only that it timed out, where one attempt gives the real reason at once.
pub async fn probe_postgres(url: &DatabaseUrl) -> Result<(), StoreError> {
    let attempt = sqlx::AnyConnection::connect(url.as_str());
    match tokio::time::timeout(POSTGRES_PROBE_TIMEOUT, attempt).await {
        Ok(Ok(connection)) => {
            // Closing is a courtesy to the server; failing it changes nothing.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(source)) => Err(postgres_error(url, source)),
        Err(_) => Err(postgres_error(url, sqlx::Error::PoolTimedOut)),
    }
}

/// A failure to open PostgreSQL at `url`, explained.
pub fn postgres_error(url: &DatabaseUrl, source: sqlx::Error) -> StoreError {
    let target = PostgresTarget::of(url);
    let problem = postgres_problem(&target, &source);
    StoreError::Connect {
        url: url.clone(),
        problem,
        source,
    }
}

/// A failure to open the SQLite file `path`, explained.
pub fn sqlite_error(url: &DatabaseUrl, path: &Path, source: sqlx::Error) -> StoreError {
    let problem = sqlite_problem(path, &source);
    StoreError::Connect {
        url: url.clone(),
        problem,
        source,
    }
}

/// Where a PostgreSQL URL points, for messages (never the password).
struct PostgresTarget {
    host: String,
    port: u16,
    user: String,
    database: String,
}

impl PostgresTarget {
    /// Read as the driver reads it (libpq's environment variables fill in
    /// what the URL leaves out).
    fn of(url: &DatabaseUrl) -> PostgresTarget {
        match PgConnectOptions::from_str(url.as_str()) {
            Ok(options) => PostgresTarget {
                host: options.get_host().to_owned(),
                port: options.get_port(),
                user: options.get_username().to_owned(),
                database: options
                    .get_database()
                    .unwrap_or(options.get_username())
                    .to_owned(),
            },
            Err(_) => PostgresTarget {
                host: "localhost".to_owned(),
                port: 5432,
                user: "the user".to_owned(),
                database: "the database".to_owned(),
            },
        }
    }
}

fn postgres_problem(target: &PostgresTarget, source: &sqlx::Error) -> String {
    let PostgresTarget {
        host,
        port,
        user,
        database,
    } = target;
    match source {
        sqlx::Error::Io(err) if err.kind() == io::ErrorKind::ConnectionRefused => format!(
            "nothing accepts connections at {host}:{port}. Is PostgreSQL running there, and \
             listening on that address and port (listen_addresses and port in postgresql.conf)?"
        ),
        sqlx::Error::Io(err) if is_unknown_host(err) => format!(
            "the host {host} is not known. Check the host name in the URL, or use an IP address"
        ),
        sqlx::Error::Io(_) => format!(
            "the connection to {host}:{port} failed. Check the address, and any firewall between \
             this host and the database"
        ),
        sqlx::Error::PoolTimedOut => format!(
            "{host}:{port} did not answer within {} s. Check the address, that PostgreSQL is up, \
             and any firewall that drops the connection silently",
            POSTGRES_PROBE_TIMEOUT.as_secs()
        ),
        sqlx::Error::Tls(_) => format!(
            "the TLS handshake with {host}:{port} failed. Check sslmode in the URL and the \
             server's certificate"
        ),
        sqlx::Error::Protocol(_) => format!(
            "what answers at {host}:{port} does not speak PostgreSQL's protocol. Check the host \
             and port (PostgreSQL usually listens on 5432)"
        ),
        sqlx::Error::Database(err) => match err.code().as_deref() {
            // invalid_password, invalid_authorization_specification
            Some("28P01" | "28000") => format!(
                "PostgreSQL at {host}:{port} refused {user}: check the user name and password in \
                 the URL, and pg_hba.conf for this host"
            ),
            // invalid_catalog_name
            Some("3D000") => format!(
                "there is no database {database} at {host}:{port}: create it (createdb -O {user} \
                 {database}) or fix its name in the URL"
            ),
            _ => format!(
                "PostgreSQL at {host}:{port} refused the connection: {}",
                err.message()
            ),
        },
        _ => format!("opening {host}:{port} failed"),
    }
}

fn sqlite_problem(path: &Path, source: &sqlx::Error) -> String {
    let shown = path.display();
    match source {
        sqlx::Error::Io(err) => match err.kind() {
            io::ErrorKind::PermissionDenied => format!(
                "permission denied on {shown}: the server's user must be able to create and \
                 write the file and its directory"
            ),
            io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => format!(
                "a file is in the way of the directory for {shown}: choose another path, or \
                 move that file"
            ),
            _ => format!("cannot create {shown}: {err}"),
        },
        _ => format!(
            "SQLite cannot open {shown}: check that its directory exists and the server's user \
             may write there"
        ),
    }
}

/// DNS failures come back as `Other` with the resolver's words.
fn is_unknown_host(err: &io::Error) -> bool {
    let text = err.to_string();
    text.contains("lookup address") || text.contains("Name or service not known")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> PostgresTarget {
        PostgresTarget::of(
            &"postgres://app:secret@db.example.com:6543/scim"
                .parse()
                .expect("a URL"),
        )
    }

    #[test]
    fn the_target_is_read_from_the_url_without_the_password() {
        let target = target();
        assert_eq!(
            (
                target.host.as_str(),
                target.port,
                target.user.as_str(),
                target.database.as_str()
            ),
            ("db.example.com", 6543, "app", "scim")
        );
    }

    #[test]
    fn each_failure_names_the_host_and_what_to_check() {
        let refused = sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        let text = postgres_problem(&target(), &refused);
        assert!(
            text.contains("db.example.com:6543") && text.contains("listen_addresses"),
            "{text}"
        );

        let text = postgres_problem(&target(), &sqlx::Error::PoolTimedOut);
        assert!(text.contains("did not answer within 5 s"), "{text}");

        let text = postgres_problem(&target(), &sqlx::Error::Protocol("x".to_owned()));
        assert!(text.contains("does not speak PostgreSQL"), "{text}");

        let unknown = sqlx::Error::Io(io::Error::other(
            "failed to lookup address information: Name or service not known",
        ));
        let text = postgres_problem(&target(), &unknown);
        assert!(
            text.contains("the host db.example.com is not known"),
            "{text}"
        );
    }

    #[test]
    fn sqlite_failures_name_the_file() {
        let path = Path::new("/var/lib/scimctl/scimctl.db");
        let denied = sqlx::Error::Io(io::Error::from(io::ErrorKind::PermissionDenied));
        let text = sqlite_problem(path, &denied);
        assert!(
            text.contains("/var/lib/scimctl/scimctl.db") && text.contains("server's user"),
            "{text}"
        );
    }
}
