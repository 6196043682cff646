//! Everything the CLI shows: commands return an `Output` (data plus notes)
//! and this module renders it, as tables for people or as the API's own JSON
//! (or YAML, CSV, or a `--jq` filter's results) for scripts. Data goes to
//! stdout, through a pager for long tables on a terminal; notes go to
//! stderr. One mechanism: each API type implements [`Show`] in
//! `output/<noun>.rs`; whole values, lists and streamed pages
//! (`output::stream`) all render through it.

use std::fmt;
use std::io::{self, IsTerminal, Write};

use comfy_table::{Attribute, Cell, ColumnConstraint, ContentArrangement, Table, Width, presets};
use serde::Serialize;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::api::scope::Scope;

pub mod allowlist;
pub mod audit;
pub mod auth;
pub mod doctor;
pub mod drift;
pub mod grants;
pub mod groups;
pub mod journal;
pub mod jq;
pub mod keys;
mod layout;
pub mod locks;
pub mod mappings;
pub mod pager;
pub mod rails;
pub mod roles;
pub mod sessions;
pub mod settings;
pub mod stream;
pub mod users;

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Human-readable tables
    #[default]
    Table,
    /// The admin API's JSON, pretty-printed: lists as arrays, one object
    /// for a single resource
    Json,
    /// The same data as JSON, as YAML: a list is one sequence
    Yaml,
    /// A header line, then a row per item: the table's columns (as named
    /// by --columns), cells never truncated
    Csv,
}

/// How a command's data is to be shown: the format and the global options
/// that shape it (`-o`, `--jq`, `--columns`, `--no-pager`).
#[derive(Debug, Clone, Default)]
pub struct View {
    /// What to print; always [`Format::Json`] when `jq` is set.
    pub format: Format,
    /// `--jq`: print this filter's results instead of the JSON.
    pub jq: Option<jq::Jq>,
    /// `--columns`: the columns of a list's table or CSV, by name, in order.
    pub columns: Option<Vec<String>>,
    /// Whether a table may go through the pager (not `--no-pager`).
    pub pager: bool,
}

impl View {
    /// `format` with no other option: what tests and stderr plans use.
    pub fn of(format: Format) -> Self {
        View {
            format,
            ..View::default()
        }
    }

    /// Whether output for `style` goes through the pager: tables only,
    /// and only on a terminal (a pipe, a file or CI never pages).
    pub fn pages(&self, style: Style) -> bool {
        self.pager && self.format == Format::Table && self.jq.is_none() && style.tty
    }
}

/// What can go wrong while printing data.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// stdout failed (a closed pipe is this, and main forgives it).
    #[error("cannot write the output")]
    Io(#[source] io::Error),
    /// `--columns` named a column the listing does not have: a usage error.
    #[error("{0}")]
    Columns(String),
    /// The `--jq` filter failed on the data (a type error, `error(…)`).
    #[error("--jq: {0}")]
    Jq(String),
}

impl From<io::Error> for RenderError {
    fn from(err: io::Error) -> Self {
        RenderError::Io(err)
    }
}

impl From<serde_json::Error> for RenderError {
    fn from(err: serde_json::Error) -> Self {
        RenderError::Io(err.into())
    }
}

/// The answer of a check (`users verify`, `introspect`, …). `No` is not an
/// error: the data is still printed, and the process exits 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Answer {
    #[default]
    Yes,
    No,
}

/// How an API type looks in the CLI: the one output mechanism. Its JSON is
/// the type itself (serde); this gives its table, for one item on its own
/// and as rows under [`COLUMNS`](Show::COLUMNS), which whole lists
/// ([`Output::list`]) and lists streamed page by page ([`stream::ListWriter`])
/// both use. Each resource implements it in `output/<noun>.rs`.
pub trait Show: Serialize {
    /// The columns of a list of these; empty for a type never listed.
    const COLUMNS: &'static [Column] = &[];

    /// This item's cells, one per column of [`COLUMNS`](Show::COLUMNS).
    fn row(&self) -> Vec<String> {
        Vec::new()
    }

