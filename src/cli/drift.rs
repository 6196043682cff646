//! `scimctl drift --from FILE`: an IdP's user export compared with the
//! directory; exit 5 when they differ.

mod compare;
pub(crate) mod export;

use anyhow::Context as _;
use clap::Args;

use super::Context;
use crate::api::users::UserListQuery;
use crate::cli::listing::MAX_PAGE_SIZE;
use crate::output::{Answer, Output};

#[derive(Args, Debug)]
pub struct DriftArgs {
    /// The IdP's user export, a CSV file (`-` for standard input)
    ///
    /// Columns by header, case, spaces and `_` ignored: userName is
    /// `userName`, else `Username` (Okta), `userPrincipalName` (Entra ID)
    /// or `login`; active is `active`, else `accountEnabled` (Entra ID) or
    /// `Status` (Okta: ACTIVE, PROVISIONED, RECOVERY, PASSWORD_EXPIRED and
    /// LOCKED_OUT are active; STAGED, SUSPENDED and DEPROVISIONED are
    /// not); optional `groups`, names separated by `;` (or by `,` when a
    /// cell has no `;`). Other columns are ignored.
    #[arg(long, value_name = "FILE")]
    pub from: String,
}

pub async fn run(ctx: &Context, args: DriftArgs) -> anyhow::Result<Output> {
    // The whole file is read and checked before anything is sent.
    let export = export::read(&args.from)?;
    let has_groups = export.has_groups;
    let (client, _) = ctx.client().await?;
    let mut comparison = compare::Comparison::new(export);
    let mut query = UserListQuery {
        limit: Some(MAX_PAGE_SIZE),
        ..UserListQuery::default()
    };
    loop {
        let page = client
            .list_users_page(&query)
            .await
            .context("cannot read the directory's users")?;
        for user in &page.items {
            comparison.user(user);
        }
        match page.next_cursor {
            // A server handing back the cursor it was given would loop us
            // forever; stop with what we have.
            Some(next) if query.cursor.as_deref() != Some(next.as_str()) => {
                query.cursor = Some(next);
            }
            _ => break,
        }
    }
    let (differences, counts) = comparison.finish();
    let answer = if differences.is_empty() {
        Answer::Yes
    } else {
        Answer::No
    };
    let mut output = Output::list(differences).note(counts.line());
    if !has_groups {
        output = output.note(
            "the export has no groups column: group memberships were not compared".to_owned(),
        );
    }
    output.answer = answer;
    Ok(output)
}
