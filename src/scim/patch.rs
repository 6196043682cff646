//! PATCH (RFC 7644 §3.5.2): reading a `PatchOp` body, applying its
//! operations to a resource's SCIM JSON, and taking group membership changes
//! out of it so the store can apply them as row changes instead of rewriting
//! a 10,000-member group to drop one member.
//!
//! The request shapes Okta and Microsoft Entra ID really send are accepted:
//! capitalised op names (`"Replace"`), booleans as strings (`"False"`,
//! `"primary": "true"`), `value` objects without `path` whose keys are paths
//! (`"name.givenName"`, `"urn:…:enterprise:2.0:User:department"`,
//! `"emails[type eq \"work\"].value"`), `add` on a value-filtered path that
//! matches nothing (a new value is made from the filter), the manager sent as
//! a bare id, member removal as `remove` + `path: members` + a value list,
//! and a renamed group's own `id` echoed back in the value.

use serde_json::{Map, Value};

use super::error::{ScimError, ScimType};
use super::filter::{
    AttrPath, CompareOp, Filter, PatchPath, SCHEMAS, SyntaxError, parse_patch_path,
};
use super::resource::as_bool;
use super::schema::{self, Attribute, Mutability, ResourceKind, Schema, Type};
use super::{GROUP_SCHEMA, PATCH_OP_SCHEMA};

/// A PATCH operation's `op`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Replace,
    Remove,
}

impl Op {
    /// `add`, `Add`, `ADD`…: Entra capitalises, the RFC does not.
    fn parse(text: &str) -> Option<Op> {
        [Op::Add, Op::Replace, Op::Remove]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Replace => "replace",
            Op::Remove => "remove",
        }
    }
}

/// What an operation's `path` designates.
#[derive(Debug, Clone)]
pub enum Target {
    /// No path (or an empty one): the value is an object of attributes.
    Resource,
    /// The path is a schema URN: the core schema means the resource itself,
    /// an extension means its whole object.
    Schema(&'static Schema),
    /// An attribute, a sub-attribute, or values selected by a filter.
    Attribute(PatchPath),
}

/// One operation of a PATCH request.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: Op,
    /// The path as sent, for messages.
    pub path: Option<String>,
    pub target: Target,
    /// Required for `add` and `replace`; `remove` may carry one (Entra sends
    /// the members to remove as a value list).
    pub value: Option<Value>,
}

/// A PATCH request body (RFC 7644 §3.5.2), validated.
#[derive(Debug, Clone)]
pub struct PatchRequest {
    pub operations: Vec<Operation>,
}

impl PatchRequest {
    /// Reads and checks a `PatchOp` body: its `schemas`, its `Operations`,
    /// each `op` (any case), each `path` (parsed; a bad one is `invalidPath`
    /// with the position), and that `add`/`replace` carry a `value` and
    /// `remove` a path.
    pub fn from_json(body: &Value) -> Result<PatchRequest, ScimError> {
        let object = body.as_object().ok_or_else(|| {
            syntax(format!(
                "a PATCH body must be a JSON object with \"schemas\": [\"{PATCH_OP_SCHEMA}\"] and \"Operations\", not {}",
                shown(body)
            ))
        })?;
        let is_patch_op = field(object, "schemas")
            .and_then(Value::as_array)
            .is_some_and(|schemas| {
                schemas
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|schema| schema.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            });
        if !is_patch_op {
            return Err(syntax(format!(
                "a PATCH body must list \"{PATCH_OP_SCHEMA}\" in \"schemas\""
            )));
        }
        let operations = match field(object, "Operations") {
            Some(Value::Array(operations)) if !operations.is_empty() => operations,
            Some(Value::Array(_)) => {
                return Err(syntax(
                    "\"Operations\" is empty: send at least one add, replace or remove operation",
                ));
            }
            Some(other) => {
                return Err(syntax(format!(
                    "\"Operations\" must be an array of operations, not {}",
                    shown(other)
                )));
            }
            None => {
                return Err(syntax(
                    "a PATCH body needs \"Operations\": an array of add, replace or remove operations",
                ));
            }
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(index, operation)| Operation::from_json(index + 1, operation))
            .collect::<Result<_, _>>()?;
        Ok(PatchRequest { operations })
    }
}

impl Operation {
    fn from_json(number: usize, json: &Value) -> Result<Operation, ScimError> {
        let object = json.as_object().ok_or_else(|| {
            syntax(format!(
                "operation {number} must be an object with \"op\", \"path\" and \"value\", not {}",
                shown(json)
            ))
        })?;
        let op = match field(object, "op") {
            Some(Value::String(text)) => Op::parse(text).ok_or_else(|| {
                syntax(format!(
                    "operation {number} has \"op\": {}; use add, replace or remove",
                    shown(&Value::String(text.clone()))
                ))
            })?,
            Some(other) => {
                return Err(syntax(format!(
                    "operation {number} has \"op\": {}; use add, replace or remove",
                    shown(other)
                )));
            }
            None => {
                return Err(syntax(format!(
                    "operation {number} has no \"op\": use add, replace or remove"
                )));
            }
        };
        let path = match field(object, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(other) => {
                return Err(ScimError::invalid(
                    ScimType::InvalidPath,
                    format!(
                        "operation {number} has a \"path\" that is not a string: {}",
                        shown(other)
                    ),
                ));
            }
        };
        let target = match &path {
            None => Target::Resource,
            Some(text) => parse_target(text).map_err(|error| {
                ScimError::invalid(
                    ScimType::InvalidPath,
                    format!(
                        "operation {number} has the path {}, which does not parse: {} at position {}",
                        shown(&Value::String(text.clone())),
                        error.message,
                        error.position
                    ),
                )
            })?,
        };
        let value = field(object, "value").cloned();
        match op {
            Op::Remove if matches!(target, Target::Resource) => {
                return Err(ScimError::invalid(
                    ScimType::NoTarget,
                    format!(
                        "operation {number} is a remove without a path: name what to remove, as in \"path\": \"members[value eq \\\"…\\\"]\""
                    ),
                ));
            }
            Op::Remove => {}
            Op::Add | Op::Replace => match (&target, &value) {
                (_, None) => {
                    return Err(syntax(format!(
                        "operation {number} ({}) has no \"value\": say what to {}",
                        op.as_str(),
                        op.as_str()
                    )));
                }
                (Target::Resource, Some(value)) if !value.is_object() => {
                    return Err(ScimError::invalid(
                        ScimType::InvalidValue,
                        format!(
                            "operation {number} has no path, so its value must be an object of attributes, not {}",
                            shown(value)
                        ),
                    ));
                }
                _ => {}
            },
        }
        Ok(Operation {
            op,
            path,
            target,
            value,
        })
    }

    /// `replace emails[type eq "work"].value`, for messages.
    fn describe(&self) -> String {
        match &self.path {
            Some(path) => format!("{} {path}", self.op.as_str()),
            None => format!("{} without a path", self.op.as_str()),
        }
    }
}

/// The schemas this service knows, of any resource type.
fn known_schema(urn: &str) -> Option<&'static Schema> {
    [&schema::USER, &schema::ENTERPRISE_USER, &schema::GROUP]
        .into_iter()
        .find(|schema| schema.id.eq_ignore_ascii_case(urn.trim()))
}

fn core_schema(kind: ResourceKind) -> &'static Schema {
    match kind {
        ResourceKind::User => &schema::USER,
        ResourceKind::Group => &schema::GROUP,
    }
}

fn parse_target(text: &str) -> Result<Target, SyntaxError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Target::Resource);
    }
    if let Some(schema) = known_schema(trimmed) {
        return Ok(Target::Schema(schema));
    }
    parse_patch_path(trimmed).map(Target::Attribute)
}

/// Applies the operations in order to `resource` (a User or Group as GET
/// returns it, extensions under their URN keys). All or nothing: on an
/// error `resource` is left as it was.
pub fn apply(
    resource: &mut Value,
    request: &PatchRequest,
    kind: ResourceKind,
) -> Result<(), ScimError> {
    let Value::Object(original) = resource else {
        return Err(ScimError::internal(format!(
            "the stored {} is not a JSON object",
            kind.name()
        )));
    };
    let mut working = original.clone();
    for operation in &request.operations {
        let required_before: Vec<&'static str> = core_schema(kind)
            .attributes
            .iter()
            .filter(|attribute| attribute.required && assigned(field(&working, attribute.name)))
            .map(|attribute| attribute.name)
            .collect();
        run(kind, &mut working, operation).map_err(|error| in_operation(operation, error))?;
        if let Some(name) = required_before
            .into_iter()
            .find(|name| !assigned(field(&working, name)))
        {
            return Err(in_operation(
                operation,
                mutability(format!(
                    "{name} is required: it can be replaced with a new value but not removed"
                )),
            ));
        }
    }
    tidy(&mut working, kind);
    *original = working;
    Ok(())
}

fn in_operation(operation: &Operation, error: ScimError) -> ScimError {
    ScimError {
        detail: format!("{}: {}", operation.describe(), error.detail),
        ..error
    }
}

fn run(
    kind: ResourceKind,
    root: &mut Map<String, Value>,
    operation: &Operation,
) -> Result<(), ScimError> {
    let value = operation.value.as_ref();
    match &operation.target {
        Target::Resource => without_path(kind, root, operation.op, value),
        Target::Schema(schema) if schema.id == core_schema(kind).id => {
            without_path(kind, root, operation.op, value)
        }
        Target::Schema(schema) if kind.schemas().iter().any(|known| known.id == schema.id) => {
            extension_root(kind, root, operation.op, schema.id, value)
        }
        Target::Schema(schema) => Err(invalid_path(format!(
            "{} is not a schema of {}s",
            schema.id,
            kind.name()
        ))),
        Target::Attribute(path) => at_path(kind, root, operation.op, path, value, false),
    }
}

