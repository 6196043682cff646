//! The service settings (`auto_provisioning`, `auto_deprovisioning`,
//! `default_role`): reading them, and changing them with an audit entry
//! that records each changed value before and after.

use serde_json::{Map, Value, json};

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::{Result, ceiling, roles};
use crate::api::settings::{Settings, UpdateSettingsRequest};
use crate::store::settings::{self as settings_rows, SettingsRow};
use crate::store::{Store, StoreError};

/// The settings as every replica sees them now. Code already inside a
/// transaction (user creation) reads `store::settings::get` on it instead.
pub async fn get(store: &Store) -> Result<Settings> {
    let row = settings_rows::get(&mut *store.conn().await?).await?;
    Ok(to_api(row))
}

/// Applies the fields given and answers the settings after the change. An
/// unknown default role is refused with the list of roles, and nothing
/// changes. Setting a value to what it already is changes (and audits)
/// nothing.
pub async fn update(
    store: &Store,
    actor: &Actor,
    request: UpdateSettingsRequest,
) -> Result<Settings> {
    let mut tx = store.begin().await?;
    // Serialises with other setting changes and with role deletion, which
    // checks the default role under the same lock.
    settings_rows::lock(&mut tx).await?;
    let old = settings_rows::get(&mut tx).await?;
    let mut new = old.clone();
    if let Some(on) = request.auto_provisioning {
        new.auto_provisioning = on;
    }
    if let Some(on) = request.auto_deprovisioning {
        new.auto_deprovisioning = on;
    }
    if let Some(role) = request.default_role {
        let role = roles::require_exists(&mut tx, &role).await?;
        if role.name != old.default_role {
            // Every user provisioned from now on gets it.
            let permissions = roles::grants(&role);
            let what = format!("make {} the default role", role.name);
            ceiling::check(actor, &permissions, &what)?;
        }
        new.default_role = role.name;
    }
    if new == old {
        return Ok(to_api(old));
    }
    settings_rows::update(&mut tx, &new).await?;
    audit::record(
        &mut tx,
        actor,
        "settings.update",
        Some("settings"),
        Outcome::Success,
        changes(&old, &new),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(new))
}

/// `{"field": {"old": …, "new": …}}` for each field that changed.
fn changes(old: &SettingsRow, new: &SettingsRow) -> Value {
    let mut changed = Map::new();
    let mut note = |field: &str, before: Value, after: Value| {
        if before != after {
            changed.insert(field.to_owned(), json!({ "old": before, "new": after }));
        }
    };
    note(
        "auto_provisioning",
        json!(old.auto_provisioning),
        json!(new.auto_provisioning),
    );
    note(
        "auto_deprovisioning",
        json!(old.auto_deprovisioning),
        json!(new.auto_deprovisioning),
    );
    note(
        "default_role",
        json!(old.default_role),
        json!(new.default_role),
    );
    Value::Object(changed)
}

fn to_api(row: SettingsRow) -> Settings {
    Settings {
        auto_provisioning: row.auto_provisioning,
        auto_deprovisioning: row.auto_deprovisioning,
        default_role: row.default_role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(provisioning: bool, deprovisioning: bool, role: &str) -> SettingsRow {
        SettingsRow {
            auto_provisioning: provisioning,
            auto_deprovisioning: deprovisioning,
            default_role: role.to_owned(),
        }
    }

    #[test]
    fn changes_name_only_what_changed_with_both_values() {
        let details = changes(&row(true, true, "member"), &row(true, false, "auditor"));
        assert_eq!(
            details,
            json!({
                "auto_deprovisioning": { "old": true, "new": false },
                "default_role": { "old": "member", "new": "auditor" },
            })
        );
        assert_eq!(
            changes(&row(true, true, "member"), &row(true, true, "member")),
            json!({})
        );
    }
}
