//! What answered at an address when it was not scimctl's admin API: a web
//! page, a SCIM endpoint, a TLS server spoken to in plain HTTP (or the other
//! way round), an unknown host. Turns what was seen into words and a hint,
//! so a wrong address never reads as "not found" (issue 9).

use std::error::Error as StdError;
use std::fmt;

use reqwest::{StatusCode, Url};

/// The SCIM error schema (RFC 7644 §3.12): a SCIM service answered.
const SCIM_ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The common ways to point the CLI at the wrong thing; each has its hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WrongThing {
    /// The SCIM base URL (`…/scim/v2`) was given instead of the server's.
    ScimBase { suggest: String },
    /// `https://` to a server that speaks plain HTTP.
    PlainHttpServer { suggest: String },
    /// `http://` to a server that speaks TLS.
    TlsServer { suggest: String },
    /// A scimctl server, but the address has a path it does not serve.
    WrongPath { suggest: String },
    /// A proxy's error page for a backend that did not answer.
    Gateway,
    /// Some other web server or proxy page.
    OtherServer,
}

impl WrongThing {
    /// What to do about it, for the `hint:` line.
    pub fn hint(&self) -> String {
        match self {
            WrongThing::ScimBase { suggest } => format!(
                "that is the SCIM base URL (for identity providers); the CLI needs the \
                 server's base address: use {suggest}"
            ),
            WrongThing::PlainHttpServer { suggest } => {
                format!("the server speaks plain HTTP: use {suggest}")
            }
            WrongThing::TlsServer { suggest } => {
                format!("the server speaks HTTPS: use {suggest}")
            }
            WrongThing::WrongPath { suggest } => format!(
                "a scimctl server answered, but not at that path: use its base address, {suggest}"
            ),
            WrongThing::Gateway => "a proxy answered for the server: check that `scimctl \
                 server` is running behind it, or point --addr at the server itself"
                .to_owned(),
            WrongThing::OtherServer => "another web server or a proxy answered: point --addr \
                 (or SCIMCTL_ADDR, or the profile's address) at `scimctl server`'s base address, \
                 e.g. http://host:8080"
                .to_owned(),
        }
    }
}

