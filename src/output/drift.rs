//! How `drift` looks in the CLI: a row per difference between an IdP's
//! export and the directory, and the counts line on stderr. The JSON is a
//! list of [`Difference`]s, documented in `docs/troubleshooting.md`.

use std::io::{self, Write};

use serde::Serialize;

use super::{Column, Show, Style, or_dash, write_vertical};

/// What differs for one user (or one of their groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// Active here, and the export does not have the user at all.
    NotInIdp,
    /// Active here, inactive (suspended, deactivated, disabled) in the IdP.
    InactiveInIdp,
    /// Active in the IdP, and no such user here.
    MissingHere,
    /// Active in the IdP, inactive here.
    InactiveHere,
    /// The IdP has the user in a group they are not in here.
    GroupMissingHere,
    /// The user is in a group here the IdP does not have them in.
    GroupOnlyHere,
}

impl DriftKind {
    pub const ALL: [DriftKind; 6] = [
        DriftKind::NotInIdp,
        DriftKind::InactiveInIdp,
        DriftKind::MissingHere,
        DriftKind::InactiveHere,
        DriftKind::GroupMissingHere,
        DriftKind::GroupOnlyHere,
    ];

    /// Its name, the same in the table and the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::NotInIdp => "not_in_idp",
            DriftKind::InactiveInIdp => "inactive_in_idp",
            DriftKind::MissingHere => "missing_here",
            DriftKind::InactiveHere => "inactive_here",
            DriftKind::GroupMissingHere => "group_missing_here",
            DriftKind::GroupOnlyHere => "group_only_here",
        }
    }
}

/// One difference: `drift -o json` prints a list of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The userName as the directory has it, or as the export spells it
    /// when the directory does not have the user.
    pub user_name: String,
    pub kind: DriftKind,
    /// The group's display name, for the two group kinds; `null` otherwise.
    pub group: Option<String>,
    /// The export's line the user is on; `null` when it lacks the user.
    pub line: Option<u64>,
    /// What differs and what usually fixes it, in words.
    pub detail: String,
}

impl Show for Difference {
    const COLUMNS: &'static [Column] = &[
        Column::free("USER"),
        Column::whole("KIND"),
        Column::free("DETAIL"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.user_name.clone(),
            self.kind.as_str().to_owned(),
            self.detail.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_vertical(
            out,
            vec![
                ("User", self.user_name.clone()),
                ("Kind", self.kind.as_str().to_owned()),
                ("Group", or_dash(self.group.as_deref())),
                ("Detail", self.detail.clone()),
            ],
            style,
        )
    }
}

/// How many users each side had, and how many differences of each kind:
/// the line `drift` prints on stderr after the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriftCounts {
    pub in_export: u64,
    pub here: u64,
    /// Per kind, in [`DriftKind::ALL`]'s order.
    pub by_kind: [u64; 6],
}

impl DriftCounts {
    pub fn add(&mut self, kind: DriftKind) {
        if let Some(index) = DriftKind::ALL.iter().position(|k| *k == kind) {
            self.by_kind[index] += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.by_kind.iter().sum()
    }

    /// `drift: 3 differences (not_in_idp 1, missing_here 2); 10 users in
    /// the export, 9 here`, or `no drift: …`.
    pub fn line(&self) -> String {
        let sizes = format!("{} users in the export, {} here", self.in_export, self.here);
        if self.total() == 0 {
            return format!("no drift: {sizes}");
        }
        let kinds: Vec<String> = DriftKind::ALL
            .iter()
            .zip(self.by_kind)
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| format!("{} {count}", kind.as_str()))
            .collect();
        let total = self.total();
        let noun = if total == 1 {
            "difference"
        } else {
            "differences"
        };
        format!("drift: {total} {noun} ({}); {sizes}", kinds.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::render;
    use crate::output::{Format, Output};

    fn difference() -> Difference {
        Difference {
            user_name: "alice".to_owned(),
            kind: DriftKind::GroupMissingHere,
            group: Some("eng".to_owned()),
            line: Some(2),
            detail: "in eng in the IdP, not here".to_owned(),
        }
    }

    #[test]
    fn a_row_per_difference_and_json_with_every_field() {
        let table = render(Output::list(vec![difference()]), Format::Table);
        assert!(table.starts_with("USER"), "{table}");
        assert!(
            table.contains("alice  group_missing_here  in eng in the IdP, not here"),
            "{table}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Output::list(vec![difference()]), Format::Json))
                .expect("json");
        assert_eq!(
            json,
            serde_json::json!([{
                "user_name": "alice",
                "kind": "group_missing_here",
                "group": "eng",
                "line": 2,
                "detail": "in eng in the IdP, not here",
            }])
        );
    }

    #[test]
    fn the_counts_line_names_each_kind_seen() {
        let mut counts = DriftCounts {
            in_export: 3,
            here: 2,
            ..DriftCounts::default()
        };
        assert_eq!(counts.line(), "no drift: 3 users in the export, 2 here");
        counts.add(DriftKind::MissingHere);
        counts.add(DriftKind::MissingHere);
        counts.add(DriftKind::NotInIdp);
        assert_eq!(
            counts.line(),
            "drift: 3 differences (not_in_idp 1, missing_here 2); 3 users in the export, 2 here"
        );
    }
}
