//! Resolves a parsed filter and `sortBy` against a resource type's schemas
//! into [`resolved`](super::resolved) form: which stored place every path
//! reads, and whether what it compares can be compared. Every refusal of a
//! filter (`400 invalidFilter`) or of a `sortBy` (`400 invalidValue`) is made
//! here, so the store's SQL compiler has nothing left to refuse.
//!
//! | filter attribute | stored in |
//! |---|---|
//! | `userName`, `id`, `externalId`, `displayName`, `name.givenName/familyName/formatted` | columns |
//! | `active` | a boolean column |
//! | `meta.created`, `meta.lastModified` | time columns |
//! | `emails…`, `emails[…]` | the user's email rows |
//! | `groups…` | the groups the user is in |
//! | group `members…` | the users in the group |
//! | other `name.*`, `title`, enterprise attributes, `phoneNumbers`, … | `attributes` JSON |
//! | `meta.resourceType`, `groups.type`, `members.type` | constants |
//!
//! A search at the server root applies one filter to every resource type
//! ([`filter_across`], [`sort_across`]): an attribute one type does not have
//! reads there as an attribute without a value.

use serde_json::Value;

use super::error::{ScimError, ScimType};
use super::filter::{
    AttrPath, Filter, Resolved, SCHEMAS, bool_value, compare_strings, compared_attribute,
    date_time_value,
};
use super::resolved::{
    BoolColumn, BoolPlace, CompareOp, Condition, Json, JsonBase, Place, ResolvedFilter,
    ResolvedSort, SortKey, Table, TextColumn, TimeColumn, TimeOp, Values,
};
use super::schema::{Attribute, ResourceKind, Type};
use super::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

/// The admin API's `users list` filter (`UserListQuery::filter`), parsed
/// and resolved on users exactly as SCIM's `/Users?filter=` is: the one
/// check the CLI runs before sending and the server runs on receipt. The
/// error says what is wrong and, for bad syntax, shows the filter with a
/// caret under the position.
pub fn user_list_filter(text: &str) -> Result<ResolvedFilter, String> {
    let parsed = super::filter::parse_filter(text).map_err(|err| {
        let caret = " ".repeat(err.position);
        format!("{err}\n  {text}\n  {caret}^")
    })?;
    filter(&parsed, ResourceKind::User).map_err(|err| err.to_string())
}

/// `filter` on `kind`, resolved. A filter naming an attribute no schema
/// defines, or comparing what cannot be compared, is `invalidFilter`.
pub fn filter(filter: &Filter, kind: ResourceKind) -> Result<ResolvedFilter, ScimError> {
    filter.check(kind)?;
    Ok(ResolvedFilter {
        table: table(kind),
        condition: Resolver {
            kind,
            across: false,
        }
        .filter(filter, &Scope::Root)?,
    })
}

/// `filter` in a search at the server root, which applies it to every
/// resource type: one resolved filter per type of [`ResourceKind::ALL`], in
/// that order. RFC 7644 §3.4.2.1: "For filtered attributes that are not part
/// of a particular resource type, the service provider SHALL treat the
/// attribute as if there is no attribute value." So on a type without the
/// attribute `pr`, `eq` and `co` are false and `ne` is true, exactly as for
/// an absent value (`userName eq "x"` matches no group, `not (userName pr)`
/// every group). A path no type defines, or a comparison that a type having
/// the attribute refuses, is `invalidFilter` as on that type's own search.
pub fn filter_across(filter: &Filter) -> Result<Vec<ResolvedFilter>, ScimError> {
    check_across(filter)?;
    ResourceKind::ALL
        .into_iter()
        .map(|kind| {
            Ok(ResolvedFilter {
                table: table(kind),
                condition: Resolver { kind, across: true }.filter(filter, &Scope::Root)?,
            })
        })
        .collect()
}

/// Checks each attribute expression of a filter across resource types: on
/// every type that defines its attribute as the type's own search would, and
/// that at least one type defines it.
fn check_across(filter: &Filter) -> Result<(), ScimError> {
    let path = match filter {
        Filter::And(left, right) | Filter::Or(left, right) => {
            check_across(left)?;
            return check_across(right);
        }
        Filter::Not(inner) => return check_across(inner),
        Filter::Present(path) | Filter::Compare { path, .. } => path,
        Filter::ValuePath { attribute, .. } => attribute,
    };
    let mut defined = false;
    for kind in ResourceKind::ALL {
        if path.resolve(kind).is_ok() {
            defined = true;
            filter.check(kind)?;
        }
    }
    if defined {
        Ok(())
    } else {
        Err(undefined_everywhere(path))
    }
}

