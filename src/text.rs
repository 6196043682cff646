//! Text from outside, checked once for every surface: which characters and
//! lengths names, identifiers, attribute values and filter values may have
//! (SCIM and the admin API alike, so both backends answer the same), and the
//! key that makes userNames unique (RFC 8265 UsernameCaseMapped).
//!
//! Nothing here knows HTTP or SQL: a [`TextError`] names the field and the
//! problem, and each surface turns it into its own `400`.

use std::borrow::Cow;

use precis_core::Error as PrecisError;
use precis_core::profile::PrecisFastInvocation;
use precis_profiles::UsernameCaseMapped;
use serde_json::Value;

/// userNames, in characters. A PostgreSQL btree entry holds at most about
/// 2,700 bytes; 256 characters and their key stay well below that.
pub const MAX_USER_NAME: usize = 256;
/// Display names, group names, name parts, externalId, key names, emails.
pub const MAX_NAME: usize = 256;
/// Any other string in a SCIM resource (`title`, an address, …).
pub const MAX_VALUE: usize = 4096;
/// A string compared in a filter. SQLite refuses `LIKE` patterns over
/// 50,000 bytes; this keeps every filter far from it, on both backends.
pub const MAX_FILTER_VALUE: usize = 1024;
/// Member values in one group request (create, replace or PATCH).
pub const MAX_MEMBER_VALUES: usize = 50_000;

/// Why a text was refused: the field it came in and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct TextError {
    pub field: String,
    pub problem: String,
}