/// `add`/`replace` without a path: every key of the value object is an
/// attribute, a schema URN holding an extension object, or (Entra) a path.
fn without_path(
    kind: ResourceKind,
    root: &mut Map<String, Value>,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    if op == Op::Remove {
        return Err(ScimError::invalid(
            ScimType::NoTarget,
            "a remove needs a path naming an attribute, not the whole resource",
        ));
    }
    let Some(Value::Object(attributes)) = value else {
        return Err(invalid_value(format!(
            "the value must be an object of attributes, not {}",
            shown(value.unwrap_or(&Value::Null))
        )));
    };
    for (key, item) in attributes {
        if key.eq_ignore_ascii_case("schemas") {
            // Which schemas a resource has follows from its attributes.
            continue;
        }
        if let Some(schema) = known_schema(key) {
            if schema.id == core_schema(kind).id {
                without_path(kind, root, op, Some(item))?;
            } else if kind.schemas().iter().any(|known| known.id == schema.id) {
                extension_root(kind, root, op, schema.id, Some(item))?;
            } else {
                return Err(invalid_value(format!(
                    "{} is not a schema of {}s",
                    schema.id,
                    kind.name()
                )));
            }
            continue;
        }
        if !is_path_key(key) {
            let path = plain_path(None, key, None);
            at_path(kind, root, op, &path, Some(item), true)?;
            continue;
        }
        let path = parse_patch_path(key).map_err(|error| {
            invalid_path(format!(
                "the value's key {} is not an attribute path: {} at position {}",
                shown(&Value::String(key.clone())),
                error.message,
                error.position
            ))
        })?;
        if is_unknown_extension_root(&path, item) {
            // `"urn:…:custom:2.0:User": {…}`: an extension no schema here
            // declares, whose attributes are kept as sent.
            let Value::Object(extension) = item else {
                continue;
            };
            for (name, value) in extension {
                let inner = plain_path(Some(key), name, None);
                at_path(kind, root, op, &inner, Some(value), true)?;
            }
            continue;
        }
        at_path(kind, root, op, &path, Some(item), true)?;
    }
    Ok(())
}

/// Keys that are paths rather than attribute names: attribute names are
/// letters, digits, `-`, `_` (and `$ref`), so a dot, a bracket or a URN
/// prefix marks a path.
fn is_path_key(key: &str) -> bool {
    key.contains('.') || key.contains('[') || starts_with_ignore_case(key, "urn:")
}

/// A URN key whose last segment looks like a schema name (`…:2.0:User`,
/// capitalised) rather than an attribute (`…:2.0:User:worksiteId`), holding
/// an object, under a URN no schema here declares.
fn is_unknown_extension_root(path: &PatchPath, item: &Value) -> bool {
    item.is_object()
        && path.value_filter.is_none()
        && path.sub_attribute.is_none()
        && path.attribute.sub_attribute.is_none()
        && path
            .attribute
            .urn
            .as_deref()
            .is_some_and(|urn| known_schema(urn).is_none())
        && path
            .attribute
            .name
            .starts_with(|first: char| first.is_ascii_uppercase())
}

fn plain_path(urn: Option<&str>, name: &str, sub_attribute: Option<&str>) -> PatchPath {
    PatchPath {
        attribute: AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub_attribute: sub_attribute.map(str::to_owned),
        },
        value_filter: None,
        sub_attribute: None,
    }
}

/// An operation on a whole extension object (`path` is its URN, or a
/// no-path value has it as a key).
fn extension_root(
    kind: ResourceKind,
    root: &mut Map<String, Value>,
    op: Op,
    urn: &'static str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match (op, value) {
        (Op::Remove, _) | (_, None | Some(Value::Null)) => {
            take_field(root, urn);
            Ok(())
        }
        (_, Some(Value::Object(attributes))) => {
            for (key, item) in attributes {
                // A dotted key inside the extension object: `manager.value`.
                let (name, sub) = match key.split_once('.') {
                    Some((name, sub)) => (name, Some(sub)),
                    None => (key.as_str(), None),
                };
                let path = plain_path(Some(urn), name, sub);
                at_path(kind, root, op, &path, Some(item), true)?;
            }
            Ok(())
        }
        (_, Some(other)) => Err(invalid_value(format!(
            "{urn} must be an object of its attributes, not {}",
            shown(other)
        ))),
    }
}

/// Where an attribute lives: at the top level or inside an extension object,
/// under which key, and its definition when a schema declares it.
#[derive(Debug, Clone)]
struct Slot {
    extension: Option<String>,
    key: String,
    attribute: Option<&'static Attribute>,
}

fn resolve(kind: ResourceKind, path: &AttrPath) -> Result<Slot, ScimError> {
    let core = core_schema(kind);
    match path.urn.as_deref() {
        Some(urn) if !urn.eq_ignore_ascii_case(core.id) => {
            if let Some(schema) = kind
                .schemas()
                .iter()
                .find(|schema| schema.id.eq_ignore_ascii_case(urn))
            {
                let attribute = schema.attribute(&path.name);
                return Ok(Slot {
                    extension: Some(schema.id.to_owned()),
                    key: attribute
                        .map_or_else(|| path.name.clone(), |attribute| attribute.name.to_owned()),
                    attribute,
                });
            }
            if let Some(schema) = known_schema(urn) {
                return Err(invalid_path(format!(
                    "{} is not a schema of {}s",
                    schema.id,
                    kind.name()
                )));
            }
            // An extension no schema here declares: kept as sent.
            Ok(Slot {
                extension: Some(urn.to_owned()),
                key: path.name.clone(),
                attribute: None,
            })
        }
        _ => {
            // `schemas` is in no schema's table, but is the resource's own
            // read-only attribute, not an unknown one to keep as sent.
            let attribute = if path.name.eq_ignore_ascii_case(SCHEMAS.name) {
                Some(&SCHEMAS)
            } else {
                kind.attribute(None, &path.name)
                    .map(|(_, attribute)| attribute)
            };
            Ok(Slot {
                extension: None,
                key: attribute
                    .map_or_else(|| path.name.clone(), |attribute| attribute.name.to_owned()),
                attribute,
            })
        }
    }
}

/// A sub-attribute of `slot`: its canonical key and its definition.
type Sub = (String, Option<&'static Attribute>);

fn resolve_sub(slot: &Slot, name: &str) -> Result<Sub, ScimError> {
    match slot.attribute {
        Some(attribute) if attribute.kind != Type::Complex => Err(invalid_path(format!(
            "{} has no sub-attributes, so {}.{name} names nothing",
            attribute.name, attribute.name
        ))),
        Some(attribute) => Ok(match attribute.sub_attribute(name) {
            Some(sub) => (sub.name.to_owned(), Some(sub)),
            None => (name.to_owned(), None),
        }),
        None => Ok((name.to_owned(), None)),
    }
}

fn at_path(
    kind: ResourceKind,
    root: &mut Map<String, Value>,
    op: Op,
    path: &PatchPath,
    value: Option<&Value>,
    in_value_object: bool,
) -> Result<(), ScimError> {
    let slot = resolve(kind, &path.attribute)?;
    let (filter, sub_name) = match (
        &path.attribute.sub_attribute,
        &path.value_filter,
        &path.sub_attribute,
    ) {
        (Some(sub), None, None) => (None, Some(sub)),
        (Some(_), _, _) => {
            return Err(invalid_path(
                "a path has a sub-attribute either before or after its filter, not both",
            ));
        }
        (None, filter, sub) => (filter.as_ref(), sub.as_ref()),
    };
    if slot
        .attribute
        .is_some_and(|attribute| attribute.mutability == Mutability::WriteOnly)
    {
        // `password`: accepted and dropped, never stored.
        return Ok(());
    }
    if let Some(attribute) = slot
        .attribute
        .filter(|attribute| attribute.mutability == Mutability::ReadOnly)
    {
        // Okta echoes a group's own `id` in a no-path rename; the same value
        // sent back is no change, so it is ignored (RFC 7643 §3.1).
        if in_value_object && op != Op::Remove && filter.is_none() && sub_name.is_none() {
            let sent = value.unwrap_or(&Value::Null);
            let current = lookup(root, &slot);
            let normalized = normalize(Some(attribute), &slot.key, sent, true).ok();
            if current == Some(sent)
                || (current.is_some() && current == normalized.as_ref())
                || (!assigned(current) && !assigned(Some(sent)))
            {
                return Ok(());
            }
        }
        return Err(read_only(attribute));
    }
    let sub = sub_name.map(|name| resolve_sub(&slot, name)).transpose()?;
    if let Some((name, Some(sub_attribute))) = &sub
        && sub_attribute.mutability == Mutability::ReadOnly
    {
        if in_value_object {
            // Echoed read-only parts (a member's `display`) are dropped, as a
            // PUT drops them.
            return Ok(());
        }
        return Err(mutability(format!(
            "{}.{name} is read-only: the service sets it",
            slot.key
        )));
    }
    match (filter, sub) {
        (Some(filter), sub) => filtered(root, &slot, op, filter, sub, value),
        (None, Some(sub)) => sub_attribute(root, &slot, op, sub, value),
        (None, None) => whole(root, &slot, op, value),
    }
}

/// The object `slot` lives in: the resource, or its extension object
/// (made when `create`; `None` when absent and not made).
fn container<'a>(
    root: &'a mut Map<String, Value>,
    slot: &Slot,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, ScimError> {
    let Some(extension) = &slot.extension else {
        return Ok(Some(root));
    };
    let key = match existing_key(root, extension) {
        Some(key) => key,
        None if create => {
            root.insert(extension.clone(), Value::Object(Map::new()));
            extension.clone()
        }
        None => return Ok(None),
    };
    if create && root.get(&key).is_some_and(Value::is_null) {
        root.insert(key.clone(), Value::Object(Map::new()));
    }
    match root.get_mut(&key) {
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(Value::Null) | None => Ok(None),
        Some(other) => Err(invalid_value(format!(
            "{extension} holds {} where an object of attributes belongs",
            shown(other)
        ))),
    }
}

fn lookup<'a>(root: &'a Map<String, Value>, slot: &Slot) -> Option<&'a Value> {
    let container = match &slot.extension {
        None => root,
        Some(extension) => field(root, extension)?.as_object()?,
    };
    field(container, &slot.key)
}