/// Why no resource type has `path`: the reason of the type whose attribute
/// it names, if one does (`members.nosuch`: the Group's), else one naming
/// every type.
fn undefined_everywhere(path: &AttrPath) -> ScimError {
    let attribute = AttrPath {
        sub_attribute: None,
        ..path.clone()
    };
    for kind in ResourceKind::ALL {
        if let (Ok(_), Err(err)) = (attribute.resolve(kind), path.resolve(kind)) {
            return err;
        }
    }
    let kinds: Vec<&str> = ResourceKind::ALL.iter().map(|kind| kind.name()).collect();
    invalid_filter(format!(
        "\"{path}\" is not an attribute of {} (see /Schemas for the attributes this service \
         knows{})",
        kinds.join(" or "),
        if path.urn.is_none() {
            "; enterprise attributes need their schema URN, e.g. \
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        } else {
            ""
        }
    ))
}

/// A list's order on `kind`: `sort_by`, or creation order without one. An
/// attribute that cannot be sorted by is `invalidValue`.
pub fn sort(
    kind: ResourceKind,
    sort_by: Option<&AttrPath>,
    descending: bool,
) -> Result<ResolvedSort, ScimError> {
    let key = match sort_by {
        Some(path) => sort_key(path, kind)?,
        None => SortKey::Created,
    };
    Ok(ResolvedSort {
        table: table(kind),
        key,
        descending,
    })
}

/// A search's order at the server root, one per type of
/// [`ResourceKind::ALL`]: `sort_by` on each type that has the attribute. A
/// type without it has no value there, so its resources sort last ascending
/// and first descending (RFC 7644 §3.4.2.3: "if there is no data for the
/// specified sortBy value"). An attribute no type has, or one that a type
/// having it cannot sort by, is `invalidValue`.
pub fn sort_across(
    sort_by: Option<&AttrPath>,
    descending: bool,
) -> Result<Vec<ResolvedSort>, ScimError> {
    if let Some(path) = sort_by
        && !ResourceKind::ALL
            .iter()
            .any(|kind| path.resolve(*kind).is_ok())
    {
        let err = undefined_everywhere(path);
        return Err(ScimError::invalid(
            ScimType::InvalidValue,
            format!("sortBy: {}", err.detail),
        ));
    }
    ResourceKind::ALL
        .into_iter()
        .map(|kind| match sort_by {
            Some(path) if path.resolve(kind).is_err() => Ok(ResolvedSort {
                table: table(kind),
                key: SortKey::Absent,
                descending,
            }),
            _ => sort(kind, sort_by, descending),
        })
        .collect()
}

/// The table resources of `kind` are rows of.
pub fn table(kind: ResourceKind) -> Table {
    match kind {
        ResourceKind::User => Table::Users,
        ResourceKind::Group => Table::Groups,
    }
}

fn invalid_filter(detail: String) -> ScimError {
    ScimError::invalid(ScimType::InvalidFilter, detail)
}

/// A JSON value and the attribute it holds.
#[derive(Debug, Clone)]
struct JsonAt {
    base: JsonBase,
    keys: Vec<&'static str>,
    attribute: &'static Attribute,
}

impl JsonAt {
    fn json(&self) -> Json {
        Json {
            base: self.base,
            keys: self.keys.clone(),
            case_exact: self.attribute.case_exact,
        }
    }
}

/// A multi-valued attribute: where its values are, and its schema.
#[derive(Debug, Clone)]
struct Multi {
    values: Values,
    attribute: &'static Attribute,
}

