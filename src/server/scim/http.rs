//! SCIM over HTTP: the request body extractor ([`ScimJson`]), the query
//! extractor ([`ScimQuery`]), the responder ([`ScimResponse`]), weak ETags
//! and their preconditions (`If-Match`, `If-None-Match`), and where this
//! service is reached ([`BaseUrl`]). Errors are `error::ScimHttpError`.
//!
//! Every answer under `/scim/v2` is `application/scim+json`, errors
//! included (RFC 7644 §3.1, §3.12).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::ScimHttpError;
use crate::scim::MEDIA_TYPE;
use crate::scim::error::ScimType;
use crate::scim::etag::Preconditions;
use crate::scim::list::Projection;
use crate::scim::resource::BaseUrl;

use super::PREFIX;

/// The `Content-Type` of every SCIM answer with a body: the bare media
/// type. Its IANA registration (RFC 7644 §8.1) lists "Optional parameters:
/// none", and JSON has no charset parameter (RFC 8259 §11); clients that
/// compare the header exactly fail on anything more.
pub const CONTENT_TYPE: &str = MEDIA_TYPE;

/// `WWW-Authenticate` on every `401` (RFC 7644 §2, RFC 6750 §3).
pub const WWW_AUTHENTICATE: &str = "Bearer realm=\"scimctl\"";

/// What the SCIM extractors need to know about the server, put in every
/// `/scim/v2` request's extensions by the router.
#[derive(Debug, Clone)]
pub(crate) struct ScimSettings {
    /// `ServerConfig.body_limit`, to say it when a body is over it.
    pub body_limit: usize,
    /// Proxies whose `X-Forwarded-Proto`/`X-Forwarded-Host` are believed
    /// when working out [`BaseUrl`].
    pub trusted_proxies: Arc<[IpNet]>,
    /// The listen address: the host of last resort for [`BaseUrl`].
    pub listen: SocketAddr,
}

// ---------------------------------------------------------------------------
// Bodies

/// `status` with `body` as `application/scim+json`.
pub(super) fn scim_body(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

// ---------------------------------------------------------------------------
// Request bodies

/// A SCIM request body: JSON labelled `application/scim+json` or
/// `application/json` (a `charset` other than UTF-8 is refused), parsed into
/// `T` (`serde_json::Value` or a typed struct). Its rejection is a
/// [`ScimHttpError`]: `415` for another media type, `413` over the body limit,
/// `400 invalidSyntax` for malformed JSON or the wrong shape, saying where.
#[derive(Debug, Clone)]
pub struct ScimJson<T>(pub T);

impl<S, T> FromRequest<S> for ScimJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ScimHttpError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        check_media_type(request.headers())?;
        let limit = request
            .extensions()
            .get::<ScimSettings>()
            .map(|settings| settings.body_limit);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| body_error(&rejection, limit))?;
        parse_body(&bytes).map(ScimJson)
    }
}

/// `415` unless the request says its body is SCIM JSON or plain JSON.
fn check_media_type(headers: &HeaderMap) -> Result<(), ScimHttpError> {
    let unsupported = |what: String| {
        ScimHttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
            format!(
                "{what}; send the body as JSON with `Content-Type: {MEDIA_TYPE}` (or \
                 `application/json`)"
            ),
        )
    };
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(unsupported("the request has no Content-Type".to_owned()));
    };
    let text = value
        .to_str()
        .map_err(|_| unsupported("the Content-Type header is not readable text".to_owned()))?;
    let mut parts = text.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(MEDIA_TYPE)
        && !essence.eq_ignore_ascii_case("application/json")
    {
        return Err(unsupported(format!(
            "Content-Type {essence:?} is not supported"
        )));
    }
    for parameter in parts {
        let Some((name, value)) = parameter.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        // JSON is UTF-8 (RFC 8259 §8.1); a body that says otherwise would be
        // misread, so it is refused rather than guessed at.
        if name.trim().eq_ignore_ascii_case("charset")
            && !value.eq_ignore_ascii_case("utf-8")
            && !value.eq_ignore_ascii_case("utf8")
        {
            return Err(unsupported(format!(
                "charset {value:?} is not supported (only utf-8)"
            )));
        }
    }
    Ok(())
}

fn body_error(rejection: &BytesRejection, limit: Option<usize>) -> ScimHttpError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let limit = limit.map_or_else(String::new, |limit| format!(" of {limit} bytes"));
        return ScimHttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!(
                "the request body is larger than the limit{limit} this server accepts; send \
                 less (e.g. fewer members per PATCH) or raise `body_limit` in the server config"
            ),
        );
    }
    ScimHttpError::bad_request(
        ScimType::InvalidSyntax,
        format!(
            "the request body could not be read: {}",
            rejection.body_text()
        ),
    )
}

