//! Listing: the query parameters of `GET /Users` and `POST /.search`
//! (RFC 7644 §3.4.2), the ListResponse, and `attributes`/`excludedAttributes`
//! projection (§3.4.2.5, §3.9).

use serde_json::{Map, Value, json};

use super::LIST_RESPONSE_SCHEMA;
use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, Filter, parse_filter, parse_patch_path};

/// The most resources one list answer holds (`count` is capped to it).
pub const MAX_RESULTS: i64 = 200;

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListParams {
    pub filter: Option<Filter>,
    /// 1-based.
    pub start_index: i64,
    /// 0 asks for the total only.
    pub count: i64,
    pub sort_by: Option<AttrPath>,
    pub descending: bool,
}

impl ListParams {
    /// Rows to skip: `startIndex` is 1-based.
    pub fn offset(&self) -> i64 {
        self.start_index - 1
    }

    /// `totalResults` as a page of `shown` resources tells it: a page that
    /// is not full, and not past the end, holds every match from its offset
    /// on (a lookup by userName or displayName, an IdP's usual request, so
    /// needs no count). `None` when only counting can tell.
    pub fn total_from_page(&self, shown: usize) -> Option<i64> {
        let shown = i64::try_from(shown).ok()?;
        (shown < self.count && (shown > 0 || self.offset() == 0)).then(|| self.offset() + shown)
    }

    /// From the raw parameters, as `GET` query or `.search` body give them.
    /// Out-of-range `startIndex`/`count` are clamped as RFC 7644 §3.4.2.4 says.
    pub fn parse(
        filter: Option<&str>,
        start_index: Option<i64>,
        count: Option<i64>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
    ) -> Result<ListParams, ScimError> {
        let filter = filter
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                parse_filter(text).map_err(|err| {
                    ScimError::invalid(ScimType::InvalidFilter, format!("filter {text:?}: {err}"))
                })
            })
            .transpose()?;
        let sort_by = sort_by
            .filter(|text| !text.trim().is_empty())
            .map(|text| {
                parse_patch_path(text)
                    .ok()
                    .filter(|path| path.value_filter.is_none())
                    .map(|path| path.attribute)
                    .ok_or_else(|| {
                        ScimError::invalid(
                            ScimType::InvalidValue,
                            format!("sortBy {text:?} is not an attribute path"),
                        )
                    })
            })
            .transpose()?;
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid(
                    ScimType::InvalidValue,
                    format!("sortOrder {other:?} must be \"ascending\" or \"descending\""),
                ));
            }
        };
        Ok(ListParams {
            filter,
            start_index: start_index.unwrap_or(1).max(1),
            count: count.unwrap_or(MAX_RESULTS).clamp(0, MAX_RESULTS),
            sort_by,
            descending,
        })
    }
}

/// A ListResponse of one page.
pub fn list_response(total: i64, start_index: i64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start_index,
        "Resources": resources,
    })
}

/// Which attributes to return.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    only: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    /// From the comma-separated `attributes` and `excludedAttributes`.
    pub fn parse(
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Projection, ScimError> {
        Ok(Projection {
            only: paths(attributes, "attributes")?,
            excluded: paths(excluded, "excludedAttributes")?,
        })
    }

    /// Whether the top-level attribute `name` will be left out, so the
    /// caller need not read it (a big group's `members`).
    pub fn leaves_out(&self, name: &str) -> bool {
        let named =
            |path: &AttrPath| path.name.eq_ignore_ascii_case(name) && path.sub_attribute.is_none();
        self.excluded.iter().any(named)
            || (!self.only.is_empty()
                && !self
                    .only
                    .iter()
                    .any(|path| path.name.eq_ignore_ascii_case(name)))
    }

    /// Trims `resource` to what was asked for. `id` and `schemas` are always
    /// returned (RFC 7643 §2.4: returned "always").
    pub fn apply(&self, resource: &mut Value) {
        let Value::Object(object) = resource else {
            return;
        };
        if !self.only.is_empty() {
            let mut kept = Map::new();
            for key in ["schemas", "id"] {
                if let Some(value) = object.get(key) {
                    kept.insert(key.to_owned(), value.clone());
                }
            }
            for path in &self.only {
                copy_path(object, &mut kept, path);
            }
            *object = kept;
        }
        for path in &self.excluded {
            remove_path(object, path);
        }
    }
}

