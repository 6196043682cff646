//! Everything the CLI shows: commands return an `Output` (data plus notes)
//! and this module renders it, as tables for people or as the API's own JSON
//! for scripts. Data goes to stdout, notes to stderr.

use std::io::{self, IsTerminal, Write};

use comfy_table::{Attribute, Cell, ColumnConstraint, ContentArrangement, Table, Width, presets};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::api::scope::Scope;
use crate::api::{ApiKey, CreatedKey, WhoAmI};

pub mod allowlist;
pub mod audit;
pub mod directory;
pub mod settings;
pub mod stream;

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables
    #[default]
    Table,
    /// The admin API's JSON, pretty-printed: lists as arrays, one object
    /// for a single resource
    Json,
}

/// The answer of a check (`users verify`, `introspect`, …). `No` is not an
/// error: the data is still printed, and the process exits 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Answer {
    #[default]
    Yes,
    No,
}

/// What a command hands back for showing.
#[derive(Debug, Default)]
pub struct Output {
    pub data: Data,
    /// Diagnostics for people, printed on stderr after the data;
    /// `--quiet` drops them.
    pub notes: Vec<Note>,
    pub answer: Answer,
}

impl Output {
    pub fn data(data: Data) -> Self {
        Output {
            data,
            ..Output::default()
        }
    }

    pub fn note(mut self, text: impl Into<String>) -> Self {
        self.notes.push(Note::Info(text.into()));
        self
    }

    pub fn warn(mut self, text: impl Into<String>) -> Self {
        self.notes.push(Note::Warning(text.into()));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Info(String),
    Warning(String),
}

/// The data of a command. Each variant renders as a table and as JSON; the
/// JSON is always the `api` type, so it is the API's documented format.
#[derive(Debug, Default)]
pub enum Data {
    /// The command's effect is the result (login, logout): no data.
    #[default]
    None,
    WhoAmI {
        who: WhoAmI,
        /// The server address the CLI talked to (table only: JSON stays the
        /// API's answer).
        server: String,
    },
    Key(ApiKey),
    Keys {
        keys: Vec<ApiKey>,
        /// Adds a column saying which keys are revoked.
        include_revoked: bool,
    },
    CreatedKey(CreatedKey),
    /// Settings and roles (rendered in `output::settings`).
    Settings(settings::Shown),
    /// Bytes printed as they are whatever the format (a completion script).
    Raw(Vec<u8>),
    /// Users, teams, locks, deprovisioning, sessions, introspection
    /// (rendered in `output::directory`).
    Directory(directory::Shown),
    /// The IP allowlist (rendered in `output::allowlist`).
    Allowlist(allowlist::Shown),
}

/// How tables look where they are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Bold headers. Off when stdout is not a terminal or `NO_COLOR` is set.
    pub color: bool,
    /// Wrap tables to the terminal's width.
    pub tty: bool,
}

impl Style {
    /// For stdout as it is now.
    pub fn detect() -> Self {
        let tty = io::stdout().is_terminal();
        Style {
            tty,
            color: tty && !no_color(),
        }
    }

    /// Plain text, no terminal: what tests and pipes get.
    pub fn plain() -> Self {
        Style {
            color: false,
            tty: false,
        }
    }
}

/// `NO_COLOR` set to anything but the empty string (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Prints an output: data on stdout, then notes on stderr unless `quiet`.
/// A closed stdout comes back as a `BrokenPipe` error for main to forgive.
pub fn emit(output: &Output, format: Format, quiet: bool) -> io::Result<Answer> {
    let mut stdout = io::stdout().lock();
    write_data(&mut stdout, &output.data, format, Style::detect())?;
    stdout.flush()?;
    if !quiet {
        let mut stderr = io::stderr().lock();
        for note in &output.notes {
            // Nothing useful to do if stderr is gone too.
            let _ = match note {
                Note::Info(text) => writeln!(stderr, "{text}"),
                Note::Warning(text) => writeln!(stderr, "warning: {text}"),
            };
        }
    }
    Ok(output.answer)
}

/// Renders `data` in `format` to `out`.
pub fn write_data(
    out: &mut dyn Write,
    data: &Data,
    format: Format,
    style: Style,
) -> io::Result<()> {
    match (data, format) {
        (Data::None, _) => Ok(()),
        (Data::Raw(bytes), _) => out.write_all(bytes),
        (Data::Directory(shown), format) => directory::write(out, shown, format, style),
        (Data::Allowlist(shown), format) => allowlist::write(out, shown, format, style),
        (Data::Settings(shown), format) => settings::write(out, shown, format, style),
        (Data::WhoAmI { who, .. }, Format::Json) => json(out, who),
        (Data::Key(key), Format::Json) => json(out, key),
        (Data::Keys { keys, .. }, Format::Json) => json(out, keys),
        (Data::CreatedKey(created), Format::Json) => json(out, created),
        (Data::WhoAmI { who, server }, Format::Table) => {
            table(out, whoami_table(who, server, style))
        }
        (Data::Key(key), Format::Table) => table(out, key_table(key, style)),
        (
            Data::Keys {
                keys,
                include_revoked,
            },
            Format::Table,
        ) => table(out, key_list_table(keys, *include_revoked, style)),
        (Data::CreatedKey(created), Format::Table) => table(out, created_key_table(created, style)),
    }
}

fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

fn table(out: &mut dyn Write, table: Table) -> io::Result<()> {
    // trim_fmt drops the padding after the last column.
    writeln!(out, "{}", table.trim_fmt())
}

/// A borderless table, columns two spaces apart: easy on the eye and on
/// `grep`/`awk`.
fn new_table(style: Style) -> Table {
    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    if style.tty {
        // Wrap to the terminal, unless it reports no usable width (a pty
        // without a size says 0): then one letter per line is worse than
        // long lines.
        let usable = table.width().is_some_and(|w| w >= MIN_WRAP_WIDTH);
        table.set_content_arrangement(if usable {
            ContentArrangement::Dynamic
        } else {
            ContentArrangement::Disabled
        });
    } else {
        // Neither wrap nor style for a pipe or a test, whatever the terminal.
        table.force_no_tty();
    }
    table
}

const MIN_WRAP_WIDTH: u16 = 40;

/// Ids, times and addresses are read and copied whole: wrapping shrinks the
/// free-text columns (name, scopes) instead, but never below a readable
/// width; past that the line is simply longer than the terminal.
fn keep_whole(table: &mut Table, columns: &[usize]) {
    let widths = table.column_max_content_widths();
    for (index, width) in widths.into_iter().enumerate() {
        let constraint = if columns.contains(&index) {
            ColumnConstraint::ContentWidth
        } else {
            ColumnConstraint::LowerBoundary(Width::Fixed(width.min(MIN_FREE_WIDTH)))
        };
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(constraint);
        }
    }
}

const MIN_FREE_WIDTH: u16 = 16;

fn pad_columns(table: &mut Table) {
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
}

fn header_cell(text: &str, style: Style) -> Cell {
    let cell = Cell::new(text);
    if style.color {
        cell.add_attribute(Attribute::Bold)
    } else {
        cell
    }
}

/// Two columns, label and value: one resource.
fn vertical(rows: Vec<(&str, String)>, style: Style) -> Table {
    let mut table = new_table(style);
    for (label, value) in rows {
        table.add_row(vec![header_cell(label, style), Cell::new(value)]);
    }
    pad_columns(&mut table);
    keep_whole(&mut table, &[0]);
    table
}

/// RFC 3339 in UTC to the second: sortable, unambiguous, copy-pasteable
/// into `--expires`.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn expiry(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), timestamp)
}

fn last_used(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), timestamp)
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

fn scopes(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        // A space lets a narrow terminal wrap the list between scopes.
        .join(", ")
}

/// A root key's twelve scopes would make every row of a list as wide as
/// the screen twice over; `keys show` and JSON give the full list.
fn scopes_in_list(list: &[Scope]) -> String {
    if Scope::ALL.iter().all(|scope| list.contains(scope)) {
        "all".to_owned()
    } else {
        scopes(list)
    }
}

pub fn key_list_table(keys: &[ApiKey], include_revoked: bool, style: Style) -> Table {
    let mut table = new_table(style);
    let mut header = vec![
        "ID",
        "NAME",
        "SCOPES",
        "EXPIRES",
        "LAST USED",
        "LAST USED IP",
    ];
    if include_revoked {
        header.push("REVOKED");
    }
    // Personal keys are the exception: the column only when there is one.
    let any_owner = keys.iter().any(|key| key.owner.is_some());
    if any_owner {
        header.push("OWNER");
    }
    table.set_header(header.into_iter().map(|h| header_cell(h, style)));
    for key in keys {
        let mut row = vec![
            key.id.clone(),
            key.name.clone(),
            scopes_in_list(&key.scopes),
            expiry(key.expires_at),
            last_used(key.last_used_at),
            or_dash(key.last_used_ip.as_deref()),
        ];
        if include_revoked {
            row.push(key.revoked_at.map_or_else(|| "-".to_owned(), timestamp));
        }
        if any_owner {
            row.push(or_dash(key.owner.as_ref().map(|o| o.user_name.as_str())));
        }
        table.add_row(row);
    }
    pad_columns(&mut table);
    keep_whole(&mut table, &[0, 3, 4, 5, 6]);
    table
}

