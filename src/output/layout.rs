//! The layout of list tables, whole or streamed: column widths from the
//! header and the rows at hand, fitted to the terminal by cutting free-text
//! cells short with `…` (never wrapping them mid-word), and the same widths
//! for every row written after, so later pages line up with the header.

use std::io::{self, Write};

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::Column;

/// The space between columns.
const PADDING: usize = 2;

/// The narrowest a free-text column is cut to, unless its title is wider:
/// narrower than this, a cell says nothing.
const MIN_FREE_WIDTH: usize = 8;

/// Column widths, and whether cells wider than theirs are cut short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    widths: Vec<usize>,
    /// Per column, whether a cell wider than the column is cut short: on a
    /// terminal, free text always is, and ids, times and addresses only if
    /// the terminal is too narrow for them (otherwise a longer one pushes
    /// the rest of its row: they are read and copied whole). Without a
    /// terminal nothing is cut: a pipe gets every character.
    cut: Vec<bool>,
}

impl Layout {
    /// Widths for `columns` from their titles and `rows`, fitted to
    /// `terminal` columns when it is given.
    pub fn new(columns: &[Column], rows: &[Vec<String>], terminal: Option<usize>) -> Self {
        let mut widths: Vec<usize> = columns.iter().map(|c| c.title.width()).collect();
        for row in rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.width());
            }
        }
        let natural = widths.clone();
        let readable =
            |column: &Column, width: usize| width.min(column.title.width().max(MIN_FREE_WIDTH));
        if let Some(terminal) = terminal {
            // Free text gives way first…
            let floors: Vec<usize> = columns
                .iter()
                .zip(&widths)
                .map(|(column, &width)| {
                    if column.whole {
                        width
                    } else {
                        readable(column, width)
                    }
                })
                .collect();
            shrink(&mut widths, &floors, terminal);
            // …then, only if that is not enough, every column but the first
            // (the id or name a row is known by): a line longer than the
            // terminal wraps into a jumble, a cut time still says which
            // day, and -o json or --columns show everything.
            let floors: Vec<usize> = columns
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(index, (column, &width))| {
                    if index == 0 {
                        width
                    } else {
                        readable(column, width)
                    }
                })
                .collect();
            shrink(&mut widths, &floors, terminal);
        }
        let cut = columns
            .iter()
            .zip(widths.iter().zip(&natural))
            .map(|(column, (width, natural))| {
                terminal.is_some() && (!column.whole || width < natural)
            })
            .collect();
        Layout { widths, cut }
    }

    /// The titles, bold when `bold`.
    pub fn write_header(
        &self,
        out: &mut dyn Write,
        columns: &[Column],
        bold: bool,
    ) -> io::Result<()> {
        let titles: Vec<String> = columns.iter().map(|c| c.title.to_owned()).collect();
        self.write_line(out, &titles, bold)
    }

    /// One row: each cell padded to its column's width, columns
    /// [`PADDING`] apart, nothing after the last cell.
    pub fn write_row(&self, out: &mut dyn Write, cells: &[String]) -> io::Result<()> {
        self.write_line(out, cells, false)
    }

    fn write_line(&self, out: &mut dyn Write, cells: &[String], bold: bool) -> io::Result<()> {
        let mut line = String::new();
        let mut previous_gap = 0;
        for (index, cell) in cells.iter().enumerate() {
            let width = self.widths.get(index).copied().unwrap_or(0);
            let text = if self.cut.get(index).copied().unwrap_or(false) {
                truncate(cell, width)
            } else {
                cell.clone()
            };
            line.push_str(&" ".repeat(previous_gap));
            if bold {
                line.push_str(&format!("\x1b[1m{text}\x1b[0m"));
            } else {
                line.push_str(&text);
            }
            previous_gap = width.saturating_sub(text.width()) + PADDING;
        }
        writeln!(out, "{}", line.trim_end())
    }
}

