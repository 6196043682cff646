//! The old home of the directory's types, before they were split per
//! resource: re-exported so that imports of `api::directory::…` keep
//! working while other branches still use them. New code imports
//! `api::users`, `api::groups`, `api::locks` or `api::sessions`.

pub use super::groups::*;
pub use super::locks::*;
pub use super::sessions::*;
pub use super::users::*;
