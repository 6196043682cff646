//! What differs between two forms of one resource, attribute by attribute,
//! named by SCIM attribute paths (RFC 7644 §3.10): `name.givenName`, an
//! extension's `urn:…:User:department`, and a multi-valued attribute's
//! element by its value, `members[value eq "…"]`. `meta` is left out: it
//! changes with every write and says nothing about what was changed.

use serde_json::{Map, Value};

/// One attribute whose value differs; `None` where it is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The changes from `before` to `after`, in attribute order.
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut found = Vec::new();
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    compare_objects(None, before, after, &mut found);
    found
}

fn compare_objects(
    prefix: Option<&str>,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    found: &mut Vec<Change>,
) {
    let mut names: Vec<&String> = before.keys().chain(after.keys()).collect();
    names.sort_by_key(|name| name.to_lowercase());
    names.dedup();
    for name in names {
        if prefix.is_none() && name == "meta" {
            continue;
        }
        let path = match prefix {
            None => name.clone(),
            // An extension's attributes hang off its URN with a colon.
            Some(urn) if urn.starts_with("urn:") => format!("{urn}:{name}"),
            Some(parent) => format!("{parent}.{name}"),
        };
        compare(path, before.get(name), after.get(name), found);
    }
}

fn compare(path: String, before: Option<&Value>, after: Option<&Value>, found: &mut Vec<Change>) {
    match (before, after) {
        (Some(Value::Object(old)), Some(Value::Object(new))) => {
            compare_objects(Some(&path), old, new, found);
        }
        (Some(Value::Array(old)), Some(Value::Array(new)))
            if keyed_by_value(old) && keyed_by_value(new) =>
        {
            compare_elements(&path, old, new, found);
        }
        (old, new) if old != new => found.push(Change {
            path,
            before: old.cloned(),
            after: new.cloned(),
        }),
        _ => {}
    }
}

/// Whether every element is an object with a string `value` (members,
/// groups, emails): such elements are matched by it, so one member added
/// to a group of thousands is one change, not the whole list.
fn keyed_by_value(elements: &[Value]) -> bool {
    elements
        .iter()
        .all(|element| element_value(element).is_some())
}

fn element_value(element: &Value) -> Option<&str> {
    element.get("value").and_then(Value::as_str)
}

fn compare_elements(path: &str, before: &[Value], after: &[Value], found: &mut Vec<Change>) {
    let find = |elements: &[Value], value: &str| {
        elements
            .iter()
            .find(|element| element_value(element) == Some(value))
            .cloned()
    };
    let mut seen = std::collections::BTreeSet::new();
    for value in before.iter().chain(after).filter_map(element_value) {
        if !seen.insert(value) {
            continue;
        }
        let (old, new) = (find(before, value), find(after, value));
        if old != new {
            found.push(Change {
                path: format!("{path}[value eq {}]", Value::from(value)),
                before: old,
                after: new,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn paths(before: Value, after: Value) -> Vec<String> {
        changes(&before, &after)
            .into_iter()
            .map(|change| change.path)
            .collect()
    }

    #[test]
    fn nothing_changed_is_no_change_whatever_meta_says() {
        let user = |version: &str| {
            json!({
                "userName": "ann",
                "name": { "givenName": "Ann" },
                "meta": { "version": version, "lastModified": version },
            })
        };
        assert!(changes(&user("W/\"1\""), &user("W/\"2\"")).is_empty());
    }

    #[test]
    fn sub_attributes_and_extensions_are_named_by_their_path() {
        let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let before = json!({
            "name": { "givenName": "Ann", "familyName": "Lee" },
            enterprise: { "department": "Sales" },
            "active": true,
        });
        let after = json!({
            "name": { "givenName": "Anna", "familyName": "Lee" },
            enterprise: { "department": "Support" },
            "active": false,
            "title": "Lead",
        });
        assert_eq!(
            paths(before, after),
            [
                "active".to_owned(),
                "name.givenName".to_owned(),
                "title".to_owned(),
                format!("{enterprise}:department"),
            ]
        );
    }

    #[test]
    fn members_are_matched_by_value() {
        let before = json!({ "members": [{ "value": "a" }, { "value": "b" }] });
        let after = json!({ "members": [{ "value": "b" }, { "value": "c" }] });
        let found = changes(&before, &after);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].path, r#"members[value eq "a"]"#);
        assert_eq!(
            (found[0].before.clone(), found[0].after.clone()),
            (Some(json!({ "value": "a" })), None)
        );
        assert_eq!(found[1].path, r#"members[value eq "c"]"#);
        assert_eq!(found[1].before, None);
    }

    #[test]
    fn an_email_made_primary_is_one_change_of_that_email() {
        let before = json!({ "emails": [{ "value": "a@x", "primary": false }] });
        let after = json!({ "emails": [{ "value": "a@x", "primary": true }] });
        assert_eq!(paths(before, after), [r#"emails[value eq "a@x"]"#]);
    }

    #[test]
    fn lists_without_values_compare_whole() {
        let before = json!({ "x509Certificates": [] , "nickNames": ["a"] });
        let after = json!({ "x509Certificates": [], "nickNames": ["b"] });
        assert_eq!(paths(before, after), ["nickNames"]);
    }
}
