//! How the IP allowlist looks in the CLI: the list, the result of a change
//! (the list after it), and the answer of `allowlist check`.

use std::io::{self, Write};

use comfy_table::Table;

use super::{
    Format, Style, header_cell, json, keep_whole, new_table, or_dash, pad_columns, table,
    timestamp, vertical,
};
use crate::api::allowlist::{AllowlistChange, AllowlistCheck, AllowlistEntry};

/// What an allowlist command shows.
#[derive(Debug)]
pub enum Shown {
    /// JSON: an array of entries.
    List(Vec<AllowlistEntry>),
    /// Table: the list after the change; JSON: the whole change (what was
    /// added, removed, the notes, the list).
    Change(AllowlistChange),
    Check(AllowlistCheck),
}

pub fn write(out: &mut dyn Write, shown: &Shown, format: Format, style: Style) -> io::Result<()> {
    match (shown, format) {
        (Shown::List(entries), Format::Json) => json(out, entries),
        (Shown::Change(change), Format::Json) => json(out, change),
        (Shown::Check(check), Format::Json) => json(out, check),
        // An empty list has no rows to show; the command's note says what
        // that means.
        (Shown::List(entries), Format::Table) if entries.is_empty() => Ok(()),
        (Shown::List(entries), Format::Table) => table(out, list_table(entries, style)),
        (Shown::Change(change), Format::Table) if change.entries.is_empty() => Ok(()),
        (Shown::Change(change), Format::Table) => table(out, list_table(&change.entries, style)),
        (Shown::Check(check), Format::Table) => table(out, check_table(check, style)),
    }
}

pub fn list_table(entries: &[AllowlistEntry], style: Style) -> Table {
    let mut table = new_table(style);
    table.set_header(
        ["CIDR", "NOTE", "ADDED", "ADDED BY"]
            .into_iter()
            .map(|h| header_cell(h, style)),
    );
    for entry in entries {
        table.add_row(vec![
            entry.cidr.to_string(),
            or_dash(entry.note.as_deref()),
            timestamp(entry.created_at),
            entry.created_by.clone(),
        ]);
    }
    pad_columns(&mut table);
    keep_whole(&mut table, &[0, 2]);
    table
}

pub fn check_table(check: &AllowlistCheck, style: Style) -> Table {
    let matched = match &check.matched {
        Some(entry) => match &entry.note {
            Some(note) => format!("{} ({note})", entry.cidr),
            None => entry.cidr.to_string(),
        },
        None if check.allowlist_empty => {
            "- (the allowlist is empty: every address is allowed)".to_owned()
        }
        None => "- (no entry contains it)".to_owned(),
    };
    vertical(
        vec![
            ("IP", check.ip.to_string()),
            (
                "Allowed",
                if check.allowed { "yes" } else { "no" }.to_owned(),
            ),
            ("Matched", matched),
        ],
        style,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(cidr: &str, note: Option<&str>) -> AllowlistEntry {
        AllowlistEntry {
            cidr: cidr.parse().expect("test CIDR"),
            note: note.map(str::to_owned),
            created_at: datetime!(2026-01-02 03:04:05.678 UTC),
            created_by: "root".to_owned(),
        }
    }

    fn render(shown: &Shown, format: Format) -> String {
        let mut out = Vec::new();
        write(&mut out, shown, format, Style::plain()).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn the_list_as_a_table_and_as_json() {
        let entries = vec![
            entry("10.0.0.0/8", Some("office VPN")),
            entry("2001:db8::/32", None),
        ];
        let text = render(&Shown::List(entries.clone()), Format::Table);
        let expected = "\
CIDR           NOTE        ADDED                 ADDED BY
10.0.0.0/8     office VPN  2026-01-02T03:04:05Z  root
2001:db8::/32  -           2026-01-02T03:04:05Z  root
";
        assert_eq!(text, expected, "\n{text}");
        let parsed: Vec<AllowlistEntry> =
            serde_json::from_str(&render(&Shown::List(entries.clone()), Format::Json))
                .expect("array of entries");
        assert_eq!(parsed, entries);
        assert_eq!(render(&Shown::List(Vec::new()), Format::Table), "");
        assert_eq!(render(&Shown::List(Vec::new()), Format::Json), "[]\n");
    }

    #[test]
    fn a_check_says_which_entry_matched() {
        let check = AllowlistCheck {
            ip: "10.1.2.3".parse().expect("ip"),
            allowed: true,
            matched: Some(entry("10.0.0.0/8", Some("office"))),
            allowlist_empty: false,
        };
        let text = render(&Shown::Check(check), Format::Table);
        assert!(text.contains("Allowed  yes"), "{text}");
        assert!(text.contains("Matched  10.0.0.0/8 (office)"), "{text}");
        let refused = AllowlistCheck {
            ip: "192.0.2.1".parse().expect("ip"),
            allowed: false,
            matched: None,
            allowlist_empty: false,
        };
        let text = render(&Shown::Check(refused), Format::Table);
        assert!(text.contains("Allowed  no"), "{text}");
    }
}
