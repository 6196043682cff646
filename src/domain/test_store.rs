//! A real SQLite store in a temporary directory, for the domain's unit
//! tests: the rules run against the same SQL as in production, without HTTP.

use tempfile::TempDir;

use super::actor::Actor;
use super::{keys, users};
use crate::api::CreateKeyRequest;
use crate::api::scope::Scope;
use crate::api::users::CreateUserRequest;
use crate::store::{DatabaseUrl, Store};

/// A migrated store; the directory lives as long as the value.
pub struct TestStore {
    pub store: Store,
    _dir: TempDir,
}

impl TestStore {
    pub async fn new() -> TestStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = DatabaseUrl::sqlite_file(&dir.path().join("scimctl.db"));
        let store = Store::connect(&url)
            .await
            .expect("open a fresh SQLite store");
        TestStore { store, _dir: dir }
    }

    /// A manual user holding `roles` and in `groups`.
    pub async fn user(&self, user_name: &str, roles: &[&str], groups: &[&str]) {
        let owned = |list: &[&str]| list.iter().map(|item| (*item).to_owned()).collect();
        let request = CreateUserRequest {
            user_name: user_name.to_owned(),
            display_name: None,
            emails: Vec::new(),
            roles: owned(roles),
            groups: owned(groups),
            create_groups: true,
        };
        users::create_manual(&self.store, &Actor::system(), request)
            .await
            .expect("create the user");
    }

    /// A key with `scopes`, personal to `owner` when given; its token.
    pub async fn key(&self, scopes: &[Scope], owner: Option<&str>) -> String {
        let request = CreateKeyRequest {
            name: "test key".to_owned(),
            scopes: scopes.to_vec(),
            expires_at: None,
            owner: owner.map(str::to_owned),
        };
        keys::create(&self.store, &Actor::system(), request)
            .await
            .expect("create the key")
            .token
    }
}