    /// This item's cells for CSV: its [`row`](Show::row), except where the
    /// table shortens a cell for reading (a key's scopes, an audit entry's
    /// details): a script gets them whole.
    fn csv_row(&self) -> Vec<String> {
        self.row()
    }

    /// This item on its own, for people.
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()>;

    /// The columns (indexes into [`COLUMNS`](Show::COLUMNS)) a list of
    /// `items` shows when `--columns` does not say: all of them, unless a
    /// type leaves out columns that would be empty for every item.
    fn default_columns(_items: &[Self]) -> Vec<usize>
    where
        Self: Sized,
    {
        (0..Self::COLUMNS.len()).collect()
    }
}

/// A column of a list: its title, and whether its cells are read and copied
/// whole (ids, times, addresses), so wrapping shrinks the others instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub title: &'static str,
    pub whole: bool,
}

impl Column {
    /// A column whose cells never wrap.
    pub const fn whole(title: &'static str) -> Self {
        Column { title, whole: true }
    }

    /// A free-text column, which is cut short (with `…`) first on a narrow
    /// terminal.
    pub const fn free(title: &'static str) -> Self {
        Column {
            title,
            whole: false,
        }
    }

    /// The name `--columns` and CSV headers use: the title in lower case,
    /// words joined by `-` (`LAST USED IP` is `last-used-ip`).
    pub fn name(&self) -> String {
        // Trimmed first: a marker column titled " " has no name, not "-".
        self.title.trim().to_lowercase().replace(' ', "-")
    }
}

/// The columns `wanted` names (`--columns`), in its order, as indexes into
/// `columns`; `default` when it names none. Names match case-insensitively,
/// with `_` or a space for `-`. An unknown name is an error listing the
/// valid ones.
pub fn pick_columns(
    columns: &[Column],
    wanted: Option<&[String]>,
    default: Vec<usize>,
) -> Result<Vec<usize>, RenderError> {
    let Some(wanted) = wanted else {
        return Ok(default);
    };
    let names: Vec<String> = columns.iter().map(Column::name).collect();
    if names.is_empty() {
        return Err(RenderError::Columns(
            "--columns: this command's output has no columns to choose from".to_owned(),
        ));
    }
    wanted
        .iter()
        .map(|name| {
            let key = name.trim().to_lowercase().replace(['_', ' '], "-");
            names.iter().position(|n| *n == key).ok_or_else(|| {
                RenderError::Columns(format!(
                    "--columns: no column {name:?} here; the columns are: {}",
                    names.join(", ")
                ))
            })
        })
        .collect()
}

/// The columns `view` shows for a list of `items`.
fn columns_for<T: Show>(items: &[T], view: &View) -> Result<Vec<usize>, RenderError> {
    pick_columns(
        T::COLUMNS,
        view.columns.as_deref(),
        T::default_columns(items),
    )
}

/// `row`'s cells in `columns`, in that order.
fn select(row: Vec<String>, columns: &[usize]) -> Vec<String> {
    columns
        .iter()
        .map(|&index| row.get(index).cloned().unwrap_or_default())
        .collect()
}

/// What a command hands back for showing.
#[derive(Debug, Default)]
pub struct Output {
    pub data: Data,
    /// Diagnostics for people, printed on stderr after the data;
    /// `--quiet` drops them.
    pub notes: Vec<Note>,
    pub answer: Answer,
    /// An error to report once the data is shown: for a report that is
    /// itself the answer to "what is wrong" (`auth status`), whose exit code
    /// the error decides.
    pub failure: Option<anyhow::Error>,
}