/// Where the values a path designates live.
#[derive(Debug, Clone)]
enum Location {
    Text(TextColumn),
    Bool(BoolColumn),
    Time(TimeColumn),
    /// The same value on every row, e.g. `meta.resourceType`; whether it
    /// compares case-exactly.
    Constant(&'static str, bool),
    Json(JsonAt),
    /// A multi-valued attribute, and the sub-attribute read (if any).
    Multi(Multi, Option<&'static Attribute>),
    /// Present when any of these is (`name` is columns plus JSON).
    AnyOf(Vec<Location>),
    /// `schemas`.
    Schemas,
    /// Never a value: never stored (`emails.display`), or an attribute
    /// this type does not have in a filter across resource types.
    Absent,
}

#[derive(Debug, Clone)]
enum Scope {
    Root,
    /// Inside `attr[…]` on a multi-valued attribute.
    Element(Multi),
}

struct Resolver {
    kind: ResourceKind,
    /// Whether the filter applies to every resource type (a search at the
    /// root, checked by [`check_across`]): a path this type does not define
    /// then reads as one without a value instead of being refused.
    across: bool,
}

impl Resolver {
    fn filter(&self, filter: &Filter, scope: &Scope) -> Result<Condition, ScimError> {
        let both = |left: &Filter, right: &Filter| -> Result<_, ScimError> {
            Ok((
                Box::new(self.filter(left, scope)?),
                Box::new(self.filter(right, scope)?),
            ))
        };
        Ok(match filter {
            Filter::And(left, right) => {
                let (left, right) = both(left, right)?;
                Condition::And(left, right)
            }
            Filter::Or(left, right) => {
                let (left, right) = both(left, right)?;
                Condition::Or(left, right)
            }
            Filter::Not(inner) => Condition::Not(Box::new(self.filter(inner, scope)?)),
            Filter::Present(path) => {
                let location = self.locate(path, scope)?;
                present(&location)?
            }
            Filter::Compare { path, op, value } => {
                let location = self.locate(path, scope)?;
                self.compare(&location, path, *op, value)?
            }
            Filter::ValuePath { attribute, filter } => {
                if matches!(scope, Scope::Element(_)) {
                    return Err(invalid_filter(format!(
                        "{attribute}[…] cannot stand inside another value filter"
                    )));
                }
                let resolved = match attribute.resolve(self.kind) {
                    Ok(resolved) => resolved,
                    // No value, so none that matches.
                    Err(_) if self.across => return Ok(Condition::Always(false)),
                    Err(err) => return Err(err),
                };
                match self.root_location(attribute, &resolved)? {
                    Location::Multi(multi, _) => Condition::Exists {
                        values: multi.values.clone(),
                        condition: Box::new(self.filter(filter, &Scope::Element(multi))?),
                        or_none: false,
                    },
                    // A single complex attribute (`name[givenName eq "x"]`):
                    // its one value matches, so its sub-attributes are read
                    // directly.
                    _ => self.filter(&qualify(filter, attribute), &Scope::Root)?,
                }
            }
        })
    }

    fn locate(&self, path: &AttrPath, scope: &Scope) -> Result<Location, ScimError> {
        match scope {
            Scope::Root => match path.resolve(self.kind) {
                Ok(resolved) => self.root_location(path, &resolved),
                Err(_) if self.across => Ok(Location::Absent),
                Err(err) => Err(err),
            },
            Scope::Element(multi) => {
                let sub = path.resolve_in(multi.attribute)?;
                element_location(multi, sub)
            }
        }
    }

    fn root_location(&self, path: &AttrPath, resolved: &Resolved) -> Result<Location, ScimError> {
        let attribute = resolved.attribute;
        let sub = resolved.sub_attribute;
        let multi = |values| Ok(Location::Multi(Multi { values, attribute }, sub));
        if resolved.is_extension(self.kind) {
            return Ok(json_location(
                vec![resolved.schema.id, attribute.name],
                attribute,
                sub,
            ));
        }
        match (self.kind, attribute.name, sub.map(|sub| sub.name)) {
            (_, "schemas", _) => Ok(Location::Schemas),
            (_, "meta", None) => Ok(Location::Constant(self.kind.name(), true)),
            (_, "meta", Some("created")) => Ok(Location::Time(TimeColumn::Created)),
            (_, "meta", Some("lastModified")) => Ok(Location::Time(TimeColumn::LastModified)),
            (_, "meta", Some("resourceType")) => Ok(Location::Constant(self.kind.name(), true)),
            (_, "meta", Some(other)) => Err(invalid_filter(format!(
                "\"{path}\": meta.{other} cannot be used in a filter; meta.created, \
                 meta.lastModified and meta.resourceType can"
            ))),
            (_, "id", _) => Ok(Location::Text(TextColumn::Id)),
            (_, "externalId", _) => Ok(Location::Text(TextColumn::ExternalId)),
            (ResourceKind::User, "userName", _) => Ok(Location::Text(TextColumn::UserName)),
            (ResourceKind::User, "displayName", _) => {
                Ok(Location::Text(TextColumn::UserDisplayName))
            }
            (ResourceKind::User, "active", _) => Ok(Location::Bool(BoolColumn::Active)),
            (ResourceKind::User, "name", Some("givenName")) => {
                Ok(Location::Text(TextColumn::GivenName))
            }
            (ResourceKind::User, "name", Some("familyName")) => {
                Ok(Location::Text(TextColumn::FamilyName))
            }
            (ResourceKind::User, "name", Some("formatted")) => {
                Ok(Location::Text(TextColumn::FormattedName))
            }
            (ResourceKind::User, "name", None) => Ok(Location::AnyOf(vec![
                Location::Text(TextColumn::GivenName),
                Location::Text(TextColumn::FamilyName),
                Location::Text(TextColumn::FormattedName),
                json_location(vec!["name"], attribute, None),
            ])),
            (ResourceKind::User, "emails", _) => multi(Values::Emails),
            (ResourceKind::User, "groups", _) => multi(Values::UserGroups),
            (ResourceKind::Group, "displayName", _) => {
                Ok(Location::Text(TextColumn::GroupDisplayName))
            }
            (ResourceKind::Group, "members", _) => multi(Values::Members),
            // Everything else the IdP sent lives in `attributes` under its
            // canonical name (`scim::resource`), `name`'s other parts too.
            _ => Ok(json_location(vec![attribute.name], attribute, sub)),
        }
    }

    fn compare(
        &self,
        location: &Location,
        path: &AttrPath,
        op: CompareOp,
        value: &Value,
    ) -> Result<Condition, ScimError> {
        if value.is_null() {
            // `eq null` asks for "not present"; `ne null` for "present".
            let present = present(location)?;
            return Ok(match op {
                CompareOp::Eq => Condition::Not(Box::new(present)),
                _ => present,
            });
        }
        Ok(match location {
            Location::Text(column) => Condition::Text {
                place: Place::Column(*column),
                op,
                value: string_value(path, value)?.to_owned(),
            },
            Location::Bool(column) => {
                let expected = boolean(path, value)?;
                if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                    return Err(invalid_filter(format!(
                        "\"{path}\" is a boolean: only eq, ne and pr apply to it"
                    )));
                }
                Condition::Bool {
                    place: BoolPlace::Column(*column),
                    value: expected,
                    negated: op == CompareOp::Ne,
                }
            }
            Location::Time(column) => {
                let at = date_time_value(value).ok_or_else(|| {
                    invalid_filter(format!(
                        "\"{path}\" is a dateTime: compare it with an RFC 3339 time such as \
                         \"2024-05-01T00:00:00Z\""
                    ))
                })?;
                let op = match op {
                    CompareOp::Eq => TimeOp::Eq,
                    CompareOp::Ne => TimeOp::Ne,
                    CompareOp::Gt => TimeOp::Gt,
                    CompareOp::Ge => TimeOp::Ge,
                    CompareOp::Lt => TimeOp::Lt,
                    CompareOp::Le => TimeOp::Le,
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        return Err(invalid_filter(format!(
                            "\"{path}\" is a dateTime: use eq, ne, gt, ge, lt or le, not {op}"
                        )));
                    }
                };
                Condition::Time {
                    column: *column,
                    op,
                    at,
                }
            }
            Location::Constant(actual, case_exact) => Condition::Always(compare_strings(
                actual,
                op,
                string_value(path, value)?,
                *case_exact,
            )),
            // `manager eq "x"` compares `manager.value`.
            Location::Json(json) if json.attribute.kind == Type::Complex => {
                let sub = compared_attribute(json.attribute, path)?;
                let mut keys = json.keys.clone();
                keys.push(sub.name);
                let value_location = Location::Json(JsonAt {
                    base: json.base,
                    keys,
                    attribute: sub,
                });
                return self.compare(&value_location, path, op, value);
            }
            Location::Json(json) if json.attribute.kind == Type::Boolean => Condition::Bool {
                place: BoolPlace::Json(json.json()),
                value: boolean(path, value)?,
                negated: op == CompareOp::Ne,
            },
            Location::Json(json) => Condition::Text {
                place: Place::Json(json.json()),
                op,
                value: string_value(path, value)?.to_owned(),
            },
            Location::Multi(multi, sub) => {
                let sub = match sub {
                    Some(sub) => *sub,
                    None => compared_attribute(multi.attribute, path)?,
                };
                let element = element_location(multi, sub)?;
                Condition::Exists {
                    values: multi.values.clone(),
                    condition: Box::new(self.compare(&element, path, op, value)?),
                    // No values at all is "not equal" too.
                    or_none: op == CompareOp::Ne,
                }
            }
            Location::AnyOf(_) => {
                return Err(invalid_filter(format!(
                    "\"{path}\" is complex: compare one of its sub-attributes"
                )));
            }
            Location::Schemas => {
                let expected = string_value(path, value)?;
                let holding: Vec<Condition> = self
                    .schemas()
                    .into_iter()
                    .filter(|(urn, _)| compare_strings(urn, op, expected, false))
                    .map(|(_, present)| present)
                    .collect();
                if holding.is_empty() {
                    Condition::Always(false)
                } else {
                    Condition::AnyOf(holding)
                }
            }
            Location::Absent => Condition::Always(op == CompareOp::Ne),
        })
    }

