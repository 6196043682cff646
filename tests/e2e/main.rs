//! The one integration-test binary: the real server and the real `scimctl`
//! binary, driven end to end on SQLite and PostgreSQL (see `support`).

mod support;

mod harness;
mod keys;
mod server_cli;

mod docs;