/// Whether the attribute holds a list: by its schema, or by what is there.
fn is_multi(slot: &Slot, current: Option<&Value>) -> bool {
    match slot.attribute {
        Some(attribute) => attribute.multi_valued,
        None => matches!(current, Some(Value::Array(_))),
    }
}

/// An operation on a whole attribute (no filter, no sub-attribute).
fn whole(
    root: &mut Map<String, Value>,
    slot: &Slot,
    op: Op,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(container) = container(root, slot, op != Op::Remove)? else {
        return Ok(());
    };
    let current = take_field(container, &slot.key);
    let multi = is_multi(slot, current.as_ref());
    let attribute = slot.attribute;
    let result = match op {
        Op::Remove => match value.filter(|value| !value.is_null()) {
            // Entra: `remove` + `path: roles` + the values to remove.
            Some(value) if multi => {
                let elements = match current {
                    Some(Value::Array(elements)) => elements,
                    _ => Vec::new(),
                };
                Some(Value::Array(remove_values(slot, elements, value)?))
            }
            _ => {
                if assigned(current.as_ref()) {
                    check_not_immutable(attribute, &slot.key)?;
                }
                None
            }
        },
        Op::Add | Op::Replace => {
            let new = normalize(attribute, &slot.key, value.unwrap_or(&Value::Null), true)?;
            if !assigned(Some(&new)) {
                if assigned(current.as_ref()) {
                    check_not_immutable(attribute, &slot.key)?;
                }
                None
            } else if let Value::Array(new_elements) = new {
                let mut elements = match current {
                    Some(Value::Array(elements)) if op == Op::Add => elements,
                    _ => Vec::new(),
                };
                let mut touched = Vec::new();
                for element in new_elements.into_iter().map(strip_nulls) {
                    // An exact duplicate is not added twice (RFC 7644 §3.5.2.1:
                    // adding a value already there changes nothing).
                    if let Some(index) = elements.iter().position(|known| *known == element) {
                        touched.push(index);
                    } else {
                        elements.push(element);
                        touched.push(elements.len() - 1);
                    }
                }
                only_one_primary(&mut elements, &touched);
                Some(Value::Array(elements))
            } else if let (Value::Object(new), Some(Value::Object(mut existing))) =
                (&new, current.clone())
            {
                // A complex attribute: the sub-attributes sent replace theirs,
                // the others stay (RFC 7644 §3.5.2.1, §3.5.2.3).
                merge(&mut existing, new, attribute, &slot.key)?;
                Some(Value::Object(existing))
            } else {
                if let Some(attribute) =
                    attribute.filter(|attribute| attribute.mutability == Mutability::Immutable)
                    && assigned(current.as_ref())
                    && current.as_ref() != Some(&new)
                {
                    return Err(immutable(attribute.name));
                }
                Some(strip_nulls(new))
            }
        }
    };
    if let Some(result) = result {
        put(container, &slot.key, result);
    }
    Ok(())
}

/// An operation on a sub-attribute without a filter: `name.givenName`; on
/// a multi-valued attribute it applies to every value.
fn sub_attribute(
    root: &mut Map<String, Value>,
    slot: &Slot,
    op: Op,
    (sub_key, sub_definition): Sub,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some(container) = container(root, slot, op != Op::Remove)? else {
        return Ok(());
    };
    let current = take_field(container, &slot.key);
    let new = match op {
        Op::Remove => None,
        Op::Add | Op::Replace => Some(normalize(
            sub_definition,
            &sub_key,
            value.unwrap_or(&Value::Null),
            true,
        )?),
    };
    let result = if is_multi(slot, current.as_ref()) {
        let mut elements = match current {
            Some(Value::Array(elements)) => elements,
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(invalid_path(format!(
                    "{} holds {}, not a list of values",
                    slot.key,
                    shown(&other)
                )));
            }
        };
        if elements.is_empty() && new.as_ref().is_some_and(|new| assigned(Some(new))) {
            elements.push(Value::Object(Map::new()));
        }
        for element in &mut elements {
            let Value::Object(element) = element else {
                return Err(invalid_path(format!(
                    "{} holds values without sub-attributes, so {}.{sub_key} names nothing",
                    slot.key, slot.key
                )));
            };
            set_sub(element, &slot.key, &sub_key, sub_definition, new.clone())?;
        }
        elements.retain(|element| assigned(Some(element)));
        Value::Array(elements)
    } else {
        let mut object = match current {
            Some(Value::Object(object)) => object,
            None | Some(Value::Null) => Map::new(),
            Some(other) => {
                return Err(invalid_path(format!(
                    "{} holds {}, which has no sub-attributes",
                    slot.key,
                    shown(&other)
                )));
            }
        };
        set_sub(&mut object, &slot.key, &sub_key, sub_definition, new)?;
        Value::Object(object)
    };
    put(container, &slot.key, result);
    Ok(())
}

/// An operation on the values of a multi-valued attribute that `filter`
/// selects, or on one sub-attribute of each (`emails[type eq "work"].value`).
fn filtered(
    root: &mut Map<String, Value>,
    slot: &Slot,
    op: Op,
    filter: &Filter,
    sub: Option<Sub>,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let attribute = match slot.attribute {
        Some(attribute) if attribute.multi_valued => attribute,
        Some(attribute) => {
            return Err(invalid_path(format!(
                "{} has a single value; a filter in brackets selects among the values of a multi-valued attribute",
                attribute.name
            )));
        }
        None => {
            // Without a schema nothing says how to compare the values.
            return Err(invalid_path(format!(
                "{} is not an attribute any schema here defines, so its values cannot be selected by a filter",
                slot.key
            )));
        }
    };
    filter.check_within(attribute)?;
    let no_match = || {
        ScimError::invalid(
            ScimType::NoTarget,
            format!("no value of {} matches the filter", slot.key),
        )
    };
    let Some(container) = container(root, slot, op != Op::Remove)? else {
        return Err(no_match());
    };
    let mut elements = match take_field(container, &slot.key) {
        Some(Value::Array(elements)) => elements,
        None | Some(Value::Null) => Vec::new(),
        Some(other) => {
            return Err(invalid_path(format!(
                "{} holds {}, not a list of values",
                slot.key,
                shown(&other)
            )));
        }
    };
    let matched: Vec<usize> = elements
        .iter()
        .enumerate()
        .filter(|(_, element)| filter.matches_value(element, attribute))
        .map(|(index, _)| index)
        .collect();
    match (op, sub) {
        (Op::Remove, _) if matched.is_empty() => return Err(no_match()),
        (Op::Remove, None) => {
            let mut index = 0;
            elements.retain(|_| {
                index += 1;
                !matched.contains(&(index - 1))
            });
        }
        (Op::Remove, Some((sub_key, sub_definition))) => {
            for &index in &matched {
                if let Some(Value::Object(element)) = elements.get_mut(index) {
                    set_sub(element, &slot.key, &sub_key, sub_definition, None)?;
                }
            }
            elements.retain(|element| assigned(Some(element)));
        }
        (Op::Replace, _) if matched.is_empty() => return Err(no_match()),
        (Op::Replace, None) => {
            let new = normalize(
                slot.attribute,
                &slot.key,
                value.unwrap_or(&Value::Null),
                false,
            )?;
            for &index in &matched {
                if let Some(element) = elements.get_mut(index) {
                    check_immutable_parts(slot, element, &new)?;
                    *element = strip_nulls(new.clone());
                }
            }
            elements.retain(|element| assigned(Some(element)));
            only_one_primary(&mut elements, &matched);
        }
        (Op::Add | Op::Replace, sub) => {
            let mut touched = matched.clone();
            if matched.is_empty() {
                // Entra adds `emails[type eq "work"].value` for a user without
                // a work email: the filter's `eq` terms describe the new value.
                let element = element_from_filter(filter, slot.attribute).ok_or_else(|| {
                    ScimError::invalid(
                        ScimType::NoTarget,
                        format!(
                            "no value of {} matches the filter, and a new one can only be made from `eq` comparisons joined by `and`",
                            slot.key
                        ),
                    )
                })?;
                elements.push(Value::Object(element));
                touched.push(elements.len() - 1);
            }
            match sub {
                Some((sub_key, sub_definition)) => {
                    let new = normalize(
                        sub_definition,
                        &sub_key,
                        value.unwrap_or(&Value::Null),
                        true,
                    )?;
                    for &index in &touched {
                        if let Some(Value::Object(element)) = elements.get_mut(index) {
                            set_sub(
                                element,
                                &slot.key,
                                &sub_key,
                                sub_definition,
                                Some(new.clone()),
                            )?;
                        }
                    }
                }
                None => {
                    let new = normalize(
                        slot.attribute,
                        &slot.key,
                        value.unwrap_or(&Value::Null),
                        false,
                    )?;
                    let Value::Object(new) = new else {
                        return Err(invalid_value(format!(
                            "a value of {} selected by a filter is replaced by an object of its sub-attributes, not {}",
                            slot.key,
                            shown(&new)
                        )));
                    };
                    for &index in &touched {
                        if let Some(Value::Object(element)) = elements.get_mut(index) {
                            merge(element, &new, slot.attribute, &slot.key)?;
                        }
                    }
                }
            }
            // Dropping emptied values shifts indices: fix `primary` first.
            only_one_primary(&mut elements, &touched);
            elements.retain(|element| assigned(Some(element)));
        }
    }
    put(container, &slot.key, Value::Array(elements));
    Ok(())
}

