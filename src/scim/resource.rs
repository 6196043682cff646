//! Users and groups as SCIM JSON, and back: which attributes the directory
//! keeps in columns (to index and filter them) and which it keeps as sent.

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimType};
use super::etag::etag;
use super::schema::{Attribute, ResourceKind, Type};
use super::{GROUP_SCHEMA, USER_SCHEMA};
use time::OffsetDateTime;

use crate::api::rfc3339;
use crate::text;

/// What a SCIM User body sets, split into the column-backed attributes and
/// the rest (kept as sent, under canonical names).
#[derive(Debug, Clone, PartialEq)]
pub struct UserFields {
    pub user_name: String,
    pub external_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub formatted_name: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub emails: Vec<Email>,
    /// Every other attribute, `name`'s other parts and the extensions included.
    pub attributes: Map<String, Value>,
}

/// What a SCIM Group body sets.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFields {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member ids, in the order sent, without repeats.
    pub members: Vec<String>,
    pub attributes: Map<String, Value>,
}

/// An email address of a user, as a body sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// An email address of a user, as a resource shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailView<'a> {
    pub value: &'a str,
    pub kind: Option<&'a str>,
    pub primary: bool,
}

/// What a User resource shows of the directory's record. The domain fills
/// it from its rows, so `scim` knows nothing of how they are stored.
#[derive(Debug, Clone, Copy)]
pub struct UserView<'a> {
    pub id: &'a str,
    pub user_name: &'a str,
    pub external_id: Option<&'a str>,
    pub given_name: Option<&'a str>,
    pub family_name: Option<&'a str>,
    pub formatted_name: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub active: bool,
    /// The JSON object of the attributes no column holds.
    pub attributes: &'a str,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub emails: &'a [EmailView<'a>],
    /// `(id, display name)` of the groups the user is in.
    pub groups: &'a [(String, String)],
}

/// What a Group resource shows of the directory's record.
#[derive(Debug, Clone, Copy)]
pub struct GroupView<'a> {
    pub id: &'a str,
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    /// The JSON object of the attributes no column holds.
    pub attributes: &'a str,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Where resources live, for `meta.location` and `$ref`: `https://host/scim/v2`.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl BaseUrl {
    pub fn user(&self, id: &str) -> String {
        format!("{}/Users/{id}", self.0)
    }

    pub fn group(&self, id: &str) -> String {
        format!("{}/Groups/{id}", self.0)
    }
}

/// Reads a User body (POST, PUT, or the result of a PATCH).
pub fn user_from_scim(body: &Value) -> Result<UserFields, ScimError> {
    let mut object = canonical_object(body, ResourceKind::User)?;
    let user_name = take_string(&mut object, "userName")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| {
            ScimError::invalid(
                ScimType::InvalidValue,
                "userName is required and must not be empty",
            )
        })?;
    let external_id = take_string(&mut object, "externalId")?;
    let display_name = take_string(&mut object, "displayName")?;
    let active = match object.remove("active") {
        None | Some(Value::Null) => true,
        Some(value) => as_bool(&value).ok_or_else(|| {
            ScimError::invalid(
                ScimType::InvalidValue,
                format!("active must be a boolean, not {value}"),
            )
        })?,
    };
    let (given_name, family_name, formatted_name) = match object.get_mut("name") {
        Some(Value::Object(name)) => {
            let parts = (
                take_string(name, "givenName")?,
                take_string(name, "familyName")?,
                take_string(name, "formatted")?,
            );
            if name.is_empty() {
                object.remove("name");
            }
            parts
        }
        Some(Value::Null) | None => {
            object.remove("name");
            (None, None, None)
        }
        Some(other) => {
            return Err(ScimError::invalid(
                ScimType::InvalidValue,
                format!("name must be an object, not {other}"),
            ));
        }
    };
    // Emails stay in `attributes` as sent (display included); their rows
    // are an index for filters and the admin API.
    let emails = match object.get("emails") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => values.iter().map(email).collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(ScimError::invalid(
                ScimType::InvalidValue,
                format!("emails must be an array, not {other}"),
            ));
        }
    };
    let user_name = user_name.trim().to_owned();
    check_user_text(
        &user_name,
        &external_id,
        &display_name,
        [
            ("name.givenName", &given_name),
            ("name.familyName", &family_name),
            ("name.formatted", &formatted_name),
        ],
    )?;
    for (index, email) in emails.iter().enumerate() {
        text::check_name(
            &format!("emails[{index}].value"),
            &email.value,
            text::MAX_NAME,
        )?;
    }
    text::check_attributes(&object)?;
    Ok(UserFields {
        user_name,
        external_id,
        given_name,
        family_name,
        formatted_name,
        display_name,
        active,
        emails,
        attributes: object,
    })
}

