//! How settings look in the CLI: one line per setting saying what its value
//! means; the JSON is all the settings.

use std::io::{self, Write};

use serde::Serialize;

use super::{Show, Style};
use crate::api::rails::BreakerState;
use crate::api::settings::{Settings, Toggle};

/// Which setting a settings command is about: a toggle, or the default role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Toggle(Toggle),
    DefaultRole,
    /// The circuit breaker's thresholds and state.
    Breaker,
}

/// A settings command's answer: all the settings, of which the table shows
/// the one line about `setting`. Its JSON is the settings alone.
#[derive(Debug)]
pub struct SettingShown {
    pub settings: Settings,
    pub setting: Setting,
}

impl Serialize for SettingShown {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.settings.serialize(serializer)
    }
}

impl Show for SettingShown {
    fn write_table(&self, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        writeln!(out, "{}", setting_line(&self.settings, self.setting))?;
        // The breaker guards what the IdP pushes: `provisioning status`
        // shows it under the toggle.
        if self.setting == Setting::Toggle(Toggle::AutoProvisioning) {
            writeln!(out, "{}", setting_line(&self.settings, Setting::Breaker))?;
        }
        Ok(())
    }
}

/// `circuit breaker: closed — …`: its state and when it opens.
fn breaker_line(settings: &Settings) -> String {
    let state = match settings.breaker {
        BreakerState::Closed => "closed",
        BreakerState::Open => {
            "OPEN (SCIM deprovisionings are held: `scimctl provisioning breaker status`)"
        }
    };
    format!(
        "circuit breaker: {state} — opens when SCIM deprovisions more than {} users, or {}% of \
         active users if more, within {}",
        settings.breaker_threshold,
        settings.breaker_percent,
        window(settings.breaker_window_seconds)
    )
}

/// `600` → `10m`, `3600` → `1h`, `90` → `90s`: as `--window` takes it.
pub fn window(seconds: u32) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// `auto-deprovisioning: on — …`: the value and what it means for users.
pub fn setting_line(settings: &Settings, setting: Setting) -> String {
    let toggle = match setting {
        Setting::Toggle(toggle) => toggle,
        Setting::DefaultRole => {
            return format!(
                "default role: {} — given to every newly provisioned user",
                settings.default_role
            );
        }
        Setting::Breaker => return breaker_line(settings),
    };
    let on = settings.is_on(toggle);
    let meaning = match (toggle, on) {
        (Toggle::AutoProvisioning, true) => format!(
            "users the IdP pushes are created, with the default role ({})",
            settings.default_role
        ),
        (Toggle::AutoProvisioning, false) => {
            "the IdP cannot create users (it gets 403); updates to existing users still apply"
                .to_owned()
        }
        (Toggle::AutoDeprovisioning, true) => {
            "users deactivated by the IdP lose access at once".to_owned()
        }
        (Toggle::AutoDeprovisioning, false) => {
            "users deactivated by the IdP keep access until `scimctl users deprovision`".to_owned()
        }
    };
    let state = if on { "on" } else { "off" };
    format!("{}: {state} — {meaning}", toggle.label())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::render;
    use crate::output::{Format, Output};

    fn settings() -> Settings {
        Settings {
            auto_provisioning: false,
            auto_deprovisioning: true,
            default_role: "member".to_owned(),
            breaker_threshold: 25,
            breaker_percent: 10,
            breaker_window_seconds: 600,
            breaker: BreakerState::Closed,
        }
    }

    #[test]
    fn a_setting_is_one_line_and_json_is_all_settings() {
        let shown = || {
            Output::one(SettingShown {
                settings: settings(),
                setting: Setting::Toggle(Toggle::AutoProvisioning),
            })
        };
        assert_eq!(
            render(shown(), Format::Table),
            "auto-provisioning: off — the IdP cannot create users (it gets 403); updates to \
             existing users still apply\n\
             circuit breaker: closed — opens when SCIM deprovisions more than 25 users, or 10% \
             of active users if more, within 10m\n"
        );
        let json: Settings = serde_json::from_str(&render(shown(), Format::Json)).expect("json");
        assert_eq!(json, settings());
    }

    #[test]
    fn windows_read_as_they_are_typed() {
        assert_eq!(window(600), "10m");
        assert_eq!(window(7200), "2h");
        assert_eq!(window(90), "90s");
    }
}
