//! How roles look in the CLI: `roles list|create|delete`.

use std::io::{self, Write};

use super::{Column, Show, Style, scopes, scopes_in_list, write_vertical, yes_no};
use crate::api::roles::Role;

impl Show for Role {
    const COLUMNS: &'static [Column] = &[
        Column::whole("NAME"),
        Column::whole("BUILT-IN"),
        Column::whole("DEFAULT"),
        Column::whole("USERS"),
        Column::free("PERMISSIONS"),
    ];

    fn row(&self) -> Vec<String> {
        let permissions = if self.permissions.is_empty() {
            "-".to_owned()
        } else {
            scopes_in_list(&self.permissions)
        };
        vec![
            self.name.clone(),
            yes_no(self.builtin),
            yes_no(self.default),
            self.user_count.to_string(),
            permissions,
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let permissions = if self.permissions.is_empty() {
            "none".to_owned()
        } else {
            scopes(&self.permissions)
        };
        write_vertical(
            out,
            vec![
                ("Name", self.name.clone()),
                ("Permissions", permissions),
                ("Built-in", yes_no(self.builtin)),
                ("Default", yes_no(self.default)),
                ("Users", self.user_count.to_string()),
            ],
            style,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::scope::Scope;
    use crate::output::tests::render;
    use crate::output::{Format, Output};

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
    fn roles_as_a_table() {
        let roles = vec![
            role("admin", Scope::ALL.to_vec(), 1),
            role("help-desk", vec![Scope::UsersRead, Scope::AuditRead], 12),
            role("member", vec![], 3),
        ];
        let text = render(Output::list(roles), Format::Table);
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
        let text = render(Output::one(role("member", vec![], 0)), Format::Table);
        assert!(text.starts_with("Name         member\n"), "{text}");
        assert!(text.contains("Permissions  none\n"), "{text}");
    }
}
