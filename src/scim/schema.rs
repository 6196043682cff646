//! The schemas this service implements (RFC 7643 §4, §7–8): every attribute
//! with its type and characteristics. `/Schemas` is rendered from these
//! tables, and filters, PATCH and projection consult them for case
//! exactness, multi-valuedness and mutability — one definition for all.

use serde_json::{Value, json};

use super::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Reference,
    Complex,
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

#[derive(Debug, Clone, Copy)]
pub struct Attribute {
    pub name: &'static str,
    pub kind: Type,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [Attribute],
    pub description: &'static str,
}

const fn attribute(name: &'static str, kind: Type, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        uniqueness: Uniqueness::None,
        canonical_values: &[],
        reference_types: &[],
        sub_attributes: &[],
        description,
    }
}

const fn string(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, Type::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> Attribute {
    attribute(name, Type::Boolean, description)
}

const fn reference(
    name: &'static str,
    reference_types: &'static [&'static str],
    description: &'static str,
) -> Attribute {
    Attribute {
        reference_types,
        ..attribute(name, Type::Reference, description)
    }
}

const fn complex(
    name: &'static str,
    sub_attributes: &'static [Attribute],
    description: &'static str,
) -> Attribute {
    Attribute {
        sub_attributes,
        ..attribute(name, Type::Complex, description)
    }
}

impl Attribute {
    const fn multi(self) -> Self {
        Attribute {
            multi_valued: true,
            ..self
        }
    }

    const fn required(self) -> Self {
        Attribute {
            required: true,
            ..self
        }
    }

    const fn case_exact(self) -> Self {
        Attribute {
            case_exact: true,
            ..self
        }
    }

    const fn read_only(self) -> Self {
        Attribute {
            mutability: Mutability::ReadOnly,
            ..self
        }
    }

    const fn immutable(self) -> Self {
        Attribute {
            mutability: Mutability::Immutable,
            ..self
        }
    }

    const fn write_only_never_returned(self) -> Self {
        Attribute {
            mutability: Mutability::WriteOnly,
            returned: Returned::Never,
            ..self
        }
    }

    const fn always(self) -> Self {
        Attribute {
            returned: Returned::Always,
            ..self
        }
    }

    const fn unique(self) -> Self {
        Attribute {
            uniqueness: Uniqueness::Server,
            ..self
        }
    }

    const fn canonical(self, values: &'static [&'static str]) -> Self {
        Attribute {
            canonical_values: values,
            ..self
        }
    }

    /// A sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.sub_attributes
            .iter()
            .find(|sub| sub.name.eq_ignore_ascii_case(name))
    }

    /// The attribute's entry in `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut json = json!({
            "name": self.name,
            "type": match self.kind {
                Type::String => "string",
                Type::Boolean => "boolean",
                Type::Decimal => "decimal",
                Type::Integer => "integer",
                Type::DateTime => "dateTime",
                Type::Reference => "reference",
                Type::Complex => "complex",
                Type::Binary => "binary",
            },
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.canonical_values.is_empty() {
            json["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            json["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            json["subAttributes"] = self.sub_attributes.iter().map(Attribute::to_json).collect();
        }
        json
    }
}

/// A schema: its URN and its attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attribute],
}

impl Schema {
    /// A top-level attribute by name, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&'static Attribute> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
    }

    /// The schema's entry in `/Schemas`.
    pub fn to_json(&self) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(Attribute::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("/scim/v2/Schemas/{}", self.id),
            },
        })
    }
}

const TYPED_VALUE_SUBS: [Attribute; 4] = [
    string("value", "The value."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    )
    .read_only(),
    string("type", "A label indicating the attribute's function."),
    boolean(
        "primary",
        "Whether this is the primary value. At most one value may be primary.",
    ),
];

const EMAIL_SUBS: [Attribute; 4] = [
    string("value", "Email address for the user."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "other"]),
    boolean("primary", "Whether this is the primary email address."),
];

