//! How users look in the CLI: `users list|show|create|deprovision|verify|
//! reactivate`, with the sentences that sum a deprovisioning or a
//! verification up on stderr.

use std::io::{self, Write};

use comfy_table::{Cell, Color, Table};

use super::{
    Column, Show, Style, header_cell, list, new_table, or_dash, pad_columns, table, timestamp,
    user_ref, vertical, yes_no,
};
use crate::api::groups::GroupRef;
use crate::api::users::{
    Check, DeprovisionReport, DeprovisionState, Origin, User, VerificationReport,
};

/// Same as `list`, with `none` for none: in a report "none" reads as an
/// answer where `-` would read as "unknown".
fn list_or_none(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    match list(items) {
        dash if dash == "-" => "none".to_owned(),
        joined => joined,
    }
}

fn groups(groups: &[GroupRef]) -> impl Iterator<Item = &str> {
    groups.iter().map(|group| group.display_name.as_str())
}

fn origin(origin: Origin) -> &'static str {
    match origin {
        Origin::Scim => "scim",
        Origin::Manual => "manual",
    }
}

/// The deprovisioning column: `-` for the normal case keeps it quiet.
fn deprovisioning(state: DeprovisionState) -> &'static str {
    match state {
        DeprovisionState::None => "-",
        DeprovisionState::Pending => "pending",
        DeprovisionState::Done => "done",
    }
}

impl Show for User {
    const COLUMNS: &'static [Column] = &[
        Column::free("USERNAME"),
        Column::free("DISPLAY NAME"),
        Column::whole("ACTIVE"),
        Column::free("ROLES"),
        Column::free("GROUPS"),
        Column::whole("DEPROVISIONING"),
        Column::whole("ORIGIN"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.user_name.clone(),
            or_dash(self.display_name.as_deref()),
            yes_no(self.active),
            list(&self.roles),
            list(groups(&self.groups)),
            match super::rails::held_reasons(&self.held) {
                Some(held) => format!("{} ({held})", deprovisioning(self.deprovisioning)),
                None => deprovisioning(self.deprovisioning).to_owned(),
            },
            origin(self.origin).to_owned(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, user_table(self, style))
    }
}

fn user_table(user: &User, style: Style) -> Table {
    let emails = user
        .emails
        .iter()
        .map(|email| {
            let mut text = email.value.clone();
            let mut tags: Vec<&str> = email.kind.iter().map(String::as_str).collect();
            if email.primary {
                tags.push("primary");
            }
            if !tags.is_empty() {
                text.push_str(&format!(" ({})", tags.join(", ")));
            }
            text
        })
        .collect::<Vec<_>>();
    let state = match (user.deprovisioning, user.deprovisioned_at) {
        (DeprovisionState::Done, Some(at)) => format!("done at {}", timestamp(at)),
        (DeprovisionState::None, _) => "no".to_owned(),
        (state, _) => deprovisioning(state).to_owned(),
    };
    vertical(
        vec![
            ("ID", user.id.clone()),
            ("User name", user.user_name.clone()),
            ("Display name", or_dash(user.display_name.as_deref())),
            ("Given name", or_dash(user.given_name.as_deref())),
            ("Family name", or_dash(user.family_name.as_deref())),
            ("External ID", or_dash(user.external_id.as_deref())),
            ("Emails", list(&emails)),
            ("Active", yes_no(user.active)),
            ("Origin", origin(user.origin).to_owned()),
            ("Roles", list(&user.roles)),
            ("Groups", list(groups(&user.groups))),
            ("Deprovisioned", state),
            ("Locked", yes_no(user.locked)),
            ("Protected", yes_no(user.protected)),
            ("Held", list(user.held.iter().map(super::rails::held_label))),
            ("Created", timestamp(user.created_at)),
            ("Updated", timestamp(user.updated_at)),
        ],
        style,
    )
}

impl Show for DeprovisionReport {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, deprovision_table(self, style))
    }
}

/// What a deprovisioning removes (dry run) or removed.
fn deprovision_table(report: &DeprovisionReport, style: Style) -> Table {
    vertical(
        vec![
            ("User", user_ref(&report.user)),
            ("User ID", report.user.id.clone()),
            ("Was active", yes_no(report.was_active)),
            ("Roles", list_or_none(&report.roles)),
            ("Groups", list_or_none(groups(&report.groups))),
            ("Personal keys", list_or_none(&report.personal_keys)),
            ("Sessions", list_or_none(&report.sessions)),
            ("Lock", or_dash(report.lock.as_deref())),
        ],
        style,
    )
}

/// The sentence summing a deprovision report up, for stderr: what a dry
/// run would do, or what a real run did.
pub fn deprovision_summary(report: &DeprovisionReport) -> String {
    let who = &report.user.user_name;
    if report.already_deprovisioned {
        return format!("{who} is already deprovisioned: nothing changed.");
    }
    if report.dry_run {
        format!(
            "Dry run: deprovisioning {who} would {}. Nothing was changed.",
            join_sentence(&steps(report, Tense::Future))
        )
    } else {
        format!(
            "Deprovisioned {who}: {}.",
            join_sentence(&steps(report, Tense::Past))
        )
    }
}

