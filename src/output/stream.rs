//! Listings printed page by page as they arrive, so a directory of any size
//! takes one page of memory: a table whose columns the header and the first
//! page fix, or one JSON array written incrementally that is still exactly
//! what `serde_json::to_writer_pretty` would print for the whole list; and
//! for `audit list --follow`, table rows or one JSON object per line. Also
//! the progress line shown on a terminal while pages are fetched.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use serde_json::ser::{PrettyFormatter, Serializer};

use super::layout::Layout;
use super::{Column, Format, RenderError, Show, Style, View, columns_for, select};

/// Writes a listing page by page. Call [`page`](Self::page) for each page,
/// then [`finish`](Self::finish) once: it closes the JSON array.
///
/// Tables: the header and the first page fix the column widths (fitted to
/// the terminal, if stdout is one), so every later row lines up under them:
/// on a terminal a longer free-text cell is cut short with `…`; in a pipe
/// it pushes the rest of its own row only. CSV: one header line, then rows.
/// YAML: one sequence, an item at a time. `--jq`: the filter runs on the
/// whole array, so the listing is held in memory until its end. If the
/// listing fails half-way, the JSON on stdout stays unterminated on
/// purpose, so a script's parser fails instead of taking a partial list
/// for the whole (the exit status says so too).
pub struct ListWriter<W: Write> {
    out: W,
    view: View,
    style: Style,
    /// `audit list --follow`: JSON as one compact object per line, which a
    /// script reads line by line without waiting for an array that never
    /// closes (and `--jq` runs on each entry).
    lines: bool,
    count: usize,
    /// The columns shown (tables and CSV), fixed before the first row.
    columns: Option<(Vec<Column>, Vec<usize>)>,
    /// The table's layout, fixed by the first page.
    layout: Option<Layout>,
    /// `--jq` on a whole listing: the JSON array, kept until the end.
    buffer: Vec<u8>,
}

impl<W: Write> ListWriter<W> {
    pub fn new(out: W, view: View, style: Style) -> Self {
        ListWriter {
            out,
            view,
            style,
            lines: false,
            count: 0,
            columns: None,
            layout: None,
            buffer: Vec::new(),
        }
    }

    /// For a listing that never ends (`--follow`): tables as above, JSON as
    /// one object per line.
    pub fn follow(out: W, view: View, style: Style) -> Self {
        ListWriter {
            lines: true,
            ..ListWriter::new(out, view, style)
        }
    }

    /// How many items have been written.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Settles the columns of a listing of `T` (checking `--columns`), so a
    /// bad column is an error before any request. [`page`](Self::page)
    /// does it too, if not done.
    pub fn prepare<T: Show>(&mut self) -> Result<(), RenderError> {
        if self.columns.is_none() {
            let picked = columns_for::<T>(&[], &self.view)?;
            let shown = picked.iter().map(|&i| T::COLUMNS[i]).collect();
            self.columns = Some((shown, picked));
        }
        Ok(())
    }

    /// Writes one page and flushes it, so it shows while the next is fetched.
    pub fn page<T: Show>(&mut self, items: &[T]) -> Result<(), RenderError> {
        self.prepare::<T>()?;
        if items.is_empty() {
            return Ok(());
        }
        match (self.view.format, self.lines) {
            (Format::Json, false) => self.json_page(items)?,
            (Format::Json, true) => self.json_lines(items)?,
            (Format::Yaml, _) => self.yaml_page(items)?,
            (Format::Csv, _) => self.csv_page(items)?,
            (Format::Table, _) => self.table_page(items)?,
        }
        self.count += items.len();
        Ok(self.out.flush()?)
    }

    /// Ends the listing: closes the JSON array (`[]` when empty) and runs
    /// `--jq` on it; an empty YAML listing is `[]`, an empty CSV one its
    /// header. An empty table prints nothing; the caller says so on stderr.
    pub fn finish(mut self) -> Result<usize, RenderError> {
        match self.view.format {
            Format::Json if !self.lines => {
                let end: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
                match self.view.jq.clone() {
                    Some(jq) => {
                        self.buffer.extend_from_slice(end);
                        jq.run(&self.buffer, &mut self.out)?;
                    }
                    None => self.out.write_all(end)?,
                }
            }
            Format::Yaml if self.count == 0 => self.out.write_all(b"[]\n")?,
            Format::Csv if self.count == 0 => self.csv_header()?,
            _ => {}
        }
        self.out.flush()?;
        Ok(self.count)
    }

    fn json_page<T: Serialize>(&mut self, items: &[T]) -> io::Result<()> {
        let first_page = self.count == 0;
        // With --jq the array goes to the buffer, for the filter at the end.
        let sink: &mut dyn Write = if self.view.jq.is_some() {
            &mut self.buffer
        } else {
            &mut self.out
        };
        for (index, item) in items.iter().enumerate() {
            // Each element as `to_writer_pretty` prints it inside an array:
            // indented two spaces, separated by ",\n".
            let mut buffer = Vec::new();
            let mut serializer =
                Serializer::with_formatter(&mut buffer, PrettyFormatter::with_indent(b"  "));
            item.serialize(&mut serializer)?;
            let text = String::from_utf8(buffer)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            let separator = if first_page && index == 0 {
                "[\n"
            } else {
                ",\n"
            };
            sink.write_all(separator.as_bytes())?;
            for (line_no, line) in text.lines().enumerate() {
                if line_no > 0 {
                    sink.write_all(b"\n")?;
                }
                write!(sink, "  {line}")?;
            }
        }
        Ok(())
    }