const PHONE_SUBS: [Attribute; 4] = [
    string("value", "Phone number of the user."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
    boolean("primary", "Whether this is the primary phone number."),
];

const PHOTO_SUBS: [Attribute; 4] = [
    reference("value", &["external"], "URL of a photo of the user."),
    string(
        "display",
        "A human-readable name, primarily used for display purposes.",
    ),
    string("type", "A label indicating the attribute's function.")
        .canonical(&["photo", "thumbnail"]),
    boolean("primary", "Whether this is the primary photo."),
];

const ADDRESS_SUBS: [Attribute; 8] = [
    string(
        "formatted",
        "The full mailing address, formatted for display.",
    ),
    string("streetAddress", "The full street address component."),
    string("locality", "The city or locality component."),
    string("region", "The state or region component."),
    string("postalCode", "The zip code or postal code component."),
    string("country", "The country name component."),
    string("type", "A label indicating the attribute's function.")
        .canonical(&["work", "home", "other"]),
    boolean("primary", "Whether this is the primary address."),
];

const NAME_SUBS: [Attribute; 6] = [
    string("formatted", "The full name, formatted for display."),
    string("familyName", "The family name of the user."),
    string("givenName", "The given name of the user."),
    string("middleName", "The middle name(s) of the user."),
    string("honorificPrefix", "The honorific prefix(es) of the user."),
    string("honorificSuffix", "The honorific suffix(es) of the user."),
];

const USER_GROUP_SUBS: [Attribute; 4] = [
    string("value", "The identifier of the user's group.").read_only(),
    reference("$ref", &["User", "Group"], "The URI of the group.").read_only(),
    string("display", "A human-readable name of the group.").read_only(),
    string("type", "How the membership came about.")
        .canonical(&["direct", "indirect"])
        .read_only(),
];

static USER_ATTRIBUTES: [Attribute; 20] = [
    string(
        "userName",
        "Unique identifier for the user, used to authenticate. Case-insensitive.",
    )
    .required()
    .unique(),
    complex(
        "name",
        &NAME_SUBS,
        "The components of the user's real name.",
    ),
    string(
        "displayName",
        "The name of the user, suitable for display to end-users.",
    ),
    string("nickName", "The casual way to address the user."),
    reference(
        "profileUrl",
        &["external"],
        "A URI to the user's online profile.",
    ),
    string("title", "The user's title, such as \"Vice President\"."),
    string(
        "userType",
        "The relationship between the organization and the user.",
    ),
    string(
        "preferredLanguage",
        "The user's preferred written or spoken language.",
    ),
    string(
        "locale",
        "The user's default location, for localizing items.",
    ),
    string(
        "timezone",
        "The user's time zone in IANA format, e.g. \"America/Los_Angeles\".",
    ),
    // Required: every user here is either active or not, and a PATCH that
    // removed the attribute would leave that undecided (a missing `active`
    // on creation still means true).
    boolean(
        "active",
        "The user's administrative status: false takes all access away.",
    )
    .required(),
    string(
        "password",
        "Accepted and discarded: this service never stores passwords.",
    )
    .write_only_never_returned(),
    complex("emails", &EMAIL_SUBS, "Email addresses for the user.").multi(),
    complex("phoneNumbers", &PHONE_SUBS, "Phone numbers for the user.").multi(),
    complex(
        "ims",
        &TYPED_VALUE_SUBS,
        "Instant messaging addresses for the user.",
    )
    .multi(),
    complex("photos", &PHOTO_SUBS, "URLs of photos of the user.").multi(),
    complex(
        "addresses",
        &ADDRESS_SUBS,
        "Physical mailing addresses for the user.",
    )
    .multi(),
    complex(
        "groups",
        &USER_GROUP_SUBS,
        "The groups the user belongs to (read-only: change them through Groups).",
    )
    .multi()
    .read_only(),
    complex(
        "entitlements",
        &TYPED_VALUE_SUBS,
        "Entitlements of the user.",
    )
    .multi(),
    complex(
        "roles",
        &TYPED_VALUE_SUBS,
        "Roles of the user, as the identity provider names them.",
    )
    .multi(),
];

pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: &USER_ATTRIBUTES,
};

const MANAGER_SUBS: [Attribute; 3] = [
    string(
        "value",
        "The id of the SCIM resource representing the user's manager.",
    ),
    reference("$ref", &["User"], "The URI of the manager's resource."),
    string("displayName", "The display name of the user's manager.").read_only(),
];

static ENTERPRISE_USER_ATTRIBUTES: [Attribute; 6] = [
    string(
        "employeeNumber",
        "Numeric or alphanumeric identifier assigned to a person.",
    ),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex("manager", &MANAGER_SUBS, "The user's manager."),
];

pub static ENTERPRISE_USER: Schema = Schema {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &ENTERPRISE_USER_ATTRIBUTES,
};