/// Entra's removal of listed values from a multi-valued attribute: a value
/// with a `value` sub-attribute removes the values with the same `value`,
/// any other removes equal values. Values not there are no error.
fn remove_values(
    slot: &Slot,
    mut elements: Vec<Value>,
    value: &Value,
) -> Result<Vec<Value>, ScimError> {
    let targets = match normalize(slot.attribute, &slot.key, value, true)? {
        Value::Array(targets) => targets,
        other => vec![other],
    };
    let case_exact = slot
        .attribute
        .and_then(|attribute| attribute.sub_attribute("value"))
        .is_some_and(|value| value.case_exact);
    for target in targets {
        match target.as_object().and_then(|target| field(target, "value")) {
            Some(key) => elements.retain(|element| {
                !element
                    .as_object()
                    .and_then(|element| field(element, "value"))
                    .is_some_and(|known| same_value(known, key, case_exact))
            }),
            None => elements.retain(|element| *element != target),
        }
    }
    Ok(elements)
}

/// Sets (or with `None`/null, removes) one sub-attribute of one value.
fn set_sub(
    element: &mut Map<String, Value>,
    parent: &str,
    key: &str,
    definition: Option<&'static Attribute>,
    new: Option<Value>,
) -> Result<(), ScimError> {
    let current = field(element, key);
    if definition.is_some_and(|definition| definition.mutability == Mutability::Immutable)
        && assigned(current)
        && current != new.as_ref()
    {
        return Err(immutable(&format!("{parent}.{key}")));
    }
    match new {
        Some(new) if assigned(Some(&new)) => put(element, key, new),
        _ => {
            take_field(element, key);
        }
    }
    Ok(())
}

/// Merges an object of sub-attributes into a complex value: null unassigns.
fn merge(
    existing: &mut Map<String, Value>,
    new: &Map<String, Value>,
    attribute: Option<&'static Attribute>,
    name: &str,
) -> Result<(), ScimError> {
    for (key, value) in new {
        let definition = attribute.and_then(|attribute| attribute.sub_attribute(key));
        let key = definition.map_or(key.as_str(), |definition| definition.name);
        set_sub(existing, name, key, definition, Some(value.clone()))?;
    }
    Ok(())
}

/// Replacing a whole value must keep its immutable parts (a member's
/// `value`): RFC 7644 §3.5.2 lets a client set them only when unset.
fn check_immutable_parts(slot: &Slot, old: &Value, new: &Value) -> Result<(), ScimError> {
    let Some(attribute) = slot.attribute else {
        return Ok(());
    };
    for sub in attribute
        .sub_attributes
        .iter()
        .filter(|sub| sub.mutability == Mutability::Immutable)
    {
        let before = old.as_object().and_then(|old| field(old, sub.name));
        let after = new.as_object().and_then(|new| field(new, sub.name));
        if assigned(before) && before != after {
            return Err(immutable(&format!("{}.{}", attribute.name, sub.name)));
        }
    }
    Ok(())
}

fn check_not_immutable(attribute: Option<&'static Attribute>, name: &str) -> Result<(), ScimError> {
    match attribute {
        Some(attribute) if attribute.mutability == Mutability::Immutable => Err(immutable(name)),
        _ => Ok(()),
    }
}

/// RFC 7643 §2.4: at most one value is primary. When the values just
/// written include a primary one, the others stop being primary.
fn only_one_primary(elements: &mut [Value], touched: &[usize]) {
    let is_primary = |element: &Value| {
        element
            .as_object()
            .and_then(|element| field(element, "primary"))
            .is_some_and(|primary| *primary == Value::Bool(true))
    };
    let Some(&chosen) = touched
        .iter()
        .find(|&&index| elements.get(index).is_some_and(is_primary))
    else {
        return;
    };
    for (index, element) in elements.iter_mut().enumerate() {
        if index != chosen
            && is_primary(element)
            && let Value::Object(element) = element
        {
            put(element, "primary", Value::Bool(false));
        }
    }
}

/// The new value an `eq`-only filter describes: `type eq "work"` gives
/// `{"type": "work"}`.
fn element_from_filter(
    filter: &Filter,
    attribute: Option<&'static Attribute>,
) -> Option<Map<String, Value>> {
    fn collect(
        filter: &Filter,
        attribute: Option<&'static Attribute>,
        into: &mut Map<String, Value>,
    ) -> Option<()> {
        match filter {
            Filter::And(left, right) => {
                collect(left, attribute, into)?;
                collect(right, attribute, into)
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub_attribute.is_none() && !value.is_null() => {
                let definition =
                    attribute.and_then(|attribute| attribute.sub_attribute(&path.name));
                let key = definition.map_or_else(
                    || path.name.clone(),
                    |definition| definition.name.to_owned(),
                );
                let value = normalize(definition, &key, value, true).ok()?;
                into.insert(key, value);
                Some(())
            }
            _ => None,
        }
    }
    let mut element = Map::new();
    collect(filter, attribute, &mut element)?;
    Some(element)
}

/// A value for `attribute` as the resource keeps it: sub-attribute names
/// canonical, booleans sent as strings (`"False"`) made booleans, a bare
/// string for a complex attribute with a `value` (Entra's manager) made
/// `{"value": …}`, read-only sub-attributes a client echoed dropped. `whole`
/// is true when `value` is for the whole attribute (a list, when it is
/// multi-valued), false for one value. Nulls inside objects are kept: they
/// unassign when merged.
fn normalize(
    attribute: Option<&'static Attribute>,
    name: &str,
    value: &Value,
    whole: bool,
) -> Result<Value, ScimError> {
    let Some(attribute) = attribute else {
        return Ok(value.clone());
    };
    if !(attribute.multi_valued && whole) {
        return normalize_one(attribute, name, value);
    }
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => items
            .iter()
            .filter(|item| !item.is_null())
            .map(|item| normalize_one(attribute, name, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        // A lone value for a multi-valued attribute is a list of one.
        single => Ok(Value::Array(vec![normalize_one(attribute, name, single)?])),
    }
}

fn normalize_one(
    attribute: &'static Attribute,
    name: &str,
    value: &Value,
) -> Result<Value, ScimError> {
    let wrong =
        |expected: &str| invalid_value(format!("{name} must be {expected}, not {}", shown(value)));
    match (attribute.kind, value) {
        (_, Value::Null) => Ok(Value::Null),
        (Type::Complex, Value::Object(object)) => {
            let mut canonical = Map::new();
            for (key, item) in object {
                match attribute.sub_attribute(key) {
                    Some(sub) if sub.mutability == Mutability::ReadOnly => {}
                    Some(sub) => {
                        put_raw(
                            &mut canonical,
                            sub.name,
                            normalize(Some(sub), sub.name, item, true)?,
                        );
                    }
                    None => put_raw(&mut canonical, key, item.clone()),
                }
            }
            Ok(Value::Object(canonical))
        }
        (Type::Complex, Value::String(text)) if attribute.sub_attribute("value").is_some() => {
            let mut object = Map::new();
            object.insert("value".to_owned(), Value::String(text.clone()));
            Ok(Value::Object(object))
        }
        (Type::Complex, _) => {
            let subs: Vec<&str> = attribute
                .sub_attributes
                .iter()
                .map(|sub| sub.name)
                .collect();
            Err(wrong(&format!(
                "an object of its sub-attributes ({})",
                subs.join(", ")
            )))
        }
        (Type::Boolean, value) => as_bool(value)
            .map(Value::Bool)
            .ok_or_else(|| wrong("true or false")),
        (Type::Integer, Value::Number(number)) if number.is_i64() || number.is_u64() => {
            Ok(value.clone())
        }
        (Type::Integer, _) => Err(wrong("an integer")),
        (Type::Decimal, Value::Number(_)) => Ok(value.clone()),
        (Type::Decimal, _) => Err(wrong("a number")),
        (Type::String | Type::Reference | Type::DateTime | Type::Binary, Value::String(_)) => {
            Ok(value.clone())
        }
        (Type::String | Type::Reference | Type::DateTime | Type::Binary, _) => {
            Err(wrong("a string"))
        }
    }
}

/// Inserts without leaving a differently-cased twin behind.
fn put_raw(object: &mut Map<String, Value>, key: &str, value: Value) {
    take_field(object, key);
    object.insert(key.to_owned(), value);
}

/// Sets `key`, or removes it when `value` is unassigned (RFC 7643 §2.5:
/// null, an empty list and an empty object all mean "no value").
fn put(object: &mut Map<String, Value>, key: &str, value: Value) {
    take_field(object, key);
    if assigned(Some(&value)) {
        object.insert(key.to_owned(), value);
    }
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .collect(),
        ),
        other => other,
    }
}

fn assigned(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(object)) => !object.is_empty(),
        Some(_) => true,
    }
}

/// Drops extension objects left empty and keeps `schemas` in step with the
/// extensions present.
fn tidy(root: &mut Map<String, Value>, kind: ResourceKind) {
    for extension in kind.schemas().iter().skip(1) {
        let present = assigned(field(root, extension.id));
        if !present {
            take_field(root, extension.id);
        }
        if let Some(Value::Array(schemas)) = root.get_mut("schemas") {
            let listed = schemas.iter().any(|schema| {
                schema
                    .as_str()
                    .is_some_and(|schema| schema.eq_ignore_ascii_case(extension.id))
            });
            if present && !listed {
                schemas.push(Value::String(extension.id.to_owned()));
            } else if !present && listed {
                schemas.retain(|schema| {
                    !schema
                        .as_str()
                        .is_some_and(|schema| schema.eq_ignore_ascii_case(extension.id))
                });
            }
        }
    }
}

/// A key of a JSON object, case-insensitively (RFC 7643 §2.1).
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value)
    })
}

