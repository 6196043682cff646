//! Who is making a request, as far as permissions and the audit log care.

use std::collections::BTreeSet;
use std::net::IpAddr;

use super::scope::Scope;

#[derive(Debug, Clone)]
pub struct Actor {
    /// The API key behind the request; `None` for the server itself.
    pub key_id: Option<String>,
    /// The key's name, or `system`/`anonymous`.
    pub name: String,
    pub scopes: BTreeSet<Scope>,
    pub source_ip: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl Actor {
    /// The server acting on its own, e.g. creating the initial key.
    pub fn system() -> Self {
        Actor {
            key_id: None,
            name: "system".to_owned(),
            scopes: Scope::ALL.into_iter().collect(),
            source_ip: None,
            request_id: None,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Who a role grant is recorded as given by: the key's id, or the
    /// actor's name (`system`).
    pub fn grantor(&self) -> String {
        self.key_id.clone().unwrap_or_else(|| self.name.clone())
    }
}
