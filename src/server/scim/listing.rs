//! The parameters shared by every SCIM list: `GET` query strings and
//! `POST /.search` bodies (RFC 7644 §3.4.2, §3.4.3) read into one shape.

use serde::Deserialize;
use serde_json::Value;

use super::error::ScimHttpError;
use super::http::ScimResponse;
use crate::scim::SEARCH_REQUEST_SCHEMA;
use crate::scim::error::ScimType;
use crate::scim::list::{ListParams, Projection, list_response};

/// A page of resources as a `ListResponse`, each trimmed to what the
/// request's `attributes`/`excludedAttributes` asked for.
pub fn answer_page(
    total: i64,
    start_index: i64,
    mut resources: Vec<Value>,
    projection: &Projection,
) -> ScimResponse {
    for resource in &mut resources {
        projection.apply(resource);
    }
    ScimResponse::ok(list_response(total, start_index, resources))
}

/// `?filter=…&startIndex=…&count=…&sortBy=…&sortOrder=…&attributes=…&excludedAttributes=…`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ListQuery {
    pub fn params(&self) -> Result<ListParams, ScimHttpError> {
        ListParams::parse(
            self.filter.as_deref(),
            self.start_index,
            self.count,
            self.sort_by.as_deref(),
            self.sort_order.as_deref(),
        )
        .map_err(Into::into)
    }

    pub fn projection(&self) -> Result<Projection, ScimHttpError> {
        Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
        .map_err(Into::into)
    }

    /// A `SearchRequest` body, whose `attributes` are arrays.
    pub fn from_search(body: &Value) -> Result<ListQuery, ScimHttpError> {
        let object = body.as_object().ok_or_else(|| {
            ScimHttpError::bad_request(
                ScimType::InvalidSyntax,
                "a SearchRequest must be a JSON object",
            )
        })?;
        let names_schema = object
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|schemas| schemas.iter().any(|schema| schema == SEARCH_REQUEST_SCHEMA));
        if !names_schema {
            return Err(ScimHttpError::bad_request(
                ScimType::InvalidSyntax,
                format!("a SearchRequest must list {SEARCH_REQUEST_SCHEMA} in schemas"),
            ));
        }
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        let number = |key: &str| object.get(key).and_then(Value::as_i64);
        let list = |key: &str| match object.get(key) {
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Some(Value::String(text)) => Some(text.clone()),
            _ => None,
        };
        Ok(ListQuery {
            filter: text("filter"),
            start_index: number("startIndex"),
            count: number("count"),
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            attributes: list("attributes"),
            excluded_attributes: list("excludedAttributes"),
        })
    }
}

/// `?attributes=…&excludedAttributes=…` on a single resource.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectionQuery {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

impl ProjectionQuery {
    pub fn projection(&self) -> Result<Projection, ScimHttpError> {
        Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
        .map_err(Into::into)
    }
}