fn existing_key(object: &Map<String, Value>, key: &str) -> Option<String> {
    if object.contains_key(key) {
        return Some(key.to_owned());
    }
    object
        .keys()
        .find(|name| name.eq_ignore_ascii_case(key))
        .cloned()
}

fn take_field(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let key = existing_key(object, key)?;
    object.remove(&key)
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

fn same_value(left: &Value, right: &Value, case_exact: bool) -> bool {
    match (left, right) {
        (Value::String(left), Value::String(right)) if !case_exact => {
            left.to_lowercase() == right.to_lowercase()
        }
        _ => left == right,
    }
}

/// A value for a message: its JSON, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::invalid(ScimType::InvalidSyntax, detail)
}

fn invalid_path(detail: impl Into<String>) -> ScimError {
    ScimError::invalid(ScimType::InvalidPath, detail)
}

fn invalid_value(detail: impl Into<String>) -> ScimError {
    ScimError::invalid(ScimType::InvalidValue, detail)
}

fn mutability(detail: impl Into<String>) -> ScimError {
    ScimError::invalid(ScimType::Mutability, detail)
}

fn read_only(attribute: &Attribute) -> ScimError {
    let hint = match attribute.name {
        "groups" => ": change memberships by PATCHing the group's members",
        _ => ": the service sets it",
    };
    mutability(format!("{} is read-only{hint}", attribute.name))
}

fn immutable(name: &str) -> ScimError {
    mutability(format!(
        "{name} is immutable: once set it cannot change; remove the value and add a new one"
    ))
}

/// A change to a group's members, as row changes. Member ids are the
/// `value`s the IdP sent (user ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    Add(Vec<String>),
    Remove(Vec<String>),
    RemoveAll,
    Replace(Vec<String>),
}

/// Takes every operation on a group's `members` out of `request` and
/// returns them as row changes, in order; what is left is for [`apply`].
/// Recognised: `add`/`replace` with `path: members` and a value list;
/// no-path `add`/`replace` whose value has `members` (the rest of that
/// value stays in the request); `remove` with `members[value eq "…"]`
/// (`or` joins several); `remove` with `path: members` and a value list
/// (Entra) or without one (everyone). On an error `request` is unchanged.
pub fn take_member_changes(request: &mut PatchRequest) -> Result<Vec<MemberChange>, ScimError> {
    let mut changes = Vec::new();
    let mut kept = Vec::with_capacity(request.operations.len());
    for operation in &request.operations {
        let kept_operation = member_change(operation, &mut changes)
            .map_err(|error| in_operation(operation, error))?;
        kept.extend(kept_operation);
    }
    request.operations = kept;
    Ok(changes)
}

/// Splits one operation: its member change (pushed onto `changes`) and
/// what remains of it for [`apply`], if anything.
fn member_change(
    operation: &Operation,
    changes: &mut Vec<MemberChange>,
) -> Result<Option<Operation>, ScimError> {
    let value = operation.value.as_ref();
    match &operation.target {
        Target::Attribute(path) if names_members(&path.attribute) => {
            if path.attribute.sub_attribute.is_some() || path.sub_attribute.is_some() {
                return Err(mutability(
                    "a member's value, type and $ref cannot change: remove the member and add it again",
                ));
            }
            let change = match (operation.op, &path.value_filter) {
                (Op::Remove, Some(filter)) => Some(MemberChange::Remove(filter_ids(filter).ok_or_else(|| {
                    ScimError::invalid(
                        ScimType::InvalidFilter,
                        "members are selected by id only, as in members[value eq \"…\"] (several joined by or)",
                    )
                })?)),
                (Op::Add | Op::Replace, Some(_)) => {
                    return Err(mutability(
                        "a member's value cannot change: add members with \"path\": \"members\" and remove them with members[value eq \"…\"]",
                    ));
                }
                (Op::Add, None) => Some(MemberChange::Add(member_ids(value)?)),
                (Op::Replace, None) => Some(MemberChange::Replace(member_ids(value)?)),
                (Op::Remove, None) => match value {
                    None | Some(Value::Null) => Some(MemberChange::RemoveAll),
                    Some(value) => Some(MemberChange::Remove(member_ids(Some(value))?)),
                },
            };
            changes.extend(change.filter(|change| {
                !matches!(change, MemberChange::Add(ids) | MemberChange::Remove(ids) if ids.is_empty())
            }));
            Ok(None)
        }
        Target::Resource | Target::Schema(_)
            if operation.op != Op::Remove && is_group_root(&operation.target) =>
        {
            let Some(Value::Object(attributes)) = value else {
                return Ok(Some(operation.clone()));
            };
            let Some(key) = attributes
                .keys()
                .find(|key| key.eq_ignore_ascii_case("members"))
            else {
                return Ok(Some(operation.clone()));
            };
            let ids = member_ids(attributes.get(key))?;
            changes.push(match operation.op {
                Op::Replace => MemberChange::Replace(ids),
                _ => MemberChange::Add(ids),
            });
            let mut rest = attributes.clone();
            rest.remove(key);
            if rest.keys().all(|key| key.eq_ignore_ascii_case("schemas")) {
                return Ok(None);
            }
            Ok(Some(Operation {
                value: Some(Value::Object(rest)),
                ..operation.clone()
            }))
        }
        _ => Ok(Some(operation.clone())),
    }
}

fn is_group_root(target: &Target) -> bool {
    match target {
        Target::Resource => true,
        Target::Schema(schema) => schema.id == GROUP_SCHEMA,
        Target::Attribute(_) => false,
    }
}

fn names_members(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("members")
        && path
            .urn
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(GROUP_SCHEMA))
}

/// The ids in `[{"value": "…"}, …]` (or one such object), in order, once each.
fn member_ids(value: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter(|item| !item.is_null()).collect(),
        Some(single) => vec![single],
    };
    let ids = items
        .iter()
        .map(|item| {
            item.as_object()
                .and_then(|member| field(member, "value"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid_value(format!(
                        "a member must be an object whose \"value\" is a user id, not {}",
                        shown(item)
                    ))
                })
        })
        .collect::<Result<Vec<&str>, _>>()?;
    Ok(crate::text::member_ids(ids.into_iter())?)
}

