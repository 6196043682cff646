//! Versions and preconditions (RFC 7644 §3.14, RFC 7232): a resource's weak
//! ETag, and the `If-Match`/`If-None-Match` checks every read and write of
//! one resource makes against it.

use super::error::ScimError;

/// The weak ETag of a resource version, as in `meta.version`: `W/"3"`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A request's `If-Match` and `If-None-Match` tags; `None` where the header
/// was not sent. Without either, every request goes ahead (ETags are
/// optional for clients; Okta and Entra send none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<Vec<String>>,
    if_none_match: Option<Vec<String>>,
}

impl Preconditions {
    /// From the raw values of every `If-Match` and `If-None-Match` header;
    /// each value may list several tags.
    pub fn new<'a>(
        if_match: impl IntoIterator<Item = &'a str>,
        if_none_match: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Preconditions {
            if_match: tags(if_match),
            if_none_match: tags(if_none_match),
        }
    }

    /// For a write (PUT, PATCH, DELETE), checked against the version read in
    /// the write's own transaction: `If-Match` must name it (or be `*`), and
    /// `If-None-Match` must not (nor be `*`, since the resource exists).
    pub fn check_write(&self, current: &str) -> Result<(), ScimError> {
        self.check_if_match(current)?;
        if self.none_match_hits(current) {
            return Err(ScimError::precondition(format!(
                "If-None-Match matches the resource's current version {current}, so the \
                     request was not carried out"
            )));
        }
        Ok(())
    }

    /// For a read: `Ok(true)` when `If-None-Match` names the current
    /// version, so the answer is `304 Not Modified`.
    pub fn not_modified(&self, current: &str) -> Result<bool, ScimError> {
        self.check_if_match(current)?;
        Ok(self.none_match_hits(current))
    }

    fn check_if_match(&self, current: &str) -> Result<(), ScimError> {
        let Some(tags) = &self.if_match else {
            return Ok(());
        };
        if tags.iter().any(|tag| tag == "*" || same_tag(tag, current)) {
            return Ok(());
        }
        Err(ScimError::precondition(format!(
            "the resource has changed: its version is {current}, not {}; GET it again and \
                 retry with the new ETag in If-Match",
            tags.join(", ")
        )))
    }

    fn none_match_hits(&self, current: &str) -> bool {
        self.if_none_match
            .as_ref()
            .is_some_and(|tags| tags.iter().any(|tag| tag == "*" || same_tag(tag, current)))
    }
}

/// Every tag of every header value, in order; `None` when no value came.
fn tags<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let mut values = values.into_iter().peekable();
    values.peek()?;
    Some(values.flat_map(split_tags).collect())
}

/// `W/"1", "a,b"` → `W/"1"`, `"a,b"`: commas inside quotes do not split.
fn split_tags(list: &str) -> Vec<String> {
    let mut tags = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in list.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            ',' if !quoted => tags.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    tags.push(current);
    tags.into_iter()
        .map(|tag| tag.trim().to_owned())
        .filter(|tag| !tag.is_empty())
        .collect()
}

/// Weak comparison (RFC 7232 §2.3.2): the opaque tags are equal, whether
/// either is marked weak or not.
fn same_tag(a: &str, b: &str) -> bool {
    let opaque = |tag: &str| {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag).to_owned()
    };
    opaque(a) == opaque(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::Problem;

    fn headers(if_match: &[&'static str], if_none_match: &[&'static str]) -> Preconditions {
        Preconditions::new(if_match.iter().copied(), if_none_match.iter().copied())
    }

    #[test]
    fn tags_split_and_compare_weakly() {
        assert_eq!(
            split_tags("W/\"1\", \"a,b\" ,*"),
            ["W/\"1\"", "\"a,b\"", "*"]
        );
        assert!(same_tag("W/\"3\"", "\"3\""));
        assert!(!same_tag("W/\"3\"", "W/\"4\""));
    }

    #[test]
    fn write_preconditions() {
        let current = etag(3);
        assert!(Preconditions::default().check_write(&current).is_ok());
        assert!(headers(&["W/\"3\""], &[]).check_write(&current).is_ok());
        assert!(
            headers(&["W/\"1\", W/\"3\""], &[])
                .check_write(&current)
                .is_ok()
        );
        assert!(
            headers(&["W/\"1\"", "W/\"3\""], &[])
                .check_write(&current)
                .is_ok()
        );
        assert!(headers(&["*"], &[]).check_write(&current).is_ok());
        let stale = headers(&["W/\"2\""], &[])
            .check_write(&current)
            .expect_err("stale");
        assert_eq!(stale.problem, Problem::Precondition);
        assert!(stale.detail.contains("W/\"3\""), "{}", stale.detail);
        let exists = headers(&[], &["*"])
            .check_write(&current)
            .expect_err("exists");
        assert_eq!(exists.problem, Problem::Precondition);
        assert!(headers(&[], &["W/\"2\""]).check_write(&current).is_ok());
    }

    #[test]
    fn read_preconditions() {
        let current = etag(3);
        assert_eq!(headers(&[], &["W/\"3\""]).not_modified(&current), Ok(true));
        assert_eq!(headers(&[], &["W/\"2\""]).not_modified(&current), Ok(false));
        assert_eq!(
            headers(&["W/\"2\""], &[])
                .not_modified(&current)
                .map_err(|e| e.problem),
            Err(Problem::Precondition)
        );
    }
}
