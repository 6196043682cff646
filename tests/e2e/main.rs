//! The one integration-test binary: the real server and the real `scimctl`
//! binary, driven end to end on SQLite and PostgreSQL (see `support`).

mod support;

mod allowlist;
mod atomicity;
mod audit;
mod cli_auth;
mod cli_flags;
mod cli_output;
mod completion;
mod deprovision_race;
mod directory_cli;
mod harness;
mod journal;
mod keys;
mod limits;
mod mappings;
mod open_routes;
mod openapi;
mod output_cli;
mod readme;
mod replica_coherence;
mod safety_rails;
mod server_cli;
mod settings;
mod user_roles;
mod wrong_secret;

mod directory;
mod docs;
mod doctor;
mod drift;
mod explain;
mod permissions;
mod privilege_ceiling;
mod recover;
mod replay;

mod schema_upgrade;
mod scim_entra;
mod scim_http;
mod scim_lifecycle;
mod scim_lost_update;
mod scim_okta;
mod scim_paging;
mod scim_patch;
mod scim_root_search;
mod scim_support;
mod scim_url_forms;
mod text_input;
