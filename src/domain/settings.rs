//! The service settings (`auto_provisioning`, `auto_deprovisioning`,
//! `default_role`): reading them, and changing them with an audit entry
//! that records each changed value before and after.

use serde_json::{Map, Value, json};

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::{Result, ceiling, rails, roles};
use crate::api::rails::BreakerState;
use crate::api::settings::{Settings, UpdateSettingsRequest};
use crate::store::rails::{self as rail_rows, BreakerRow};
use crate::store::settings::{self as settings_rows, SettingsRow};
use crate::store::{Store, StoreError};

/// The settings as every replica sees them now. Code already inside a
/// transaction (user creation) reads `store::settings::get` on it instead.
pub async fn get(store: &Store) -> Result<Settings> {
    let mut conn = store.conn().await?;
    let row = settings_rows::get(&mut conn).await?;
    let breaker = rail_rows::breaker(&mut conn).await?;
    Ok(to_api(row, &breaker))
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
    // The breaker's row next (after the settings, never before: a SCIM
    // deprovisioning locks only the breaker), so its thresholds change
    // between two SCIM decisions, never during one.
    rail_rows::lock_breaker(&mut tx).await?;
    let old_breaker = rail_rows::breaker(&mut tx).await?;
    let new_breaker = rails::thresholds(
        &old_breaker,
        request.breaker_threshold,
        request.breaker_percent,
        request.breaker_window_seconds,
    )?;
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
    if new == old && new_breaker == old_breaker {
        return Ok(to_api(old, &old_breaker));
    }
    settings_rows::update(&mut tx, &new).await?;
    rail_rows::set_thresholds(&mut tx, &new_breaker).await?;
    let mut details = changes(&old, &new);
    breaker_changes(&mut details, &old_breaker, &new_breaker);
    audit::record(
        &mut tx,
        actor,
        "settings.update",
        Some("settings"),
        Outcome::Success,
        details,
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(to_api(new, &new_breaker))
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

/// Adds the breaker's changed thresholds to `details`, as [`changes`] does.
fn breaker_changes(details: &mut Value, old: &BreakerRow, new: &BreakerRow) {
    let Some(details) = details.as_object_mut() else {
        return;
    };
    for (field, before, after) in [
        ("breaker_threshold", old.threshold, new.threshold),
        ("breaker_percent", old.percent, new.percent),
        (
            "breaker_window_seconds",
            old.window_seconds,
            new.window_seconds,
        ),
    ] {
        if before != after {
            details.insert(field.to_owned(), json!({ "old": before, "new": after }));
        }
    }
}

fn to_api(row: SettingsRow, breaker: &BreakerRow) -> Settings {
    let number = |value: i64| u32::try_from(value).unwrap_or(u32::MAX);
    Settings {
        auto_provisioning: row.auto_provisioning,
        auto_deprovisioning: row.auto_deprovisioning,
        default_role: row.default_role,
        breaker_threshold: number(breaker.threshold),
        breaker_percent: number(breaker.percent),
        breaker_window_seconds: number(breaker.window_seconds),
        breaker: match breaker.opened_at {
            Some(_) => BreakerState::Open,
            None => BreakerState::Closed,
        },
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
