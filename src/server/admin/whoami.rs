//! `GET /admin/v1/whoami`: the key the request was made with.

use axum::{Extension, Json};

use crate::api::WhoAmI;
use crate::server::auth::Caller;

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    let source_ip = caller
        .actor
        .source_ip
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    Json(WhoAmI {
        key: caller.key,
        source_ip,
    })
}