/// The one text rule ([`crate::text`]) on a user's column-backed fields.
fn check_user_text(
    user_name: &str,
    external_id: &Option<String>,
    display_name: &Option<String>,
    names: [(&str, &Option<String>); 3],
) -> Result<(), ScimError> {
    text::check_user_name("userName", user_name)?;
    let optional = [("externalId", external_id), ("displayName", display_name)];
    for (field, value) in optional.into_iter().chain(names) {
        if let Some(value) = value {
            text::check(field, value, text::Kind::Name, text::MAX_NAME)?;
        }
    }
    Ok(())
}

fn email(value: &Value) -> Result<Email, ScimError> {
    let invalid = || {
        ScimError::invalid(
            ScimType::InvalidValue,
            format!("an email must be an object with a string value, not {value}"),
        )
    };
    let object = value.as_object().ok_or_else(invalid)?;
    let get = |key: &str| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    };
    let address = get("value").and_then(Value::as_str).ok_or_else(invalid)?;
    Ok(Email {
        value: address.to_owned(),
        kind: get("type").and_then(Value::as_str).map(str::to_owned),
        primary: get("primary").and_then(as_bool).unwrap_or(false),
    })
}

/// Reads a Group body.
pub fn group_from_scim(body: &Value) -> Result<GroupFields, ScimError> {
    let mut object = canonical_object(body, ResourceKind::Group)?;
    let display_name = take_string(&mut object, "displayName")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| {
            ScimError::invalid(
                ScimType::InvalidValue,
                "displayName is required and must not be empty",
            )
        })?;
    let external_id = take_string(&mut object, "externalId")?;
    let members = match object.remove("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => {
            let ids = values
                .iter()
                .map(|value| {
                    value
                        .as_object()
                        .and_then(|member| {
                            member
                                .iter()
                                .find(|(key, _)| key.eq_ignore_ascii_case("value"))
                        })
                        .and_then(|(_, id)| id.as_str())
                        .ok_or_else(|| {
                            ScimError::invalid(
                                ScimType::InvalidValue,
                                format!(
                                    "a member must be an object with a string value, not {value}"
                                ),
                            )
                        })
                })
                .collect::<Result<Vec<&str>, _>>()?;
            text::member_ids(ids.into_iter())?
        }
        Some(other) => {
            return Err(ScimError::invalid(
                ScimType::InvalidValue,
                format!("members must be an array, not {other}"),
            ));
        }
    };
    let display_name = display_name.trim().to_owned();
    text::check_name("displayName", &display_name, text::MAX_NAME)?;
    if let Some(external_id) = &external_id {
        text::check("externalId", external_id, text::Kind::Name, text::MAX_NAME)?;
    }
    text::check_attributes(&object)?;
    Ok(GroupFields {
        display_name,
        external_id,
        members,
        attributes: object,
    })
}

