//! Locks in the admin API (`/admin/v1/locks`): what blocks a deprovisioned
//! user's credentials.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::users::UserRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lock {
    pub id: String,
    pub user: UserRef,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The actor that created it: a key name or `system`.
    pub created_by: String,
}
