//! The spellings of a SCIM URL that other clients send, made canonical
//! before routing: a trailing slash (`/scim/v2/Users/?filter=…`) and an
//! endpoint name in another case (`/scim/v2/users`, as Microsoft's Postman
//! collection builds it). Microsoft's reference server and the python-scim
//! server accept both, and clients written against them send them.
//!
//! Only paths under `/scim/v2` change, and in them only the trailing
//! slashes and the fixed names (`Users`, `Groups`, `ServiceProviderConfig`,
//! `ResourceTypes`, `Schemas`, `.search`): ids are left as sent, and the
//! admin API stays strict. What the server writes back (`Location`,
//! `meta.location`) never comes from the request path, so it stays
//! canonical. tower-http's `NormalizePath` would trim the slash but not
//! only here, and knows nothing of case.

use axum::extract::{OriginalUri, Request};
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

use super::PREFIX;

/// The names directly under the prefix, as routed.
const ENDPOINTS: [&str; 6] = [
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    ".search",
];

/// The collections with a `.search` of their own.
const SEARCHABLE: [&str; 2] = ["Users", "Groups"];

/// Rewrites a SCIM request's path to its canonical spelling; any other
/// request passes unchanged. It must wrap the router (layers added with
/// `Router::layer` run after routing). The path as sent stays available
/// as [`OriginalUri`], for the audit log and error messages.
pub fn normalize(mut request: Request) -> Request {
    let Some(path) = canonical(request.uri().path()) else {
        return request;
    };
    let uri = request.uri().clone();
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return request;
    };
    parts.path_and_query = Some(path_and_query);
    let Ok(canonical) = Uri::from_parts(parts) else {
        return request;
    };
    if request.extensions().get::<OriginalUri>().is_none() {
        request.extensions_mut().insert(OriginalUri(uri));
    }
    *request.uri_mut() = canonical;
    request
}

/// `path` spelled as the SCIM routes are, when that differs from it.
fn canonical(path: &str) -> Option<String> {
    let rest = path.strip_prefix(PREFIX)?;
    if !rest.starts_with('/') {
        // `/scim/v2` itself, or another path that merely starts alike.
        return None;
    }
    let mut segments: Vec<&str> = rest.trim_end_matches('/').split('/').skip(1).collect();
    if let Some(first) = segments.first_mut() {
        *first = spelled_as(first, &ENDPOINTS);
    }
    if let [collection, second, ..] = segments.as_mut_slice()
        && SEARCHABLE.contains(collection)
    {
        *second = spelled_as(second, &[".search"]);
    }
    let canonical = if segments.is_empty() {
        PREFIX.to_owned()
    } else {
        format!("{PREFIX}/{}", segments.join("/"))
    };
    (canonical != path).then_some(canonical)
}

/// The name of `names` that `segment` is in another case, else `segment`.
fn spelled_as<'a>(segment: &'a str, names: &[&'static str]) -> &'a str {
    names
        .iter()
        .find(|name| name.eq_ignore_ascii_case(segment))
        .copied()
        .unwrap_or(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_spellings_become_the_routed_ones() {
        for (sent, routed) in [
            ("/scim/v2/users", "/scim/v2/Users"),
            ("/scim/v2/Users/", "/scim/v2/Users"),
            ("/scim/v2/USERS//", "/scim/v2/Users"),
            ("/scim/v2/groups/ABC-def/", "/scim/v2/Groups/ABC-def"),
            ("/scim/v2/users/.SEARCH", "/scim/v2/Users/.search"),
            ("/scim/v2/Groups/.search/", "/scim/v2/Groups/.search"),
            ("/scim/v2/.Search/", "/scim/v2/.search"),
            (
                "/scim/v2/serviceproviderconfig/",
                "/scim/v2/ServiceProviderConfig",
            ),
            ("/scim/v2/resourcetypes/user", "/scim/v2/ResourceTypes/user"),
            (
                "/scim/v2/schemas/urn:x:User/",
                "/scim/v2/Schemas/urn:x:User",
            ),
            ("/scim/v2/", "/scim/v2"),
            ("/scim/v2/devices/", "/scim/v2/devices"),
        ] {
            assert_eq!(canonical(sent).as_deref(), Some(routed), "{sent}");
        }
    }

    #[test]
    fn canonical_paths_ids_and_other_apis_are_left_alone() {
        for path in [
            "/scim/v2",
            "/scim/v2/Users",
            "/scim/v2/Users/.search",
            "/scim/v2/Users/users",
            "/scim/v2/Schemas/.search",
            "/scim/v2/devices",
            "/scim/v2users",
            "/scim/V2/Users",
            "/admin/v1/keys/",
            "/admin/v1/Keys",
            "/healthz/",
        ] {
            assert_eq!(canonical(path), None, "{path}");
        }
    }

    #[test]
    fn the_query_and_the_path_as_sent_are_kept() {
        let request = Request::builder()
            .uri("http://example.com/scim/v2/users/?filter=userName%20eq%20%22a%22")
            .body(axum::body::Body::empty())
            .expect("request");
        let request = normalize(request);
        assert_eq!(
            request.uri(),
            "http://example.com/scim/v2/Users?filter=userName%20eq%20%22a%22"
        );
        let OriginalUri(sent) = request.extensions().get().expect("original");
        assert_eq!(sent.path(), "/scim/v2/users/");

        let untouched = normalize(
            Request::builder()
                .uri("/admin/v1/keys/")
                .body(axum::body::Body::empty())
                .expect("request"),
        );
        assert_eq!(untouched.uri(), "/admin/v1/keys/");
        assert!(untouched.extensions().get::<OriginalUri>().is_none());
    }
}
