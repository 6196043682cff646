//! Paged listings on the CLI side: follow the server's cursor and print each
//! page as it arrives (`output::stream`), so memory stays at one page and
//! the first rows show before the last page is fetched (through the pager,
//! for a table on a terminal).

use std::future::Future;

use super::Context;
use crate::api::Page;
use crate::client::ClientError;
use crate::output::Show;
use crate::output::Style;
use crate::output::pager;
use crate::output::stream::{ListWriter, Progress};

/// Fetches page after page with `fetch(cursor)` (no cursor for the first)
/// and prints each one on stdout in the output format asked for. `what`
/// names the items in the progress line ("users"). Returns how many were
/// printed.
pub async fn stream<T, F, Fut>(
    ctx: &Context,
    what: &'static str,
    mut fetch: F,
) -> anyhow::Result<usize>
where
    T: Show,
    F: FnMut(Option<String>) -> Fut,
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
    loop {
        progress.fetching(writer.count());
        let page = fetch(cursor.clone()).await?;
        progress.clear();
        writer.page(&page.items)?;
        match page.next_cursor {
            // A server handing back the cursor it was given would loop us
            // forever; stop with what we have.
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(writer.finish()?)
}
