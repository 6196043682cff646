//! What the domain does with scopes beyond naming them (the names are
//! `api::scope`): decoding stored names.

pub use crate::api::scope::{Scope, UnknownScope, known_scopes};

/// Scopes from their stored names. A name this version does not know (a
/// scope a later version removed) grants nothing.
pub fn from_stored(names: &[String]) -> impl Iterator<Item = Scope> + '_ {
    names.iter().filter_map(|name| name.parse().ok())
}
