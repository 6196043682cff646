//! SCIM 2.0 (RFC 7643/7644) as a protocol, independent of HTTP and of the
//! database: the schemas this service implements, filters and PATCH paths,
//! PATCH application, errors, and the JSON form of users and groups.

pub mod diff;
pub mod error;
pub mod etag;
pub mod filter;
pub mod list;
pub mod patch;
pub mod resolve;
pub mod resolved;
pub mod resource;
pub mod schema;

/// `urn:ietf:params:scim:schemas:core:2.0:User`.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// `urn:ietf:params:scim:schemas:core:2.0:Group`.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// `application/scim+json`, the media type of every SCIM body.
pub const MEDIA_TYPE: &str = "application/scim+json";
