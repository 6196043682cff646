//! Safety rails in the admin API: changes the IdP asked for that were held
//! instead of carried out, protected accounts, and the mass-deprovisioning
//! circuit breaker (`/admin/v1/provisioning/breaker`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::users::UserRef;

/// The breaker's window as it may be set. Shorter than a minute would let
/// a slow burst through; longer than a day, an ordinary week of leavers
/// would open it.
pub const BREAKER_WINDOW_SECONDS: std::ops::RangeInclusive<u32> = 60..=86_400;

/// The breaker's share of active users as it may be set, in percent.
pub const BREAKER_PERCENT: std::ops::RangeInclusive<u32> = 1..=100;

/// What a held change would have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeldAction {
    /// The IdP deactivated the user (`active: false`).
    Deactivate,
    /// The IdP deleted the user (`DELETE /Users/{id}`).
    Delete,
    /// A role would have been taken away (a mapping's source went away).
    RevokeRole,
}

impl HeldAction {
    pub const ALL: [HeldAction; 3] = [
        HeldAction::Deactivate,
        HeldAction::Delete,
        HeldAction::RevokeRole,
    ];

    /// The word the database, the audit log and the JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            HeldAction::Deactivate => "deactivate",
            HeldAction::Delete => "delete",
            HeldAction::RevokeRole => "revoke_role",
        }
    }

    pub fn parse(text: &str) -> Option<HeldAction> {
        HeldAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }
}

/// Why a change was held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The user is protected (`scimctl users protect`).
    Protected,
    /// The circuit breaker is open.
    Breaker,
    /// The user is the last active holder of the `admin` role.
    LastAdmin,
}

impl HoldReason {
    pub const ALL: [HoldReason; 3] = [
        HoldReason::Protected,
        HoldReason::Breaker,
        HoldReason::LastAdmin,
    ];

    /// The word the database, the audit log, the metrics and the JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldReason::Protected => "protected",
            HoldReason::Breaker => "breaker",
            HoldReason::LastAdmin => "last_admin",
        }
    }

    pub fn parse(text: &str) -> Option<HoldReason> {
        HoldReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

/// A change held instead of carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Held {
    pub action: HeldAction,
    pub reason: HoldReason,
    /// The role a held `revoke_role` would have taken away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Where a held `revoke_role` came from (the mapping's source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
}

/// A user with a change held for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeldUser {
    pub user: UserRef,
    pub held: Held,
}

/// Whether the breaker lets SCIM deprovisionings through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BreakerState {
    /// SCIM deprovisionings are carried out.
    Closed,
    /// SCIM deprovisionings are held until an operator releases or resets.
    Open,
}

/// `GET /admin/v1/provisioning/breaker`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BreakerStatus {
    pub state: BreakerState,
    /// When it opened; absent while closed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub opened_at: Option<OffsetDateTime>,
    /// The setting: at least this many users may be deprovisioned per window.
    pub threshold: u32,
    /// The setting: or this percentage of the active users, if more.
    pub percent: u32,
    /// The setting: the sliding window, in seconds.
    pub window_seconds: u32,
    /// Active users now, plus those deprovisioned in the window: what the
    /// percentage is taken of.
    pub base_users: u64,
    /// How many SCIM deprovisionings the window allows now: the larger of
    /// `threshold` and `percent` of `base_users`; one more opens the breaker.
    pub limit: u64,
    /// SCIM deprovisionings carried out in the window.
    pub in_window: u64,
    /// The users whose SCIM deprovisioning the breaker holds, oldest first.
    pub held: Vec<HeldUser>,
}

/// `POST /admin/v1/provisioning/breaker/release`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerReleaseRequest {
    /// List the held users and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What releasing or resetting the breaker did to the held users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerOutcome {
    /// Released with auto-deprovisioning on: the users lost their access.
    Deprovisioned,
    /// Released with auto-deprovisioning off: the users stay pending until
    /// `scimctl users deprovision`.
    Pending,
    /// Reset: the held deprovisionings were discarded and the users are
    /// active again, with the access they kept.
    Restored,
}

/// The answer of `…/breaker/release` and `…/breaker/reset`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BreakerChange {
    pub dry_run: bool,
    /// What happened (or, in a dry run, would happen) to `users`.
    pub outcome: BreakerOutcome,
    /// The users whose held deprovisioning this applied or discarded.
    pub users: Vec<UserRef>,
    /// The breaker afterwards.
    pub state: BreakerState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for action in HeldAction::ALL {
            assert_eq!(HeldAction::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).expect("json"), action.as_str());
        }
        for reason in HoldReason::ALL {
            assert_eq!(HoldReason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).expect("json"), reason.as_str());
        }
        assert_eq!(HoldReason::parse("other"), None);
    }
}
