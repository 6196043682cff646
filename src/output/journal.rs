//! How the SCIM request journal looks in the CLI: `scim log|show`.

use std::io::{self, Write};

use serde_json::Value;

use super::{Column, Show, Style, or_dash, timestamp, write_list, write_vertical};
use crate::api::journal::{Explanation, JournalEntry, JournalExchange, Replay, ReplayOutcome};

impl Show for JournalEntry {
    const COLUMNS: &'static [Column] = &[
        Column::whole("TIME"),
        Column::whole("REQUEST ID"),
        Column::whole("METHOD"),
        Column::free("PATH"),
        Column::whole("STATUS"),
        Column::whole("MS"),
        Column::whole("KEY"),
        Column::whole("SOURCE"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            timestamp(self.time),
            self.request_id.clone(),
            self.method.clone(),
            self.path.clone(),
            self.status.to_string(),
            format!("{:.1}", self.duration_ms),
            or_dash(self.key_id.as_deref()),
            or_dash(self.source_ip.as_deref()),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

/// The exchange top to bottom: what was asked, what was answered, what it
/// changed.
impl Show for JournalExchange {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let entry = &self.entry;
        write_vertical(
            out,
            vec![
                ("Request ID", entry.request_id.clone()),
                ("Time", timestamp(entry.time)),
                ("Request", format!("{} {}", entry.method, entry.path)),
                ("Status", entry.status.to_string()),
                ("Duration", format!("{:.1} ms", entry.duration_ms)),
                ("Key", or_dash(entry.key_id.as_deref())),
                ("Source", or_dash(entry.source_ip.as_deref())),
                ("User", or_dash(entry.user_id.as_deref())),
            ],
            style,
        )?;
        writeln!(out, "\nRequest headers:")?;
        for (name, value) in &self.request_headers {
            writeln!(out, "  {name}: {}", value.as_str().unwrap_or_default())?;
        }
        for (title, body) in [
            ("Request body", &self.request_body),
            ("Response body", &self.response_body),
        ] {
            writeln!(out, "\n{title}:")?;
            match body {
                None => writeln!(out, "  (none)")?,
                Some(Value::String(text)) => writeln!(out, "{text}")?,
                Some(json) => {
                    let pretty = serde_json::to_string_pretty(json).map_err(io::Error::other)?;
                    writeln!(out, "{pretty}")?;
                }
            }
        }
        writeln!(out, "\nAudit entries:")?;
        if self.audit.is_empty() {
            writeln!(out, "  (none: the request changed nothing)")
        } else {
            write_list(&self.audit, out, style)
        }
    }
}

/// What was asked and answered, the head of an explanation or a replay.
fn asked_and_answered(request: &JournalEntry) -> Vec<(&'static str, String)> {
    vec![
        ("Request", format!("{} {}", request.method, request.path)),
        (
            "Answered",
            format!("{} at {}", request.status, timestamp(request.time)),
        ),
    ]
}

/// The cause, the fix, and what was read the IdP's way.
impl Show for Explanation {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let mut rows = asked_and_answered(&self.request);
        rows.push(("Cause", self.cause.clone()));
        write_vertical(out, rows, style)?;
        writeln!(out, "\n{}", self.explanation)?;
        if let Some(fix) = &self.fix {
            writeln!(out, "\nFix: {fix}")?;
        }
        for note in &self.notes {
            writeln!(out, "\nNote: {note}")?;
        }
        Ok(())
    }
}

/// What the request would do now: the answer, each attribute before and
/// after, and the audit entries it would write.
impl Show for Replay {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let status = self
            .status
            .map_or_else(String::new, |status| status.to_string());
        let now = match self.outcome {
            ReplayOutcome::Read => "a read: it changes nothing".to_owned(),
            ReplayOutcome::NotReplayable => "cannot be sent again".to_owned(),
            ReplayOutcome::Refused => format!("refused ({status})"),
            ReplayOutcome::Failed => format!("would fail ({status})"),
            ReplayOutcome::Unchanged => {
                format!("{status}, changing nothing: everything it sets is so already")
            }
            ReplayOutcome::Changed => format!("{status}, with the changes below"),
        };
        let mut rows = asked_and_answered(&self.request);
        rows.push(("Now", now));
        write_vertical(out, rows, style)?;
        if let Some(detail) = &self.detail {
            writeln!(out, "\n{detail}")?;
        }
        if !self.changes.is_empty() {
            writeln!(
                out,
                "\nChanges to {}:",
                self.resource.as_deref().unwrap_or("a new resource")
            )?;
            let width = self
                .changes
                .iter()
                .map(|change| change.path.len())
                .max()
                .unwrap_or(0);
            for change in &self.changes {
                let value = |value: &Option<Value>| {
                    value
                        .as_ref()
                        .map_or_else(|| "(absent)".to_owned(), Value::to_string)
                };
                writeln!(
                    out,
                    "  {:width$}  {} → {}",
                    change.path,
                    value(&change.before),
                    value(&change.after)
                )?;
            }
        }
        if !self.audit.is_empty() {
            writeln!(out, "\nAudit entries it would write:")?;
            let width = self
                .audit
                .iter()
                .map(|entry| entry.action.len())
                .max()
                .unwrap_or(0);
            for entry in &self.audit {
                writeln!(
                    out,
                    "  {:width$}  {}",
                    entry.action,
                    entry.target.as_deref().unwrap_or_default()
                )?;
            }
        }
        writeln!(out, "\nDry run: nothing was changed.")
    }
}
