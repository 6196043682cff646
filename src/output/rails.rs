//! How the safety rails look in the CLI: `provisioning breaker
//! status|release|reset`, and held changes in `users` output.

use std::io::{self, Write};

use super::settings::window;
use super::{Column, Show, Style, table, timestamp, user_ref, vertical, write_list};
use crate::api::rails::{
    BreakerChange, BreakerOutcome, BreakerState, BreakerStatus, Held, HeldUser,
};

/// `deactivate (protected)`, `delete (breaker)`, `revoke admin (last_admin)`.
pub fn held_label(held: &Held) -> String {
    let what = match (&held.role, held.action) {
        (Some(role), crate::api::rails::HeldAction::RevokeRole) => format!("revoke {role}"),
        (_, action) => action.as_str().to_owned(),
    };
    format!("{what} ({})", held.reason.as_str())
}

/// `held: protected` for the DEPROVISIONING column; empty when nothing is.
pub fn held_reasons(held: &[Held]) -> Option<String> {
    let mut reasons: Vec<&str> = held.iter().map(|held| held.reason.as_str()).collect();
    reasons.dedup();
    (!reasons.is_empty()).then(|| format!("held: {}", reasons.join(", ")))
}

fn state(state: BreakerState) -> &'static str {
    match state {
        BreakerState::Closed => "closed",
        BreakerState::Open => "OPEN",
    }
}

impl Show for HeldUser {
    const COLUMNS: &'static [Column] = &[
        Column::free("USER"),
        Column::whole("HELD"),
        Column::whole("SINCE"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            user_ref(&self.user),
            held_label(&self.held),
            timestamp(self.held.since),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

impl Show for BreakerStatus {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(
            out,
            vertical(
                vec![
                    ("State", state(self.state).to_owned()),
                    (
                        "Opened",
                        self.opened_at.map_or_else(|| "-".to_owned(), timestamp),
                    ),
                    ("Window", window(self.window_seconds)),
                    (
                        "Threshold",
                        format!(
                            "{} users or {}% of {} active, whichever is larger: {} now",
                            self.threshold, self.percent, self.base_users, self.limit
                        ),
                    ),
                    ("In window", self.in_window.to_string()),
                    ("Held users", self.held.len().to_string()),
                ],
                style,
            ),
        )?;
        if !self.held.is_empty() {
            writeln!(out)?;
            write_list(&self.held, out, style)?;
        }
        Ok(())
    }
}

impl Show for BreakerChange {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let names: Vec<String> = self.users.iter().map(user_ref).collect();
        table(
            out,
            vertical(
                vec![
                    ("Dry run", super::yes_no(self.dry_run)),
                    ("Outcome", outcome(self.outcome).to_owned()),
                    ("Users", super::list(&names)),
                    ("Breaker", state(self.state).to_owned()),
                ],
                style,
            ),
        )
    }
}

fn outcome(outcome: BreakerOutcome) -> &'static str {
    match outcome {
        BreakerOutcome::Deprovisioned => "deprovisioned",
        BreakerOutcome::Pending => "pending (auto-deprovisioning is off)",
        BreakerOutcome::Restored => "restored to active",
    }
}

/// The sentence on stderr after `breaker status`.
pub fn status_summary(status: &BreakerStatus) -> String {
    match status.state {
        BreakerState::Closed => format!(
            "The breaker is closed: {} of {} SCIM deprovisionings allowed in the last {} used.",
            status.in_window,
            status.limit,
            window(status.window_seconds)
        ),
        BreakerState::Open => format!(
            "The breaker is OPEN: {} SCIM deprovisioning(s) held. `scimctl provisioning breaker \
             release --dry-run` shows what release would do; `reset` discards them.",
            status.held.len()
        ),
    }
}

