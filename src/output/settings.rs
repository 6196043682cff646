//! How settings look in the CLI: one line per setting saying what its value
//! means; the JSON is all the settings.

use std::io::{self, Write};

use serde::Serialize;

use super::{Show, Style};
use crate::api::settings::{Settings, Toggle};

/// Which setting a settings command is about: a toggle, or the default role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Toggle(Toggle),
    DefaultRole,
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
        writeln!(out, "{}", setting_line(&self.settings, self.setting))
    }
}

/// `auto-deprovisioning: on — …`: the value and what it means for users.
pub fn setting_line(settings: &Settings, setting: Setting) -> String {
    let Setting::Toggle(toggle) = setting else {
        return format!(
            "default role: {} — given to every newly provisioned user",
            settings.default_role
        );
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
             existing users still apply\n"
        );
        let json: Settings = serde_json::from_str(&render(shown(), Format::Json)).expect("json");
        assert_eq!(json, settings());
    }
}