    /// The schemas a resource of this kind may carry, and when it does.
    fn schemas(&self) -> Vec<(&'static str, Condition)> {
        match self.kind {
            ResourceKind::User => {
                let extension = Json {
                    base: JsonBase::Root,
                    keys: vec![ENTERPRISE_USER_SCHEMA],
                    case_exact: SCHEMAS.case_exact,
                };
                vec![
                    (USER_SCHEMA, Condition::Always(true)),
                    (
                        ENTERPRISE_USER_SCHEMA,
                        Condition::Present(Place::Json(extension)),
                    ),
                ]
            }
            ResourceKind::Group => vec![(GROUP_SCHEMA, Condition::Always(true))],
        }
    }
}

fn present(location: &Location) -> Result<Condition, ScimError> {
    Ok(match location {
        Location::Text(column) => Condition::Present(Place::Column(*column)),
        // Every resource has these.
        Location::Bool(_) | Location::Time(_) => Condition::Always(true),
        Location::Constant(..) | Location::Schemas => Condition::Always(true),
        Location::Json(json) => Condition::Present(Place::Json(json.json())),
        Location::Multi(multi, None) => Condition::Exists {
            values: multi.values.clone(),
            condition: Box::new(Condition::Always(true)),
            or_none: false,
        },
        Location::Multi(multi, Some(sub)) => Condition::Exists {
            values: multi.values.clone(),
            condition: Box::new(present(&element_location(multi, sub)?)?),
            or_none: false,
        },
        Location::AnyOf(locations) => Condition::AnyOf(
            locations
                .iter()
                .map(present)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Location::Absent => Condition::Always(false),
    })
}

fn string_value<'v>(path: &AttrPath, value: &'v Value) -> Result<&'v str, ScimError> {
    value.as_str().ok_or_else(|| {
        invalid_filter(format!(
            "\"{path}\" is a string: compare it with a \"quoted string\", not {value}"
        ))
    })
}