/// Parses a body, or says where and how it is broken.
fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ScimHttpError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimHttpError::bad_request(
            ScimType::InvalidSyntax,
            "the request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        let what = match err.classify() {
            serde_json::error::Category::Data => "does not have the shape this endpoint expects",
            _ => "is not valid JSON",
        };
        // serde_json's message ends with "at line L column C".
        ScimHttpError::bad_request(
            ScimType::InvalidSyntax,
            format!("the request body {what}: {err}"),
        )
    })
}

/// Query parameters whose rejection is a SCIM error (`400 invalidValue`
/// naming the parameter) instead of axum's plain text.
#[derive(Debug, Clone)]
pub struct ScimQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ScimQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ScimHttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ScimQuery(value)),
            Err(rejection) => Err(ScimHttpError::bad_request(
                ScimType::InvalidValue,
                rejection.body_text(),
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Responses

/// A SCIM answer: status, body as `application/scim+json`,
/// and the `ETag`/`Location` headers where they belong.
///
/// - [`ScimResponse::resource`]: `200` with one resource; `ETag` from its
///   `meta.version`.
/// - [`ScimResponse::created`]: `201`; `ETag` from `meta.version` and
///   `Location` from `meta.location`.
/// - [`ScimResponse::ok`]: `200` without resource headers (lists,
///   discovery).
/// - [`ScimResponse::no_content`]: `204`, no body (`DELETE`).
#[derive(Debug, Clone)]
pub struct ScimResponse {
    status: StatusCode,
    body: Option<Value>,
    etag: Option<String>,
    location: Option<String>,
}

impl ScimResponse {
    /// `status` with `body`, no resource headers.
    pub fn new(status: StatusCode, body: Value) -> Self {
        ScimResponse {
            status,
            body: Some(body),
            etag: None,
            location: None,
        }
    }

    /// `200` with a list, a discovery document or anything else that is not
    /// one versioned resource.
    pub fn ok(body: Value) -> Self {
        ScimResponse::new(StatusCode::OK, body)
    }

    /// `200` with one resource (GET, PUT, PATCH): `ETag` is its
    /// `meta.version`, when the body has one.
    pub fn resource(body: Value) -> Self {
        let etag = meta_string(&body, "version");
        ScimResponse {
            etag,
            ..ScimResponse::ok(body)
        }
    }

    /// `201` with the created resource (POST): `ETag` is its `meta.version`
    /// and `Location` its `meta.location` (RFC 7644 §3.3).
    pub fn created(body: Value) -> Self {
        let location = meta_string(&body, "location");
        ScimResponse {
            status: StatusCode::CREATED,
            location,
            ..ScimResponse::resource(body)
        }
    }

    /// `204` without a body (DELETE, RFC 7644 §3.6).
    pub fn no_content() -> Self {
        ScimResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            location: None,
        }
    }

    /// `200` with one resource trimmed to what the client asked for; the
    /// `ETag` is the resource's version even when `attributes=` left `meta`
    /// out, and the request's preconditions apply (`304`, `412`).
    pub fn projected(
        mut resource: Value,
        projection: &Projection,
        preconditions: &Preconditions,
    ) -> Result<ScimResponse, ScimHttpError> {
        let etag = meta_string(&resource, "version");
        projection.apply(&mut resource);
        ScimResponse {
            etag,
            ..ScimResponse::ok(resource)
        }
        .conditional(preconditions)
    }

    /// Applies the request's preconditions to a `GET` of one resource
    /// (RFC 7232 §3, §6): an `If-Match` none of whose tags is this answer's
    /// `ETag` is `412`; an `If-None-Match` one of whose tags is (or `*`)
    /// turns the answer into `304 Not Modified` with the `ETag` and no body.
    /// An answer without an `ETag` is returned as it is.
    pub fn conditional(self, preconditions: &Preconditions) -> Result<ScimResponse, ScimHttpError> {
        let Some(current) = self.etag.clone() else {
            return Ok(self);
        };
        if preconditions.not_modified(&current)? {
            return Ok(ScimResponse {
                status: StatusCode::NOT_MODIFIED,
                body: None,
                etag: Some(current),
                location: None,
            });
        }
        Ok(self)
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let mut response = match &self.body {
            Some(body) => scim_body(self.status, body),
            None => self.status.into_response(),
        };
        let headers = response.headers_mut();
        set_header(headers, header::ETAG, self.etag.as_deref());
        set_header(headers, header::LOCATION, self.location.as_deref());
        response
    }
}

fn set_header(headers: &mut HeaderMap, name: HeaderName, value: Option<&str>) {
    let Some(value) = value else {
        return;
    };
    match HeaderValue::from_str(value) {
        Ok(value) => {
            headers.insert(name, value);
        }
        // Only a bug puts a newline in a version or a URL; the body still
        // says it, so the answer goes out without the header.
        Err(_) => tracing::error!(header = %name, value, "not a valid header value; left out"),
    }
}

fn meta_string(body: &Value, key: &str) -> Option<String> {
    body.get("meta")?.get(key)?.as_str().map(str::to_owned)
}

// ---------------------------------------------------------------------------
// Preconditions

impl<S: Send + Sync> FromRequestParts<S> for Preconditions {
    type Rejection = std::convert::Infallible;

    /// Every `If-Match` and `If-None-Match` header of the request.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let values = |name: &HeaderName| {
            parts
                .headers
                .get_all(name)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .collect::<Vec<_>>()
        };
        Ok(Preconditions::new(
            values(&header::IF_MATCH),
            values(&header::IF_NONE_MATCH),
        ))
    }
}