/// The ids a member filter names: `value eq "a"`, `value eq "a" or value eq "b"`.
fn filter_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Or(left, right) => {
            let mut ids = filter_ids(left)?;
            for id in filter_ids(right)? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            Some(ids)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(id),
        } if path.name.eq_ignore_ascii_case("value")
            && path.sub_attribute.is_none()
            && path.urn.is_none() =>
        {
            Some(vec![id.clone()])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::scim::error::Problem;
    use crate::scim::{ENTERPRISE_USER_SCHEMA, USER_SCHEMA};

    fn body(operations: Value) -> Value {
        json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": operations })
    }

    fn request(operations: Value) -> PatchRequest {
        PatchRequest::from_json(&body(operations)).unwrap_or_else(|err| panic!("{err:?}"))
    }

    fn patched(mut resource: Value, kind: ResourceKind, operations: Value) -> Value {
        apply(&mut resource, &request(operations), kind).unwrap_or_else(|err| panic!("{err:?}"));
        resource
    }

    /// The error, after checking that the resource did not change.
    fn refused(resource: Value, kind: ResourceKind, operations: Value) -> ScimError {
        let mut copy = resource.clone();
        let err = apply(&mut copy, &request(operations), kind).expect_err("should be refused");
        assert_eq!(copy, resource, "a refused PATCH changes nothing");
        assert!(matches!(err.problem, Problem::Request(_)));
        err
    }

    fn unparsable(body: Value) -> ScimError {
        PatchRequest::from_json(&body).expect_err("should not parse")
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "bjensen",
            "userName": "bjensen@example.com",
            "name": { "givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen" },
            "displayName": "Babs",
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home", "primary": false }
            ],
            "groups": [{ "value": "e9e30dba", "display": "Tour Guides", "type": "direct" }],
            "meta": { "resourceType": "User", "version": "W/\"3\"" }
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                { "value": "2819c223", "display": "bjensen", "type": "User" },
                { "value": "902c246b", "display": "jsmith", "type": "User" }
            ],
            "meta": { "resourceType": "Group", "version": "W/\"7\"" }
        })
    }

    const USER_KIND: ResourceKind = ResourceKind::User;
    const GROUP_KIND: ResourceKind = ResourceKind::Group;

    // --- Reading the request -------------------------------------------------

    #[test]
    fn a_body_must_be_a_patch_op_with_operations() {
        let cases = [
            json!([]),
            json!({ "Operations": [{ "op": "add", "path": "title", "value": "x" }] }),
            json!({ "schemas": [USER_SCHEMA], "Operations": [{ "op": "add", "path": "title", "value": "x" }] }),
            json!({ "schemas": [PATCH_OP_SCHEMA] }),
            json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": [] }),
            json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": { "op": "add" } }),
            json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": ["add"] }),
        ];
        for case in cases {
            let err = unparsable(case.clone());
            assert_eq!(
                err.problem,
                Problem::Request(ScimType::InvalidSyntax),
                "{case}"
            );
        }
    }

    #[test]
    fn op_names_are_read_in_any_case_and_unknown_ones_are_refused() {
        let parsed = request(json!([
            { "op": "Add", "path": "title", "value": "x" },
            { "op": "REPLACE", "path": "title", "value": "y" },
            { "op": "remove", "path": "title" },
        ]));
        let ops: Vec<Op> = parsed
            .operations
            .iter()
            .map(|operation| operation.op)
            .collect();
        assert_eq!(ops, [Op::Add, Op::Replace, Op::Remove]);
        // Lower-case `operations`, as some clients spell it, is read too.
        let lower = json!({ "schemas": [PATCH_OP_SCHEMA], "operations": [{ "op": "add", "path": "title", "value": "x" }] });
        assert!(PatchRequest::from_json(&lower).is_ok());
        for op in [json!("move"), json!(1), Value::Null] {
            let err = unparsable(body(json!([{ "op": op, "path": "title", "value": "x" }])));
            assert_eq!(err.scim_type(), Some(ScimType::InvalidSyntax));
            assert!(
                err.detail.contains("add, replace or remove"),
                "{}",
                err.detail
            );
        }
    }

    #[test]
    fn a_bad_path_is_invalid_path_with_its_position() {
        let err = unparsable(body(
            json!([{ "op": "remove", "path": "emails[type eq \"work\"" }]),
        ));
        assert_eq!(err.scim_type(), Some(ScimType::InvalidPath));
        assert!(err.detail.contains("position"), "{}", err.detail);
        let err = unparsable(body(json!([{ "op": "remove", "path": 42 }])));
        assert_eq!(err.scim_type(), Some(ScimType::InvalidPath));
    }

    #[test]
    fn add_and_replace_need_a_value_and_remove_needs_a_path() {
        let err = unparsable(body(json!([{ "op": "add", "path": "title" }])));
        assert_eq!(err.scim_type(), Some(ScimType::InvalidSyntax));
        let err = unparsable(body(json!([{ "op": "remove" }])));
        assert_eq!(err.scim_type(), Some(ScimType::NoTarget));
        let err = unparsable(body(json!([{ "op": "replace", "value": "Babs" }])));
        assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
        // A remove may carry a value (Entra lists the members to remove).
        assert!(
            PatchRequest::from_json(&body(
                json!([{ "op": "Remove", "path": "members", "value": [{ "value": "a" }] }])
            ))
            .is_ok()
        );
    }

    // --- add -----------------------------------------------------------------

    #[test]
    fn add_without_path_merges_attributes() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "add", "value": {
                "nickName": "Babs",
                "name": { "middleName": "Jane" },
                "emails": [
                    { "value": "bjensen@example.com", "type": "work", "primary": true },
                    { "value": "barbara@other.org", "type": "other" }
                ]
            } }]),
        );
        assert_eq!(result["nickName"], "Babs");
        assert_eq!(
            result["name"],
            json!({ "givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen", "middleName": "Jane" })
        );
        let emails = result["emails"].as_array().expect("emails");
        assert_eq!(
            emails.len(),
            3,
            "the exact duplicate is not added twice: {emails:?}"
        );
        assert_eq!(
            emails[2],
            json!({ "value": "barbara@other.org", "type": "other" })
        );
    }

    #[test]
    fn add_with_path_appends_to_lists_and_sets_single_values() {
        let result = patched(
            user(),
            USER_KIND,
            json!([
                { "op": "add", "path": "phoneNumbers", "value": [{ "value": "555-555-8377", "type": "work" }] },
                { "op": "add", "path": "phoneNumbers", "value": { "value": "555-555-0000", "type": "mobile" } },
                { "op": "add", "path": "displayName", "value": "Barbara J." },
            ]),
        );
        assert_eq!(
            result["phoneNumbers"],
            json!([{ "value": "555-555-8377", "type": "work" }, { "value": "555-555-0000", "type": "mobile" }])
        );
        assert_eq!(result["displayName"], "Barbara J.");
    }

    #[test]
    fn a_new_primary_value_demotes_the_old_one() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "add", "path": "emails", "value": [{ "value": "new@example.com", "type": "work", "primary": "true" }] }]),
        );
        let primaries: Vec<&Value> = result["emails"]
            .as_array()
            .expect("emails")
            .iter()
            .filter(|email| email["primary"] == json!(true))
            .collect();
        assert_eq!(
            primaries,
            [&json!({ "value": "new@example.com", "type": "work", "primary": true })]
        );
        assert_eq!(result["emails"][0]["primary"], json!(false));
    }

    #[test]
    fn add_to_a_filter_that_matches_nothing_makes_the_value_it_describes() {
        // Entra: `Add emails[type eq "work"].value` for a user without a work email.
        let mut without_work = user();
        without_work["emails"] = json!([{ "value": "babs@jensen.org", "type": "home" }]);
        let result = patched(
            without_work,
            USER_KIND,
            json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "bjensen@contoso.com" }]),
        );
        assert_eq!(
            result["emails"],
            json!([{ "value": "babs@jensen.org", "type": "home" }, { "type": "work", "value": "bjensen@contoso.com" }])
        );
        // With a match, the add sets the sub-attribute of the matching value.
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "Add", "path": "emails[type eq \"work\"].value", "value": "bjensen@contoso.com" }]),
        );
        assert_eq!(result["emails"][0]["value"], "bjensen@contoso.com");
        assert_eq!(result["emails"].as_array().map(Vec::len), Some(2));
        // A filter that is not `eq … and …` describes no value.
        let err = refused(
            user(),
            USER_KIND,
            json!([{ "op": "add", "path": "emails[type co \"x\"].value", "value": "a@b.c" }]),
        );
        assert_eq!(err.scim_type(), Some(ScimType::NoTarget));
    }

    // --- replace -------------------------------------------------------------

    #[test]
    fn replace_without_path_replaces_each_attribute_given() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "value": {
                "displayName": "Barbara",
                "emails": [{ "value": "only@example.com", "type": "work", "primary": true }],
                "name": { "givenName": "Barb", "middleName": null }
            } }]),
        );
        assert_eq!(result["displayName"], "Barbara");
        assert_eq!(
            result["emails"],
            json!([{ "value": "only@example.com", "type": "work", "primary": true }])
        );
        // A complex attribute keeps the sub-attributes not sent.
        assert_eq!(
            result["name"],
            json!({ "givenName": "Barb", "familyName": "Jensen", "formatted": "Barbara Jensen" })
        );
        assert_eq!(result["userName"], "bjensen@example.com");
    }

    #[test]
    fn replace_with_a_value_filter_replaces_the_matching_values_or_their_sub_attribute() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "path": "emails[type eq \"home\"]", "value": { "value": "b@home.org", "type": "home" } }]),
        );
        assert_eq!(
            result["emails"][1],
            json!({ "value": "b@home.org", "type": "home" })
        );
        assert_eq!(result["emails"][0], user()["emails"][0]);
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "path": "emails[value eq \"BJENSEN@example.com\"].type", "value": "other" }]),
        );
        assert_eq!(
            result["emails"][0]["type"], "other",
            "emails.value is not case-exact"
        );
    }

    #[test]
    fn replace_on_a_filter_matching_nothing_is_no_target() {
        for path in [
            "emails[type eq \"other\"].value",
            "emails[type eq \"other\"]",
            "phoneNumbers[type eq \"work\"]",
        ] {
            let err = refused(
                user(),
                USER_KIND,
                json!([{ "op": "replace", "path": path, "value": "x@y.z" }]),
            );
            assert_eq!(err.scim_type(), Some(ScimType::NoTarget), "{path}");
        }
    }

    #[test]
    fn replace_of_a_missing_attribute_adds_it() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "path": "title", "value": "Tour Guide" }]),
        );
        assert_eq!(result["title"], "Tour Guide");
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "path": "addresses.locality", "value": "Hollywood" }]),
        );
        assert_eq!(result["addresses"], json!([{ "locality": "Hollywood" }]));
    }

    // --- remove --------------------------------------------------------------

    #[test]
    fn remove_takes_away_attributes_values_and_sub_attributes() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "displayName" }]),
        );
        assert!(result.get("displayName").is_none());
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "name.formatted" }]),
        );
        assert_eq!(
            result["name"],
            json!({ "givenName": "Barbara", "familyName": "Jensen" })
        );
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "emails[type eq \"home\"]" }]),
        );
        assert_eq!(result["emails"], json!([user()["emails"][0]]));
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "emails[type eq \"home\"].type" }]),
        );
        assert_eq!(
            result["emails"][1],
            json!({ "value": "babs@jensen.org", "primary": false })
        );
        // The last value gone, the attribute is unassigned.
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "emails[type eq \"home\" or type eq \"work\"]" }]),
        );
        assert!(result.get("emails").is_none());
        // Removing what is not there is no error.
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "nickName" }]),
        );
        assert_eq!(result, user());
    }

    #[test]
    fn remove_with_a_filter_matching_nothing_is_no_target() {
        for path in [
            "emails[type eq \"other\"]",
            "phoneNumbers[type eq \"work\"].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ] {
            let operations = json!([{ "op": "remove", "path": path }]);
            let mut resource = user();
            let result = apply(&mut resource, &request(operations.clone()), USER_KIND);
            if path.contains('[') {
                assert_eq!(
                    result.expect_err(path).scim_type(),
                    Some(ScimType::NoTarget),
                    "{path}"
                );
            } else {
                assert!(
                    result.is_ok(),
                    "removing an absent attribute without a filter succeeds: {path}"
                );
            }
        }
    }

    #[test]
    fn required_and_read_only_attributes_cannot_be_removed_or_changed() {
        for operations in [
            json!([{ "op": "remove", "path": "userName" }]),
            json!([{ "op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User:USERNAME" }]),
            json!([{ "op": "replace", "path": "userName", "value": null }]),
            json!([{ "op": "replace", "value": { "userName": null } }]),
            json!([{ "op": "remove", "path": "id" }]),
            json!([{ "op": "replace", "path": "id", "value": "2819c223-7f76-453a-919d-413861904646" }]),
            json!([{ "op": "add", "path": "meta", "value": { "resourceType": "Group" } }]),
            json!([{ "op": "replace", "path": "meta.version", "value": "W/\"9\"" }]),
            json!([{ "op": "replace", "path": "groups", "value": [{ "value": "x" }] }]),
            json!([{ "op": "add", "value": { "groups": [{ "value": "x" }] } }]),
            json!([{ "op": "replace", "value": { "id": "chosen-by-the-client" } }]),
            json!([{ "op": "replace", "value": { "meta": { "version": "W/\"999\"" } } }]),
            json!([{ "op": "remove", "path": "schemas" }]),
            json!([{ "op": "add", "path": "schemas", "value": ["urn:x"] }]),
        ] {
            let err = refused(user(), USER_KIND, operations.clone());
            assert_eq!(
                err.scim_type(),
                Some(ScimType::Mutability),
                "{operations}: {}",
                err.detail
            );
        }
        let err = refused(
            group(),
            GROUP_KIND,
            json!([{ "op": "remove", "path": "displayName" }]),
        );
        assert_eq!(err.scim_type(), Some(ScimType::Mutability));
        assert!(
            err.detail.contains("displayName is required"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn a_member_value_is_immutable() {
        for operations in [
            json!([{ "op": "replace", "path": "members[value eq \"2819c223\"].value", "value": "other" }]),
            json!([{ "op": "replace", "path": "members[value eq \"2819c223\"]", "value": { "value": "other" } }]),
            json!([{ "op": "remove", "path": "members[value eq \"2819c223\"].value" }]),
        ] {
            let err = refused(group(), GROUP_KIND, operations.clone());
            assert_eq!(err.scim_type(), Some(ScimType::Mutability), "{operations}");
        }
        // Whole members come and go.
        let result = patched(
            group(),
            GROUP_KIND,
            json!([
                { "op": "remove", "path": "members[value eq \"2819c223\"]" },
                { "op": "add", "path": "members", "value": [{ "value": "a1b2", "display": "ignored" }] },
            ]),
        );
        assert_eq!(
            result["members"],
            json!([{ "value": "902c246b", "display": "jsmith", "type": "User" }, { "value": "a1b2" }])
        );
    }

    // --- Extensions ----------------------------------------------------------

    #[test]
    fn extension_paths_address_the_object_under_the_urn() {
        let result = patched(
            user(),
            USER_KIND,
            json!([
                { "op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Tour Operations" },
                // Entra sends the manager as a bare id.
                { "op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "26118915-6090-4610-87e4-49d8ca9f808d" },
            ]),
        );
        assert_eq!(
            result[ENTERPRISE_USER_SCHEMA],
            json!({ "department": "Tour Operations", "manager": { "value": "26118915-6090-4610-87e4-49d8ca9f808d" } })
        );
        assert_eq!(
            result["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "boss" }]),
        );
        assert_eq!(
            result[ENTERPRISE_USER_SCHEMA]["manager"],
            json!({ "value": "boss" })
        );
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" }]),
        );
        assert_eq!(
            result[ENTERPRISE_USER_SCHEMA],
            json!({ "department": "Tour Operations" })
        );
        // Removing the extension root removes the object and its schema.
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" }]),
        );
        assert!(result.get(ENTERPRISE_USER_SCHEMA).is_none());
        assert_eq!(result["schemas"], json!([USER_SCHEMA]));
    }

    #[test]
    fn a_no_path_value_may_carry_the_extension_object_or_flat_urn_keys() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { "employeeNumber": "701984", "Manager": { "value": "boss", "displayName": "echoed" } },
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tour Operations"
            } }]),
        );
        assert_eq!(
            result[ENTERPRISE_USER_SCHEMA],
            json!({ "employeeNumber": "701984", "manager": { "value": "boss" }, "department": "Tour Operations" })
        );
        let err = refused(
            group(),
            GROUP_KIND,
            json!([{ "op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "x" }]),
        );
        assert_eq!(err.scim_type(), Some(ScimType::InvalidPath));
    }

    // --- Entra's and Okta's requests -----------------------------------------

    #[test]
    fn entra_booleans_as_strings_and_dotted_keys_are_accepted() {
        let result = patched(
            user(),
            USER_KIND,
            json!([
                { "op": "Replace", "path": "active", "value": "False" },
                { "op": "Add", "value": { "name.givenName": "Barb", "emails[type eq \"work\"].value": "b@contoso.com", "emails[type eq \"home\"].primary": "True" } },
            ]),
        );
        assert_eq!(result["active"], json!(false));
        assert_eq!(result["name"]["givenName"], "Barb");
        assert_eq!(
            result["emails"][0],
            json!({ "value": "b@contoso.com", "type": "work", "primary": false })
        );
        assert_eq!(result["emails"][1]["primary"], json!(true));
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "replace", "value": { "active": "TRUE" } }]),
        );
        assert_eq!(result["active"], json!(true));
    }

    #[test]
    fn values_of_the_wrong_type_are_invalid_value() {
        for operations in [
            json!([{ "op": "replace", "path": "active", "value": "maybe" }]),
            json!([{ "op": "replace", "value": { "active": 1 } }]),
            json!([{ "op": "replace", "path": "name", "value": "Barbara Jensen" }]),
            json!([{ "op": "add", "path": "emails", "value": [5] }]),
            json!([{ "op": "replace", "path": "userName", "value": { "value": "x" } }]),
            json!([{ "op": "add", "path": "emails[type eq \"home\"].primary", "value": "yes" }]),
            json!([{ "op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": "x" }]),
        ] {
            let err = refused(user(), USER_KIND, operations.clone());
            assert_eq!(
                err.scim_type(),
                Some(ScimType::InvalidValue),
                "{operations}: {}",
                err.detail
            );
        }
    }

    #[test]
    fn unknown_attributes_are_kept_as_sent_and_password_is_dropped() {
        let result = patched(
            user(),
            USER_KIND,
            json!([
                { "op": "add", "value": {
                    "favouriteColour": "teal",
                    "password": "t1meMa$heen",
                    "urn:ietf:params:scim:schemas:extension:custom:2.0:User": { "worksiteId": "180" }
                } },
                { "op": "replace", "path": "urn:ietf:params:scim:schemas:extension:custom:2.0:User:badge", "value": { "id": 7 } },
                { "op": "replace", "path": "password", "value": "another" },
            ]),
        );
        assert_eq!(result["favouriteColour"], "teal");
        assert!(result.get("password").is_none());
        assert_eq!(
            result["urn:ietf:params:scim:schemas:extension:custom:2.0:User"],
            json!({ "worksiteId": "180", "badge": { "id": 7 } })
        );
        let err = refused(
            user(),
            USER_KIND,
            json!([{ "op": "remove", "path": "favouriteColour[value eq \"x\"]" }]),
        );
        assert_eq!(err.scim_type(), Some(ScimType::InvalidPath));
    }

    #[test]
    fn attribute_names_are_case_insensitive_and_written_canonically() {
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "value": { "DISPLAYNAME": "B", "Name": { "GIVENNAME": "Bab" }, "Emails": [{ "VALUE": "x@y.z", "Type": "work" }] } }]),
        );
        assert_eq!(result["displayName"], "B");
        assert_eq!(result["name"]["givenName"], "Bab");
        assert_eq!(
            result["emails"],
            json!([{ "value": "x@y.z", "type": "work" }])
        );
        assert!(result.get("DISPLAYNAME").is_none());
    }

    #[test]
    fn entra_documented_user_requests() {
        // "Update User [Multi-valued properties]"
        let result = patched(
            user(),
            USER_KIND,
            json!([
                { "op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com" },
                { "op": "Replace", "path": "name.familyName", "value": "updatedFamilyName" },
            ]),
        );
        assert_eq!(result["emails"][0]["value"], "updatedEmail@microsoft.com");
        assert_eq!(result["name"]["familyName"], "updatedFamilyName");
        // "Update User [Single-valued properties]"
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" }]),
        );
        assert_eq!(
            result["userName"],
            "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
        );
        // "Disable User"
        let result = patched(
            result,
            USER_KIND,
            json!([{ "op": "Replace", "path": "active", "value": false }]),
        );
        assert_eq!(result["active"], json!(false));
    }

    #[test]
    fn okta_documented_requests() {
        // Deactivate a user.
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "value": { "active": false } }]),
        );
        assert_eq!(result["active"], json!(false));
        // Rename a group: Okta echoes the group's own id, which is no change.
        let id = group()["id"].clone();
        let result = patched(
            group(),
            GROUP_KIND,
            json!([{ "op": "replace", "value": { "id": id, "displayName": "Test SCIMv2" } }]),
        );
        assert_eq!(result["displayName"], "Test SCIMv2");
        assert_eq!(result["id"], group()["id"]);
        // A whole resource sent back as read, with one change: the read-only
        // parts are no change.
        let mut sent_back = user();
        sent_back["nickName"] = json!("Babs");
        let result = patched(
            user(),
            USER_KIND,
            json!([{ "op": "replace", "value": sent_back }]),
        );
        assert_eq!(result["nickName"], "Babs");
        assert_eq!(result["meta"], user()["meta"]);
    }

    #[test]
    fn a_failing_operation_undoes_the_ones_before_it() {
        let err = refused(
            user(),
            USER_KIND,
            json!([
                { "op": "replace", "path": "displayName", "value": "changed" },
                { "op": "remove", "path": "emails[type eq \"pager\"]" },
            ]),
        );
        assert_eq!(err.scim_type(), Some(ScimType::NoTarget));
        assert!(
            err.detail.starts_with("remove emails[type eq \"pager\"]: "),
            "{}",
            err.detail
        );
    }

    // --- Members -------------------------------------------------------------

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn entra_member_changes_become_row_changes() {
        // "Update Group [Add Members]" and "[Remove Members]".
        let mut add = request(
            json!([{ "op": "Add", "path": "members", "value": [{ "$ref": null, "value": "f648f8d5ea4e4cd38e9c" }] }]),
        );
        assert_eq!(
            take_member_changes(&mut add).expect("add"),
            [MemberChange::Add(ids(&["f648f8d5ea4e4cd38e9c"]))]
        );
        assert!(add.operations.is_empty());
        let mut remove = request(
            json!([{ "op": "Remove", "path": "members", "value": [{ "$ref": null, "value": "f648f8d5ea4e4cd38e9c" }] }]),
        );
        assert_eq!(
            take_member_changes(&mut remove).expect("remove"),
            [MemberChange::Remove(ids(&["f648f8d5ea4e4cd38e9c"]))]
        );
        // "Update Group [Attributes other than members]" stays for apply.
        let mut rename = request(
            json!([{ "op": "Replace", "path": "displayName", "value": "1879db59updatedDisplayName" }]),
        );
        assert!(take_member_changes(&mut rename).expect("rename").is_empty());
        assert_eq!(rename.operations.len(), 1);
    }

    #[test]
    fn okta_member_changes_in_one_request_keep_their_order() {
        let mut request = request(json!([
            { "op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]" },
            { "op": "add", "path": "members", "value": [
                { "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local" },
                { "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "twice" }
            ] },
            { "op": "replace", "value": { "id": "abf4dd94", "displayName": "Test SCIMv2", "members": [{ "value": "a" }] } },
            { "op": "remove", "path": "members[value eq \"a\" or value eq \"b\"]" },
            { "op": "replace", "path": "members", "value": [] },
            { "op": "remove", "path": "Members" },
        ]));
        let changes = take_member_changes(&mut request).expect("changes");
        assert_eq!(
            changes,
            [
                MemberChange::Remove(ids(&["89bb1940-b905-4575-9e7f-6f887cfb368e"])),
                MemberChange::Add(ids(&["23a35c27-23d3-4c03-b4c5-6443c09e7173"])),
                MemberChange::Replace(ids(&["a"])),
                MemberChange::Remove(ids(&["a", "b"])),
                MemberChange::Replace(Vec::new()),
                MemberChange::RemoveAll,
            ]
        );
        // The rename stays, without its members, and applies to the rest.
        assert_eq!(request.operations.len(), 1);
        assert_eq!(
            request.operations[0].value,
            Some(json!({ "id": "abf4dd94", "displayName": "Test SCIMv2" }))
        );
        let mut renamed = group();
        renamed["id"] = json!("abf4dd94");
        let before = renamed.clone();
        apply(&mut renamed, &request, GROUP_KIND).expect("rename");
        assert_eq!(renamed["displayName"], "Test SCIMv2");
        assert_eq!(renamed["members"], before["members"]);
    }

    #[test]
    fn member_changes_that_make_no_sense_are_refused_and_change_nothing() {
        for (operations, scim_type) in [
            (
                json!([{ "op": "remove", "path": "members[display eq \"bjensen\"]" }]),
                ScimType::InvalidFilter,
            ),
            (
                json!([{ "op": "add", "path": "members", "value": [{ "display": "no id" }] }]),
                ScimType::InvalidValue,
            ),
            (
                json!([{ "op": "add", "path": "members", "value": "2819c223" }]),
                ScimType::InvalidValue,
            ),
            (
                json!([{ "op": "replace", "path": "members[value eq \"a\"].value", "value": "b" }]),
                ScimType::Mutability,
            ),
            (
                json!([{ "op": "replace", "path": "members[value eq \"a\"]", "value": { "value": "b" } }]),
                ScimType::Mutability,
            ),
        ] {
            let mut parsed =
                request(json!([{ "op": "add", "path": "members", "value": [{ "value": "ok" }] }]));
            parsed
                .operations
                .extend(request(operations.clone()).operations);
            let before = format!("{:?}", parsed.operations);
            let err = take_member_changes(&mut parsed).expect_err("refused");
            assert_eq!(
                err.scim_type(),
                Some(scim_type),
                "{operations}: {}",
                err.detail
            );
            assert_eq!(
                format!("{:?}", parsed.operations),
                before,
                "the request is unchanged"
            );
        }
    }

    // --- Properties ----------------------------------------------------------

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|number| json!(number)),
            prop_oneof![
                "[a-z]{0,6}",
                Just("True".to_owned()),
                Just("false".to_owned()),
                Just("work".to_owned()),
                Just("2819c223".to_owned())
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(any_key(), inner, 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    fn any_key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("value".to_owned()),
            Just("type".to_owned()),
            Just("primary".to_owned()),
            Just("givenName".to_owned()),
            Just("display".to_owned()),
            "[a-zA-Z]{1,8}",
        ]
    }

    fn any_path() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            Just("userName".to_owned()),
            Just("displayName".to_owned()),
            Just("active".to_owned()),
            Just("id".to_owned()),
            Just("meta.version".to_owned()),
            Just("groups".to_owned()),
            Just("name".to_owned()),
            Just("name.givenName".to_owned()),
            Just("emails".to_owned()),
            Just("emails.value".to_owned()),
            Just("emails[type eq \"work\"]".to_owned()),
            Just("emails[type eq \"work\"].value".to_owned()),
            Just("emails[value co \"@\" and not (primary eq true)].type".to_owned()),
            Just("phoneNumbers[type eq \"mobile\"]".to_owned()),
            Just("members".to_owned()),
            Just("members[value eq \"2819c223\"]".to_owned()),
            Just("members[value eq \"2819c223\"].display".to_owned()),
            Just("nickName".to_owned()),
            Just("custom".to_owned()),
            Just("custom[value eq \"x\"]".to_owned()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned()),
            Just(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
                    .to_owned()
            ),
            Just("urn:ietf:params:scim:schemas:core:2.0:Group:displayName".to_owned()),
            Just("urn:x:custom:2.0:Thing:attr".to_owned()),
            Just(String::new()),
            "[a-zA-Z.\\[\\]\" :]{1,16}",
        ])
    }

    fn any_operation() -> impl Strategy<Value = Value> {
        (
            prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("ADD")],
            any_path(),
            prop::option::of(any_json()),
        )
            .prop_map(|(op, path, value)| {
                let mut operation = json!({ "op": op });
                if let Some(path) = path {
                    operation["path"] = json!(path);
                }
                if let Some(value) = value {
                    operation["value"] = value;
                }
                operation
            })
    }

    fn any_resource() -> impl Strategy<Value = (Value, ResourceKind)> {
        (
            any::<bool>(),
            prop::collection::btree_map(any_key(), any_json(), 0..4),
        )
            .prop_map(|(is_user, extra)| {
                let (mut resource, kind) = if is_user {
                    (user(), USER_KIND)
                } else {
                    (group(), GROUP_KIND)
                };
                if let Value::Object(object) = &mut resource {
                    object.extend(extra);
                }
                (resource, kind)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn random_operations_never_panic_and_a_refusal_changes_nothing(
            (resource, kind) in any_resource(),
            operations in prop::collection::vec(any_operation(), 1..5),
        ) {
            let Ok(mut request) = PatchRequest::from_json(&body(Value::Array(operations))) else {
                return Ok(());
            };
            if kind == GROUP_KIND {
                let before = format!("{:?}", request.operations);
                if take_member_changes(&mut request).is_err() {
                    prop_assert_eq!(format!("{:?}", request.operations), before);
                    return Ok(());
                }
            }
            let mut patched = resource.clone();
            match apply(&mut patched, &request, kind) {
                Ok(()) => prop_assert!(patched.is_object()),
                Err(err) => {
                    prop_assert_eq!(&patched, &resource);
                    prop_assert!(matches!(err.problem, Problem::Request(_)));
                }
            }
        }

        #[test]
        fn add_then_remove_restores_the_resource(
            attribute in prop_oneof![Just("phoneNumbers"), Just("ims"), Just("entitlements"), Just("roles"), Just("x509Extra")],
            kind_of in prop_oneof![Just("work"), Just("home"), Just("other")],
            value in "[a-z0-9]{1,12}",
            simple in prop_oneof![Just("nickName"), Just("title"), Just("locale"), Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter")],
        ) {
            let original = user();
            // A value into a list, removed by a value filter.
            let element = json!({ "value": value, "type": kind_of });
            let added = patched(original.clone(), USER_KIND, json!([{ "op": "add", "path": attribute, "value": [element] }]));
            prop_assert_ne!(&added, &original);
            let filter_removal = json!([{ "op": "remove", "path": format!("{attribute}[value eq \"{value}\"]") }]);
            let list_removal = json!([{ "op": "remove", "path": attribute, "value": [{ "value": value }] }]);
            if attribute == "x509Extra" {
                // No schema defines it, so only the value-list removal applies.
                prop_assert_eq!(patched(added, USER_KIND, list_removal), original.clone());
            } else {
                prop_assert_eq!(patched(added.clone(), USER_KIND, filter_removal), original.clone());
                prop_assert_eq!(patched(added, USER_KIND, list_removal), original.clone());
            }
            // A single value, removed by its path.
            let added = patched(original.clone(), USER_KIND, json!([{ "op": "add", "path": simple, "value": value }]));
            prop_assert_ne!(&added, &original);
            prop_assert_eq!(patched(added, USER_KIND, json!([{ "op": "remove", "path": simple }])), original);
        }

        #[test]
        fn removing_values_a_filter_does_not_find_is_no_target(
            absent in "[a-z]{1,10}",
            attribute in prop_oneof![Just("emails"), Just("phoneNumbers"), Just("addresses"), Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")],
            sub in prop::option::of(prop_oneof![Just("value"), Just("type"), Just("primary")]),
        ) {
            prop_assume!(absent != "work" && absent != "home");
            let mut path = format!("{attribute}[type eq \"{absent}\"]");
            if let Some(sub) = sub {
                path = format!("{path}.{sub}");
            }
            let mut resource = user();
            let result = apply(&mut resource, &request(json!([{ "op": "remove", "path": path }])), USER_KIND);
            let err = result.expect_err("refused");
            prop_assert_eq!(resource, user());
            let expected = if attribute.starts_with("urn:") { ScimType::InvalidPath } else { ScimType::NoTarget };
            prop_assert_eq!(err.scim_type(), Some(expected), "{}", err.detail);
        }
    }
}
