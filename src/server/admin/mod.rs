//! Handlers of the admin API (`/admin/v1`), one module per resource.

pub mod keys;
pub mod whoami;
