//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz layout, nightly),
//! kept in the library so that an ordinary `cargo test` on stable replays
//! every corpus file and every crash ever found through the very same code
//! (see the test at the end). Each takes arbitrary bytes, must not panic,
//! and asserts what must hold for any input: what parses prints back to the
//! same thing, what is accepted has no text the stores cannot hold.

use serde_json::{Value, json};

use crate::api::cidr::{parse_cidr, parse_ip};
use crate::scim::filter::{parse_filter, parse_patch_path};
use crate::scim::patch::{self, PatchRequest};
use crate::scim::resolve;
use crate::scim::resource::{group_from_scim, user_from_scim};
use crate::scim::schema::ResourceKind;
use crate::store::Backend;
use crate::store::scim_query::{list_conditions, list_order};
use crate::text;

const KINDS: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];
const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// The SCIM filter parser, evaluator and SQL compiler; the PATCH path parser.
pub fn filter(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = parse_filter(input) {
        let shown = parsed.to_string();
        let again = parse_filter(&shown)
            .unwrap_or_else(|err| panic!("{input:?} printed as {shown:?}, which fails: {err}"));
        assert_eq!(again, parsed, "{input:?} printed as {shown:?}");
        for kind in KINDS {
            if parsed.check(kind).is_ok() {
                let _ = parsed.matches(&sample(kind), kind);
            }
            if let Ok(resolved) = resolve::filter(&parsed, kind) {
                for backend in BACKENDS {
                    let _ = list_conditions(Some(&resolved), backend);
                }
            }
        }
    }
    if let Ok(path) = parse_patch_path(input) {
        for kind in KINDS {
            if let Ok(sort) = resolve::sort(kind, Some(&path.attribute), false) {
                for backend in BACKENDS {
                    let _ = list_order(&sort, backend);
                }
            }
        }
    }
}

/// A PATCH body: parsed, its member changes split off, applied to a user
/// and a group, and the result read back as a resource.
pub fn patch(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(request) = PatchRequest::from_json(&body) else {
        return;
    };
    let mut user = sample(ResourceKind::User);
    if patch::apply(&mut user, &request, ResourceKind::User).is_ok()
        && let Ok(fields) = user_from_scim(&user)
    {
        assert_storable(&Value::Object(fields.attributes));
    }
    let mut group_request = request.clone();
    if patch::take_member_changes(&mut group_request).is_ok() {
        let mut group = sample(ResourceKind::Group);
        if patch::apply(&mut group, &group_request, ResourceKind::Group).is_ok()
            && let Ok(fields) = group_from_scim(&group)
        {
            assert_storable(&Value::Object(fields.attributes));
        }
    }
}

/// A User or Group body as POST or PUT sends it.
pub fn resource(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(fields) = user_from_scim(&body) {
        assert!(text::check_user_name("userName", &fields.user_name).is_ok());
        let _ = text::user_name_key(&fields.user_name);
        assert_storable(&Value::Object(fields.attributes));
    }
    if let Ok(fields) = group_from_scim(&body) {
        assert!(!fields.display_name.contains('\0'));
        assert!(fields.members.len() <= text::MAX_MEMBER_VALUES);
        assert_storable(&Value::Object(fields.attributes));
    }
}

/// The allowlist's CIDR and address parsers: a parsed CIDR prints as one
/// that parses to itself, unchanged.
pub fn cidr(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cidr) = parse_cidr(input) {
        let shown = cidr.net.to_string();
        let again = parse_cidr(&shown)
            .unwrap_or_else(|err| panic!("{input:?} normalised to {shown:?}, which fails: {err}"));
        assert_eq!(again.net, cidr.net, "{input:?}");
        assert!(
            !again.normalised,
            "{input:?} normalised to {shown:?} is not normal"
        );
    }
    let _ = parse_ip(input);
}

/// Accepted attributes hold no NUL (in a value or a name), so every
/// backend can store them and PostgreSQL's `jsonb` can read them back.
fn assert_storable(attributes: &Value) {
    fn has_nul(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains('\0'),
            Value::Array(items) => items.iter().any(has_nul),
            Value::Object(object) => object
                .iter()
                .any(|(key, item)| key.contains('\0') || has_nul(item)),
            _ => false,
        }
    }
    assert!(!has_nul(attributes), "accepted a NUL: {attributes}");
}

fn sample(kind: ResourceKind) -> Value {
    match kind {
        ResourceKind::User => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
            "title": "Tour Guide",
            "active": true,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "m1"}
            },
            "meta": {"resourceType": "User"}
        }),
        ResourceKind::Group => json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "g1",
            "displayName": "Tour Guides",
            "meta": {"resourceType": "Group"}
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every file under `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`
    /// (crashes found, kept for good) through its target, on stable.
    #[test]
    fn fuzz_corpora_and_regressions_replay() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 4] = [
            ("filter", super::filter),
            ("patch", super::patch),
            ("resource", super::resource),
            ("cidr", super::cidr),
        ];
        for (name, target) in targets {
            let mut replayed = 0;
            for dir in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                    continue;
                };
                for entry in entries {
                    let path = entry.expect("a directory entry").path();
                    let data = std::fs::read(&path).expect("a corpus file");
                    let outcome = std::panic::catch_unwind(|| target(&data));
                    assert!(
                        outcome.is_ok(),
                        "fuzz target {name} fails on {}",
                        path.display()
                    );
                    replayed += 1;
                }
            }
            assert!(replayed > 0, "no corpus for fuzz target {name}");
        }
    }
}
