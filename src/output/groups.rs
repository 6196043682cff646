//! How groups look in the CLI: `groups list|show`.

use std::io::{self, Write};

use comfy_table::Table;

use super::{Column, Show, Style, or_dash, table, timestamp, user_ref, vertical};
use crate::api::groups::Group;

impl Show for Group {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ID"),
        Column::free("DISPLAY NAME"),
        Column::whole("MEMBERS"),
        Column::free("EXTERNAL ID"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.display_name.clone(),
            self.member_count.to_string(),
            or_dash(self.external_id.as_deref()),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, group_table(self, style))
    }
}

fn group_table(group: &Group, style: Style) -> Table {
    let members = if group.members.is_empty() {
        "none".to_owned()
    } else {
        // One per line: a member list is read down, and copied line by line.
        group
            .members
            .iter()
            .map(user_ref)
            .collect::<Vec<_>>()
            .join("\n")
    };
    vertical(
        vec![
            ("ID", group.id.clone()),
            ("Display name", group.display_name.clone()),
            ("External ID", or_dash(group.external_id.as_deref())),
            ("Member count", group.member_count.to_string()),
            ("Members", members),
            ("Created", timestamp(group.created_at)),
            ("Updated", timestamp(group.updated_at)),
        ],
        style,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::users::UserRef;
    use crate::output::tests::{alice, render};
    use crate::output::{Format, Output};
    use time::macros::datetime;

    #[test]
    fn a_group_lists_its_members_one_per_line() {
        let group = Group {
            id: "t-1".to_owned(),
            display_name: "eng".to_owned(),
            external_id: None,
            member_count: 2,
            members: vec![
                alice(),
                UserRef {
                    id: "u-2".to_owned(),
                    user_name: "bob".to_owned(),
                },
            ],
            created_at: datetime!(2026-01-01 00:00:00 UTC),
            updated_at: datetime!(2026-01-01 00:00:00 UTC),
        };
        let text = render(Output::one(group), Format::Table);
        assert!(
            text.contains("Members       alice\n              bob\n"),
            "{text}"
        );
    }
}
