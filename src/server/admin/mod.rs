//! Handlers of the admin API (`/admin/v1`), one module per resource.

pub mod allowlist;
pub mod audit;
pub mod breaker;
pub mod groups;
pub mod journal;
pub mod keys;
pub mod locks;
pub mod mappings;
pub mod roles;
pub mod settings;
pub mod users;
pub mod whoami;