// ---------------------------------------------------------------------------
// Where the service is reached

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = ScimHttpError;

    /// `scheme://host/scim/v2` as the client reached it: the `Host` header
    /// (or the URI's authority, HTTP/2), `http` since this server speaks
    /// plain HTTP; behind a configured trusted proxy, its
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` instead.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let settings = parts.extensions.get::<ScimSettings>();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| crate::domain::allowlist::canonical(peer.ip()));
        let trusted = match (settings, peer) {
            (Some(settings), Some(peer)) => trusts(&settings.trusted_proxies, peer),
            _ => false,
        };
        let forwarded = |name: &str| trusted.then(|| first_value(&parts.headers, name)).flatten();
        let scheme = forwarded("x-forwarded-proto")
            .filter(|scheme| matches!(scheme.as_str(), "http" | "https"))
            .unwrap_or_else(|| "http".to_owned());
        let host = forwarded("x-forwarded-host")
            .or_else(|| first_value(&parts.headers, header::HOST.as_str()))
            .or_else(|| parts.uri.authority().map(|authority| authority.to_string()))
            .filter(|host| plausible_host(host))
            .or_else(|| settings.map(|settings| settings.listen.to_string()))
            .unwrap_or_else(|| "localhost".to_owned());
        Ok(BaseUrl(format!("{scheme}://{host}{PREFIX}")))
    }
}

fn trusts(proxies: &[IpNet], ip: IpAddr) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// The first comma-separated element of header `name`, trimmed, lowercased
/// where case does not matter (scheme) left to the caller.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

/// A host (and port) safe to put in a URL: no paths, queries, user info or
/// spaces smuggled in through a header.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'))
}

// ---------------------------------------------------------------------------
// The safety net

/// Middleware for all of `/scim/v2`: an error answer that is not already
/// SCIM JSON (an extractor's plain-text rejection, a layer's own answer)
/// is rewritten as a SCIM error with the same status, its text as `detail`,
/// so an IdP never sees another error format (RFC 7644 §3.12).
pub async fn scim_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_scim(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Rejection texts are short; anything longer is cut rather than buffered.
    let text = match axum::body::to_bytes(body, 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut rewritten = ScimHttpError::new(status, None, detail).into_response();
    // Keep what the original said beyond its body (Allow on a 405, the
    // request id, …), but not its body's description.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rewritten
}

fn is_scim(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        headers
    }

    #[test]
    fn media_types() {
        for ok in [
            "application/scim+json",
            "application/json",
            "Application/SCIM+JSON; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert!(
                check_media_type(&headers(&[("content-type", ok)])).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "text/plain",
            "application/xml",
            "application/json; charset=latin1",
        ] {
            let err = check_media_type(&headers(&[("content-type", bad)])).expect_err(bad);
            assert_eq!(err.status, 415, "{bad}");
            assert!(
                err.detail.contains("application/scim+json"),
                "{}",
                err.detail
            );
        }
        assert_eq!(
            check_media_type(&HeaderMap::new())
                .expect_err("none")
                .status,
            415
        );
    }

    #[test]
    fn bodies_say_where_they_broke() {
        let err = parse_body::<Value>(b"{\n  \"userName\": \"a\",\n  oops\n}").expect_err("broken");
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
        assert!(err.detail.contains("line 3 column 3"), "{}", err.detail);
        let err = parse_body::<Value>(b"  ").expect_err("empty");
        assert!(err.detail.contains("empty"), "{}", err.detail);

        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Typed {
            count: u32,
        }
        let err = parse_body::<Typed>(b"{\"count\": \"x\"}").expect_err("shape");
        assert_eq!(err.scim_type, Some(ScimType::InvalidSyntax));
        assert!(err.detail.contains("shape"), "{}", err.detail);
        assert_eq!(
            parse_body::<Value>(b"{\"a\":1}").expect("valid"),
            json!({"a": 1})
        );
    }

    #[test]
    fn conditional_gets() {
        let body = json!({"id": "u1", "meta": {"version": "W/\"3\"", "location": "http://h/scim/v2/Users/u1"}});
        let fresh = ScimResponse::resource(body.clone())
            .conditional(&Preconditions::new([], ["W/\"3\""]))
            .expect("304");
        assert_eq!(fresh.status, StatusCode::NOT_MODIFIED);
        assert!(fresh.body.is_none());
        assert_eq!(fresh.etag.as_deref(), Some("W/\"3\""));
        let stale = ScimResponse::resource(body.clone())
            .conditional(&Preconditions::new([], ["W/\"2\""]))
            .expect("200");
        assert_eq!(stale.status, StatusCode::OK);
        let refused = ScimResponse::resource(body.clone())
            .conditional(&Preconditions::new(["W/\"2\""], []))
            .expect_err("412");
        assert_eq!(refused.status, 412);
        // No version, nothing to compare: answered as it is.
        let plain = ScimResponse::ok(json!({}))
            .conditional(&Preconditions::new([], ["*"]))
            .expect("200");
        assert_eq!(plain.status, StatusCode::OK);
    }

    #[test]
    fn responders_set_headers_from_meta() {
        let body = json!({"id": "u1", "meta": {"version": "W/\"1\"", "location": "http://h/scim/v2/Users/u1"}});
        let response = ScimResponse::created(body).into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[header::ETAG], "W/\"1\"");
        assert_eq!(
            response.headers()[header::LOCATION],
            "http://h/scim/v2/Users/u1"
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let response = ScimResponse::resource(json!({"id": "u1"})).into_response();
        assert!(response.headers().get(header::ETAG).is_none());
        assert!(response.headers().get(header::LOCATION).is_none());
        let response = ScimResponse::no_content().into_response();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn errors_are_scim_json_and_401_says_how_to_authenticate() {
        let response =
            ScimHttpError::new(StatusCode::UNAUTHORIZED, None, "missing key").into_response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            WWW_AUTHENTICATE
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let response = ScimHttpError::not_found("x").into_response();
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    /// The base URL a request from `peer` with `headers` is told, on a
    /// server that trusts the proxy 10.0.0.5.
    fn base_url(peer: &str, headers: &[(&str, &str)]) -> String {
        let mut request = axum::http::Request::builder().uri("/scim/v2/Users");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).expect("request").into_parts();
        parts.extensions.insert(ScimSettings {
            body_limit: 1024,
            trusted_proxies: vec!["10.0.0.5/32".parse::<IpNet>().expect("net")].into(),
            listen: "127.0.0.1:8080".parse().expect("addr"),
        });
        let peer: SocketAddr = format!("{peer}:40000").parse().expect("peer");
        parts.extensions.insert(ConnectInfo(peer));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let BaseUrl(url) = runtime
            .block_on(BaseUrl::from_request_parts(&mut parts, &()))
            .expect("infallible");
        url
    }

    #[test]
    fn the_base_url_is_where_the_client_connected() {
        assert_eq!(
            base_url("192.0.2.1", &[("host", "scim.example.com:8080")]),
            "http://scim.example.com:8080/scim/v2"
        );
        // Forwarded headers count only from a trusted proxy.
        let forwarded = [
            ("host", "10.0.0.5:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "scim.example.com"),
        ];
        assert_eq!(
            base_url("10.0.0.5", &forwarded),
            "https://scim.example.com/scim/v2"
        );
        assert_eq!(
            base_url("192.0.2.1", &forwarded),
            "http://10.0.0.5:8080/scim/v2"
        );
        // A Host that is not a host is not repeated back.
        assert_eq!(
            base_url("192.0.2.1", &[("host", "evil.example/x?y")]),
            "http://127.0.0.1:8080/scim/v2"
        );
        assert_eq!(
            base_url(
                "10.0.0.5",
                &[("host", "h"), ("x-forwarded-proto", "gopher")]
            ),
            "http://h/scim/v2"
        );
    }

    #[test]
    fn hosts_from_headers_are_checked() {
        assert!(plausible_host("scim.example.com:8443"));
        assert!(plausible_host("[2001:db8::1]:80"));
        assert!(!plausible_host("evil.com/path?x"));
        assert!(!plausible_host("a b"));
        assert!(!plausible_host(""));
    }
}
