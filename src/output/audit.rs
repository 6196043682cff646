//! How the audit log looks in the CLI: one table row per entry with its
//! details shortened; the JSON is the API's entry (an array, or for
//! `audit list --follow` one object per line: `stream::ListWriter::follow`).

use std::io::{self, Write};

use serde_json::Value;

use super::{Column, Show, Style, or_dash, timestamp};
use crate::api::audit::AuditEntry;

/// The most characters of details a table row shows; `-o json` has them all.
const DETAILS_WIDTH: usize = 60;

impl Show for AuditEntry {
    const COLUMNS: &'static [Column] = &[
        Column::whole("TIME"),
        Column::free("ACTOR"),
        Column::whole("IP"),
        Column::whole("ACTION"),
        Column::free("TARGET"),
        Column::whole("OUTCOME"),
        Column::free("DETAILS"),
    ];

    /// An entry on its own is a one-row list: there is no `audit show`.
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        super::write_list(std::slice::from_ref(self), out, style)
    }

    fn row(&self) -> Vec<String> {
        vec![
            timestamp(self.time),
            self.actor.name.clone(),
            or_dash(self.source_ip.as_deref()),
            self.action.clone(),
            or_dash(self.target.as_deref()),
            self.outcome.clone(),
            short_details(&self.details),
        ]
    }

    fn csv_row(&self) -> Vec<String> {
        let mut row = self.row();
        if let Some(details) = row.last_mut() {
            *details = full_details(&self.details);
        }
        row
    }
}

/// The details as compact JSON, whole: what CSV has where the table
/// shortens them.
fn full_details(details: &Value) -> String {
    match details {
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// `name="ci deploy" scopes=["users:read"]`: the details' fields on one
/// line, empty ones left out, cut to [`DETAILS_WIDTH`] characters.
pub fn short_details(details: &Value) -> String {
    let text = match details {
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| format!("{name}={}", short_value(value)))
            .collect::<Vec<_>>()
            .join(" "),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.is_empty() {
        return "-".to_owned();
    }
    if text.chars().count() <= DETAILS_WIDTH {
        text
    } else {
        let mut cut: String = text.chars().take(DETAILS_WIDTH - 1).collect();
        cut.push('…');
        cut
    }
}

/// A string that reads unambiguously without quotes is shown without them.
fn short_value(value: &Value) -> String {
    match value {
        Value::String(text)
            if !text.is_empty()
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '"' | '=' | '\\')) =>
        {
            text.clone()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::audit::AuditActor;
    use crate::output::Format;
    use crate::output::stream::ListWriter;
    use serde_json::json;
    use time::macros::datetime;

    fn entry(id: i64, details: Value) -> AuditEntry {
        AuditEntry {
            id,
            time: datetime!(2026-03-01 10:00:00.123 UTC),
            actor: AuditActor {
                key_id: Some("k1".into()),
                name: "initial admin".into(),
            },
            source_ip: Some("127.0.0.1".into()),
            request_id: Some("r1".into()),
            action: "key.create".into(),
            target: Some("k2".into()),
            outcome: "success".into(),
            details,
        }
    }

    #[test]
    fn details_are_shortened_to_one_line() {
        assert_eq!(
            short_details(
                &json!({ "name": "ci deploy", "scopes": ["users:read"], "expires_at": null })
            ),
            "name=\"ci deploy\" scopes=[\"users:read\"]"
        );
        assert_eq!(short_details(&json!({})), "-");
        assert_eq!(
            short_details(&json!({ "reason": "x".repeat(100) }))
                .chars()
                .count(),
            60
        );
        assert!(short_details(&json!({ "reason": "x".repeat(100) })).ends_with('…'));
    }

    #[test]
    fn a_row_per_entry() {
        let mut out = Vec::new();
        let mut writer = ListWriter::new(
            &mut out,
            crate::output::View::of(Format::Table),
            Style::plain(),
        );
        writer
            .page(&[entry(1, json!({ "name": "ci" }))])
            .expect("page");
        writer.finish().expect("finish");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "\
TIME                  ACTOR          IP         ACTION      TARGET  OUTCOME  DETAILS
2026-03-01T10:00:00Z  initial admin  127.0.0.1  key.create  k2      success  name=ci
"
        );
    }
}
