//! How mappings look in the CLI: `mappings list|add|remove`, and
//! `users why`.

use std::io::{self, Write};

use serde::Serialize;

use super::{Column, Show, Style, or_dash, timestamp, write_list, write_vertical};
use crate::api::mappings::{
    GrantSource, Mapping, MappingChange, MappingSource, MembershipVia, WhyReport,
};

/// `group eng` or `SCIM role "Admin"`.
pub fn source_text(source: &MappingSource) -> String {
    match source {
        MappingSource::Group { group } => format!("group {}", group.display_name),
        MappingSource::ScimRole { value } => format!("SCIM role {value:?}"),
    }
}

impl Show for Mapping {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ID"),
        Column::free("SOURCE"),
        Column::whole("ROLE"),
        Column::whole("CREATED"),
        Column::free("CREATED BY"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            source_text(&self.source),
            self.role.clone(),
            timestamp(self.created_at),
            self.created_by.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_vertical(
            out,
            vec![
                ("ID", self.id.clone()),
                ("Source", source_text(&self.source)),
                ("Role", self.role.clone()),
                ("Created", timestamp(self.created_at)),
                ("Created by", self.created_by.clone()),
            ],
            style,
        )
    }
}

/// A line of a mapping change's table.
#[derive(Serialize)]
struct ChangeLine {
    user: String,
    role: String,
    change: &'static str,
}

impl Show for ChangeLine {
    const COLUMNS: &'static [Column] = &[
        Column::free("USER"),
        Column::whole("ROLE"),
        Column::whole("CHANGE"),
    ];

    fn row(&self) -> Vec<String> {
        vec![self.user.clone(), self.role.clone(), self.change.to_owned()]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

/// Who gains and who loses a role, a line each, by userName; nothing when
/// nobody does (the summary on stderr says so).
impl Show for MappingChange {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let mut lines: Vec<ChangeLine> = self
            .gained
            .iter()
            .map(|change| (change, "gains"))
            .chain(self.lost.iter().map(|change| (change, "loses")))
            .map(|(change, verb)| ChangeLine {
                user: change.user.user_name.clone(),
                role: change.role.clone(),
                change: verb,
            })
            .collect();
        lines.sort_by(|a, b| a.user.cmp(&b.user).then(a.role.cmp(&b.role)));
        write_list(&lines, out, style)
    }
}

/// The sentence summing a mapping change up, for stderr.
pub fn change_summary(change: &MappingChange, removing: bool) -> String {
    let mapping = &change.mapping;
    let what = format!("{} → role {}", source_text(&mapping.source), mapping.role);
    let users = |count: usize| match count {
        1 => "1 user".to_owned(),
        n => format!("{n} users"),
    };
    let (gained, lost) = (users(change.gained.len()), users(change.lost.len()));
    match (change.dry_run, removing) {
        (true, false) => format!(
            "Dry run: mapping {what} would give {gained} a role they do not hold. Nothing was changed."
        ),
        (true, true) => format!(
            "Dry run: removing mapping {} ({what}) would take a role from {lost}. Nothing was changed.",
            mapping.id
        ),
        (false, false) => format!(
            "Added mapping {} ({what}): {gained} gained a role.",
            mapping.id
        ),
        (false, true) => format!(
            "Removed mapping {} ({what}): {lost} lost a role.",
            mapping.id
        ),
    }
}

/// A line of `users why`'s roles table.
#[derive(Serialize)]
struct RoleLine {
    role: String,
    source: String,
    since: String,
}

impl Show for RoleLine {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ROLE"),
        Column::free("SOURCE"),
        Column::whole("SINCE"),
    ];

    fn row(&self) -> Vec<String> {
        vec![self.role.clone(), self.source.clone(), self.since.clone()]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

/// A line of `users why`'s groups table.
#[derive(Serialize)]
struct GroupLine {
    group: String,
    via: &'static str,
    added: String,
    by: String,
}

impl Show for GroupLine {
    const COLUMNS: &'static [Column] = &[
        Column::free("GROUP"),
        Column::whole("VIA"),
        Column::whole("ADDED"),
        Column::free("BY"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.group.clone(),
            self.via.to_owned(),
            self.added.clone(),
            self.by.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

/// Where a role comes from, in words.
pub(super) fn grant_text(source: &GrantSource) -> String {
    match source {
        GrantSource::Default { .. } => "default role".to_owned(),
        GrantSource::Mapping {
            mapping_id,
            source: Some(source),
            ..
        } => format!("mapping {mapping_id} from {}", source_text(source)),
        GrantSource::Mapping { mapping_id, .. } => {
            format!("mapping {mapping_id} (removed; kept for the last admin)")
        }
        GrantSource::Manual {
            granted_by: Some(name),
            key_id: Some(id),
            ..
        } => format!("assigned by key {name} ({id})"),
        GrantSource::Manual {
            granted_by: Some(name),
            ..
        } => format!("assigned by {name}"),
        GrantSource::Manual { .. } => "assigned by hand".to_owned(),
    }
}

fn grant_since(source: &GrantSource) -> String {
    match source {
        GrantSource::Default { granted_at }
        | GrantSource::Mapping { granted_at, .. }
        | GrantSource::Manual { granted_at, .. } => timestamp(*granted_at),
    }
}

/// Each role with a line per source, then each group with how it came.
impl Show for WhyReport {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let roles: Vec<RoleLine> = self
            .roles
            .iter()
            .flat_map(|role| {
                role.sources.iter().map(|source| RoleLine {
                    role: role.role.clone(),
                    source: grant_text(source),
                    since: grant_since(source),
                })
            })
            .collect();
        if roles.is_empty() {
            writeln!(out, "{} holds no role.", self.user.user_name)?;
        } else {
            write_list(&roles, out, style)?;
        }
        writeln!(out)?;
        let groups: Vec<GroupLine> = self
            .groups
            .iter()
            .map(|membership| GroupLine {
                group: membership.group.display_name.clone(),
                via: match membership.via {
                    MembershipVia::Scim => "scim",
                    MembershipVia::Manual => "manual",
                },
                added: membership
                    .added_at
                    .map_or_else(|| "-".to_owned(), timestamp),
                by: or_dash(membership.added_by.as_deref()),
            })
            .collect();
        if groups.is_empty() {
            writeln!(out, "{} is in no group.", self.user.user_name)
        } else {
            write_list(&groups, out, style)
        }
    }
}