fn boolean(path: &AttrPath, value: &Value) -> Result<bool, ScimError> {
    bool_value(value).ok_or_else(|| {
        invalid_filter(format!(
            "\"{path}\" is a boolean: compare it with true or false"
        ))
    })
}

/// Where `attribute` (of the JSON at `keys`) and optionally its `sub`
/// live in `attributes`.
fn json_location(
    keys: Vec<&'static str>,
    attribute: &'static Attribute,
    sub: Option<&'static Attribute>,
) -> Location {
    if attribute.multi_valued {
        return Location::Multi(
            Multi {
                values: Values::JsonArray(keys),
                attribute,
            },
            sub,
        );
    }
    match sub {
        Some(sub) => {
            let mut keys = keys;
            keys.push(sub.name);
            Location::Json(JsonAt {
                base: JsonBase::Root,
                keys,
                attribute: sub,
            })
        }
        None => Location::Json(JsonAt {
            base: JsonBase::Root,
            keys,
            attribute,
        }),
    }
}

/// Where sub-attribute `sub` of one value of `multi` lives.
fn element_location(multi: &Multi, sub: &'static Attribute) -> Result<Location, ScimError> {
    let unfilterable = || {
        Err(invalid_filter(format!(
            "{}.{} cannot be used in a filter; use {}.value",
            multi.attribute.name, sub.name, multi.attribute.name
        )))
    };
    match (&multi.values, sub.name) {
        (Values::Emails, "value") => Ok(Location::Text(TextColumn::EmailValue)),
        (Values::Emails, "type") => Ok(Location::Text(TextColumn::EmailType)),
        (Values::Emails, "primary") => Ok(Location::Bool(BoolColumn::EmailPrimary)),
        // Not kept, and so never returned either.
        (Values::Emails, _) => Ok(Location::Absent),
        (Values::UserGroups, "value") => Ok(Location::Text(TextColumn::UserGroupId)),
        (Values::UserGroups, "display") => Ok(Location::Text(TextColumn::UserGroupDisplay)),
        (Values::UserGroups, "type") => Ok(Location::Constant("direct", sub.case_exact)),
        (Values::UserGroups, _) => unfilterable(),
        (Values::Members, "value") => Ok(Location::Text(TextColumn::MemberId)),
        // A member's display is its userName (`scim::resource`).
        (Values::Members, "display") => Ok(Location::Text(TextColumn::MemberDisplay)),
        (Values::Members, "type") => Ok(Location::Constant("User", sub.case_exact)),
        (Values::Members, _) => unfilterable(),
        (Values::JsonArray(_), _) => Ok(Location::Json(JsonAt {
            base: JsonBase::Element,
            keys: vec![sub.name],
            attribute: sub,
        })),
    }
}

