//! The typed client of the admin API (`/admin/v1`) the CLI commands call,
//! and `ClientError`, which says what went wrong in terms an operator can
//! act on (which address, what the server said).

pub mod diagnose;

use std::io::{self, Write as _};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::allowlist::{
    AddEntriesRequest, AllowlistChange, AllowlistCheck, AllowlistEntry, RemoveEntriesRequest,
    ReplaceAllowlistRequest,
};
use crate::api::grants::{UserRolesChange, UserRolesRequest};
use crate::api::groups::{Group, GroupListQuery};
use crate::api::journal::{Explanation, JournalEntry, JournalExchange, JournalQuery, Replay};
use crate::api::locks::Lock;
use crate::api::mappings::{CreateMappingRequest, Mapping, MappingChange, WhyReport};
use crate::api::sessions::{IntrospectRequest, Introspection, IssueSessionRequest, IssuedSession};
use crate::api::users::{
    CreateUserRequest, DeprovisionReport, DeprovisionRequest, ReactivateRequest, User,
    UserListQuery, UserStatus, VerificationReport,
};
use crate::api::{ApiKey, CreateKeyRequest, CreatedKey, ErrorBody, Page, WhoAmI};
use crate::credentials::Secret;
pub use diagnose::WrongThing;

/// How long a whole request may take. Admin calls are small; anything slower
/// is a server or network problem, and CI must not hang on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("scimctl/", env!("CARGO_PKG_VERSION"));

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server address {addr:?}: {reason}")]
    InvalidAddress { addr: String, reason: String },
    /// The token cannot even be put in a header (a stray newline, a control
    /// character): nothing was sent.
    #[error("the API token contains characters an HTTP header cannot carry")]
    InvalidToken,
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// Nothing listens at the address. Kept apart from `Network` because it
    /// has an obvious remedy (start a server) that main prints as a hint.
    #[error("nothing is listening at {addr} (connection refused)")]
    Refused { addr: String },
    /// The host name does not resolve: a typo, or a name only another
    /// network knows.
    #[error("cannot resolve the host name {host:?} of {addr}")]
    UnknownHost { addr: String, host: String },
    #[error("no answer from {addr} within {}s", timeout.as_secs())]
    Timeout { addr: String, timeout: Duration },
    #[error("cannot reach the server at {addr}")]
    Network {
        addr: String,
        #[source]
        source: reqwest::Error,
    },
    /// Something answered, but not scimctl's admin API: no error envelope,
    /// not the expected JSON, or another protocol. Never "not found": a
    /// script must not read a wrong address as "no such user".
    #[error("{addr} is not a scimctl admin API ({seen})")]
    NotScimctl {
        addr: String,
        /// What came back, in words ("HTTP 404 with an HTML body").
        seen: String,
        wrong: WrongThing,
    },
    /// The server refused the token (401) or what it may do (403). Names the
    /// server and where the token came from, since the usual mistake is the
    /// wrong one of either.
    #[error(
        "{addr} {} the API key{}: {message}",
        if *status == StatusCode::UNAUTHORIZED { "refused" } else { "denied the request with" },
        credential.as_deref().map(|c| format!(" from {c}")).unwrap_or_default()
    )]
    Denied {
        status: StatusCode,
        code: String,
        message: String,
        addr: String,
        credential: Option<String>,
    },
    /// The server answered with an error; `message` is its explanation for
    /// people, shown as is.
    #[error("{message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
}

/// A client for one server, authenticated with one API token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    verbose: bool,
    /// Where the token came from, for 401/403 errors.
    credential: Option<String>,
}