fn paths(text: Option<&str>, parameter: &str) -> Result<Vec<AttrPath>, ScimError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            parse_patch_path(part)
                .ok()
                .filter(|path| path.value_filter.is_none())
                .map(|path| path.attribute)
                .ok_or_else(|| {
                    ScimError::invalid(
                        ScimType::InvalidValue,
                        format!("{parameter}: {part:?} is not an attribute path"),
                    )
                })
        })
        .collect()
}

/// The object an attribute path lives in: the resource itself, or the
/// extension object under a URN.
fn container<'a>(
    object: &'a Map<String, Value>,
    path: &AttrPath,
) -> Option<(&'a Map<String, Value>, Option<&'a str>)> {
    match &path.urn {
        Some(urn) if !is_core(urn) => object
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(urn))
            .and_then(|(key, value)| value.as_object().map(|inner| (inner, Some(key.as_str())))),
        _ => Some((object, None)),
    }
}

fn is_core(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(super::USER_SCHEMA) || urn.eq_ignore_ascii_case(super::GROUP_SCHEMA)
}

fn find_key<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .keys()
        .find(|key| key.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

fn copy_path(from: &Map<String, Value>, into: &mut Map<String, Value>, path: &AttrPath) {
    let Some((source, extension)) = container(from, path) else {
        return;
    };
    let Some(key) = find_key(source, &path.name) else {
        return;
    };
    let value = &source[key];
    let picked = match &path.sub_attribute {
        None => value.clone(),
        Some(sub) => pick_sub(value, sub),
    };
    let target = match extension {
        Some(urn) => into
            .entry(urn.to_owned())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut(),
        None => Some(into),
    };
    if let Some(target) = target {
        match (target.get_mut(key), picked) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (_, picked) => {
                target.insert(key.to_owned(), picked);
            }
        }
    }
}

/// `value` with only sub-attribute `sub` (of each element, if an array).
fn pick_sub(value: &Value, sub: &str) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|item| pick_sub(item, sub)).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case(sub))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn remove_path(object: &mut Map<String, Value>, path: &AttrPath) {
    if path.sub_attribute.is_none()
        && ["id", "schemas"]
            .iter()
            .any(|always| path.name.eq_ignore_ascii_case(always))
    {
        return;
    }
    let target = match &path.urn {
        Some(urn) if !is_core(urn) => {
            let Some(key) = find_key(object, urn).map(str::to_owned) else {
                return;
            };
            match object.get_mut(&key).and_then(Value::as_object_mut) {
                Some(inner) => inner,
                None => return,
            }
        }
        _ => object,
    };
    let Some(key) = find_key(target, &path.name).map(str::to_owned) else {
        return;
    };
    match &path.sub_attribute {
        None => {
            target.remove(&key);
        }
        Some(sub) => match target.get_mut(&key) {
            Some(Value::Array(items)) => {
                for item in items {
                    if let Value::Object(element) = item {
                        element.retain(|name, _| !name.eq_ignore_ascii_case(sub));
                    }
                }
            }
            Some(Value::Object(inner)) => inner.retain(|name, _| !name.eq_ignore_ascii_case(sub)),
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_that_is_not_full_tells_the_total() {
        let page = |start: i64, count: i64| {
            ListParams::parse(None, Some(start), Some(count), None, None).expect("valid")
        };
        assert_eq!(page(1, 100).total_from_page(1), Some(1));
        assert_eq!(page(1, 100).total_from_page(0), Some(0));
        assert_eq!(page(11, 10).total_from_page(3), Some(13));
        // A full page, or an empty one past the start, cannot tell.
        assert_eq!(page(1, 10).total_from_page(10), None);
        assert_eq!(page(11, 10).total_from_page(0), None);
    }
}
