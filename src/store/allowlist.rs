//! The `allowlist` table (one row per normalised CIDR) and the
//! `allowlist_version` row that serialises changes to it.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;

use super::{Conn, StoreError, from_millis, to_millis};

/// An entry as stored. `cidr` is the normalised text form (`10.0.0.0/8`);
/// the domain parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub cidr: String,
    pub note: Option<String>,
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

fn from_row(row: &AnyRow) -> Result<EntryRow, StoreError> {
    Ok(EntryRow {
        cidr: row.try_get("cidr")?,
        note: row.try_get("note")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
    })
}

/// Every entry, in no particular order (the domain sorts by address).
pub async fn list(conn: &mut Conn) -> Result<Vec<EntryRow>, StoreError> {
    let rows = sqlx::query("SELECT cidr, note, created_at, created_by FROM allowlist")
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Just the networks: what enforcement reads on every request.
pub async fn cidrs(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT cidr FROM allowlist")
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| row.try_get("cidr").map_err(StoreError::from))
        .collect()
}

/// Takes the allowlist's write turn for the rest of the transaction: call it
/// first, before reading the list a change is computed from.
pub async fn lock(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE allowlist_version SET version = version + 1 WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn insert(conn: &mut Conn, entry: &EntryRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO allowlist (cidr, note, created_at, created_by) VALUES ($1, $2, $3, $4)",
    )
    .bind(&entry.cidr)
    .bind(entry.note.as_deref())
    .bind(to_millis(entry.created_at))
    .bind(&entry.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_note(conn: &mut Conn, cidr: &str, note: Option<&str>) -> Result<(), StoreError> {
    sqlx::query("UPDATE allowlist SET note = $1 WHERE cidr = $2")
        .bind(note)
        .bind(cidr)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete(conn: &mut Conn, cidr: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM allowlist WHERE cidr = $1")
        .bind(cidr)
        .execute(conn)
        .await?;
    Ok(())
}
