//! How the IP allowlist looks in the CLI: the list, the result of a change
//! (the list after it), and the answer of `allowlist check`.

use std::io::{self, Write};

use super::{Column, Show, Style, or_dash, timestamp, write_vertical};
use crate::api::allowlist::{AllowlistChange, AllowlistCheck, AllowlistEntry};

impl Show for AllowlistEntry {
    const COLUMNS: &'static [Column] = &[
        Column::whole("CIDR"),
        Column::free("NOTE"),
        Column::whole("ADDED"),
        Column::free("ADDED BY"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.cidr.to_string(),
            or_dash(self.note.as_deref()),
            timestamp(self.created_at),
            self.created_by.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        super::write_list(std::slice::from_ref(self), out, style)
    }
}

/// Table: the list after the change (nothing when it is empty: the
/// command's note says what that means); JSON: the whole change, with what
/// was added and removed and the notes.
impl Show for AllowlistChange {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        super::write_list(&self.entries, out, style)
    }
}

impl Show for AllowlistCheck {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let matched = match &self.matched {
            Some(entry) => match &entry.note {
                Some(note) => format!("{} ({note})", entry.cidr),
                None => entry.cidr.to_string(),
            },
            None if self.allowlist_empty => {
                "- (the allowlist is empty: every address is allowed)".to_owned()
            }
            None => "- (no entry contains it)".to_owned(),
        };
        write_vertical(
            out,
            vec![
                ("IP", self.ip.to_string()),
                (
                    "Allowed",
                    if self.allowed { "yes" } else { "no" }.to_owned(),
                ),
                ("Matched", matched),
            ],
            style,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::render;
    use crate::output::{Format, Output};
    use time::macros::datetime;

    fn entry(cidr: &str, note: Option<&str>) -> AllowlistEntry {
        AllowlistEntry {
            cidr: cidr.parse().expect("test CIDR"),
            note: note.map(str::to_owned),
            created_at: datetime!(2026-01-02 03:04:05.678 UTC),
            created_by: "root".to_owned(),
        }
    }

    #[test]
    fn the_list_as_a_table_and_as_json() {
        let entries = vec![
            entry("10.0.0.0/8", Some("office VPN")),
            entry("2001:db8::/32", None),
        ];
        let text = render(Output::list(entries.clone()), Format::Table);
        let expected = "\
CIDR           NOTE        ADDED                 ADDED BY
10.0.0.0/8     office VPN  2026-01-02T03:04:05Z  root
2001:db8::/32  -           2026-01-02T03:04:05Z  root
";
        assert_eq!(text, expected, "\n{text}");
        let parsed: Vec<AllowlistEntry> =
            serde_json::from_str(&render(Output::list(entries.clone()), Format::Json))
                .expect("array of entries");
        assert_eq!(parsed, entries);
        assert_eq!(
            render(Output::list(Vec::<AllowlistEntry>::new()), Format::Table),
            ""
        );
        assert_eq!(
            render(Output::list(Vec::<AllowlistEntry>::new()), Format::Json),
            "[]\n"
        );
    }

    #[test]
    fn a_check_says_which_entry_matched() {
        let check = AllowlistCheck {
            ip: "10.1.2.3".parse().expect("ip"),
            allowed: true,
            matched: Some(entry("10.0.0.0/8", Some("office"))),
            allowlist_empty: false,
        };
        let text = render(Output::one(check), Format::Table);
        assert!(text.contains("Allowed  yes"), "{text}");
        assert!(text.contains("Matched  10.0.0.0/8 (office)"), "{text}");
        let refused = AllowlistCheck {
            ip: "192.0.2.1".parse().expect("ip"),
            allowed: false,
            matched: None,
            allowlist_empty: false,
        };
        let text = render(Output::one(refused), Format::Table);
        assert!(text.contains("Allowed  no"), "{text}");
    }
}
