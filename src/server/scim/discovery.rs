//! The discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`,
//! `/ResourceTypes` and `/Schemas`, rendered from `scim::schema` and from
//! what this server implements, so they cannot drift from the truth.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::AppState;
use super::error::ScimHttpError;
use super::gate::SCOPE;
use super::http::{ScimQuery, ScimResponse};
use crate::scim::LIST_RESPONSE_SCHEMA;
use crate::scim::list::MAX_RESULTS;
use crate::scim::resource::BaseUrl;
use crate::scim::schema::{ResourceKind, Schema};

pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// The resource types this service serves, in the order they are listed.
const KINDS: [ResourceKind; 2] = ResourceKind::ALL;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

/// The query of a discovery list. Every other parameter is ignored, as
/// RFC 7644 §4 says.
#[derive(Debug, Deserialize)]
struct DiscoveryQuery {
    filter: Option<String>,
}

async fn service_provider_config(base: BaseUrl) -> ScimResponse {
    ScimResponse::ok(service_provider_config_json(&base))
}

async fn resource_types(
    base: BaseUrl,
    ScimQuery(query): ScimQuery<DiscoveryQuery>,
) -> Result<ScimResponse, ScimHttpError> {
    refuse_filter(&query, "ResourceTypes")?;
    let all: Vec<Value> = KINDS
        .iter()
        .map(|kind| resource_type_json(*kind, &base))
        .collect();
    Ok(ScimResponse::ok(list(all)))
}

async fn resource_type(
    base: BaseUrl,
    Path(id): Path<String>,
) -> Result<ScimResponse, ScimHttpError> {
    let kind = KINDS
        .into_iter()
        .find(|kind| kind.name().eq_ignore_ascii_case(&id))
        .ok_or_else(|| {
            ScimHttpError::not_found(format!(
                "no resource type {id:?}; this service has {}",
                names(KINDS.iter().map(|kind| kind.name()))
            ))
        })?;
    Ok(ScimResponse::ok(resource_type_json(kind, &base)))
}

async fn schemas(
    base: BaseUrl,
    ScimQuery(query): ScimQuery<DiscoveryQuery>,
) -> Result<ScimResponse, ScimHttpError> {
    refuse_filter(&query, "Schemas")?;
    let all: Vec<Value> = all_schemas()
        .map(|schema| schema_json(schema, &base))
        .collect();
    Ok(ScimResponse::ok(list(all)))
}

async fn schema(base: BaseUrl, Path(id): Path<String>) -> Result<ScimResponse, ScimHttpError> {
    let schema = all_schemas()
        .find(|schema| schema.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| {
            ScimHttpError::not_found(format!(
                "no schema {id:?}; this service has {}",
                names(all_schemas().map(|schema| schema.id))
            ))
        })?;
    Ok(ScimResponse::ok(schema_json(schema, &base)))
}

/// RFC 7644 §4: a filter on discovery lists is not evaluated, and a client
/// that sent one must not believe its conditions held.
fn refuse_filter(query: &DiscoveryQuery, endpoint: &str) -> Result<(), ScimHttpError> {
    if query.filter.is_some() {
        return Err(ScimHttpError::new(
            StatusCode::FORBIDDEN,
            None,
            format!(
                "/{endpoint} cannot be filtered (RFC 7644 §4); GET it without `filter` and pick \
                 what you need from the full list"
            ),
        ));
    }
    Ok(())
}

/// Every schema of every resource type, core schemas before extensions,
/// each once.
fn all_schemas() -> impl Iterator<Item = &'static Schema> {
    let mut seen: Vec<&'static str> = Vec::new();
    KINDS
        .into_iter()
        .flat_map(|kind| kind.schemas().iter().copied())
        .filter(move |schema| {
            let new = !seen.contains(&schema.id);
            seen.push(schema.id);
            new
        })
}

/// A whole list in one page (RFC 7644 §3.4.2): discovery lists are short
/// and never paged.
fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn endpoint(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "/Users",
        ResourceKind::Group => "/Groups",
    }
}

/// RFC 7643 §5: what this service implements, and nothing it does not.
pub fn service_provider_config_json(base: &BaseUrl) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": true },
        // Bulk (RFC 7644 §3.7) is not implemented; neither IdP needs it.
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": MAX_RESULTS },
        "changePassword": { "supported": false },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "API key",
            "description": format!(
                "A scimctl API key with scope {SCOPE}, sent as `Authorization: Bearer \
                 scimctl_<id>_<secret>`. Create one with `scimctl keys create --name <idp> \
                 --scope {SCOPE}`; its secret is shown once."
            ),
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base.0),
        },
    })
}

/// RFC 7643 §6: a resource type, from its schemas (the first is the core
/// schema, the others its extensions, none required).
pub fn resource_type_json(kind: ResourceKind, base: &BaseUrl) -> Value {
    let (core, extensions) = kind
        .schemas()
        .split_first()
        .expect("every resource type has a core schema");
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": endpoint(kind),
        "description": core.description,
        "schema": core.id,
        "schemaExtensions": extensions
            .iter()
            .map(|extension| json!({ "schema": extension.id, "required": false }))
            .collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", base.0, kind.name()),
        },
    })
}

/// RFC 7643 §7: a schema as `scim::schema` renders it, located absolutely.
pub fn schema_json(schema: &Schema, base: &BaseUrl) -> Value {
    let mut json = schema.to_json();
    json["meta"] = json!({
        "resourceType": "Schema",
        "location": format!("{}/Schemas/{}", base.0, schema.id),
    });
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER, GROUP, USER};
    use crate::scim::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

    fn base() -> BaseUrl {
        BaseUrl("https://scim.example.com/scim/v2".to_owned())
    }

    #[test]
    fn the_config_advertises_what_is_implemented() {
        let config = service_provider_config_json(&base());
        assert_eq!(config["patch"]["supported"], true);
        assert_eq!(
            config["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(config["filter"]["maxResults"], 200);
        assert_eq!(config["changePassword"]["supported"], false);
        assert_eq!(
            config["authenticationSchemes"][0]["type"],
            "oauthbearertoken"
        );
        assert_eq!(config["authenticationSchemes"][0]["primary"], true);
        assert_eq!(
            config["meta"]["location"],
            "https://scim.example.com/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn resource_types_come_from_the_schemas() {
        let user = resource_type_json(ResourceKind::User, &base());
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["schema"], USER_SCHEMA);
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": ENTERPRISE_USER_SCHEMA, "required": false }])
        );
        let group = resource_type_json(ResourceKind::Group, &base());
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert_eq!(group["schemaExtensions"], json!([]));
        assert_eq!(
            group["meta"]["location"],
            "https://scim.example.com/scim/v2/ResourceTypes/Group"
        );
    }

    #[test]
    fn every_schema_once_in_order() {
        let ids: Vec<&str> = all_schemas().map(|schema| schema.id).collect();
        assert_eq!(ids, [USER.id, ENTERPRISE_USER.id, GROUP.id]);
        let json = schema_json(&GROUP, &base());
        assert_eq!(
            json["meta"]["location"],
            format!("https://scim.example.com/scim/v2/Schemas/{GROUP_SCHEMA}")
        );
        assert_eq!(json["attributes"], GROUP.to_json()["attributes"]);
    }
}