    fn json_lines<T: Serialize>(&mut self, items: &[T]) -> Result<(), RenderError> {
        for item in items {
            match &self.view.jq {
                Some(jq) => jq.run(&serde_json::to_vec(item)?, &mut self.out)?,
                None => {
                    serde_json::to_writer(&mut self.out, item)?;
                    self.out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    /// Each item as a one-item YAML sequence: one after the other they are
    /// the sequence of the whole listing.
    fn yaml_page<T: Serialize>(&mut self, items: &[T]) -> io::Result<()> {
        for item in items {
            let text =
                serde_yaml_ng::to_string(std::slice::from_ref(item)).map_err(io::Error::other)?;
            self.out.write_all(text.as_bytes())?;
        }
        Ok(())
    }

    fn csv_header(&mut self) -> io::Result<()> {
        let Some((shown, _)) = &self.columns else {
            return Ok(());
        };
        let mut writer = csv::Writer::from_writer(&mut self.out);
        writer.write_record(shown.iter().map(Column::name))?;
        writer.flush()
    }

    fn csv_page<T: Show>(&mut self, items: &[T]) -> io::Result<()> {
        if self.count == 0 {
            self.csv_header()?;
        }
        let Some((_, picked)) = &self.columns else {
            return Ok(());
        };
        let mut writer = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(&mut self.out);
        for item in items {
            writer.write_record(select(item.csv_row(), picked))?;
        }
        writer.flush()
    }

    fn table_page<T: Show>(&mut self, items: &[T]) -> io::Result<()> {
        let Some((shown, picked)) = &self.columns else {
            return Ok(());
        };
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|item| select(item.row(), picked))
            .collect();
        let out: &mut dyn Write = &mut self.out;
        let layout = match &self.layout {
            Some(layout) => layout,
            None => {
                let layout = Layout::new(shown, &rows, self.style.width());
                layout.write_header(out, shown, self.style.color)?;
                self.layout.insert(layout)
            }
        };
        for row in &rows {
            layout.write_row(out, row)?;
        }
        Ok(())
    }
}

/// "Fetching users… 300 so far" on stderr while a listing is fetched; only
/// when stderr is a terminal (never in a pipe, a log or CI) and not
/// `--quiet`. Cleared before each page is printed, so the data and the
/// progress line never mix on a shared screen.
pub struct Progress {
    what: &'static str,
    enabled: bool,
    shown: bool,
}

impl Progress {
    pub fn new(what: &'static str, quiet: bool) -> Self {
        Progress {
            what,
            enabled: !quiet && io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Says a page is being fetched, with the count so far.
    pub fn fetching(&mut self, so_far: usize) {
        if self.enabled {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2KFetching {}… {so_far} so far", self.what);
            let _ = stderr.flush();
            self.shown = true;
        }
    }

    /// Erases the progress line, if one is showing.
    pub fn clear(&mut self) {
        if self.shown {
            let mut stderr = io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
            self.shown = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error half-way must not leave the line under the error message.
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::locks::Lock;
    use crate::api::users::UserRef;
    use time::macros::datetime;

    fn lock(n: usize, reason: &str) -> Lock {
        Lock {
            id: format!("l{n}"),
            user: UserRef {
                id: format!("u{n}"),
                user_name: format!("user{n}"),
            },
            reason: reason.to_owned(),
            created_at: datetime!(2026-01-01 00:00:00 UTC),
            created_by: "root".to_owned(),
        }
    }

    fn stream(pages: &[Vec<Lock>], format: Format) -> String {
        let mut out = Vec::new();
        let mut writer = ListWriter::new(&mut out, View::of(format), Style::plain());
        for page in pages {
            writer.page(page).expect("page");
        }
        let count = writer.finish().expect("finish");
        assert_eq!(count, pages.iter().map(Vec::len).sum::<usize>());
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn json_streamed_in_pages_equals_the_whole_list_pretty_printed() {
        let all: Vec<Lock> = (0..5).map(|n| lock(n, "left")).collect();
        let pages = vec![
            all[..2].to_vec(),
            vec![],
            all[2..3].to_vec(),
            all[3..].to_vec(),
        ];
        let mut expected = serde_json::to_string_pretty(&all).expect("json");
        expected.push('\n');
        assert_eq!(stream(&pages, Format::Json), expected);
    }

    #[test]
    fn an_empty_listing_is_an_empty_array_or_nothing() {
        assert_eq!(stream(&[], Format::Json), "[]\n");
        assert_eq!(stream(&[vec![]], Format::Json), "[]\n");
        assert_eq!(stream(&[vec![]], Format::Table), "");
    }

    #[test]
    fn one_page_looks_like_any_other_table() {
        let text = stream(
            &[vec![lock(1, "left"), lock(22, "contract ended")]],
            Format::Table,
        );
        assert_eq!(
            text,
            "\
ID   USER    REASON          CREATED               CREATED BY
l1   user1   left            2026-01-01T00:00:00Z  root
l22  user22  contract ended  2026-01-01T00:00:00Z  root
"
        );
    }

    #[test]
    fn the_first_page_fixes_the_columns_and_later_pages_never_widen_them() {
        let text = stream(
            &[
                vec![lock(1, "a much longer reason")],
                vec![lock(333, "x")],
                vec![lock(2, "short")],
            ],
            Format::Table,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let created = lines[0].find("CREATED").expect("header");
        assert_eq!(lines[1].find("2026"), Some(created), "{text}");
        // Page 2's wider id pushes its own row only…
        assert_eq!(lines[2].find("user333"), Some(6), "{text}");
        // …and page 3 still lines up under the header.
        assert_eq!(lines[3].find("user2"), Some(4), "{text}");
        assert_eq!(lines[3].find("2026"), Some(created), "{text}");
    }

    #[test]
    fn a_streamed_page_looks_like_the_whole_list_as_a_table() {
        let locks = vec![lock(1, "left"), lock(22, "contract ended")];
        let whole =
            crate::output::tests::render(crate::output::Output::list(locks.clone()), Format::Table);
        assert_eq!(stream(&[locks], Format::Table), whole);
    }

    #[test]
    fn following_as_json_prints_one_object_per_line() {
        let mut out = Vec::new();
        let mut writer = ListWriter::follow(&mut out, View::of(Format::Json), Style::plain());
        writer.page(&[lock(1, "left")]).expect("first");
        writer.page::<Lock>(&[]).expect("nothing new");
        writer.page(&[lock(2, "moved")]).expect("second");
        writer.finish().expect("finish");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let second: Lock = serde_json::from_str(lines[1]).expect("a Lock");
        assert_eq!(second, lock(2, "moved"));
    }

    fn stream_view(pages: &[Vec<Lock>], view: View) -> String {
        let mut out = Vec::new();
        let mut writer = ListWriter::new(&mut out, view, Style::plain());
        for page in pages {
            writer.page(page).expect("page");
        }
        writer.finish().expect("finish");
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn yaml_and_csv_streamed_in_pages_equal_the_whole_list() {
        let all: Vec<Lock> = (0..4).map(|n| lock(n, "left, for good")).collect();
        let pages = vec![all[..1].to_vec(), vec![], all[1..].to_vec()];
        for format in [Format::Yaml, Format::Csv] {
            let whole =
                crate::output::tests::render(crate::output::Output::list(all.clone()), format);
            assert_eq!(stream(&pages, format), whole, "{format:?}");
        }
        let parsed: Vec<Lock> =
            serde_yaml_ng::from_str(&stream(&pages, Format::Yaml)).expect("one YAML sequence");
        assert_eq!(parsed, all);
        let csv = stream(&pages, Format::Csv);
        assert_eq!(csv.lines().count(), 5, "one header line:\n{csv}");
        assert!(csv.contains("\"left, for good\""), "{csv}");
    }

    #[test]
    fn an_empty_yaml_or_csv_listing_is_an_empty_sequence_or_a_header() {
        assert_eq!(stream(&[vec![]], Format::Yaml), "[]\n");
        assert_eq!(
            stream(&[vec![]], Format::Csv),
            "id,user,reason,created,created-by\n"
        );
    }

    #[test]
    fn jq_runs_on_the_whole_streamed_array() {
        let all: Vec<Lock> = (0..3).map(|n| lock(n, "left")).collect();
        let view = View {
            format: Format::Json,
            jq: Some(crate::output::jq::Jq::parse("length, .[-1].id").expect("filter")),
            ..View::default()
        };
        let text = stream_view(&[all[..2].to_vec(), all[2..].to_vec()], view);
        assert_eq!(text, "3\nl2\n");
    }

    #[test]
    fn columns_choose_and_order_streamed_columns() {
        let view = View {
            columns: Some(vec!["reason".to_owned(), "ID".to_owned()]),
            ..View::of(Format::Table)
        };
        let text = stream_view(&[vec![lock(1, "left")]], view);
        assert_eq!(text, "REASON  ID\nleft    l1\n");
        let mut writer = ListWriter::new(
            Vec::new(),
            View {
                columns: Some(vec!["nope".to_owned()]),
                ..View::of(Format::Csv)
            },
            Style::plain(),
        );
        let err = writer.prepare::<Lock>().expect_err("no such column");
        assert!(err.to_string().contains("created-by"), "{err}");
    }

    #[test]
    fn rows_are_the_same_as_in_single_resource_json() {
        // The listing's JSON elements are the resource type itself.
        let text = stream(&[vec![lock(1, "left")]], Format::Json);
        let parsed: Vec<Lock> = serde_json::from_str(&text).expect("array of Lock");
        assert_eq!(parsed, vec![lock(1, "left")]);
    }
}
