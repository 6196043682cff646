//! Service settings: `/admin/v1/settings`, and the toggles among them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rails::BreakerState;

/// `GET /admin/v1/settings`: how the service treats what the IdP pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// Whether an IdP may create new users (`POST /Users`). Off: new users
    /// are refused with 403; updates to existing users still apply.
    pub auto_provisioning: bool,
    /// Whether a user the IdP deactivates or deletes loses access at once.
    /// Off: the user is flagged pending until an operator deprovisions them.
    pub auto_deprovisioning: bool,
    /// The role every newly provisioned user gets.
    pub default_role: String,
    /// The circuit breaker opens when SCIM deprovisions more users than
    /// this in one window (or more than `breaker_percent`, if larger).
    pub breaker_threshold: u32,
    /// The breaker's share of active users, 1 to 100 (percent).
    pub breaker_percent: u32,
    /// The breaker's sliding window, in seconds.
    pub breaker_window_seconds: u32,
    /// Read-only: whether the breaker is open now (`GET
    /// /admin/v1/provisioning/breaker` shows the held users).
    pub breaker: BreakerState,
}

/// `PATCH /admin/v1/settings`: only the fields given change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettingsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_provisioning: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_deprovisioning: Option<bool>,
    /// The name of an existing role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_role: Option<String>,
    /// At least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_threshold: Option<u32>,
    /// 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_percent: Option<u32>,
    /// 60 (a minute) to 86400 (a day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker_window_seconds: Option<u32>,
}

/// One of the two on/off settings: the one name the CLI's `provisioning` and
/// `deprovisioning` commands, the settings API's fields and the CLI's output
/// all use for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toggle {
    /// `auto_provisioning`: whether an IdP may create new users.
    AutoProvisioning,
    /// `auto_deprovisioning`: whether a deactivated user loses access at once.
    AutoDeprovisioning,
}

impl Toggle {
    pub const ALL: [Toggle; 2] = [Toggle::AutoProvisioning, Toggle::AutoDeprovisioning];

    /// Its field in [`Settings`] and [`UpdateSettingsRequest`].
    pub fn field(self) -> &'static str {
        match self {
            Toggle::AutoProvisioning => "auto_provisioning",
            Toggle::AutoDeprovisioning => "auto_deprovisioning",
        }
    }

    /// Its name for people: `auto-provisioning`.
    pub fn label(self) -> &'static str {
        match self {
            Toggle::AutoProvisioning => "auto-provisioning",
            Toggle::AutoDeprovisioning => "auto-deprovisioning",
        }
    }
}

impl Settings {
    /// Whether `toggle` is on.
    pub fn is_on(&self, toggle: Toggle) -> bool {
        match toggle {
            Toggle::AutoProvisioning => self.auto_provisioning,
            Toggle::AutoDeprovisioning => self.auto_deprovisioning,
        }
    }
}

impl UpdateSettingsRequest {
    /// A request that turns `toggle` on or off and changes nothing else.
    pub fn turn(toggle: Toggle, on: bool) -> Self {
        let mut request = Self::default();
        match toggle {
            Toggle::AutoProvisioning => request.auto_provisioning = Some(on),
            Toggle::AutoDeprovisioning => request.auto_deprovisioning = Some(on),
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toggle_is_its_settings_field() {
        for toggle in Toggle::ALL {
            for on in [true, false] {
                let request = serde_json::to_value(UpdateSettingsRequest::turn(toggle, on))
                    .expect("serialize");
                assert_eq!(request, serde_json::json!({ toggle.field(): on }));
                let mut settings = serde_json::json!({
                    "auto_provisioning": !on,
                    "auto_deprovisioning": !on,
                    "default_role": "member",
                    "breaker_threshold": 25,
                    "breaker_percent": 10,
                    "breaker_window_seconds": 600,
                    "breaker": "closed",
                });
                settings[toggle.field()] = on.into();
                let settings: Settings = serde_json::from_value(settings).expect("settings");
                assert_eq!(settings.is_on(toggle), on);
            }
        }
    }
}
