//! The one-row `settings` table.

use sqlx::Row;

use super::{Conn, StoreError, get_bool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsRow {
    pub auto_provisioning: bool,
    pub auto_deprovisioning: bool,
    pub default_role: String,
}

pub async fn get(conn: &mut Conn) -> Result<SettingsRow, StoreError> {
    let row = sqlx::query(
        "SELECT auto_provisioning, auto_deprovisioning, default_role \
         FROM settings WHERE id = 1",
    )
    .fetch_one(conn)
    .await?;
    Ok(SettingsRow {
        auto_provisioning: get_bool(&row, "auto_provisioning")?,
        auto_deprovisioning: get_bool(&row, "auto_deprovisioning")?,
        default_role: row.try_get("default_role")?,
    })
}

/// Takes the settings row's write lock for the rest of the transaction, so
/// that what is read next is what the change replaces, even with concurrent
/// writers on other replicas. A no-op write rather than `SELECT … FOR
/// UPDATE`, which SQLite does not have; on SQLite it takes the database's
/// write lock before anything is read, which also avoids a busy upgrade.
pub async fn lock(conn: &mut Conn) -> Result<(), StoreError> {
    sqlx::query("UPDATE settings SET id = id WHERE id = 1")
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes every field. Call [`lock`] and [`get`] first in the same
/// transaction to know what is being replaced.
pub async fn update(conn: &mut Conn, settings: &SettingsRow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE settings SET auto_provisioning = $1, auto_deprovisioning = $2, default_role = $3 \
         WHERE id = 1",
    )
    .bind(settings.auto_provisioning)
    .bind(settings.auto_deprovisioning)
    .bind(&settings.default_role)
    .execute(conn)
    .await?;
    Ok(())
}

/// The version the database bumps with every change to the settings or the
/// allowlist (triggers of migration 0004). Authentication reads it with the
/// key (`keys::present`); this is for a request that presents no key.
pub async fn config_version(conn: &mut Conn) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT version FROM config_version WHERE id = 1")
        .fetch_one(conn)
        .await?;
    Ok(row.try_get("version")?)
}