fn key_rows(key: &ApiKey) -> Vec<(&'static str, String)> {
    vec![
        ("ID", key.id.clone()),
        ("Name", key.name.clone()),
        ("Scopes", scopes(&key.scopes)),
        ("Created", timestamp(key.created_at)),
        ("Created by", or_dash(key.created_by.as_deref())),
        (
            "Owner",
            key.owner
                .as_ref()
                .map_or_else(|| "- (service key)".to_owned(), |o| o.user_name.clone()),
        ),
        ("Expires", expiry(key.expires_at)),
        ("Last used", last_used(key.last_used_at)),
        ("Last used IP", or_dash(key.last_used_ip.as_deref())),
        (
            "Revoked",
            key.revoked_at.map_or_else(|| "no".to_owned(), timestamp),
        ),
    ]
}

pub fn key_table(key: &ApiKey, style: Style) -> Table {
    vertical(key_rows(key), style)
}

pub fn created_key_table(created: &CreatedKey, style: Style) -> Table {
    let mut rows = key_rows(&created.key);
    // Nothing to say yet about use or revocation of a brand-new key.
    rows.retain(|(label, _)| !matches!(*label, "Last used" | "Last used IP" | "Revoked"));
    rows.push(("Token", created.token.clone()));
    vertical(rows, style)
}

pub fn whoami_table(who: &WhoAmI, server: &str, style: Style) -> Table {
    vertical(
        vec![
            ("Key ID", who.key.id.clone()),
            ("Name", who.key.name.clone()),
            ("Scopes", scopes(&who.key.scopes)),
            ("Expires", expiry(who.key.expires_at)),
            ("Source IP", who.source_ip.clone()),
            ("Server", server.to_owned()),
        ],
        style,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn key(id: &str, name: &str) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            name: name.to_owned(),
            scopes: vec![Scope::KeysManage, Scope::UsersRead],
            created_at: datetime!(2026-01-02 03:04:05.678 UTC),
            created_by: None,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
            owner: None,
        }
    }

    fn render(data: &Data, format: Format) -> String {
        let mut out = Vec::new();
        write_data(&mut out, data, format, Style::plain()).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    fn keys() -> Vec<ApiKey> {
        let mut ci = key("k2ci", "ci-deploy");
        ci.expires_at = Some(datetime!(2027-03-01 00:00:00 +02:00));
        ci.last_used_at = Some(datetime!(2026-02-01 10:00:00.5 UTC));
        ci.last_used_ip = Some("10.0.0.7".to_owned());
        let mut root = key("k1root", "root");
        root.scopes = Scope::ALL.to_vec();
        vec![root, ci]
    }

    #[test]
    fn key_list_as_a_table() {
        let text = render(
            &Data::Keys {
                keys: keys(),
                include_revoked: false,
            },
            Format::Table,
        );
        let expected = "\
ID      NAME       SCOPES                   EXPIRES               LAST USED             LAST USED IP
k1root  root       all                      never                 never                 -
k2ci    ci-deploy  keys:manage, users:read  2027-02-28T22:00:00Z  2026-02-01T10:00:00Z  10.0.0.7
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn revoked_column_only_with_all() {
        let mut list = keys();
        list[1].revoked_at = Some(datetime!(2026-03-01 00:00:00 UTC));
        let text = render(
            &Data::Keys {
                keys: list,
                include_revoked: true,
            },
            Format::Table,
        );
        let header = text.lines().next().expect("header");
        assert!(header.ends_with("REVOKED"), "{text}");
        assert!(text.contains("2026-03-01T00:00:00Z"), "{text}");
    }

    #[test]
    fn key_list_as_json_is_an_array_of_api_keys() {
        let text = render(
            &Data::Keys {
                keys: keys(),
                include_revoked: false,
            },
            Format::Json,
        );
        let parsed: Vec<ApiKey> = serde_json::from_str(&text).expect("array of ApiKey");
        assert_eq!(parsed, keys());
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn a_created_key_shows_its_token() {
        let created = CreatedKey {
            key: key("k3", "okta"),
            token: "scimctl_k3_s3cr3t".to_owned(),
        };
        let text = render(&Data::CreatedKey(created.clone()), Format::Table);
        assert!(
            text.lines().any(|l| l == "Token       scimctl_k3_s3cr3t"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&Data::CreatedKey(created), Format::Json)).expect("json");
        assert_eq!(json["token"], "scimctl_k3_s3cr3t");
        assert_eq!(json["id"], "k3");
    }

    #[test]
    fn one_key_vertically() {
        let text = render(&Data::Key(key("k1", "root")), Format::Table);
        assert!(text.starts_with("ID            k1\n"), "{text}");
        assert!(
            text.contains("Created       2026-01-02T03:04:05Z\n"),
            "{text}"
        );
        assert!(text.contains("Expires       never\n"), "{text}");
    }

    #[test]
    fn raw_and_none_ignore_the_format() {
        assert_eq!(
            render(&Data::Raw(b"complete -F x\n".to_vec()), Format::Json),
            "complete -F x\n"
        );
        assert_eq!(render(&Data::None, Format::Json), "");
    }
}
