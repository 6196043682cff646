//! `GET /admin/v1/whoami`: the key the request was made with.

use axum::{Extension, Json};

use crate::api::WhoAmI;
use crate::server::auth::Caller;

/// Show the API key this request is made with.
#[utoipa::path(
    get,
    path = "/whoami",
    operation_id = "whoami",
    tag = "keys",
    responses((status = OK, body = WhoAmI, description = "The key and the address the server sees.")),
)]
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