/// `name[givenName eq "x"]` as `name.givenName eq "x"`: the value filter
/// of a single-valued complex attribute, its paths made full.
fn qualify(filter: &Filter, attribute: &AttrPath) -> Filter {
    let full = |path: &AttrPath| AttrPath {
        urn: attribute.urn.clone(),
        name: attribute.name.clone(),
        sub_attribute: Some(path.name.clone()),
    };
    match filter {
        Filter::Compare { path, op, value } => Filter::Compare {
            path: full(path),
            op: *op,
            value: value.clone(),
        },
        Filter::Present(path) => Filter::Present(full(path)),
        Filter::And(left, right) => Filter::And(
            Box::new(qualify(left, attribute)),
            Box::new(qualify(right, attribute)),
        ),
        Filter::Or(left, right) => Filter::Or(
            Box::new(qualify(left, attribute)),
            Box::new(qualify(right, attribute)),
        ),
        Filter::Not(inner) => Filter::Not(Box::new(qualify(inner, attribute))),
        Filter::ValuePath { .. } => filter.clone(),
    }
}

// ---------------------------------------------------------------------------
// sortBy
// ---------------------------------------------------------------------------

fn invalid_sort(path: &AttrPath, why: &str) -> ScimError {
    ScimError::invalid(ScimType::InvalidValue, format!("sortBy \"{path}\": {why}"))
}

/// What `sortBy=path` sorts by. Multi-valued attributes sort by their
/// primary value, else the first (RFC 7644 §3.4.2.3).
fn sort_key(path: &AttrPath, kind: ResourceKind) -> Result<SortKey, ScimError> {
    let resolved = path.resolve(kind).map_err(|err| {
        ScimError::invalid(ScimType::InvalidValue, format!("sortBy: {}", err.detail))
    })?;
    let location = Resolver {
        kind,
        across: false,
    }
    .root_location(path, &resolved)
    .map_err(|err| invalid_sort(path, &err.detail))?;
    Ok(match location {
        Location::Text(column) => SortKey::Text(column),
        Location::Bool(column) => SortKey::Bool(column),
        Location::Time(column) => SortKey::Time(column),
        Location::Json(json) => match json.attribute.kind {
            Type::Complex => return Err(invalid_sort(path, "sort by one of its sub-attributes")),
            kind => SortKey::Json(Json {
                // A boolean's JSON text is `true`/`false` already.
                case_exact: json.attribute.case_exact || kind == Type::Boolean,
                ..json.json()
            }),
        },
        Location::Multi(multi, sub) => {
            let sub = match sub {
                Some(sub) => sub,
                None => multi
                    .attribute
                    .sub_attribute("value")
                    .ok_or_else(|| invalid_sort(path, "sort by one of its sub-attributes"))?,
            };
            first_value(&multi, sub)
                .ok_or_else(|| invalid_sort(path, "this attribute cannot be sorted by"))?
        }
        Location::Constant(..) | Location::AnyOf(_) | Location::Schemas | Location::Absent => {
            return Err(invalid_sort(
                path,
                "this attribute cannot be sorted by; sort by userName, displayName, \
                 meta.created or another single-valued attribute",
            ));
        }
    })
}