impl Output {
    /// One resource or report.
    pub fn one<T: Show + 'static>(value: T) -> Self {
        Self::with(Data::one(value))
    }

    /// A list: a JSON array, or a table with a row per item.
    pub fn list<T: Show + 'static>(items: Vec<T>) -> Self {
        Self::with(Data::list(items))
    }

    /// Bytes printed as they are whatever the format (a completion script).
    pub fn raw(bytes: Vec<u8>) -> Self {
        Self::with(Data(Shown::Raw(bytes)))
    }

    fn with(data: Data) -> Self {
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

    /// Fails the command with `err` after showing the data.
    pub fn fail(mut self, err: anyhow::Error) -> Self {
        self.failure = Some(err);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Info(String),
    Warning(String),
}

/// The data of a command, ready to render in either format; nothing when
/// the command's effect is the result (login, logout) or it streamed its
/// data already.
#[derive(Default)]
pub struct Data(Shown);

#[derive(Default)]
enum Shown {
    #[default]
    None,
    Raw(Vec<u8>),
    Render(Box<dyn Render>),
}

impl Data {
    /// One resource or report.
    pub fn one<T: Show + 'static>(value: T) -> Self {
        Data(Shown::Render(Box::new(One(value))))
    }

    /// A list: a JSON array, or a table with a row per item.
    pub fn list<T: Show + 'static>(items: Vec<T>) -> Self {
        Data(Shown::Render(Box::new(Many(items))))
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Shown::None => "Data::None",
            Shown::Raw(_) => "Data::Raw",
            Shown::Render(_) => "Data::Shown",
        })
    }
}

/// [`Show`] with the type erased, so an [`Output`] can hold any of them.
trait Render {
    fn render(&self, out: &mut dyn Write, view: &View, style: Style) -> Result<(), RenderError>;
}

struct One<T>(T);

impl<T: Show> Render for One<T> {
    fn render(&self, out: &mut dyn Write, view: &View, style: Style) -> Result<(), RenderError> {
        if let Some(jq) = &view.jq {
            return jq.run(&serde_json::to_vec(&self.0)?, out);
        }
        match view.format {
            Format::Csv if !T::COLUMNS.is_empty() => {
                let columns = columns_for(std::slice::from_ref(&self.0), view)?;
                Ok(csv_rows(out, T::COLUMNS, &columns, [self.0.csv_row()])?)
            }
            format => Ok(write_one(out, &self.0, format, style)?),
        }
    }
}

struct Many<T>(Vec<T>);

impl<T: Show> Render for Many<T> {
    fn render(&self, out: &mut dyn Write, view: &View, style: Style) -> Result<(), RenderError> {
        if let Some(jq) = &view.jq {
            return jq.run(&serde_json::to_vec(&self.0)?, out);
        }
        match view.format {
            Format::Json => json(out, &self.0)?,
            Format::Yaml => yaml(out, &self.0)?,
            Format::Csv => {
                let columns = columns_for(&self.0, view)?;
                csv_rows(out, T::COLUMNS, &columns, self.0.iter().map(Show::csv_row))?;
            }
            Format::Table => {
                let columns = columns_for(&self.0, view)?;
                write_rows(out, &self.0, &columns, style)?;
            }
        }
        Ok(())
    }
}

/// A list's table: a row per item under `columns`, fitted to the terminal.
/// An empty list prints nothing (the command says so on stderr).
fn write_rows<T: Show>(
    out: &mut dyn Write,
    items: &[T],
    columns: &[usize],
    style: Style,
) -> io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| select(item.row(), columns))
        .collect();
    let shown: Vec<Column> = columns.iter().map(|&i| T::COLUMNS[i]).collect();
    let layout = layout::Layout::new(&shown, &rows, style.width());
    layout.write_header(out, &shown, style.color)?;
    for row in &rows {
        layout.write_row(out, row)?;
    }
    Ok(())
}

/// The table of a list with its default columns: for a value shown as a
/// one-row list, or a change shown as the list it left.
fn write_list<T: Show>(items: &[T], out: &mut dyn Write, style: Style) -> io::Result<()> {
    write_rows(out, items, &T::default_columns(items), style)
}

/// Renders one value in `format`: for a command that shows something
/// before its answer (a plan above a confirmation question). CSV of a
/// value has its JSON's top-level fields as columns.
pub fn write_one<T: Show>(
    out: &mut dyn Write,
    value: &T,
    format: Format,
    style: Style,
) -> io::Result<()> {
    match format {
        Format::Json => json(out, value),
        Format::Yaml => yaml(out, value),
        Format::Csv => csv_fields(out, value),
        Format::Table => value.write_table(out, style),
    }
}

