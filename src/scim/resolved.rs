//! A SCIM filter and `sortBy` resolved against the schemas (by
//! `scim::resolve`): every leaf names where its values are stored — a column,
//! a related table, a JSON path in `attributes` — and has been checked, so the
//! store compiles it to SQL and cannot refuse it. This module is all of
//! `scim` the store sees.

use std::fmt;

use time::OffsetDateTime;

/// A comparison operator (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// `gt`, `ge`, `lt` or `le`.
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw` or `ew`.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The table a resource is a row of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Users.
    Users,
    /// Groups.
    Groups,
}

/// A filter on one resource type, ready to compile.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFilter {
    pub table: Table,
    pub condition: Condition,
}

/// A resolved filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Holds for every row, or for none: a constant such as
    /// `meta.resourceType`, or a value that is never stored.
    Always(bool),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    /// At least one of these holds (`name pr`: some part of the name is).
    AnyOf(Vec<Condition>),
    /// The text at the place is present: neither absent, null nor empty.
    Present(Place),
    /// The text at `place` compares with `value` as `op` says, with the case
    /// sensitivity of the attribute.
    Text {
        place: Place,
        op: CompareOp,
        value: String,
    },
    /// The boolean at `place` is `value` (with `negated`, is not).
    Bool {
        place: BoolPlace,
        value: bool,
        negated: bool,
    },
    /// The time in `column` compares with `at`.
    Time {
        column: TimeColumn,
        op: TimeOp,
        at: OffsetDateTime,
    },
    /// Some value of a multi-valued attribute satisfies `condition` (whose
    /// places are of one value: [`JsonBase::Element`], the values' table);
    /// with `or_none`, having no value at all counts too (`ne`).
    Exists {
        values: Values,
        condition: Box<Condition>,
        or_none: bool,
    },
}

/// Where text lives: a column or a JSON path.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Column(TextColumn),
    Json(Json),
}

/// Where a boolean lives.
#[derive(Debug, Clone, PartialEq)]
pub enum BoolPlace {
    Column(BoolColumn),
    Json(Json),
}

/// A text column, named by what it holds; the store knows its SQL name and
/// how it is folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextColumn {
    /// The resource's `id`.
    Id,
    /// The resource's `externalId`.
    ExternalId,
    UserName,
    /// A user's `displayName`.
    UserDisplayName,
    GivenName,
    FamilyName,
    FormattedName,
    /// A group's `displayName`.
    GroupDisplayName,
    /// `emails.value`, of one of the user's email rows.
    EmailValue,
    /// `emails.type`.
    EmailType,
    /// `groups.value`: a group the user is in.
    UserGroupId,
    /// `groups.display`.
    UserGroupDisplay,
    /// `members.value`: a user in the group.
    MemberId,
    /// `members.display`: the member's userName.
    MemberDisplay,
}

/// A boolean column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolColumn {
    /// A user's `active`.
    Active,
    /// `emails.primary`.
    EmailPrimary,
}

/// A time column of the resource's own row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeColumn {
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
}

/// How a time compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A value in the `attributes` JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Json {
    pub base: JsonBase,
    /// Canonical names from the schema tables, never from a request.
    pub keys: Vec<&'static str>,
    /// Whether text here compares (and sorts) case-exactly.
    pub case_exact: bool,
}

/// What a [`Json`] path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonBase {
    /// The resource's own `attributes`.
    Root,
    /// One element of the JSON array an [`Condition::Exists`] goes through.
    Element,
}

/// The values of a multi-valued attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A user's email rows.
    Emails,
    /// The groups a user is in.
    UserGroups,
    /// The users in a group.
    Members,
    /// A JSON array in the resource's `attributes`, at these keys.
    JsonArray(Vec<&'static str>),
}

/// A list's order, ready to compile.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSort {
    pub table: Table,
    pub key: SortKey,
    pub descending: bool,
}

/// What a list is sorted by. Text sorts case-insensitively unless
/// case-exact; resources without a value sort last ascending.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// No `sortBy`: creation order.
    Created,
    Text(TextColumn),
    Bool(BoolColumn),
    Time(TimeColumn),
    Json(Json),
    /// The primary email's column, else the first email's.
    FirstEmail(TextColumn),
    /// `element` of the primary value of the JSON array at `array`, else of
    /// its first.
    FirstElement {
        array: Vec<&'static str>,
        element: Json,
    },
    /// An attribute this resource type does not have, in a search across
    /// resource types: no resource of the type has a value for it.
    Absent,
}