/// A body's attributes under their canonical names, with what a client may
/// not set removed: `schemas`, `id`, `meta`, read-only attributes such as a
/// user's `groups`, and `password`, which is never stored.
fn canonical_object(body: &Value, kind: ResourceKind) -> Result<Map<String, Value>, ScimError> {
    let object = body.as_object().ok_or_else(|| {
        ScimError::invalid(
            ScimType::InvalidSyntax,
            format!("a {} must be a JSON object", kind.name()),
        )
    })?;
    let mut canonical = Map::new();
    for (key, value) in object {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|skip| key.eq_ignore_ascii_case(skip))
        {
            continue;
        }
        if let Some(schema) = kind.schemas()[1..]
            .iter()
            .find(|schema| schema.id.eq_ignore_ascii_case(key))
        {
            let Value::Object(extension) = value else {
                return Err(ScimError::invalid(
                    ScimType::InvalidValue,
                    format!("{} must be an object", schema.id),
                ));
            };
            let mut attributes = Map::new();
            for (name, value) in extension {
                match schema.attribute(name) {
                    Some(attribute) => insert_attribute(&mut attributes, attribute, value)?,
                    None => {
                        attributes.insert(name.clone(), value.clone());
                    }
                }
            }
            canonical.insert(schema.id.to_owned(), Value::Object(attributes));
            continue;
        }
        match kind.attribute(None, key) {
            Some((_, attribute)) if attribute.name == "password" => {}
            Some((_, attribute)) if attribute.mutability == super::schema::Mutability::ReadOnly => {
            }
            Some((_, attribute)) => insert_attribute(&mut canonical, attribute, value)?,
            None => {
                canonical.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(canonical)
}

/// Inserts `value` under the attribute's canonical name, with sub-attribute
/// names canonical too and booleans sent as strings (`"True"`) made booleans.
fn insert_attribute(
    into: &mut Map<String, Value>,
    attribute: &'static Attribute,
    value: &Value,
) -> Result<(), ScimError> {
    into.insert(
        attribute.name.to_owned(),
        canonical_value(attribute, value)?,
    );
    Ok(())
}

fn canonical_value(attribute: &'static Attribute, value: &Value) -> Result<Value, ScimError> {
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) if attribute.multi_valued => items
            .iter()
            .map(|item| canonical_element(attribute, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        // A lone value for a multi-valued attribute is taken as a list of one.
        single if attribute.multi_valued => {
            Ok(Value::Array(vec![canonical_element(attribute, single)?]))
        }
        single => canonical_element(attribute, single),
    }
}

/// One value of `attribute` (one element, when it is multi-valued).
fn canonical_element(attribute: &'static Attribute, value: &Value) -> Result<Value, ScimError> {
    match (attribute.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (Type::Complex, Value::Object(object)) => {
            let mut canonical = Map::new();
            for (key, value) in object {
                match attribute.sub_attribute(key) {
                    Some(sub) => {
                        canonical.insert(sub.name.to_owned(), canonical_value(sub, value)?);
                    }
                    None => {
                        canonical.insert(key.clone(), value.clone());
                    }
                }
            }
            Ok(Value::Object(canonical))
        }
        (Type::Complex, other) => Err(ScimError::invalid(
            ScimType::InvalidValue,
            format!("{} must be an object, not {other}", attribute.name),
        )),
        (Type::Boolean, value) => as_bool(value).map(Value::Bool).ok_or_else(|| {
            ScimError::invalid(
                ScimType::InvalidValue,
                format!("{} must be a boolean, not {value}", attribute.name),
            )
        }),
        (_, value) => Ok(value.clone()),
    }
}

/// A boolean, or a string spelling one in any case (Entra sends `"False"`).
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(value) => Some(*value),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn take_string(object: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ScimError> {
    match object.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(ScimError::invalid(
            ScimType::InvalidValue,
            format!("{key} must be a string, not {other}"),
        )),
    }
}

/// A user as SCIM returns it.
pub fn user_to_scim(row: &UserView<'_>, base: &BaseUrl) -> Value {
    let (emails, groups) = (row.emails, row.groups);
    let mut object: Map<String, Value> = serde_json::from_str(row.attributes).unwrap_or_default();
    // The core schema, then every extension the user has data under.
    let mut schemas = vec![json!(USER_SCHEMA)];
    schemas.extend(
        object
            .iter()
            .filter(|(key, value)| key.starts_with("urn:") && value.is_object())
            .map(|(key, _)| json!(key)),
    );
    object.insert("schemas".into(), Value::Array(schemas));
    object.insert("id".into(), json!(row.id));
    if let Some(external_id) = row.external_id {
        object.insert("externalId".into(), json!(external_id));
    }
    object.insert("userName".into(), json!(row.user_name));
    let mut name = match object.remove("name") {
        Some(Value::Object(name)) => name,
        _ => Map::new(),
    };
    for (key, value) in [
        ("formatted", row.formatted_name),
        ("familyName", row.family_name),
        ("givenName", row.given_name),
    ] {
        if let Some(value) = value {
            name.insert(key.into(), json!(value));
        }
    }
    if !name.is_empty() {
        object.insert("name".into(), Value::Object(name));
    }
    if let Some(display_name) = row.display_name {
        object.insert("displayName".into(), json!(display_name));
    }
    object.insert("active".into(), json!(row.active));
    // Users made by hand have email rows but no SCIM attributes.
    if !emails.is_empty() && !object.contains_key("emails") {
        let emails: Vec<Value> = emails
            .iter()
            .map(|email| {
                let mut value = json!({ "value": email.value, "primary": email.primary });
                if let Some(kind) = email.kind {
                    value["type"] = json!(kind);
                }
                value
            })
            .collect();
        object.insert("emails".into(), Value::Array(emails));
    }
    if !groups.is_empty() {
        let groups: Vec<Value> = groups
            .iter()
            .map(|(id, display)| {
                json!({ "value": id, "$ref": base.group(id), "display": display, "type": "direct" })
            })
            .collect();
        object.insert("groups".into(), Value::Array(groups));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": rfc3339(row.created_at),
            "lastModified": rfc3339(row.updated_at),
            "location": base.user(row.id),
            "version": etag(row.version),
        }),
    );
    Value::Object(object)
}

/// A group as SCIM returns it; `members` are `(id, userName)`, or `None`
/// when the client excluded them (and they were not read).
pub fn group_to_scim(
    row: &GroupView<'_>,
    members: Option<&[(String, String)]>,
    base: &BaseUrl,
) -> Value {
    let mut object: Map<String, Value> = serde_json::from_str(row.attributes).unwrap_or_default();
    object.insert("schemas".into(), json!([GROUP_SCHEMA]));
    object.insert("id".into(), json!(row.id));
    if let Some(external_id) = row.external_id {
        object.insert("externalId".into(), json!(external_id));
    }
    object.insert("displayName".into(), json!(row.display_name));
    if let Some(members) = members {
        let members: Vec<Value> = members
            .iter()
            .map(|(id, user_name)| {
                json!({ "value": id, "$ref": base.user(id), "display": user_name, "type": "User" })
            })
            .collect();
        object.insert("members".into(), Value::Array(members));
    }
    object.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": rfc3339(row.created_at),
            "lastModified": rfc3339(row.updated_at),
            "location": base.group(row.id),
            "version": etag(row.version),
        }),
    );
    Value::Object(object)
}
