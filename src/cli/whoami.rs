//! `scimctl whoami`: which API key the CLI is using, against which server.

use super::Context;
use crate::output::Output;
use crate::output::keys::KeyInUse;

pub async fn run(ctx: &Context) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let who = client.whoami().await?;
    Ok(Output::one(KeyInUse {
        who,
        server: client.addr().to_owned(),
    }))
}