/// The line above the confirmation question, from a dry run's report.
pub fn deprovision_plan(report: &DeprovisionReport) -> String {
    format!(
        "Deprovisioning {} will {}:",
        report.user.user_name,
        join_sentence(&steps(report, Tense::Future))
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tense {
    Future,
    Past,
}

/// What a deprovisioning takes away, one phrase per kind of access.
fn steps(report: &DeprovisionReport, tense: Tense) -> Vec<String> {
    let verb = |now: &str, done: &str| if tense == Tense::Future { now } else { done }.to_owned();
    let mut steps = Vec::new();
    if report.was_active {
        steps.push(format!("{} the user", verb("deactivate", "deactivated")));
    }
    for (count, one, many, now, done) in [
        (report.roles.len(), "role", "roles", "remove", "removed"),
        (
            report.groups.len(),
            "group membership",
            "group memberships",
            "remove",
            "removed",
        ),
        (
            report.personal_keys.len(),
            "personal API key",
            "personal API keys",
            "delete",
            "deleted",
        ),
        (
            report.sessions.len(),
            "live session",
            "live sessions",
            "revoke",
            "revoked",
        ),
    ] {
        if count > 0 {
            let what = if count == 1 { one } else { many };
            steps.push(format!("{} {count} {what}", verb(now, done)));
        }
    }
    steps.push(format!("{} every credential", verb("lock", "locked")));
    steps
}

/// `a`, `a and b`, `a, b and c`.
fn join_sentence(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The mark of a check: ✓/✗ in colour on a terminal; PASS/FAIL, which
/// survive any font and `grep`, everywhere else.
fn mark(passed: bool, style: Style) -> Cell {
    match (passed, style.color) {
        (true, true) => Cell::new("✓").fg(Color::Green),
        (false, true) => Cell::new("✗").fg(Color::Red),
        (true, false) => Cell::new("PASS"),
        (false, false) => Cell::new("FAIL"),
    }
}

/// `no_live_sessions` → `no live sessions`.
fn check_label(check: &Check) -> String {
    check.name.replace('_', " ")
}

/// A checklist, one line per check, marked pass or fail.
impl Show for VerificationReport {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, verification_table(self, style))
    }
}

fn verification_table(report: &VerificationReport, style: Style) -> Table {
    let mut table = new_table(style);
    for check in &report.checks {
        table.add_row(vec![
            mark(check.passed, style),
            header_cell(&check_label(check), style),
            Cell::new(&check.evidence),
        ]);
    }
    // What keeps the access in place: the IdP asked, the rails held it.
    for held in &report.held {
        table.add_row(vec![
            Cell::new("HELD"),
            header_cell("held", style),
            Cell::new(format!(
                "{} since {}",
                super::rails::held_label(held),
                timestamp(held.since)
            )),
        ]);
    }
    pad_columns(&mut table);
    table
}

/// The sentence under the checklist, for stderr.
pub fn verification_summary(report: &VerificationReport) -> String {
    let who = &report.user.user_name;
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|check| !check.passed)
        .map(check_label)
        .collect();
    if report.deprovisioned && failed.is_empty() {
        format!(
            "{who} is fully deprovisioned: all {} checks pass.",
            report.checks.len()
        )
    } else if report.held.is_empty() {
        format!(
            "{who} is not fully deprovisioned: {} of {} checks fail ({}). \
             `scimctl users deprovision {who}` removes what remains.",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        )
    } else {
        let held: Vec<String> = report.held.iter().map(super::rails::held_label).collect();
        format!(
            "{who} is not fully deprovisioned: {} of {} checks fail ({}), because the IdP's \
             change was held: {}. `scimctl users deprovision {who}` applies it.",
            failed.len(),
            report.checks.len(),
            failed.join(", "),
            held.join(", ")
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::users::Email;
    use crate::output::tests::render_with;
    use crate::output::tests::{alice, render};
    use crate::output::{Format, Output};
    use time::macros::datetime;

    pub(crate) fn user(name: &str) -> User {
        User {
            id: format!("id-{name}"),
            user_name: name.to_owned(),
            external_id: None,
            display_name: Some(format!("{name} Example")),
            given_name: None,
            family_name: None,
            emails: vec![Email {
                value: format!("{name}@example.com"),
                kind: Some("work".to_owned()),
                primary: true,
            }],
            active: true,
            origin: Origin::Manual,
            roles: vec!["admin".to_owned(), "member".to_owned()],
            groups: vec![GroupRef {
                id: "t-1".to_owned(),
                display_name: "eng".to_owned(),
            }],
            deprovisioning: DeprovisionState::None,
            deprovisioned_at: None,
            locked: false,
            protected: false,
            held: Vec::new(),
            created_at: datetime!(2026-01-02 03:04:05.678 UTC),
            updated_at: datetime!(2026-01-03 00:00:00 UTC),
        }
    }

    fn report(dry_run: bool) -> DeprovisionReport {
        DeprovisionReport {
            user: alice(),
            dry_run,
            already_deprovisioned: false,
            was_active: true,
            roles: vec!["admin".to_owned()],
            groups: vec![GroupRef {
                id: "t-1".to_owned(),
                display_name: "eng".to_owned(),
            }],
            personal_keys: vec!["k1".to_owned(), "k2".to_owned()],
            sessions: vec!["s1".to_owned()],
            lock: Some("l1".to_owned()),
        }
    }

    fn verification(all_pass: bool) -> VerificationReport {
        let check = |name: &str, passed: bool, evidence: &str| Check {
            name: name.to_owned(),
            passed,
            evidence: evidence.to_owned(),
        };
        VerificationReport {
            user: alice(),
            deprovisioned: all_pass,
            checks: vec![
                check("inactive", true, "active: false"),
                check(
                    "no_roles",
                    all_pass,
                    if all_pass {
                        "roles: none"
                    } else {
                        "roles: admin"
                    },
                ),
                check("lock_present", true, "lock l1"),
            ],
            held: Vec::new(),
        }
    }

    #[test]
    fn one_user_vertically() {
        let text = render(Output::one(user("alice")), Format::Table);
        for line in [
            "ID             id-alice",
            "User name      alice",
            "Emails         alice@example.com (work, primary)",
            "Roles          admin, member",
            "Groups         eng",
            "Deprovisioned  no",
            "Created        2026-01-02T03:04:05Z",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn a_user_as_json_is_the_api_type() {
        let text = render(Output::one(user("alice")), Format::Json);
        let parsed: User = serde_json::from_str(&text).expect("a User");
        assert_eq!(parsed, user("alice"));
    }

    #[test]
    fn user_rows_for_listings() {
        let mut bob = user("bob");
        bob.active = false;
        bob.roles.clear();
        bob.groups.clear();
        bob.display_name = None;
        bob.deprovisioning = DeprovisionState::Pending;
        bob.origin = Origin::Scim;
        assert_eq!(
            bob.row(),
            vec!["bob", "-", "no", "-", "-", "pending", "scim"]
        );
        assert_eq!(User::COLUMNS.len(), bob.row().len());
    }

    #[test]
    fn the_deprovision_report_says_what_goes() {
        let text = render(Output::one(report(true)), Format::Table);
        for line in [
            "User           alice",
            "Roles          admin",
            "Groups         eng",
            "Personal keys  k1, k2",
            "Sessions       s1",
            "Lock           l1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert_eq!(
            deprovision_summary(&report(true)),
            "Dry run: deprovisioning alice would deactivate the user, remove 1 role, \
             remove 1 group membership, delete 2 personal API keys, revoke 1 live session \
             and lock every credential. Nothing was changed."
        );
        assert_eq!(
            deprovision_summary(&report(false)),
            "Deprovisioned alice: deactivated the user, removed 1 role, removed 1 group \
             membership, deleted 2 personal API keys, revoked 1 live session and locked \
             every credential."
        );
        let mut done = report(false);
        done.already_deprovisioned = true;
        assert_eq!(
            deprovision_summary(&done),
            "alice is already deprovisioned: nothing changed."
        );
        assert_eq!(
            deprovision_plan(&report(true)),
            "Deprovisioning alice will deactivate the user, remove 1 role, remove 1 group \
             membership, delete 2 personal API keys, revoke 1 live session and lock every \
             credential:"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Output::one(report(true)), Format::Json)).expect("json");
        assert_eq!(json["dry_run"], true);
        assert_eq!(json["personal_keys"], serde_json::json!(["k1", "k2"]));
    }

    #[test]
    fn an_empty_report_says_none() {
        let mut bare = report(true);
        bare.roles.clear();
        bare.personal_keys.clear();
        let text = render(Output::one(bare), Format::Table);
        assert!(text.contains("Roles          none\n"), "{text}");
        assert!(text.contains("Personal keys  none\n"), "{text}");
    }

    #[test]
    fn the_checklist_without_colour_says_pass_and_fail() {
        let text = render(Output::one(verification(false)), Format::Table);
        assert_eq!(
            text,
            "\
PASS  inactive      active: false
FAIL  no roles      roles: admin
PASS  lock present  lock l1
"
        );
        assert_eq!(
            verification_summary(&verification(false)),
            "alice is not fully deprovisioned: 1 of 3 checks fail (no roles). \
             `scimctl users deprovision alice` removes what remains."
        );
        assert_eq!(
            verification_summary(&verification(true)),
            "alice is fully deprovisioned: all 3 checks pass."
        );
    }

    #[test]
    fn the_checklist_on_a_colour_terminal_uses_marks() {
        let style = Style {
            color: true,
            tty: true,
        };
        let text = render_with(&Output::one(verification(false)), Format::Table, style);
        assert!(text.contains('✓') && text.contains('✗'), "{text}");
        assert!(!text.contains("PASS"), "{text}");
    }
}
