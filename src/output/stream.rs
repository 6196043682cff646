//! Listings printed page by page as they arrive, so a directory of any size
//! takes one page of memory: a table whose columns stay aligned across
//! pages, or one JSON array written incrementally that is still exactly what
//! `serde_json::to_writer_pretty` would print for the whole list. Also the
//! progress line shown on a terminal while pages are fetched.

use std::io::{self, IsTerminal, Write};

use comfy_table::{ColumnConstraint, Width};
use serde::Serialize;
use serde_json::ser::{PrettyFormatter, Serializer};

use super::{Format, Style, header_cell, new_table};

/// A resource that is listed one row per item.
pub trait Row: Serialize {
    /// Column titles, as many as `cells` returns.
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

/// Writes a listing page by page. Call [`page`](Self::page) for each page,
/// then [`finish`](Self::finish) once: it closes the JSON array.
///
/// Tables: the first page fixes the column widths (header included); a later
/// page with a longer cell widens that column from then on. Nothing wraps to
/// the terminal: wrapping needs every row's width up front, which streaming
/// gives up. If the listing fails half-way, the JSON on stdout stays
/// unterminated on purpose, so a script's parser fails instead of taking a
/// partial list for the whole (the exit status says so too).
pub struct ListWriter<W: Write> {
    out: W,
    format: Format,
    style: Style,
    count: usize,
    /// Content widths of the table's columns so far.
    widths: Vec<u16>,
}

impl<W: Write> ListWriter<W> {
    pub fn new(out: W, format: Format, style: Style) -> Self {
        ListWriter {
            out,
            format,
            style,
            count: 0,
            widths: Vec::new(),
        }
    }

    /// How many items have been written.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Writes one page and flushes it, so it shows while the next is fetched.
    pub fn page<T: Row>(&mut self, items: &[T]) -> io::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        match self.format {
            Format::Json => self.json_page(items)?,
            Format::Table => self.table_page(items)?,
        }
        self.count += items.len();
        self.out.flush()
    }

    /// Ends the listing: closes the JSON array (`[]` when empty). An empty
    /// table prints nothing; the caller says so on stderr.
    pub fn finish(mut self) -> io::Result<usize> {
        if self.format == Format::Json {
            if self.count == 0 {
                writeln!(self.out, "[]")?;
            } else {
                writeln!(self.out, "\n]")?;
            }
        }
        self.out.flush()?;
        Ok(self.count)
    }

    fn json_page<T: Row>(&mut self, items: &[T]) -> io::Result<()> {
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

    fn table_page<T: Row>(&mut self, items: &[T]) -> io::Result<()> {
        let mut table = new_table(self.style);
        if self.count == 0 {
            table.set_header(T::HEADER.iter().map(|h| header_cell(h, self.style)));
        }
        for item in items {
            table.add_row(item.cells());
        }
        let page_widths = table.column_max_content_widths();
        self.widths.resize(page_widths.len(), 0);
        for (width, page) in self.widths.iter_mut().zip(page_widths) {
            *width = (*width).max(page);
        }
        for (index, column) in table.column_iter_mut().enumerate() {
            column.set_padding((0, PADDING));
            let width = self.widths.get(index).copied().unwrap_or(1);
            // Absolute widths include the padding.
            column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
                width.saturating_add(PADDING),
            )));
        }
        writeln!(self.out, "{}", table.trim_fmt())
    }
}

/// The space between columns, as in every other table.
const PADDING: u16 = 2;

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
    use crate::api::directory::{Lock, UserRef};
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
    fn later_pages_keep_the_columns_aligned_and_widen_only_when_needed() {
        let text = stream(
            &[
                vec![lock(1, "a much longer reason")],
                vec![lock(2, "short")],
                vec![lock(333, "x")],
            ],
            Format::Table,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        // Page 2 is padded to page 1's widths.
        let created = lines[0].find("CREATED").expect("header");
        assert_eq!(lines[2].find("2026"), Some(created), "{text}");
        // Page 3's wider id pushes its own row only.
        assert_eq!(lines[3].find("user333"), Some(6), "{text}");
        assert_eq!(lines[1].find("user1"), Some(4), "{text}");
    }

    #[test]
    fn rows_are_the_same_as_in_single_resource_json() {
        // The listing's JSON elements are the resource type itself.
        let text = stream(&[vec![lock(1, "left")]], Format::Json);
        let parsed: Vec<Lock> = serde_json::from_str(&text).expect("array of Lock");
        assert_eq!(parsed, vec![lock(1, "left")]);
    }
}
