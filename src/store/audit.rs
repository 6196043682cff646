//! The append-only `audit_log` table. Entries are written on the same
//! connection (transaction) as the change they record.

use time::OffsetDateTime;

use super::{Conn, StoreError, to_millis};

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
    sqlx::query(
        "INSERT INTO audit_log \
         (at, actor_key_id, actor_name, source_ip, request_id, action, target, outcome, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(to_millis(entry.at))
    .bind(entry.actor_key_id)
    .bind(entry.actor_name)
    .bind(entry.source_ip.as_deref())
    .bind(entry.request_id)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.outcome)
    .bind(entry.details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}
