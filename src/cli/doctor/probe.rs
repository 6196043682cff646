//! The HTTP requests `doctor` makes itself, through the same path an IdP's
//! take: the server's health and version, the IdP's own connection test
//! with the SCIM key, and what each IdP requires of that answer.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::client::{ClientError, http_builder, parse_addr};
use crate::credentials::Secret;

/// Which identity provider's connection test to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Idp {
    /// Okta: `GET /Users?filter=userName eq "<random>"&startIndex=1&count=1`
    Okta,
    /// Microsoft Entra ID: `GET /Users?filter=userName eq "<random GUID>"`
    Entra,
}

impl Idp {
    pub fn check_name(self) -> &'static str {
        match self {
            Idp::Okta => "okta-connection-test",
            Idp::Entra => "entra-connection-test",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Idp::Okta => "Okta",
            Idp::Entra => "Entra ID",
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(15);
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// What answered at the address.
pub struct Answer {
    pub version: Option<String>,
    /// The server's leaf certificate (DER), over https.
    pub certificate: Option<Vec<u8>>,
}

/// One server, probed without the operator's credentials.
pub struct Probe {
    http: reqwest::Client,
    base: Url,
}

impl Probe {
    pub fn new(addr: &str) -> Result<Self, ClientError> {
        let base = parse_addr(addr)?;
        let http = http_builder()
            .timeout(TIMEOUT)
            .tls_info(true)
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Probe { http, base })
    }

    pub fn addr(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    pub fn is_https(&self) -> bool {
        self.base.scheme() == "https"
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("parse_addr only accepts addresses that can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `GET /healthz`, then the version from `GET /openapi.json`'s
    /// `info.version` (the crate's version, unauthenticated). An error
    /// says in words what answered instead.
    pub async fn server(&self) -> Result<Answer, String> {
        let response = self
            .http
            .get(self.url(&["healthz"]))
            .send()
            .await
            .map_err(|err| describe(&err))?;
        let certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(<[u8]>::to_vec);
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status != StatusCode::OK || body.trim() != "ok" {
            return Err(format!(
                "GET /healthz answered HTTP {status}, not scimctl's \"ok\": another service \
                 (or a proxy's error page) is at this address"
            ));
        }
        let version = match self.http.get(self.url(&["openapi.json"])).send().await {
            Ok(response) if response.status().is_success() => response
                .json::<Value>()
                .await
                .ok()
                .and_then(|doc| doc["info"]["version"].as_str().map(str::to_owned)),
            _ => None,
        };
        Ok(Answer {
            version,
            certificate,
        })
    }

    /// The IdP's connection test with the SCIM key: a filter for a userName
    /// nobody has. The answer is judged by [`judge`].
    pub async fn connection_test(&self, idp: Idp, key: &Secret) -> Result<String, Failure> {
        let mut url = self.url(&["scim", "v2", "Users"]);
        let random = uuid::Uuid::new_v4();
        match idp {
            Idp::Okta => {
                let name = format!("scimctl-doctor-{}@example.invalid", random.simple());
                url.query_pairs_mut()
                    .append_pair("filter", &format!("userName eq \"{name}\""))
                    .append_pair("startIndex", "1")
                    .append_pair("count", "1");
            }
            Idp::Entra => {
                url.query_pairs_mut()
                    .append_pair("filter", &format!("userName eq \"{random}\""));
            }
        }
        let response = self
            .http
            .get(url)
            .bearer_auth(key.expose())
            .header(ACCEPT, "application/scim+json")
            .header(USER_AGENT, "scimctl doctor")
            .send()
            .await
            .map_err(|err| Failure {
                message: describe(&err),
                fix: "check the address and that the server runs there".to_owned(),
            })?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.unwrap_or_default();
        judge(idp, status, content_type.as_deref(), &body)
    }
}

/// Why a check failed, and what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub fix: String,
}

/// What the IdP requires of its connection test's answer: HTTP 200,
/// `application/scim+json`, a ListResponse with `totalResults` 0 and a
/// `Resources` array (Okta's SCIM 2.0 tests also read `startIndex` and
/// `itemsPerPage` as numbers; Entra ID treats a missing or non-empty
/// `Resources` as a failed test).
pub fn judge(
    idp: Idp,
    status: StatusCode,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<String, Failure> {
    let label = idp.label();
    let fail = |message: String, fix: &str| Failure {
        message: format!("{label}'s test: {message}"),
        fix: fix.to_owned(),
    };
    if status == StatusCode::UNAUTHORIZED {
        return Err(fail(
            "HTTP 401: the key is refused".to_owned(),
            "paste a live key with scim:provision into the IdP's connection settings",
        ));
    }
    if status == StatusCode::FORBIDDEN {
        let detail = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|error| error["detail"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(fail(
            format!("HTTP 403: {detail}"),
            "give the key scim:provision, or admit this address in the allowlist",
        ));
    }
    if status != StatusCode::OK {
        return Err(fail(
            format!("HTTP {status} where the IdP requires 200"),
            "check the address: the SCIM base URL the IdP needs is this address + /scim/v2",
        ));
    }
    let media = content_type
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    if !media.eq_ignore_ascii_case("application/scim+json") {
        return Err(fail(
            format!("Content-Type {media:?}, not application/scim+json"),
            "a proxy in front of the server rewrites answers: let it pass them through",
        ));
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(fail(
            "the answer is not JSON".to_owned(),
            "a proxy in front of the server rewrites answers: let it pass them through",
        ));
    };
    let schemas_ok = body["schemas"]
        .as_array()
        .is_some_and(|schemas| schemas.iter().any(|s| s == LIST_RESPONSE));
    let mut missing = Vec::new();
    if !schemas_ok {
        missing.push("schemas with the ListResponse URN");
    }
    if body["totalResults"].as_u64() != Some(0) {
        missing.push("totalResults 0");
    }
    if !body["Resources"].as_array().is_some_and(Vec::is_empty) {
        missing.push("an empty Resources array");
    }
    if idp == Idp::Okta {
        if !body["startIndex"].is_number() {
            missing.push("startIndex");
        }
        if !body["itemsPerPage"].is_number() {
            missing.push("itemsPerPage");
        }
    }
    if !missing.is_empty() {
        return Err(fail(
            format!("the ListResponse lacks {}", missing.join(", ")),
            "the server is not answering as scimctl does: check the address",
        ));
    }
    Ok(format!(
        "{label}'s test answered as {label} requires (200, application/scim+json, an empty \
         ListResponse)"
    ))
}

/// A request that got no answer, in words with its cause.
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_timeout() {
        format!("no answer within {}s", TIMEOUT.as_secs())
    } else if err.is_connect() {
        "cannot connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    let mut last = String::new();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !last.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        last = cause_text;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCIM: Option<&str> = Some("application/scim+json; charset=utf-8");

    fn body(value: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&value).expect("json")
    }

    fn empty_list() -> serde_json::Value {
        serde_json::json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        })
    }

    #[test]
    fn an_empty_list_response_passes_for_both() {
        for idp in [Idp::Okta, Idp::Entra] {
            assert!(judge(idp, StatusCode::OK, SCIM, &body(empty_list())).is_ok());
        }
    }

    #[test]
    fn each_requirement_is_named_when_missing() {
        let err = judge(
            Idp::Okta,
            StatusCode::OK,
            Some("application/json"),
            &body(empty_list()),
        )
        .expect_err("wrong media type");
        assert!(err.message.contains("not application/scim+json"), "{err:?}");

        let mut no_resources = empty_list();
        no_resources
            .as_object_mut()
            .expect("object")
            .remove("Resources");
        no_resources
            .as_object_mut()
            .expect("object")
            .remove("itemsPerPage");
        let err = judge(Idp::Okta, StatusCode::OK, SCIM, &body(no_resources.clone()))
            .expect_err("no Resources");
        assert!(
            err.message
                .contains("an empty Resources array, itemsPerPage"),
            "{err:?}"
        );
        // Entra does not read itemsPerPage.
        let err =
            judge(Idp::Entra, StatusCode::OK, SCIM, &body(no_resources)).expect_err("no Resources");
        assert!(!err.message.contains("itemsPerPage"), "{err:?}");

        let err = judge(Idp::Entra, StatusCode::UNAUTHORIZED, SCIM, b"{}").expect_err("401");
        assert!(err.message.contains("401"), "{err:?}");
        let err = judge(Idp::Entra, StatusCode::NOT_FOUND, None, b"").expect_err("404");
        assert!(err.fix.contains("/scim/v2"), "{err:?}");
    }
}
