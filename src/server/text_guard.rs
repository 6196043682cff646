//! Refuses a request whose path or query string, once percent-decoded,
//! holds a control character (`%00`, `%0A`, …), before routing: no handler,
//! lookup or filter then sees one, and both backends answer the same `400`
//! (PostgreSQL cannot even bind a NUL). The rule is [`crate::text`]'s.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::scim::PREFIX as SCIM_PREFIX;
use super::scim::error::ScimHttpError;
use crate::scim::error::ScimType;
use crate::text::{self, Kind, TextError};

pub async fn refuse_control_characters(request: Request, next: Next) -> Response {
    let uri = request.uri();
    let refused = check_path(uri.path())
        .and_then(|()| uri.query().map_or(Ok(()), check_query))
        .err();
    let Some(err) = refused else {
        return next.run(request).await;
    };
    let scim = uri.path() == SCIM_PREFIX || uri.path().starts_with(&format!("{SCIM_PREFIX}/"));
    if scim {
        let scim_type = if err.field.contains("\"filter\"") {
            ScimType::InvalidFilter
        } else {
            ScimType::InvalidValue
        };
        ScimHttpError::bad_request(scim_type, err.to_string()).into_response()
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, err.to_string()).into_response()
    }
}

fn check_path(path: &str) -> Result<(), TextError> {
    text::check(
        "the request path",
        &decode(path, false),
        Kind::Name,
        usize::MAX,
    )
}

fn check_query(query: &str) -> Result<(), TextError> {
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name, true);
        text::check("a query parameter name", &name, Kind::Name, usize::MAX)?;
        let field = format!("the query parameter {name:?}");
        text::check(&field, &decode(value, true), Kind::Name, usize::MAX)?;
    }
    Ok(())
}

/// Percent-decoding (and `+` as space in a query), invalid UTF-8 replaced:
/// only the characters matter here, not the exact bytes.
fn decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|b| char::from(*b).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (byte, hex(index + 1), hex(index + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(high * 16 + low);
                index += 3;
            }
            (b'+', _, _) if plus_is_space => {
                out.push(b' ');
                index += 1;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_paths_and_queries_are_checked() {
        assert!(check_path("/scim/v2/Users/abc").is_ok());
        assert!(check_path("/scim/v2/Users/a%00b").is_err());
        assert!(check_path("/admin/v1/users/%E2%80%AE").is_err());
        assert!(check_query("filter=userName+eq+%22a%22&count=2").is_ok());
        assert!(check_query("filter=title+co+%22a%0Ab%22").is_err());
        let err = check_query("search=a%00").expect_err("NUL");
        assert_eq!(err.field, "the query parameter \"search\"");
        assert_eq!(decode("%zz%4", false), "%zz%4");
    }
}
