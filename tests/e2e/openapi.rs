//! `GET /openapi.json`: the admin and auth APIs' OpenAPI document, checked
//! against the permission test's endpoint table. That test proves each route
//! layer enforces the table's scope; this one proves the document states it,
//! so the three cannot disagree.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::permissions::endpoints;
use crate::support::{Backend, TestServer};

/// (method in lowercase, path template) → the scopes its key needs.
type Operations = BTreeMap<(String, String), Vec<String>>;

#[test]
fn the_document_lists_every_endpoint_with_the_scope_it_enforces() {
    let server = TestServer::start(Backend::Sqlite).expect("SQLite tests always run");
    // No key: the document holds no data.
    let (status, headers, doc) = server.http(Method::GET, "/openapi.json", None, None);
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(headers[CONTENT_TYPE], "application/json");

    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI {version}");
    assert_eq!(doc["info"]["title"], "scimctl admin API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http", "{bearer}");
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");

    let mut expected: Operations = endpoints("KEY", "LOCK")
        .into_iter()
        .map(|endpoint| {
            let key = (
                endpoint.method.as_str().to_lowercase(),
                endpoint.template.to_owned(),
            );
            (key, vec![endpoint.scope.to_owned()])
        })
        .collect();
    // Any live key may ask who it is.
    expected.insert(("get".into(), "/admin/v1/whoami".into()), vec![]);

    let documented = documented(&doc);
    let keys: BTreeSet<_> = documented.keys().chain(expected.keys()).collect();
    let disagreements: Vec<String> = keys
        .into_iter()
        .filter_map(|key @ (method, path)| {
            let (said, table) = (documented.get(key), expected.get(key));
            (said != table).then(|| {
                format!(
                    "{method} {path}: the document says {said:?}, the permission table {table:?}"
                )
            })
        })
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:#?}");
    assert_refs_resolve(&doc, &doc);
}

/// Every operation of the document with the scopes its `security` names,
/// after checking it has what a client generator needs.
fn documented(doc: &Value) -> Operations {
    let mut operations = Operations::new();
    let mut operation_ids = BTreeSet::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let at = format!("{method} {path}");
            let id = operation["operationId"].as_str().expect(&at);
            assert!(
                operation_ids.insert(id.to_owned()),
                "{at}: operationId {id} twice"
            );
            assert!(operation["tags"][0].is_string(), "{at} has no tag");
            assert!(operation["summary"].is_string(), "{at} has no summary");
            for status in ["401", "403"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{at} lacks {status}"
                );
            }

            let security = operation["security"].as_array().expect(&at);
            assert_eq!(security.len(), 1, "{at}: {security:?}");
            let scopes = security[0]["bearer"].as_array().expect(&at);
            let scopes = scopes
                .iter()
                .map(|scope| scope.as_str().expect("scope").to_owned())
                .collect();
            operations.insert((method.clone(), path.clone()), scopes);
        }
    }
    operations
}

/// Every `$ref` in `value` points at something in `doc`.
fn assert_refs_resolve(doc: &Value, value: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let pointer = target.strip_prefix('#').expect("a local $ref");
                assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
            }
            map.values()
                .for_each(|child| assert_refs_resolve(doc, child));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|child| assert_refs_resolve(doc, child)),
        _ => {}
    }
}