/// A description of an HTTP answer that is not scimctl's admin API, and
/// which wrong thing it most likely is. `base` is the address as configured.
pub fn answer(
    base: &Url,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> (String, WrongThing) {
    let content_type = content_type.unwrap_or("").to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let scim_detail = json.as_ref().and_then(scim_error_detail);

    let seen = if let Some(detail) = &scim_detail {
        format!(
            "HTTP {} with a SCIM error: {}",
            status.as_u16(),
            snippet(detail)
        )
    } else if content_type.contains("scim+json") {
        format!("HTTP {} with a SCIM body", status.as_u16())
    } else if text.is_empty() {
        format!("HTTP {} with an empty body", status.as_u16())
    } else if content_type.contains("html") || text.starts_with('<') {
        match html_title(text) {
            Some(title) => format!(
                "HTTP {} with an HTML page titled {:?}",
                status.as_u16(),
                snippet(&title)
            ),
            None => format!("HTTP {} with an HTML body", status.as_u16()),
        }
    } else if json.is_some() {
        format!(
            "HTTP {} with JSON that is not scimctl's: {}",
            status.as_u16(),
            snippet(text)
        )
    } else {
        format!(
            "HTTP {} with a body that is not JSON: {}",
            status.as_u16(),
            snippet(text)
        )
    };

    let kind =
        if scim_detail.is_some() || content_type.contains("scim+json") || ends_with_scim_base(base)
        {
            WrongThing::ScimBase {
                suggest: without_path(base),
            }
        } else if text.contains("plain HTTP request was sent to HTTPS port") {
            // nginx's answer to http:// on its TLS port.
            WrongThing::TlsServer {
                suggest: with_scheme(base, "https"),
            }
        } else if matches!(
            status,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
        ) {
            WrongThing::Gateway
        } else {
            WrongThing::OtherServer
        };
    (seen, kind)
}

/// A 2xx answer whose body is not what the endpoint returns.
pub fn unexpected_success(
    base: &Url,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
    err: &serde_json::Error,
) -> (String, WrongThing) {
    let (seen, kind) = answer(base, status, content_type, body);
    // Valid JSON of the wrong shape says more with serde's reason.
    if serde_json::from_slice::<serde_json::Value>(body).is_ok() && !seen.contains("SCIM") {
        return (
            format!(
                "HTTP {} with JSON that is not the expected answer: {err}",
                status.as_u16()
            ),
            kind,
        );
    }
    (seen, kind)
}

/// A scimctl server's own "no such endpoint" 404: the address reaches
/// scimctl, but its path is not the server's base.
pub fn is_unrouted(status: StatusCode, message: &str) -> bool {
    status == StatusCode::NOT_FOUND && message.starts_with("no such endpoint")
}

/// The suggestion for [`WrongThing::WrongPath`].
pub fn wrong_path(base: &Url) -> WrongThing {
    WrongThing::WrongPath {
        suggest: without_path(base),
    }
}

/// How a request failed before any HTTP answer, when the cause says the
/// address speaks another protocol: https to plain HTTP (rustls sees an
/// HTTP answer where a TLS record should be), or http to TLS (hyper sees
/// TLS bytes where a status line should be).
pub fn transport(base: &Url, err: &(dyn StdError + 'static)) -> Option<(String, WrongThing)> {
    let causes = chain_text(err);
    if base.scheme() == "https"
        && (causes.contains("InvalidContentType") || causes.contains("corrupt message"))
    {
        let cause = deepest(err);
        return Some((
            format!("the TLS handshake failed: {cause}"),
            WrongThing::PlainHttpServer {
                suggest: with_scheme(base, "http"),
            },
        ));
    }
    if base.scheme() == "http"
        && (causes.contains("invalid HTTP version") || causes.contains("invalid HTTP status"))
    {
        return Some((
            "the answer is not HTTP; it looks like TLS".to_owned(),
            WrongThing::TlsServer {
                suggest: with_scheme(base, "https"),
            },
        ));
    }
    None
}

/// Whether the request failed resolving the host name.
pub fn is_unknown_host(err: &(dyn StdError + 'static)) -> bool {
    let causes = chain_text(err);
    causes.contains("dns error") || causes.contains("failed to lookup address")
}

fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = cause {
        text.push_str(&current.to_string());
        text.push('\n');
        cause = current.source();
    }
    text
}

fn deepest(err: &(dyn StdError + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn scim_error_detail(json: &serde_json::Value) -> Option<String> {
    let schemas = json.get("schemas")?.as_array()?;
    if !schemas.iter().any(|s| s.as_str() == Some(SCIM_ERROR_URN)) {
        return None;
    }
    Some(
        json.get("detail")
            .and_then(|d| d.as_str())
            .unwrap_or("(no detail)")
            .to_owned(),
    )
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = html.get(start..end)?.trim();
    (!title.is_empty()).then(|| title.to_owned())
}

/// The first line of `text`, at most 120 characters: enough to recognise
/// a page, not a dump of it.
fn snippet(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    let mut cut: String = line.chars().take(120).collect();
    if cut.len() < line.len() {
        cut.push('…');
    }
    cut
}

fn ends_with_scim_base(base: &Url) -> bool {
    base.path()
        .trim_end_matches('/')
        .to_ascii_lowercase()
        .ends_with("/scim/v2")
}

/// `base` without its path: `scheme://host[:port]`.
fn without_path(base: &Url) -> String {
    let mut url = base.clone();
    url.set_path("");
    Shown(&url).to_string()
}

/// `base` with another scheme (`http` ↔ `https`), keeping host, port, path.
fn with_scheme(base: &Url, scheme: &str) -> String {
    let text = base.as_str();
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let url = format!("{scheme}://{rest}");
    url.trim_end_matches('/').to_owned()
}

/// A URL as people type it: no trailing slash.
struct Shown<'a>(&'a Url);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn an_html_404_is_another_web_server() {
        let (seen, kind) = answer(
            &url("http://h:8080/"),
            StatusCode::NOT_FOUND,
            Some("text/html; charset=utf-8"),
            b"<html><head><title>404 Not Found</title></head><body>nope</body></html>",
        );
        assert_eq!(seen, "HTTP 404 with an HTML page titled \"404 Not Found\"");
        assert_eq!(kind, WrongThing::OtherServer);
    }

    #[test]
    fn a_scim_error_or_a_scim_path_is_the_scim_base_url() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"no such SCIM endpoint"}"#;
        let (seen, kind) = answer(
            &url("http://h:8080/scim/v2/"),
            StatusCode::NOT_FOUND,
            Some("application/scim+json"),
            body,
        );
        assert_eq!(seen, "HTTP 404 with a SCIM error: no such SCIM endpoint");
        assert_eq!(
            kind,
            WrongThing::ScimBase {
                suggest: "http://h:8080".into()
            }
        );
        let (_, kind) = answer(&url("https://h/SCIM/v2"), StatusCode::NOT_FOUND, None, b"");
        assert_eq!(
            kind,
            WrongThing::ScimBase {
                suggest: "https://h".into()
            }
        );
    }

    #[test]
    fn gateways_and_nginx_tls_ports_get_their_own_hints() {
        let (_, kind) = answer(
            &url("http://h/"),
            StatusCode::BAD_GATEWAY,
            Some("text/html"),
            b"<html>bad gateway</html>",
        );
        assert_eq!(kind, WrongThing::Gateway);
        let (_, kind) = answer(
            &url("http://h:443/x"),
            StatusCode::BAD_REQUEST,
            Some("text/html"),
            b"<html><center>The plain HTTP request was sent to HTTPS port</center></html>",
        );
        assert_eq!(
            kind,
            WrongThing::TlsServer {
                suggest: "https://h:443/x".into()
            }
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "x".repeat(500);
        let (seen, _) = answer(
            &url("http://h/"),
            StatusCode::OK,
            Some("text/plain"),
            long.as_bytes(),
        );
        assert!(seen.ends_with('…') && seen.len() < 200, "{seen}");
    }
}
