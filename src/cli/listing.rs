//! Listings on the CLI side: `--limit` ("at most N results") and
//! `--page-size` (results per request), checked as people read ranges; and
//! paged listings that follow the server's cursor and print each page as it
//! arrives (`output::stream`), so memory stays at one page and the first
//! rows show before the last page is fetched (through the pager, for a
//! table on a terminal).

use std::ffi::OsStr;
use std::future::Future;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Args, Command};

use super::Context;
use crate::api::Page;
use crate::client::ClientError;
use crate::output::Show;
use crate::output::Style;
use crate::output::pager;
use crate::output::stream::{ListWriter, Progress};

/// The server's page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// The largest page the server hands out.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// `--limit` of a listing that is not paged (the server sends one page).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct Limit {
    /// List at most N results [default: all]
    #[arg(long, value_name = "N", value_parser = Count::at_least(1))]
    pub limit: Option<u64>,
}

impl Limit {
    /// Keeps the first `--limit` items.
    pub fn apply<T>(self, mut items: Vec<T>) -> Vec<T> {
        if let Some(limit) = self.limit {
            items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        items
    }
}

/// `--limit` and `--page-size` of a paged listing.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct Paging {
    /// List at most N results [default: all]
    #[arg(long, value_name = "N", value_parser = Count::at_least(1))]
    pub limit: Option<u64>,

    /// Results fetched per request, 1 to 1000 [default: 100]
    ///
    /// Changes how the listing is fetched, never what it lists: a smaller
    /// page shows the first rows sooner.
    #[arg(
        long,
        value_name = "N",
        value_parser = Count::between(1, u64::from(MAX_PAGE_SIZE)).map(|n| n as u32)
    )]
    pub page_size: Option<u32>,
}

impl Paging {
    /// The page size to ask for when `remaining` results are still wanted:
    /// never more than that, so the server reads no row the listing drops.
    fn next_page_size(self, remaining: Option<u64>) -> Option<u32> {
        match remaining {
            Some(remaining) => {
                let size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
                // `remaining` is at least 1 here and `size` at most 1000.
                Some(u32::try_from(remaining.min(u64::from(size))).unwrap_or(size))
            }
            None => self.page_size,
        }
    }
}

/// A whole number in a range, for counts on the command line. Out of range
/// it says so as people say it (`--limit must be at least 1`), rather than
/// clap's `0 is not in 1..18446744073709551615`.
#[derive(Debug, Clone, Copy)]
pub struct Count {
    min: u64,
    max: u64,
}

impl Count {
    pub fn at_least(min: u64) -> Self {
        Count { min, max: u64::MAX }
    }

    pub fn between(min: u64, max: u64) -> Self {
        Count { min, max }
    }

    /// Why `value` is refused, or the count.
    fn check(self, flag: &str, value: &str) -> Result<u64, String> {
        let range = if self.max == u64::MAX {
            format!("{flag} must be at least {}", self.min)
        } else {
            format!("{flag} must be from {} to {}", self.min, self.max)
        };
        match value.trim().parse::<u64>() {
            Ok(n) if (self.min..=self.max).contains(&n) => Ok(n),
            Ok(_) => Err(range),
            Err(_) => Err(format!(
                "{flag} takes a whole number ({range}), not {value:?}"
            )),
        }
    }
}

impl TypedValueParser for Count {
    type Value = u64;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<u64, clap::Error> {
        let flag = arg
            .and_then(Arg::get_long)
            .map_or_else(|| "the value".to_owned(), |long| format!("--{long}"));
        self.check(&flag, &value.to_string_lossy())
            .map_err(|message| {
                clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).with_cmd(cmd)
            })
    }
}

/// Fetches page after page with `fetch(cursor, page_size)` (no cursor for
/// the first; no page size for the server's default) and prints each one
/// on stdout in the output format asked for, stopping after `--limit`
/// results. `what` names the items in the progress line ("users"). Returns
/// how many were printed.
pub async fn stream<T, F, Fut>(
    ctx: &Context,
    what: &'static str,
    paging: Paging,
    mut fetch: F,
) -> anyhow::Result<usize>
where
    T: Show,
    F: FnMut(Option<String>, Option<u32>) -> Fut,
    Fut: Future<Output = Result<Page<T>, ClientError>>,
{
    let view = ctx.global.view();
    let style = Style::detect();
    // A bad --columns is a usage error before any request (or pager).
    crate::output::pick_columns(T::COLUMNS, view.columns.as_deref(), Vec::new())?;
    let paged = view.pages(style);
    let mut writer = ListWriter::new(pager::Stdout::open(paged), view, style);
    writer.prepare::<T>()?;
    // The pager owns the terminal: a progress line would scribble on it.
    let mut progress = Progress::new(what, ctx.global.quiet || paged);
    let mut cursor: Option<String> = None;
    let mut remaining = paging.limit;
    loop {
        progress.fetching(writer.count());
        let page = fetch(cursor.clone(), paging.next_page_size(remaining)).await?;
        progress.clear();
        let mut items = page.items;
        if let Some(left) = remaining {
            items.truncate(usize::try_from(left).unwrap_or(usize::MAX));
            remaining = Some(left - items.len() as u64);
        }
        writer.page(&items)?;
        if remaining == Some(0) {
            break;
        }
        match page.next_cursor {
            // A server handing back the cursor it was given would loop us
            // forever; stop with what we have.
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(writer.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_as_people_read_ranges() {
        assert_eq!(Count::at_least(1).check("--limit", "5"), Ok(5));
        assert_eq!(
            Count::at_least(1).check("--limit", "0"),
            Err("--limit must be at least 1".to_owned())
        );
        assert_eq!(
            Count::between(1, 1000).check("--page-size", "1001"),
            Err("--page-size must be from 1 to 1000".to_owned())
        );
        let err = Count::at_least(1)
            .check("--limit", "ten")
            .expect_err("not a number");
        assert!(
            err.contains("whole number") && err.contains("\"ten\""),
            "{err}"
        );
        assert!(Count::at_least(1).check("--limit", "-1").is_err());
    }

    #[test]
    fn pages_never_ask_for_more_than_the_limit_leaves() {
        let paging = |limit, page_size| Paging { limit, page_size };
        assert_eq!(paging(None, None).next_page_size(None), None);
        assert_eq!(paging(None, Some(7)).next_page_size(None), Some(7));
        assert_eq!(paging(Some(10), None).next_page_size(Some(10)), Some(10));
        assert_eq!(paging(Some(500), None).next_page_size(Some(500)), Some(100));
        assert_eq!(paging(Some(500), Some(3)).next_page_size(Some(2)), Some(2));
        assert_eq!(
            paging(Some(u64::MAX), Some(1000)).next_page_size(Some(u64::MAX)),
            Some(1000)
        );
    }
}