const MEMBER_SUBS: [Attribute; 4] = [
    string("value", "Identifier of the member (a user's id).").immutable(),
    reference("$ref", &["User", "Group"], "The URI of the member.").immutable(),
    string("display", "A human-readable name of the member.").read_only(),
    string("type", "The type of the member.")
        .canonical(&["User", "Group"])
        .immutable(),
];

static GROUP_ATTRIBUTES: [Attribute; 2] = [
    string(
        "displayName",
        "A human-readable name for the group. Unique, case-insensitively.",
    )
    .required()
    .unique(),
    complex("members", &MEMBER_SUBS, "The members of the group.").multi(),
];

pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &GROUP_ATTRIBUTES,
};

/// Attributes every resource has (RFC 7643 §3.1), not listed in `/Schemas`.
pub static ID: Attribute = string(
    "id",
    "Unique identifier of the resource, issued by this service.",
)
.case_exact()
.read_only()
.always()
.unique();
pub static EXTERNAL_ID: Attribute = string(
    "externalId",
    "The identifier the provisioning client gives the resource.",
)
.case_exact();

const META_SUBS: [Attribute; 5] = [
    string("resourceType", "The name of the resource type.")
        .case_exact()
        .read_only(),
    attribute("created", Type::DateTime, "When the resource was added.").read_only(),
    attribute(
        "lastModified",
        Type::DateTime,
        "When the resource was last changed.",
    )
    .read_only(),
    reference("location", &["uri"], "The URI of the resource.").read_only(),
    string("version", "The version (ETag) of the resource.")
        .case_exact()
        .read_only(),
];
pub static META: Attribute = complex("meta", &META_SUBS, "Resource metadata.").read_only();

/// The two resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// Every resource type, in the order they are listed (`/ResourceTypes`)
    /// and searched together (`POST /.search` at the root: Users first).
    pub const ALL: [ResourceKind; 2] = [ResourceKind::User, ResourceKind::Group];

    /// The core schema, then the extensions.
    pub fn schemas(self) -> &'static [&'static Schema] {
        static USER_SCHEMAS: [&Schema; 2] = [&USER, &ENTERPRISE_USER];
        static GROUP_SCHEMAS: [&Schema; 1] = [&GROUP];
        match self {
            ResourceKind::User => &USER_SCHEMAS,
            ResourceKind::Group => &GROUP_SCHEMAS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// Finds a top-level attribute: `urn` names an extension (or the core
    /// schema) explicitly; without it the core schema and the common
    /// attributes are searched. Case-insensitive throughout.
    pub fn attribute(
        self,
        urn: Option<&str>,
        name: &str,
    ) -> Option<(&'static Schema, &'static Attribute)> {
        if urn.is_none() {
            for common in [&ID, &EXTERNAL_ID, &META] {
                if common.name.eq_ignore_ascii_case(name) {
                    return Some((self.schemas()[0], common));
                }
            }
        }
        self.schemas()
            .iter()
            .filter(|schema| urn.is_none_or(|urn| schema.id.eq_ignore_ascii_case(urn)))
            .take(if urn.is_none() { 1 } else { usize::MAX })
            .find_map(|schema| schema.attribute(name).map(|attribute| (*schema, attribute)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_found_case_insensitively_with_or_without_urn() {
        let (schema, attribute) = ResourceKind::User
            .attribute(None, "USERNAME")
            .expect("userName");
        assert_eq!((schema.id, attribute.name), (USER_SCHEMA, "userName"));
        assert!(!attribute.case_exact);
        let (schema, attribute) = ResourceKind::User
            .attribute(Some(ENTERPRISE_USER_SCHEMA), "manager")
            .expect("manager");
        assert_eq!(schema.name, "EnterpriseUser");
        assert_eq!(
            attribute.sub_attribute("VALUE").expect("value").name,
            "value"
        );
        assert!(
            ResourceKind::User.attribute(None, "manager").is_none(),
            "extension needs its URN"
        );
        assert!(
            ResourceKind::User
                .attribute(None, "externalId")
                .expect("common")
                .1
                .case_exact
        );
        assert!(
            ResourceKind::Group
                .attribute(None, "members")
                .expect("members")
                .1
                .multi_valued
        );
    }

    #[test]
    fn schemas_render_as_rfc_7643_section_7() {
        let json = USER.to_json();
        let user_name = &json["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["uniqueness"], "server");
        let password = json["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .find(|attribute| attribute["name"] == "password")
            .expect("password");
        assert_eq!(password["returned"], "never");
        assert_eq!(password["mutability"], "writeOnly");
    }
}
