//! How settings and roles look in the CLI: one line per setting saying what
//! its value means, and role tables.

use std::io::{self, Write};

use comfy_table::Table;

use super::{
    Format, Style, header_cell, json, keep_whole, new_table, pad_columns, scopes, scopes_in_list,
    table, vertical,
};
use crate::api::settings::{Role, Settings, Toggle};

/// Which setting a settings command is about: a toggle, or the default role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Toggle(Toggle),
    DefaultRole,
}

/// What a settings or roles command shows.
#[derive(Debug)]
pub enum Shown {
    /// Table: one line about `setting`; JSON: all the settings.
    Setting {
        settings: Settings,
        setting: Setting,
    },
    Role(Role),
    /// JSON: an array of roles.
    Roles(Vec<Role>),
}

pub fn write(out: &mut dyn Write, shown: &Shown, format: Format, style: Style) -> io::Result<()> {
    match (shown, format) {
        (Shown::Setting { settings, .. }, Format::Json) => json(out, settings),
        (Shown::Setting { settings, setting }, Format::Table) => {
            writeln!(out, "{}", setting_line(settings, *setting))
        }
        (Shown::Role(role), Format::Json) => json(out, role),
        (Shown::Role(role), Format::Table) => table(out, role_table(role, style)),
        (Shown::Roles(roles), Format::Json) => json(out, roles),
        (Shown::Roles(roles), Format::Table) => table(out, role_list_table(roles, style)),
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

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

pub fn role_list_table(roles: &[Role], style: Style) -> Table {
    let mut table = new_table(style);
    table.set_header(
        ["NAME", "BUILT-IN", "DEFAULT", "USERS", "PERMISSIONS"].map(|h| header_cell(h, style)),
    );
    for role in roles {
        let permissions = if role.permissions.is_empty() {
            "-".to_owned()
        } else {
            scopes_in_list(&role.permissions)
        };
        table.add_row(vec![
            role.name.clone(),
            yes_no(role.builtin),
            yes_no(role.default),
            role.user_count.to_string(),
            permissions,
        ]);
    }
    pad_columns(&mut table);
    keep_whole(&mut table, &[0, 1, 2, 3]);
    table
}

pub fn role_table(role: &Role, style: Style) -> Table {
    let permissions = if role.permissions.is_empty() {
        "none".to_owned()
    } else {
        scopes(&role.permissions)
    };
    vertical(
        vec![
            ("Name", role.name.clone()),
            ("Permissions", permissions),
            ("Built-in", yes_no(role.builtin)),
            ("Default", yes_no(role.default)),
            ("Users", role.user_count.to_string()),
        ],
        style,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::scope::Scope;

    fn render(shown: &Shown, format: Format) -> String {
        let mut out = Vec::new();
        write(&mut out, shown, format, Style::plain()).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    fn settings() -> Settings {
        Settings {
            auto_provisioning: false,
            auto_deprovisioning: true,
            default_role: "member".to_owned(),
        }
    }

    fn role(name: &str, permissions: Vec<Scope>, users: u64) -> Role {
        Role {
            name: name.to_owned(),
            permissions,
            builtin: name == "admin" || name == "member",
            default: name == "member",
            user_count: users,
        }
    }

    #[test]
    fn a_setting_is_one_line_and_json_is_all_settings() {
        let shown = Shown::Setting {
            settings: settings(),
            setting: Setting::Toggle(Toggle::AutoProvisioning),
        };
        assert_eq!(
            render(&shown, Format::Table),
            "auto-provisioning: off — the IdP cannot create users (it gets 403); updates to \
             existing users still apply\n"
        );
        let json: Settings = serde_json::from_str(&render(&shown, Format::Json)).expect("json");
        assert_eq!(json, settings());
    }

    #[test]
    fn roles_as_a_table() {
        let roles = vec![
            role("admin", Scope::ALL.to_vec(), 1),
            role("help-desk", vec![Scope::UsersRead, Scope::AuditRead], 12),
            role("member", vec![], 3),
        ];
        let text = render(&Shown::Roles(roles), Format::Table);
        let expected = "\
NAME       BUILT-IN  DEFAULT  USERS  PERMISSIONS
admin      yes       no       1      all
help-desk  no        no       12     users:read, audit:read
member     yes       yes      3      -
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn one_role_vertically() {
        let text = render(&Shown::Role(role("member", vec![], 0)), Format::Table);
        assert!(text.starts_with("Name         member\n"), "{text}");
        assert!(text.contains("Permissions  none\n"), "{text}");
    }
}