/// Narrows the widest shrinkable column one step at a time until the line
/// fits `terminal` or every column is at its floor (then the line is simply
/// longer than the terminal).
fn shrink(widths: &mut [usize], floors: &[usize], terminal: usize) {
    let line =
        |widths: &[usize]| widths.iter().sum::<usize>() + PADDING * widths.len().saturating_sub(1);
    let mut excess = line(widths).saturating_sub(terminal);
    while excess > 0 {
        let widest = (0..widths.len())
            .filter(|&i| widths[i] > floors[i])
            .max_by_key(|&i| (widths[i], std::cmp::Reverse(i)));
        let Some(widest) = widest else { break };
        widths[widest] -= 1;
        excess -= 1;
    }
}

/// `text` cut to `width` display columns, ending in `…` when cut.
pub fn truncate(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = ch.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        cut.push(ch);
        used += w;
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::whole("ID"),
        Column::free("NAME"),
        Column::free("SCOPES"),
        Column::whole("EXPIRES"),
    ];

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    /// Where `pattern` starts in `line`, in display columns.
    fn column(line: &str, pattern: &str) -> Option<usize> {
        line.find(pattern).map(|at| line[..at].width())
    }

    fn render(layout: &Layout, rows: &[Vec<String>]) -> String {
        let mut out = Vec::new();
        layout
            .write_header(&mut out, COLUMNS, false)
            .expect("header");
        for r in rows {
            layout.write_row(&mut out, r).expect("row");
        }
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis_never_wrapped() {
        assert_eq!(truncate("scim:provision", 20), "scim:provision");
        assert_eq!(truncate("scim:provision", 8), "scim:pr…");
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
    }

    #[test]
    fn a_narrow_terminal_cuts_free_columns_only() {
        let rows = vec![
            row(&[
                "k1",
                "nightly report",
                "scim:provision, users:read, users:write",
                "2027-01-01T00:00:00Z",
            ]),
            row(&["k22", "ci", "all", "never"]),
        ];
        let layout = Layout::new(COLUMNS, &rows, Some(50));
        let text = render(&layout, &rows);
        for line in text.lines() {
            assert!(line.width() <= 50, "{line:?} is wider than 50\n{text}");
        }
        assert!(text.contains("2027-01-01T00:00:00Z"), "{text}");
        assert!(text.contains('…'), "{text}");
        // Nothing wraps: one line per row.
        assert_eq!(text.lines().count(), 3, "{text}");
        // Columns line up.
        let at = column(text.lines().next().expect("header"), "EXPIRES");
        assert_eq!(
            column(text.lines().nth(2).expect("row"), "never"),
            at,
            "{text}"
        );
    }

    #[test]
    fn a_very_narrow_terminal_cuts_all_but_the_first_column() {
        let rows = vec![row(&[
            "k1-long-id",
            "nightly",
            "all",
            "2027-01-01T00:00:00Z",
        ])];
        let layout = Layout::new(COLUMNS, &rows, Some(40));
        let text = render(&layout, &rows);
        for line in text.lines() {
            assert!(line.width() <= 40, "{line:?} is wider than 40\n{text}");
        }
        assert!(text.contains("k1-long-id"), "{text}");
        assert!(text.contains("2027-01-01…"), "{text}");
    }

    #[test]
    fn without_a_terminal_nothing_is_cut() {
        let rows = vec![row(&["k1", "a very long name indeed", "all", "never"])];
        let layout = Layout::new(COLUMNS, &rows, None);
        let text = render(&layout, &rows);
        assert!(text.contains("a very long name indeed"), "{text}");
    }

    #[test]
    fn later_rows_keep_the_first_rows_widths() {
        let first = vec![row(&["k1", "short", "all", "never"])];
        let layout = Layout::new(COLUMNS, &first, Some(80));
        let later = vec![row(&[
            "k2",
            "a name much longer than before",
            "all",
            "never",
        ])];
        let text = render(&layout, &later);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            column(lines[1], "never"),
            column(lines[0], "EXPIRES"),
            "a later row lines up with the header:\n{text}"
        );
        assert!(lines[1].contains('…'), "{text}");
    }
}
