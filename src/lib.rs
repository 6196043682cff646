//! `scimctl`: a SCIM 2.0 provisioning service and the admin CLI that drives
//! it, in one crate. `main.rs` only parses, runs and turns the result into an
//! exit code; everything else lives here so tests can reach it.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod credentials;
pub mod domain;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod output;
pub mod scim;
pub mod server;
pub mod store;
pub mod text;