/// How tables look where they are going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Bold headers. Off when stdout is not a terminal or `NO_COLOR` is set.
    pub color: bool,
    /// Fit tables to the terminal's width.
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

    /// The width list tables fit: stdout's terminal's, when it is one and
    /// reports a usable width (a pty without a size says 0: then long lines
    /// beat one letter per line).
    pub fn width(&self) -> Option<usize> {
        if !self.tty {
            return None;
        }
        let (terminal_size::Width(width), _) = terminal_size::terminal_size_of(io::stdout())?;
        (width >= MIN_WRAP_WIDTH).then_some(usize::from(width))
    }
}

/// `NO_COLOR` set to anything but the empty string (no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Prints an output: data on stdout (through the pager when `view` says
/// so), then notes on stderr unless `quiet`. A closed stdout (or a pager
/// quit early) comes back as a `BrokenPipe` error for main to forgive.
pub fn emit(output: &Output, view: &View, quiet: bool) -> Result<Answer, RenderError> {
    let style = Style::detect();
    let paged = view.pages(style) && matches!(output.data.0, Shown::Render(_));
    let mut stdout = pager::Stdout::open(paged);
    write_data(&mut stdout, &output.data, view, style)?;
    stdout.finish()?;
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

/// Renders `data` as `view` says to `out`.
pub fn write_data(
    out: &mut dyn Write,
    data: &Data,
    view: &View,
    style: Style,
) -> Result<(), RenderError> {
    match &data.0 {
        Shown::None => Ok(()),
        Shown::Raw(bytes) => Ok(out.write_all(bytes)?),
        Shown::Render(shown) => shown.render(out, view, style),
    }
}

fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// YAML of the same data as the JSON. Serialised whole before writing, so
/// a closed pipe still reads as one (serde_yaml_ng would wrap it).
fn yaml(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let text = serde_yaml_ng::to_string(value).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}

/// A header of `columns`' names, then `rows` with only those cells.
fn csv_rows(
    out: &mut dyn Write,
    all: &[Column],
    columns: &[usize],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(columns.iter().map(|&i| all[i].name()))?;
    for row in rows {
        writer.write_record(select(row, columns))?;
    }
    writer.flush()
}

/// CSV of a value no list shows (a report, a setting): its JSON's
/// top-level fields are the columns; a nested value is its compact JSON.
fn csv_fields(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let value = serde_json::to_value(value)?;
    let fields: Vec<(String, Value)> = match value {
        Value::Object(map) => map.into_iter().collect(),
        other => vec![("value".to_owned(), other)],
    };
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(fields.iter().map(|(name, _)| name))?;
    writer.write_record(fields.iter().map(|(_, value)| csv_cell(value)))?;
    writer.flush()
}

fn csv_cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
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

/// Renders `table` on its own lines.
fn write_vertical(out: &mut dyn Write, rows: Vec<(&str, String)>, style: Style) -> io::Result<()> {
    table(out, vertical(rows, style))
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

/// A user named in another resource: by userName, which people read.
fn user_ref(user: &crate::api::users::UserRef) -> String {
    user.user_name.clone()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// `a, b, c`, or `-` for none.
fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let joined = items
        .into_iter()
        .map(|item| item.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if joined.is_empty() {
        "-".to_owned()
    } else {
        joined
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What a command's output prints on stdout without a terminal.
    pub(crate) fn render(output: Output, format: Format) -> String {
        render_with(&output, format, Style::plain())
    }

    /// The user the resources' tests name.
    pub(crate) fn alice() -> crate::api::users::UserRef {
        crate::api::users::UserRef {
            id: "u-1".to_owned(),
            user_name: "alice".to_owned(),
        }
    }

    pub(crate) fn render_with(output: &Output, format: Format, style: Style) -> String {
        render_view(output, &View::of(format), style).expect("render")
    }

    pub(crate) fn render_view(
        output: &Output,
        view: &View,
        style: Style,
    ) -> Result<String, RenderError> {
        let mut out = Vec::new();
        write_data(&mut out, &output.data, view, style)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn raw_and_none_ignore_the_format() {
        assert_eq!(
            render(Output::raw(b"complete -F x\n".to_vec()), Format::Json),
            "complete -F x\n"
        );
        assert_eq!(render(Output::default(), Format::Json), "");
    }
}