/// The sentence on stderr after `breaker release|reset`.
pub fn change_summary(change: &BreakerChange) -> String {
    let n = change.users.len();
    match (change.dry_run, change.outcome) {
        (true, BreakerOutcome::Deprovisioned) => format!(
            "Dry run: release would deprovision {n} user(s) and close the breaker; nothing changed."
        ),
        (true, _) => format!(
            "Dry run: release would clear {n} held user(s), who stay pending (auto-deprovisioning \
             is off), and close the breaker; nothing changed."
        ),
        (false, BreakerOutcome::Deprovisioned) => {
            format!("Released: {n} user(s) deprovisioned; the breaker is closed.")
        }
        (false, BreakerOutcome::Pending) => format!(
            "Released: {n} user(s) stay pending until `scimctl users deprovision`; the breaker \
             is closed."
        ),
        (false, BreakerOutcome::Restored) => format!(
            "Reset: {n} held deprovisioning(s) discarded, the users are active again; the \
             breaker is closed."
        ),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::api::rails::{HeldAction, HoldReason};
    use crate::api::users::{DeprovisionState, VerificationReport};
    use crate::output::tests::{alice, render};
    use crate::output::users::verification_summary;
    use crate::output::{Format, Output};

    fn held(action: HeldAction, reason: HoldReason) -> Held {
        Held {
            action,
            reason,
            role: None,
            source: None,
            since: datetime!(2026-03-01 10:00:00 UTC),
        }
    }

    #[test]
    fn an_open_breaker_lists_its_held_users() {
        let status = BreakerStatus {
            state: BreakerState::Open,
            opened_at: Some(datetime!(2026-03-01 10:00:00 UTC)),
            threshold: 25,
            percent: 10,
            window_seconds: 600,
            base_users: 220,
            limit: 25,
            in_window: 25,
            held: vec![HeldUser {
                user: alice(),
                held: held(HeldAction::Delete, HoldReason::Breaker),
            }],
        };
        let table = render(Output::one(status.clone()), Format::Table);
        for expected in [
            "OPEN",
            "10m",
            "25 users or 10% of 220 active, whichever is larger: 25 now",
            "alice",
            "delete (breaker)",
        ] {
            assert!(table.contains(expected), "{expected} in {table}");
        }
        assert!(status_summary(&status).contains("1 SCIM deprovisioning(s) held"));
        let json: BreakerStatus =
            serde_json::from_str(&render(Output::one(status.clone()), Format::Json)).expect("json");
        assert_eq!(json, status);
    }

    #[test]
    fn held_changes_say_what_and_why_in_lists_and_verify() {
        let mut user = crate::output::users::tests::user("alice");
        user.deprovisioning = DeprovisionState::Pending;
        user.held = vec![held(HeldAction::Deactivate, HoldReason::Protected)];
        let listed = render(Output::list(vec![user]), Format::Table);
        assert!(listed.contains("pending (held: protected)"), "{listed}");

        let report = VerificationReport {
            user: alice(),
            deprovisioned: false,
            checks: Vec::new(),
            held: vec![held(HeldAction::Deactivate, HoldReason::LastAdmin)],
        };
        let table = render(Output::one(report.clone()), Format::Table);
        assert!(table.contains("deactivate (last_admin) since"), "{table}");
        let sentence = verification_summary(&report);
        assert!(
            sentence.contains("held: deactivate (last_admin)")
                && sentence.contains("`scimctl users deprovision alice` applies it"),
            "{sentence}"
        );
    }

    #[test]
    fn change_summaries_name_the_outcome() {
        let change = |dry_run, outcome| BreakerChange {
            dry_run,
            outcome,
            users: vec![alice()],
            state: BreakerState::Closed,
        };
        assert!(
            change_summary(&change(true, BreakerOutcome::Deprovisioned))
                .contains("nothing changed")
        );
        assert!(
            change_summary(&change(false, BreakerOutcome::Pending))
                .contains("stay pending until `scimctl users deprovision`")
        );
        assert!(change_summary(&change(false, BreakerOutcome::Restored)).starts_with("Reset"));
    }
}
