//! `scimctl whoami`: which API key the CLI is using, against which server.

use super::Context;
use crate::output::{Data, Output};

pub async fn run(ctx: &Context) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let who = client.whoami().await?;
    Ok(Output::data(Data::WhoAmI {
        who,
        server: client.addr().to_owned(),
    }))
}