/// A reqwest client builder on the binary's one TLS stack, rustls on ring
/// (sqlx's too): reqwest's own default provider is aws-lc, a second and
/// much heavier C library to build. Everything that builds an HTTP client
/// starts here.
pub fn http_builder() -> reqwest::ClientBuilder {
    // A process has one default provider: a second install is refused,
    // and the first one stands.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

impl Client {
    /// A client for the server at `addr` (`http://host:port`, optionally with
    /// a path prefix; a bare `host:port` means `http://`).
    pub fn new(addr: &str, token: &Secret) -> Result<Self, ClientError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| ClientError::InvalidToken)?;
        // Keeps the token out of reqwest's Debug output and any header dump.
        auth.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, auth);
        Self::build(addr, headers)
    }

    /// A client that sends no token: to ask whether a scimctl server answers
    /// at an address without handing it any credential (`auth status`).
    pub fn anonymous(addr: &str) -> Result<Self, ClientError> {
        Self::build(addr, HeaderMap::new())
    }

    fn build(addr: &str, headers: HeaderMap) -> Result<Self, ClientError> {
        let base = parse_addr(addr)?;
        let http = http_builder()
            .user_agent(USER_AGENT)
            .default_headers(headers)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Client {
            http,
            base,
            verbose: false,
            credential: None,
        })
    }

    /// Log each request and its answer on stderr (`--verbose`).
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Name where the token came from in authentication errors ("the
    /// SCIMCTL_TOKEN environment variable", a file path, …).
    pub fn credential(mut self, credential: impl Into<String>) -> Self {
        self.credential = Some(credential.into());
        self
    }

    /// The server address, as shown to people.
    pub fn addr(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// `GET /admin/v1/whoami`: the key this client authenticates with.
    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.call(Method::GET, self.url(&["whoami"]), &[], None::<&()>)
            .await
    }

    /// `POST /admin/v1/keys`.
    pub async fn create_key(&self, request: &CreateKeyRequest) -> Result<CreatedKey, ClientError> {
        self.call(Method::POST, self.url(&["keys"]), &[], Some(request))
            .await
    }

    /// `GET /admin/v1/keys`, every page. Revoked keys only when asked.
    pub async fn list_keys(&self, include_revoked: bool) -> Result<Vec<ApiKey>, ClientError> {
        let mut keys = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = Vec::new();
            if include_revoked {
                query.push(("include_revoked", "true".to_owned()));
            }
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
            }
            let page: Page<ApiKey> = self
                .call(Method::GET, self.url(&["keys"]), &query, None::<&()>)
                .await?;
            keys.extend(page.items);
            match page.next_cursor {
                // A server handing back the cursor it was given would loop
                // us forever; stop with what we have.
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// `GET /admin/v1/keys/{id}`.
    pub async fn get_key(&self, id: &str) -> Result<ApiKey, ClientError> {
        self.call(Method::GET, self.url(&["keys", id]), &[], None::<&()>)
            .await
    }

    /// `DELETE /admin/v1/keys/{id}`: answers the key, now revoked. `force`
    /// revokes even the key in use or the last one that can manage keys.
    pub async fn revoke_key(&self, id: &str, force: bool) -> Result<ApiKey, ClientError> {
        let query: Vec<(&str, String)> = if force {
            vec![("force", "true".to_owned())]
        } else {
            Vec::new()
        };
        self.call(Method::DELETE, self.url(&["keys", id]), &query, None::<&()>)
            .await
    }

    /// `GET /admin/v1/settings`.
    pub async fn get_settings(&self) -> Result<crate::api::settings::Settings, ClientError> {
        self.call(Method::GET, self.url(&["settings"]), &[], None::<&()>)
            .await
    }

    /// `PATCH /admin/v1/settings`: answers the settings after the change.
    pub async fn update_settings(
        &self,
        request: &crate::api::settings::UpdateSettingsRequest,
    ) -> Result<crate::api::settings::Settings, ClientError> {
        self.call(Method::PATCH, self.url(&["settings"]), &[], Some(request))
            .await
    }

    /// `GET /admin/v1/roles`: every role (the server never pages them).
    pub async fn list_roles(&self) -> Result<Vec<crate::api::roles::Role>, ClientError> {
        let page: Page<crate::api::roles::Role> = self
            .call(Method::GET, self.url(&["roles"]), &[], None::<&()>)
            .await?;
        Ok(page.items)
    }

    /// `POST /admin/v1/roles`.
    pub async fn create_role(
        &self,
        request: &crate::api::roles::CreateRoleRequest,
    ) -> Result<crate::api::roles::Role, ClientError> {
        self.call(Method::POST, self.url(&["roles"]), &[], Some(request))
            .await
    }

    /// `DELETE /admin/v1/roles/{name}`: answers the role as it was.
    pub async fn delete_role(&self, name: &str) -> Result<crate::api::roles::Role, ClientError> {
        self.call(Method::DELETE, self.url(&["roles", name]), &[], None::<&()>)
            .await
    }

    /// `GET /admin/v1/users`: one page. Callers follow `next_cursor` (see
    /// `cli::listing`) so a large directory never sits in memory at once.
    pub async fn list_users_page(&self, query: &UserListQuery) -> Result<Page<User>, ClientError> {
        let mut pairs = Vec::new();
        if let Some(status) = query.status {
            let status = match status {
                UserStatus::Active => "active",
                UserStatus::Inactive => "inactive",
                UserStatus::Pending => "pending",
            };
            pairs.push(("status", status.to_owned()));
        }
        for (name, value) in [
            ("role", &query.role),
            ("group", &query.group),
            ("search", &query.search),
            ("filter", &query.filter),
            ("cursor", &query.cursor),
        ] {
            if let Some(value) = value {
                pairs.push((name, value.clone()));
            }
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        self.call(Method::GET, self.url(&["users"]), &pairs, None::<&()>)
            .await
    }

    /// `GET /admin/v1/users/{user}`, by id or userName.
    pub async fn get_user(&self, user: &str) -> Result<User, ClientError> {
        self.call(Method::GET, self.url(&["users", user]), &[], None::<&()>)
            .await
    }

    /// `POST /admin/v1/users`: a manual user.
    pub async fn create_user(&self, request: &CreateUserRequest) -> Result<User, ClientError> {
        self.call(Method::POST, self.url(&["users"]), &[], Some(request))
            .await
    }

    /// `POST /admin/v1/users/{user}/deprovision` (a dry run when the request
    /// says so).
    pub async fn deprovision_user(
        &self,
        user: &str,
        request: &DeprovisionRequest,
    ) -> Result<DeprovisionReport, ClientError> {
        let url = self.url(&["users", user, "deprovision"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `POST /admin/v1/users/{user}/roles`: roles given by hand, or the dry
    /// run of it.
    pub async fn grant_roles(
        &self,
        user: &str,
        request: &UserRolesRequest,
    ) -> Result<UserRolesChange, ClientError> {
        let url = self.url(&["users", user, "roles"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `POST /admin/v1/users/{user}/roles/remove`: roles given by hand taken
    /// away, or the dry run of it.
    pub async fn revoke_roles(
        &self,
        user: &str,
        request: &UserRolesRequest,
    ) -> Result<UserRolesChange, ClientError> {
        let url = self.url(&["users", user, "roles", "remove"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `GET /admin/v1/users/{user}/why`: each role's sources, each group's origin.
    pub async fn user_why(&self, user: &str) -> Result<WhyReport, ClientError> {
        let url = self.url(&["users", user, "why"]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `GET /admin/v1/mappings`: every mapping (the server never pages them).
    pub async fn list_mappings(&self) -> Result<Vec<Mapping>, ClientError> {
        let page: Page<Mapping> = self
            .call(Method::GET, self.url(&["mappings"]), &[], None::<&()>)
            .await?;
        Ok(page.items)
    }

    /// `POST /admin/v1/mappings`, or its dry run.
    pub async fn create_mapping(
        &self,
        request: &CreateMappingRequest,
    ) -> Result<MappingChange, ClientError> {
        self.call(Method::POST, self.url(&["mappings"]), &[], Some(request))
            .await
    }

    /// `DELETE /admin/v1/mappings/{id}`, or its dry run.
    pub async fn remove_mapping(
        &self,
        id: &str,
        dry_run: bool,
    ) -> Result<MappingChange, ClientError> {
        let query = [("dry_run", dry_run.to_string())];
        self.call(
            Method::DELETE,
            self.url(&["mappings", id]),
            &query,
            None::<&()>,
        )
        .await
    }

    /// `GET /admin/v1/users/{user}/deprovision`: the verification report.
    pub async fn verify_user(&self, user: &str) -> Result<VerificationReport, ClientError> {
        let url = self.url(&["users", user, "deprovision"]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `POST /admin/v1/users/{user}/reactivate`.
    pub async fn reactivate_user(
        &self,
        user: &str,
        request: &ReactivateRequest,
    ) -> Result<User, ClientError> {
        let url = self.url(&["users", user, "reactivate"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `POST /admin/v1/users/{user}/protect`.
    pub async fn protect_user(&self, user: &str) -> Result<User, ClientError> {
        let url = self.url(&["users", user, "protect"]);
        self.call(Method::POST, url, &[], None::<&()>).await
    }

    /// `POST /admin/v1/users/{user}/unprotect`.
    pub async fn unprotect_user(&self, user: &str) -> Result<User, ClientError> {
        let url = self.url(&["users", user, "unprotect"]);
        self.call(Method::POST, url, &[], None::<&()>).await
    }

    /// `GET /admin/v1/provisioning/breaker`.
    pub async fn breaker_status(&self) -> Result<crate::api::rails::BreakerStatus, ClientError> {
        let url = self.url(&["provisioning", "breaker"]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `POST /admin/v1/provisioning/breaker/release`.
    pub async fn breaker_release(
        &self,
        request: &crate::api::rails::BreakerReleaseRequest,
    ) -> Result<crate::api::rails::BreakerChange, ClientError> {
        let url = self.url(&["provisioning", "breaker", "release"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `POST /admin/v1/provisioning/breaker/reset`.
    pub async fn breaker_reset(&self) -> Result<crate::api::rails::BreakerChange, ClientError> {
        let url = self.url(&["provisioning", "breaker", "reset"]);
        self.call(Method::POST, url, &[], None::<&()>).await
    }

    /// `POST /admin/v1/users/{user}/sessions`.
    pub async fn issue_session(
        &self,
        user: &str,
        request: &IssueSessionRequest,
    ) -> Result<IssuedSession, ClientError> {
        let url = self.url(&["users", user, "sessions"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `GET /admin/v1/groups`: one page.
    pub async fn list_groups_page(
        &self,
        query: &GroupListQuery,
    ) -> Result<Page<Group>, ClientError> {
        let mut pairs = Vec::new();
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(cursor) = &query.cursor {
            pairs.push(("cursor", cursor.clone()));
        }
        self.call(Method::GET, self.url(&["groups"]), &pairs, None::<&()>)
            .await
    }

    /// `GET /admin/v1/groups/{group}`, by id or displayName, with members.
    pub async fn get_group(&self, group: &str) -> Result<Group, ClientError> {
        self.call(Method::GET, self.url(&["groups", group]), &[], None::<&()>)
            .await
    }

    /// `GET /admin/v1/locks`: one page (`cursor` from the previous one).
    pub async fn list_locks_page(&self, cursor: Option<&str>) -> Result<Page<Lock>, ClientError> {
        let pairs: Vec<(&str, String)> = cursor
            .map(|cursor| ("cursor", cursor.to_owned()))
            .into_iter()
            .collect();
        self.call(Method::GET, self.url(&["locks"]), &pairs, None::<&()>)
            .await
    }

    /// `DELETE /admin/v1/locks/{id}`: answers the lock removed.
    pub async fn remove_lock(&self, id: &str) -> Result<Lock, ClientError> {
        self.call(Method::DELETE, self.url(&["locks", id]), &[], None::<&()>)
            .await
    }

    /// `POST /auth/v1/introspect`. An unknown or dead token is not an error:
    /// the answer says `active: false` and why.
    pub async fn introspect(&self, token: &str) -> Result<Introspection, ClientError> {
        let request = IntrospectRequest {
            token: token.to_owned(),
        };
        let url = self.under(&["auth", "v1", "introspect"]);
        self.call(Method::POST, url, &[], Some(&request)).await
    }

    /// `GET /admin/v1/audit`: one page of the audit log.
    pub async fn list_audit_page(
        &self,
        query: &crate::api::audit::AuditQuery,
    ) -> Result<Page<crate::api::audit::AuditEntry>, ClientError> {
        self.call(
            Method::GET,
            self.url(&["audit"]),
            &query.pairs(),
            None::<&()>,
        )
        .await
    }

    /// `GET /admin/v1/scim/requests`: one page of the SCIM request journal.
    pub async fn list_journal_page(
        &self,
        query: &JournalQuery,
    ) -> Result<Page<JournalEntry>, ClientError> {
        let url = self.url(&["scim", "requests"]);
        self.call(Method::GET, url, &query.pairs(), None::<&()>)
            .await
    }

    /// `GET /admin/v1/scim/requests/{request_id}`: one exchange, redacted.
    pub async fn show_journal(&self, request_id: &str) -> Result<JournalExchange, ClientError> {
        let url = self.url(&["scim", "requests", request_id]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `GET /admin/v1/scim/requests/{request_id}/explanation`.
    pub async fn explain_journal(&self, request_id: &str) -> Result<Explanation, ClientError> {
        let url = self.url(&["scim", "requests", request_id, "explanation"]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `GET /admin/v1/scim/requests/{request_id}/replay`: what the request
    /// would do now, changing nothing.
    pub async fn replay_journal(&self, request_id: &str) -> Result<Replay, ClientError> {
        let url = self.url(&["scim", "requests", request_id, "replay"]);
        self.call(Method::GET, url, &[], None::<&()>).await
    }

    /// `GET /admin/v1/allowlist`: every entry (the server sends one page).
    pub async fn list_allowlist(&self) -> Result<Vec<AllowlistEntry>, ClientError> {
        let page: Page<AllowlistEntry> = self
            .call(Method::GET, self.url(&["allowlist"]), &[], None::<&()>)
            .await?;
        Ok(page.items)
    }

    /// `POST /admin/v1/allowlist`.
    pub async fn add_allowlist(
        &self,
        request: &AddEntriesRequest,
    ) -> Result<AllowlistChange, ClientError> {
        self.call(Method::POST, self.url(&["allowlist"]), &[], Some(request))
            .await
    }

    /// `POST /admin/v1/allowlist/remove`.
    pub async fn remove_allowlist(
        &self,
        request: &RemoveEntriesRequest,
    ) -> Result<AllowlistChange, ClientError> {
        let url = self.url(&["allowlist", "remove"]);
        self.call(Method::POST, url, &[], Some(request)).await
    }

    /// `PUT /admin/v1/allowlist`.
    pub async fn replace_allowlist(
        &self,
        request: &ReplaceAllowlistRequest,
    ) -> Result<AllowlistChange, ClientError> {
        self.call(Method::PUT, self.url(&["allowlist"]), &[], Some(request))
            .await
    }

    /// `GET /admin/v1/allowlist/check?ip=…`.
    pub async fn check_allowlist(&self, ip: &str) -> Result<AllowlistCheck, ClientError> {
        let url = self.url(&["allowlist", "check"]);
        self.call(Method::GET, url, &[("ip", ip.to_owned())], None::<&()>)
            .await
    }

    /// `base` + segments, each percent-encoded: for paths outside
    /// `/admin/v1` (the auth API).
    fn under(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("parse_addr only accepts addresses that can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `base` + `/admin/v1/` + segments, each segment percent-encoded so an
    /// id like `../x` stays one segment.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("parse_addr only accepts addresses that can be a base")
            .pop_if_empty()
            .extend(["admin", "v1"])
            .extend(segments);
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let mut request = self.http.request(method.clone(), url.clone());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let started = Instant::now();
        self.log(|| format!("> {method} {url}"));
        let response = request.send().await.map_err(|err| self.network(err))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|err| self.network(err))?;
        self.log(|| format!("< {status} ({} ms)", started.elapsed().as_millis()));
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|err| {
                let (seen, wrong) = diagnose::unexpected_success(
                    &self.base,
                    status,
                    content_type.as_deref(),
                    &bytes,
                    &err,
                );
                self.not_scimctl(seen, wrong)
            })
        } else {
            Err(self.api_error(status, content_type.as_deref(), &bytes))
        }
    }

    /// A `--verbose` line on stderr; never the token (it lives only in the
    /// sensitive default header).
    fn log(&self, line: impl FnOnce() -> String) {
        if self.verbose {
            let _ = writeln!(io::stderr(), "{}", line());
        }
    }

    fn not_scimctl(&self, seen: String, wrong: WrongThing) -> ClientError {
        ClientError::NotScimctl {
            addr: self.addr().to_owned(),
            seen,
            wrong,
        }
    }

    /// The server's own explanation when it sent one (`ErrorBody`);
    /// otherwise whatever answered is not scimctl's admin API.
    fn api_error(
        &self,
        status: StatusCode,
        content_type: Option<&str>,
        body: &[u8],
    ) -> ClientError {
        let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) else {
            let (seen, wrong) = diagnose::answer(&self.base, status, content_type, body);
            return self.not_scimctl(seen, wrong);
        };
        if diagnose::is_unrouted(status, &error.message) {
            return self.not_scimctl(
                format!("a scimctl server there answered {}", error.message),
                diagnose::wrong_path(&self.base),
            );
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return ClientError::Denied {
                status,
                code: error.code,
                message: error.message,
                addr: self.addr().to_owned(),
                credential: self.credential.clone(),
            };
        }
        ClientError::Api {
            status,
            code: error.code,
            message: error.message,
        }
    }

    fn network(&self, err: reqwest::Error) -> ClientError {
        let addr = self.addr().to_owned();
        if is_connection_refused(&err) {
            ClientError::Refused { addr }
        } else if err.is_timeout() {
            ClientError::Timeout {
                addr,
                timeout: REQUEST_TIMEOUT,
            }
        } else if let Some((seen, wrong)) = diagnose::transport(&self.base, &err) {
            self.not_scimctl(seen, wrong)
        } else if diagnose::is_unknown_host(&err) {
            ClientError::UnknownHost {
                addr,
                host: self.base.host_str().unwrap_or_default().to_owned(),
            }
        } else {
            ClientError::Network { addr, source: err }
        }
    }
}

fn is_connection_refused(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether two addresses name the same server: compared as URLs, so the
/// scheme and host case, a default port (`:443` on https) and a trailing
/// slash make no difference, while another scheme, host, port or path does.
/// Host names are not resolved: `localhost` and `127.0.0.1` differ.
pub fn same_server(a: &str, b: &str) -> bool {
    match (normalize_addr(a), normalize_addr(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The canonical spelling of an address: [`parse_addr`]'s URL (lowercase
/// scheme and host, no default port) without a trailing slash.
pub fn normalize_addr(addr: &str) -> Result<String, ClientError> {
    let url = parse_addr(addr)?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Checks an address and makes it a base URL. A bare `host:port` gets
/// `http://`, since that is how people type a local server's address.
pub fn parse_addr(addr: &str) -> Result<Url, ClientError> {
    let invalid = |reason: &str| ClientError::InvalidAddress {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = addr.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    };
    let url = Url::parse(&with_scheme).map_err(|err| {
        invalid(&format!(
            "{err}; expected a URL such as http://127.0.0.1:8080"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(invalid("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(addr: &str) -> Client {
        Client::new(addr, &Secret::new("scimctl_a_b")).expect("valid client")
    }

    #[test]
    fn urls_are_built_under_the_admin_prefix_with_encoded_ids() {
        let c = client("http://127.0.0.1:8080");
        assert_eq!(
            c.url(&["keys", "abc"]).as_str(),
            "http://127.0.0.1:8080/admin/v1/keys/abc"
        );
        assert_eq!(
            c.url(&["keys", "../whoami"]).as_str(),
            "http://127.0.0.1:8080/admin/v1/keys/..%2Fwhoami"
        );
        let behind_proxy = client("https://example.com/scim-admin/");
        assert_eq!(
            behind_proxy.url(&["whoami"]).as_str(),
            "https://example.com/scim-admin/admin/v1/whoami"
        );
        assert_eq!(behind_proxy.addr(), "https://example.com/scim-admin");
    }

    #[test]
    fn directory_paths_encode_user_names_and_introspect_is_under_auth() {
        let c = client("https://example.com/scim-admin/");
        assert_eq!(
            c.url(&["users", "alice@example.com/x y", "deprovision"])
                .as_str(),
            "https://example.com/scim-admin/admin/v1/users/alice@example.com%2Fx%20y/deprovision"
        );
        assert_eq!(
            c.under(&["auth", "v1", "introspect"]).as_str(),
            "https://example.com/scim-admin/auth/v1/introspect"
        );
    }

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            parse_addr("localhost:9000").expect("valid").as_str(),
            "http://localhost:9000/"
        );
        for bad in ["", "ftp://x", "http://", "http://h/?q=1"] {
            let err = parse_addr(bad).expect_err(bad);
            assert!(matches!(err, ClientError::InvalidAddress { .. }), "{bad}");
        }
    }

    #[test]
    fn a_token_with_a_newline_is_refused_before_sending() {
        let err = Client::new("http://h", &Secret::new("a\nb")).expect_err("invalid");
        assert!(matches!(err, ClientError::InvalidToken));
    }

    #[test]
    fn error_bodies_become_the_servers_message() {
        let c = client("http://h:8080").credential("the SCIMCTL_TOKEN environment variable");
        let body = br#"{"error":{"code":"forbidden","message":"key lacks scope keys:manage"}}"#;
        let err = c.api_error(StatusCode::FORBIDDEN, Some("application/json"), body);
        assert_eq!(
            err.to_string(),
            "http://h:8080 denied the request with the API key from the SCIMCTL_TOKEN \
             environment variable: key lacks scope keys:manage"
        );
        let body = br#"{"error":{"code":"not_found","message":"no user bob"}}"#;
        let err = c.api_error(StatusCode::NOT_FOUND, None, body);
        assert_eq!(err.to_string(), "no user bob");
        assert!(matches!(err, ClientError::Api { .. }));
    }

    #[test]
    fn answers_that_are_not_the_envelope_are_not_scimctl() {
        let c = client("http://h:8080");
        let err = c.api_error(
            StatusCode::BAD_GATEWAY,
            Some("text/html"),
            b"<html>bad gateway</html>",
        );
        assert_eq!(
            err.to_string(),
            "http://h:8080 is not a scimctl admin API (HTTP 502 with an HTML body)"
        );
        let body = br#"{"error":{"code":"not_found","message":"no such endpoint: GET /x/admin/v1/whoami"}}"#;
        let err = client("http://h:8080/x").api_error(StatusCode::NOT_FOUND, None, body);
        assert!(
            matches!(&err, ClientError::NotScimctl { wrong: WrongThing::WrongPath { suggest }, .. } if suggest == "http://h:8080"),
            "{err:?}"
        );
    }

    #[test]
    fn addresses_compare_normalised() {
        for (a, b) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
            ("HTTPS://Scim.Example.com:443", "https://scim.example.com"),
            ("http://example.com:80/", "example.com"),
            ("https://example.com/admin/", "https://example.com/admin"),
        ] {
            assert!(same_server(a, b), "{a} = {b}");
        }
        for (a, b) in [
            ("http://example.com", "https://example.com"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8081"),
            ("http://localhost:8080", "http://127.0.0.1:8080"),
            ("https://example.com/a", "https://example.com/b"),
            ("", ""),
        ] {
            assert!(!same_server(a, b), "{a} != {b}");
        }
    }

    #[tokio::test]
    async fn nothing_listening_names_the_address() {
        // Bind then drop to get a port that (almost certainly) nobody serves.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        drop(listener);
        let err = client(&addr).whoami().await.expect_err("refused");
        assert!(matches!(err, ClientError::Refused { .. }), "{err:?}");
        assert!(err.to_string().contains(&addr), "{err}");
    }
}
