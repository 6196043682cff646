//! Listings printed page by page as they arrive, so a directory of any size
//! takes one page of memory: a table whose columns the header and the first
//! page fix, or one JSON array written incrementally that is still exactly
//! what `serde_json::to_writer_pretty` would print for the whole list; and
//! for `audit list --follow`, table rows or one JSON object per line. Also
//! the progress line shown on a terminal while pages are fetched.

use std::io::{self, IsTerminal, Write};

use serde::Serialize;
use serde_json::ser::{PrettyFormatter, Serializer};
use unicode_width::UnicodeWidthStr;

use super::{Format, Show, Style};

/// Writes a listing page by page. Call [`page`](Self::page) for each page,
/// then [`finish`](Self::finish) once: it closes the JSON array.
///
/// Tables: the header and the first page fix the column widths, so every
/// later row lines up under them; a longer cell in a later page pushes the
/// rest of its own row only, and never widens the columns page by page.
/// Nothing wraps to the terminal: wrapping needs every row's width up front,
/// which streaming gives up. If the listing fails half-way, the JSON on
/// stdout stays unterminated on purpose, so a script's parser fails instead
/// of taking a partial list for the whole (the exit status says so too).
pub struct ListWriter<W: Write> {
    out: W,
    format: Format,
    style: Style,
    /// `audit list --follow`: JSON as one compact object per line, which a
    /// script reads line by line without waiting for an array that never
    /// closes.
    lines: bool,
    count: usize,
    /// Display widths of the table's columns, fixed by the first page.
    widths: Vec<usize>,
}

impl<W: Write> ListWriter<W> {
    pub fn new(out: W, format: Format, style: Style) -> Self {
        ListWriter {
            out,
            format,
            style,
            lines: false,
            count: 0,
            widths: Vec::new(),
        }
    }

    /// For a listing that never ends (`--follow`): tables as above, JSON as
    /// one object per line.
    pub fn follow(out: W, format: Format, style: Style) -> Self {
        ListWriter {
            lines: true,
            ..ListWriter::new(out, format, style)
        }
    }

    /// How many items have been written.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Writes one page and flushes it, so it shows while the next is fetched.
    pub fn page<T: Show>(&mut self, items: &[T]) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        match (self.format, self.lines) {
            (Format::Json, false) => self.json_page(items)?,
            (Format::Json, true) => self.json_lines(items)?,
            (Format::Table, _) => self.table_page(items)?,
        }
        self.count += items.len();
        self.out.flush()
    }

    /// Ends the listing: closes the JSON array (`[]` when empty). An empty
    /// table prints nothing; the caller says so on stderr.
    pub fn finish(mut self) -> io::Result<usize> {
        if self.format == Format::Json && !self.lines {
            if self.count == 0 {
                writeln!(self.out, "[]")?;
            } else {
                writeln!(self.out, "\n]")?;
            }
        }
        self.out.flush()?;
        Ok(self.count)
    }

    fn json_page<T: Serialize>(&mut self, items: &[T]) -> io::Result<()> {
        let first_page = self.count == 0;
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
            self.out.write_all(separator.as_bytes())?;
            for (line_no, line) in text.lines().enumerate() {
                if line_no > 0 {
                    self.out.write_all(b"\n")?;
                }
                write!(self.out, "  {line}")?;
            }
        }
        Ok(())
    }

    fn json_lines<T: Serialize>(&mut self, items: &[T]) -> io::Result<()> {
        for item in items {
            serde_json::to_writer(&mut self.out, item)?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn table_page<T: Show>(&mut self, items: &[T]) -> io::Result<()> {
        let rows: Vec<Vec<String>> = items.iter().map(T::row).collect();
        if self.count == 0 {
            let header: Vec<String> = T::COLUMNS.iter().map(|c| c.title.to_owned()).collect();
            self.widths = header.iter().map(|cell| cell.width()).collect();
            for row in &rows {
                for (width, cell) in self.widths.iter_mut().zip(row) {
                    *width = (*width).max(cell.width());
                }
            }
            let bold = self.style.color;
            self.write_row(&header, bold)?;
        }
        for row in &rows {
            self.write_row(row, false)?;
        }
        Ok(())
    }

    /// One line: each cell padded to its column's width, columns
    /// [`PADDING`] apart, nothing after the last cell.
    fn write_row(&mut self, cells: &[String], bold: bool) -> io::Result<()> {
        let mut line = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index > 0 {
                let before = self.widths.get(index - 1).copied().unwrap_or(0);
                let used = cells[index - 1].width();
                line.push_str(&" ".repeat(before.saturating_sub(used) + PADDING));
            }
            if bold {
                line.push_str(&format!("\x1b[1m{cell}\x1b[0m"));
            } else {
                line.push_str(cell);
            }
        }
        writeln!(self.out, "{}", line.trim_end())
    }
}

/// The space between columns, as in every other table.
const PADDING: usize = 2;

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
        let mut writer = ListWriter::new(&mut out, format, Style::plain());
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
        let mut writer = ListWriter::follow(&mut out, Format::Json, Style::plain());
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

    #[test]
    fn rows_are_the_same_as_in_single_resource_json() {
        // The listing's JSON elements are the resource type itself.
        let text = stream(&[vec![lock(1, "left")]], Format::Json);
        let parsed: Vec<Lock> = serde_json::from_str(&text).expect("array of Lock");
        assert_eq!(parsed, vec![lock(1, "left")]);
    }
}