impl TextError {
    fn new(field: &str, problem: impl Into<String>) -> Self {
        TextError {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

/// How strict a field is about characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Names and identifiers: no control character at all, no bidi override.
    Name,
    /// Free text that SCIM lets span lines (`addresses.formatted`): tab,
    /// line feed and carriage return are allowed, every other control
    /// character is not.
    Text,
}

/// The first character `kind` refuses, if any.
fn forbidden(text: &str, kind: Kind) -> Option<(usize, char)> {
    text.chars().enumerate().find(|(_, c)| {
        let allowed_whitespace = kind == Kind::Text && matches!(c, '\t' | '\n' | '\r');
        (c.is_control() && !allowed_whitespace) || is_bidi_control(*c)
    })
}

/// Embeddings, overrides and isolates: they make text display as something
/// else than it is (`U+202E` turns `gpj.exe` around).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Checks one text field: at most `max` characters, none that `kind`
/// refuses. Empty text is the caller's business.
pub fn check(field: &str, value: &str, kind: Kind, max: usize) -> Result<(), TextError> {
    if let Some((position, c)) = forbidden(value, kind) {
        return Err(TextError::new(
            field,
            format!(
                "contains the control character {} at position {position}; \
                 remove it (control and bidi-override characters are refused)",
                describe(c)
            ),
        ));
    }
    let length = value.chars().count();
    if length > max {
        return Err(TextError::new(
            field,
            format!("is {length} characters long; the limit is {max}"),
        ));
    }
    Ok(())
}

/// [`check`] for a name or identifier, which must also not be empty.
pub fn check_name(field: &str, value: &str, max: usize) -> Result<(), TextError> {
    if value.trim().is_empty() {
        return Err(TextError::new(field, "is required and must not be empty"));
    }
    check(field, value, Kind::Name, max)
}

/// Checks a userName: a name per [`check_name`] whose every space-separated
/// part is a username under RFC 8265 (UsernameCaseMapped), so that it has a
/// well-defined [`user_name_key`]. Zero-width and other invisible
/// characters are refused here.
pub fn check_user_name(field: &str, value: &str) -> Result<(), TextError> {
    check_name(field, value, MAX_USER_NAME)?;
    precis_key(value).map(|_| ()).map_err(|error| {
        let problem = match error {
            PrecisError::BadCodepoint(info) => {
                let c = char::from_u32(info.cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                format!(
                    "contains {} ({c:?}), which a username may not hold (RFC 8265); \
                     remove it",
                    describe(c)
                )
            }
            _ => "is not a valid username under RFC 8265 (for instance, it mixes \
                  right-to-left and left-to-right text)"
                .to_owned(),
        };
        TextError::new(field, problem)
    })
}

/// The key two userNames share exactly when they name the same user: each
/// space-separated part enforced by RFC 8265 UsernameCaseMapped (width
/// mapping, case mapping, NFC), parts joined by one space. `Alice`,
/// `ＡＬＩＣＥ` and `alice` share a key; NFC and NFD `é` too. The value
/// itself is stored as sent.
///
/// Total, so that lookups and filters can use it on any text: what RFC 8265
/// refuses (only ever found in data stored before this rule) keys as its
/// lowercase, the rule before it.
pub fn user_name_key(value: &str) -> String {
    precis_key(value).unwrap_or_else(|_| value.to_lowercase())
}

fn precis_key(value: &str) -> Result<String, PrecisError> {
    let mut key = String::with_capacity(value.len());
    for part in value.split(' ').filter(|part| !part.is_empty()) {
        if !key.is_empty() {
            key.push(' ');
        }
        let enforced: Cow<'_, str> = UsernameCaseMapped::enforce(part)?;
        key.push_str(&enforced);
    }
    if key.is_empty() {
        return Err(PrecisError::Invalid);
    }
    Ok(key)
}

/// Member ids as a group request lists them: each a [`check_name`] of at
/// most [`MAX_NAME`] characters, at most [`MAX_MEMBER_VALUES`] of them;
/// returned in order, once each.
pub fn member_ids<'a>(
    values: impl ExactSizeIterator<Item = &'a str>,
) -> Result<Vec<String>, TextError> {
    if values.len() > MAX_MEMBER_VALUES {
        return Err(TextError::new(
            "members",
            format!(
                "lists {} values; one request may list at most {MAX_MEMBER_VALUES}: \
                 send the change in several requests",
                values.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut ids = Vec::with_capacity(values.len());
    for (index, id) in values.enumerate() {
        check_name(&format!("members[{index}].value"), id, MAX_NAME)?;
        if seen.insert(id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// Checks every string in a JSON value (object keys included), naming the
/// field by its path under `field`, e.g. `addresses[0].formatted`.
pub fn check_json(field: &str, value: &Value) -> Result<(), TextError> {
    match value {
        Value::String(text) => check(field, text, Kind::Text, MAX_VALUE),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_json(&format!("{field}[{index}]"), item)),
        Value::Object(object) => object.iter().try_for_each(|(key, item)| {
            let path = if field.is_empty() {
                key.clone()
            } else {
                format!("{field}.{key}")
            };
            check(
                &format!("the attribute name {path:?}"),
                key,
                Kind::Name,
                MAX_NAME,
            )?;
            check_json(&path, item)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

/// [`check_json`] on a resource's attributes, named by their own names.
pub fn check_attributes(attributes: &serde_json::Map<String, Value>) -> Result<(), TextError> {
    attributes.iter().try_for_each(|(key, item)| {
        check(
            &format!("the attribute name {key:?}"),
            key,
            Kind::Name,
            MAX_NAME,
        )?;
        check_json(key, item)
    })
}

/// A JSON document as stored text that every backend can read back as
/// JSON: PostgreSQL's `jsonb` refuses `\u0000`, so NUL (only ever present
/// in data from before [`check_json`]) becomes U+FFFD. Unchanged otherwise.
pub fn storable_json(json: &str) -> Cow<'_, str> {
    if !json.contains("\\u0000") {
        return Cow::Borrowed(json);
    }
    match serde_json::from_str::<Value>(json) {
        Ok(mut value) => {
            replace_nul(&mut value);
            Cow::Owned(value.to_string())
        }
        Err(_) => Cow::Borrowed(json),
    }
}

fn replace_nul(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('\0') => *text = text.replace('\0', "\u{FFFD}"),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(object) => {
            let keys: Vec<String> = object
                .keys()
                .filter(|k| k.contains('\0'))
                .cloned()
                .collect();
            for key in keys {
                if let Some(item) = object.remove(&key) {
                    object.insert(key.replace('\0', "\u{FFFD}"), item);
                }
            }
            object.values_mut().for_each(replace_nul);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_refuse_every_control_character_and_bidi_overrides() {
        for bad in [
            "a\0b",
            "a\u{7}b",
            "a\nb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{202e}b",
        ] {
            let err = check_name("userName", bad, 10).expect_err(bad);
            assert_eq!(err.field, "userName");
            assert!(err.problem.contains("control character U+"), "{err}");
        }
        assert!(check_name("name", "fine name", 10).is_ok());
        assert!(check_name("name", "  ", 10).is_err());
        assert!(check_name("name", &"é".repeat(11), 10).is_err());
        assert!(check_name("name", &"é".repeat(10), 10).is_ok());
    }

    #[test]
    fn free_text_may_span_lines_but_holds_no_nul() {
        assert!(check("title", "a\nb\tc\r", Kind::Text, 10).is_ok());
        assert!(check("title", "a\0", Kind::Text, 10).is_err());
        assert!(check("title", "a\u{1b}", Kind::Text, 10).is_err());
    }

    #[test]
    fn user_name_keys_follow_rfc_8265() {
        let same = [
            ("Alice", "alice"),
            ("caf\u{e9}", "cafe\u{301}"),
            ("\u{ff21}lice", "alice"),
            ("ALICE@EXAMPLE.COM", "alice@example.com"),
            ("John Smith", "john  smith"),
        ];
        for (a, b) in same {
            assert_eq!(user_name_key(a), user_name_key(b), "{a} vs {b}");
        }
        // Different names under RFC 8265: not look-alikes it folds.
        let different = [("stra\u{df}e", "strasse"), ("\u{131}d", "id")];
        for (a, b) in different {
            assert_ne!(user_name_key(a), user_name_key(b), "{a} vs {b}");
        }
    }

    #[test]
    fn user_names_without_a_username_form_are_refused() {
        for bad in ["a\u{200b}b", "a\u{200d}", "\u{feff}x", "a\0b"] {
            assert!(check_user_name("userName", bad).is_err(), "{bad:?}");
        }
        for good in [
            "alice",
            "Alice@Example.com",
            "J\u{f6}rg",
            "John Smith",
            "\u{3c0}",
        ] {
            assert!(check_user_name("userName", good).is_ok(), "{good:?}");
        }
        assert!(check_user_name("userName", &"a".repeat(MAX_USER_NAME + 1)).is_err());
    }

    #[test]
    fn json_is_checked_everywhere_and_named_by_path() {
        let value = json!({"addresses": [{"formatted": "x\ny"}, {"region": "a\u{0}"}]});
        let err = check_json("", &value).expect_err("NUL");
        assert_eq!(err.field, "addresses[1].region");
        assert!(check_json("", &json!({"a\u{0}": 1})).is_err());
        assert!(check_json("", &json!({"title": "x".repeat(MAX_VALUE + 1)})).is_err());
    }

    #[test]
    fn stored_json_never_holds_nul() {
        let stored = json!({"title": "t\u{0}x", "k\u{0}": ["\u{0}"]}).to_string();
        let fixed = storable_json(&stored);
        assert!(!fixed.contains("\\u0000"), "{fixed}");
        assert_eq!(
            serde_json::from_str::<Value>(&fixed).expect("json")["title"],
            "t\u{fffd}x"
        );
        // An escaped backslash before `u0000` is no NUL: the text is kept.
        let backslash = r#"{"a":"\\u0000"}"#;
        assert_eq!(storable_json(backslash), backslash);
    }
}