/// `sub` of the primary value of `multi`, else of its first value.
fn first_value(multi: &Multi, sub: &'static Attribute) -> Option<SortKey> {
    match &multi.values {
        Values::Emails => match sub.name {
            "value" => Some(SortKey::FirstEmail(TextColumn::EmailValue)),
            "type" => Some(SortKey::FirstEmail(TextColumn::EmailType)),
            _ => None,
        },
        Values::UserGroups | Values::Members => None,
        Values::JsonArray(keys) => Some(SortKey::FirstElement {
            array: keys.clone(),
            element: Json {
                base: JsonBase::Element,
                keys: vec![sub.name],
                case_exact: sub.case_exact || sub.kind == Type::Boolean,
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::error::Problem;
    use crate::scim::filter::{parse_filter, parse_patch_path};

    fn resolved(text: &str, kind: ResourceKind) -> Result<ResolvedFilter, ScimError> {
        filter(&parse_filter(text).expect("parses"), kind)
    }

    #[test]
    fn what_cannot_be_resolved_is_invalid_filter() {
        for (text, needle) in [
            ("nosuch eq \"x\"", "not an attribute of User"),
            ("title gt 5", "is a string"),
            ("active gt true", "only eq, ne and pr"),
            (
                "meta.version eq \"W/\\\"1\\\"\"",
                "meta.version cannot be used",
            ),
            ("groups.$ref eq \"x\"", "groups.$ref cannot be used"),
            ("groups.$ref pr", "groups.$ref cannot be used"),
            ("emails[nosuch pr]", "no sub-attribute"),
        ] {
            let err = resolved(text, ResourceKind::User).expect_err(text);
            assert_eq!(
                err.problem,
                Problem::Request(ScimType::InvalidFilter),
                "{text}"
            );
            assert!(err.detail.contains(needle), "{text}: {}", err.detail);
        }
        assert!(resolved("userName eq \"x\"", ResourceKind::Group).is_err());
    }

    #[test]
    fn leaves_name_where_their_values_are() {
        assert_eq!(
            resolved("userName eq \"BJensen\"", ResourceKind::User)
                .expect("resolves")
                .condition,
            Condition::Text {
                place: Place::Column(TextColumn::UserName),
                op: CompareOp::Eq,
                value: "BJensen".to_owned(),
            }
        );
        assert_eq!(
            resolved("emails.display pr", ResourceKind::User)
                .expect("resolves")
                .condition,
            Condition::Exists {
                values: Values::Emails,
                condition: Box::new(Condition::Always(false)),
                or_none: false,
            }
        );
        assert_eq!(
            resolved("meta.resourceType eq \"Group\"", ResourceKind::Group).expect("resolves"),
            ResolvedFilter {
                table: Table::Groups,
                condition: Condition::Always(true),
            }
        );
    }

    fn across(text: &str) -> Vec<Condition> {
        filter_across(&parse_filter(text).expect("parses"))
            .unwrap_or_else(|err| panic!("{text}: {err}"))
            .into_iter()
            .map(|filter| filter.condition)
            .collect()
    }

    #[test]
    fn across_resource_types_an_attribute_a_type_lacks_has_no_value_there() {
        let none = || Condition::Always(false);
        let not_none = || Condition::Not(Box::new(Condition::Always(false)));
        // [on users, on groups]
        assert_eq!(across("userName eq \"x\"")[1], none());
        assert_eq!(across("userName sw \"x\"")[1], none());
        assert_eq!(across("userName pr")[1], none());
        // Absent is "not equal" to anything, as on one type's search.
        assert_eq!(across("userName ne \"x\"")[1], Condition::Always(true));
        assert_eq!(across("userName eq null")[1], not_none());
        assert_eq!(across("not (userName pr)")[1], not_none());
        assert_eq!(across("members[value eq \"u\"]")[0], none());
        assert_eq!(across("emails[type eq \"work\"]")[1], none());
        assert_eq!(
            across(&format!("{ENTERPRISE_USER_SCHEMA}:department eq \"x\""))[1],
            none()
        );
        // What a type has resolves as on its own search.
        let user_name = parse_filter("userName eq \"x\"").expect("parses");
        assert_eq!(
            across("userName eq \"x\"")[0],
            filter(&user_name, ResourceKind::User)
                .expect("resolves")
                .condition
        );
        assert_eq!(
            across("displayName eq \"x\""),
            [
                Condition::Text {
                    place: Place::Column(TextColumn::UserDisplayName),
                    op: CompareOp::Eq,
                    value: "x".to_owned(),
                },
                Condition::Text {
                    place: Place::Column(TextColumn::GroupDisplayName),
                    op: CompareOp::Eq,
                    value: "x".to_owned(),
                },
            ]
        );
        assert_eq!(
            across("meta.resourceType eq \"User\""),
            [Condition::Always(true), Condition::Always(false)]
        );
    }

    #[test]
    fn across_resource_types_what_no_type_can_take_is_invalid_filter() {
        for (text, needle) in [
            ("nosuch eq \"x\"", "not an attribute of User or Group"),
            (
                "userName eq \"x\" or nosuch pr",
                "not an attribute of User or Group",
            ),
            // Group's members have no such sub-attribute: Group says so.
            ("members.nosuch eq \"x\"", "no sub-attribute \"nosuch\""),
            ("displayName.x pr", "no sub-attributes"),
            // Refused where the attribute exists, though groups lack it.
            ("active gt true", "only eq, ne and pr"),
            ("meta.version pr", "meta.version cannot be used"),
        ] {
            let err = filter_across(&parse_filter(text).expect("parses")).expect_err(text);
            assert_eq!(
                err.problem,
                Problem::Request(ScimType::InvalidFilter),
                "{text}"
            );
            assert!(err.detail.contains(needle), "{text}: {}", err.detail);
        }
    }

    #[test]
    fn across_resource_types_a_sort_attribute_a_type_lacks_sorts_as_no_value() {
        let keys = |path: Option<&str>, descending| -> Vec<SortKey> {
            let path = path.map(|path| parse_patch_path(path).expect("path").attribute);
            sort_across(path.as_ref(), descending)
                .expect("sorts")
                .into_iter()
                .map(|sort| {
                    assert_eq!(sort.descending, descending);
                    sort.key
                })
                .collect()
        };
        assert_eq!(
            keys(Some("userName"), false),
            [SortKey::Text(TextColumn::UserName), SortKey::Absent]
        );
        assert_eq!(
            keys(Some("displayName"), true),
            [
                SortKey::Text(TextColumn::UserDisplayName),
                SortKey::Text(TextColumn::GroupDisplayName)
            ]
        );
        assert_eq!(keys(None, true), [SortKey::Created, SortKey::Created]);
        for bad in ["nosuch", "members", "groups"] {
            let path = parse_patch_path(bad).expect("path").attribute;
            let err = sort_across(Some(&path), false).expect_err(bad);
            assert_eq!(
                err.problem,
                Problem::Request(ScimType::InvalidValue),
                "{bad}"
            );
        }
    }

    #[test]
    fn what_cannot_be_sorted_by_is_invalid_value() {
        for bad in ["name", "groups", "schemas", "nosuch", "meta.version"] {
            let path = parse_patch_path(bad).expect("path").attribute;
            let err = sort(ResourceKind::User, Some(&path), false).expect_err(bad);
            assert_eq!(
                err.problem,
                Problem::Request(ScimType::InvalidValue),
                "{bad}"
            );
        }
        assert_eq!(
            sort(ResourceKind::Group, None, true).expect("sorts"),
            ResolvedSort {
                table: Table::Groups,
                key: SortKey::Created,
                descending: true,
            }
        );
    }
}
