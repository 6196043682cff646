//! How the directory looks in the CLI: users, teams, locks, deprovisioning
//! reports, the verification checklist, sessions and introspection, as
//! tables and as the API's JSON.

use std::io::{self, Write};

use comfy_table::{Cell, Color, Table};

use super::stream::Row;
use super::{Format, Style, header_cell, json, new_table, or_dash, pad_columns, table, timestamp};
use crate::api::directory::{
    Check, CredentialKind, DeprovisionReport, DeprovisionState, Introspection, IssuedSession, Lock,
    Origin, Team, TeamRef, User, UserRef, VerificationReport,
};

/// One directory resource (or report) to show.
#[derive(Debug)]
pub enum Shown {
    User(User),
    Team(Team),
    Lock(Lock),
    Deprovision(DeprovisionReport),
    Verification(VerificationReport),
    /// Table form: the token alone, so `$(scimctl sessions issue alice)` is
    /// the token; JSON: the whole `IssuedSession`.
    Session(IssuedSession),
    Introspection(Introspection),
}

pub fn write(out: &mut dyn Write, shown: &Shown, format: Format, style: Style) -> io::Result<()> {
    match format {
        Format::Json => match shown {
            Shown::User(user) => json(out, user),
            Shown::Team(team) => json(out, team),
            Shown::Lock(lock) => json(out, lock),
            Shown::Deprovision(report) => json(out, report),
            Shown::Verification(report) => json(out, report),
            Shown::Session(session) => json(out, session),
            Shown::Introspection(answer) => json(out, answer),
        },
        Format::Table => match shown {
            Shown::User(user) => table(out, user_table(user, style)),
            Shown::Team(team) => table(out, team_table(team, style)),
            Shown::Lock(lock) => table(out, lock_table(lock, style)),
            Shown::Deprovision(report) => table(out, deprovision_table(report, style)),
            Shown::Verification(report) => table(out, verification_table(report, style)),
            Shown::Session(session) => writeln!(out, "{}", session.token),
            Shown::Introspection(answer) => table(out, introspection_table(answer, style)),
        },
    }
}

/// `a, b, c`, or `-` for none.
fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let joined = items
        .into_iter()
        .map(|item| item.as_ref().to_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if joined.is_empty() {
        "-".to_owned()
    } else {
        joined
    }
}

/// Same as `list`, with `none` for none: in a report "none" reads as an
/// answer where `-` would read as "unknown".
fn list_or_none(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    match list(items) {
        dash if dash == "-" => "none".to_owned(),
        joined => joined,
    }
}

fn teams(teams: &[TeamRef]) -> impl Iterator<Item = &str> {
    teams.iter().map(|team| team.display_name.as_str())
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
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

fn user_ref(user: &UserRef) -> String {
    user.user_name.clone()
}

impl Row for User {
    const HEADER: &'static [&'static str] = &[
        "USERNAME",
        "DISPLAY NAME",
        "ACTIVE",
        "ROLES",
        "TEAMS",
        "DEPROVISIONING",
        "ORIGIN",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.user_name.clone(),
            or_dash(self.display_name.as_deref()),
            yes_no(self.active),
            list(&self.roles),
            list(teams(&self.teams)),
            deprovisioning(self.deprovisioning).to_owned(),
            origin(self.origin).to_owned(),
        ]
    }
}

impl Row for Team {
    const HEADER: &'static [&'static str] = &["ID", "DISPLAY NAME", "MEMBERS", "EXTERNAL ID"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.display_name.clone(),
            self.member_count.to_string(),
            or_dash(self.external_id.as_deref()),
        ]
    }
}

impl Row for Lock {
    const HEADER: &'static [&'static str] = &["ID", "USER", "REASON", "CREATED", "CREATED BY"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            user_ref(&self.user),
            self.reason.clone(),
            timestamp(self.created_at),
            self.created_by.clone(),
        ]
    }
}

pub fn user_table(user: &User, style: Style) -> Table {
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
    super::vertical(
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
            ("Teams", list(teams(&user.teams))),
            ("Deprovisioned", state),
            ("Locked", yes_no(user.locked)),
            ("Created", timestamp(user.created_at)),
            ("Updated", timestamp(user.updated_at)),
        ],
        style,
    )
}

pub fn team_table(team: &Team, style: Style) -> Table {
    let members = if team.members.is_empty() {
        "none".to_owned()
    } else {
        // One per line: a member list is read down, and copied line by line.
        team.members
            .iter()
            .map(user_ref)
            .collect::<Vec<_>>()
            .join("\n")
    };
    super::vertical(
        vec![
            ("ID", team.id.clone()),
            ("Display name", team.display_name.clone()),
            ("External ID", or_dash(team.external_id.as_deref())),
            ("Member count", team.member_count.to_string()),
            ("Members", members),
            ("Created", timestamp(team.created_at)),
            ("Updated", timestamp(team.updated_at)),
        ],
        style,
    )
}

pub fn lock_table(lock: &Lock, style: Style) -> Table {
    super::vertical(
        vec![
            ("ID", lock.id.clone()),
            ("User", user_ref(&lock.user)),
            ("User ID", lock.user.id.clone()),
            ("Reason", lock.reason.clone()),
            ("Created", timestamp(lock.created_at)),
            ("Created by", lock.created_by.clone()),
        ],
        style,
    )
}

/// What a deprovisioning removes (dry run) or removed.
pub fn deprovision_table(report: &DeprovisionReport, style: Style) -> Table {
    super::vertical(
        vec![
            ("User", user_ref(&report.user)),
            ("User ID", report.user.id.clone()),
            ("Was active", yes_no(report.was_active)),
            ("Roles", list_or_none(&report.roles)),
            ("Teams", list_or_none(teams(&report.teams))),
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
            report.teams.len(),
            "team membership",
            "team memberships",
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

pub fn verification_table(report: &VerificationReport, style: Style) -> Table {
    let mut table = new_table(style);
    for check in &report.checks {
        table.add_row(vec![
            mark(check.passed, style),
            header_cell(&check_label(check), style),
            Cell::new(&check.evidence),
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
    } else {
        format!(
            "{who} is not fully deprovisioned: {} of {} checks fail ({}). \
             `scimctl users deprovision {who}` removes what remains.",
            failed.len(),
            report.checks.len(),
            failed.join(", ")
        )
    }
}

pub fn session_summary(session: &IssuedSession) -> String {
    format!(
        "Session {} for {} expires at {}. The token is shown only this once.",
        session.id,
        session.user.user_name,
        timestamp(session.expires_at)
    )
}

pub fn introspection_table(answer: &Introspection, style: Style) -> Table {
    let mut rows = vec![("Live", yes_no(answer.active))];
    if let Some(kind) = answer.kind {
        let kind = match kind {
            CredentialKind::Session => "session",
            CredentialKind::ApiKey => "API key",
        };
        rows.push(("Kind", kind.to_owned()));
    }
    if let Some(user) = &answer.user {
        rows.push(("User", user_ref(user)));
        rows.push(("User ID", user.id.clone()));
    }
    if answer.active {
        rows.push(("Roles", list(&answer.roles)));
        rows.push(("Teams", list(&answer.teams)));
        if answer.kind == Some(CredentialKind::ApiKey) {
            rows.push(("Scopes", super::scopes(&answer.scopes)));
        }
    }
    if let Some(at) = answer.expires_at {
        rows.push(("Expires", timestamp(at)));
    }
    if let Some(reason) = &answer.reason {
        rows.push(("Reason", reason.clone()));
    }
    super::vertical(rows, style)
}

#[cfg(test)]
mod tests {
    use super::super::{Data, write_data};
    use super::*;
    use crate::api::directory::Email;
    use crate::api::scope::Scope;
    use time::macros::datetime;

    fn render(shown: Shown, format: Format) -> String {
        render_with(shown, format, Style::plain())
    }

    fn render_with(shown: Shown, format: Format, style: Style) -> String {
        let mut out = Vec::new();
        write_data(&mut out, &Data::Directory(shown), format, style).expect("render");
        String::from_utf8(out).expect("utf-8")
    }

    fn alice() -> UserRef {
        UserRef {
            id: "u-1".to_owned(),
            user_name: "alice".to_owned(),
        }
    }

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
            teams: vec![TeamRef {
                id: "t-1".to_owned(),
                display_name: "eng".to_owned(),
            }],
            deprovisioning: DeprovisionState::None,
            deprovisioned_at: None,
            locked: false,
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
            teams: vec![TeamRef {
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
        }
    }

    #[test]
    fn one_user_vertically() {
        let text = render(Shown::User(user("alice")), Format::Table);
        for line in [
            "ID             id-alice",
            "User name      alice",
            "Emails         alice@example.com (work, primary)",
            "Roles          admin, member",
            "Teams          eng",
            "Deprovisioned  no",
            "Created        2026-01-02T03:04:05Z",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
    }

    #[test]
    fn a_user_as_json_is_the_api_type() {
        let text = render(Shown::User(user("alice")), Format::Json);
        let parsed: User = serde_json::from_str(&text).expect("a User");
        assert_eq!(parsed, user("alice"));
    }

    #[test]
    fn user_rows_for_listings() {
        let mut bob = user("bob");
        bob.active = false;
        bob.roles.clear();
        bob.teams.clear();
        bob.display_name = None;
        bob.deprovisioning = DeprovisionState::Pending;
        bob.origin = Origin::Scim;
        assert_eq!(
            bob.cells(),
            vec!["bob", "-", "no", "-", "-", "pending", "scim"]
        );
        assert_eq!(User::HEADER.len(), bob.cells().len());
        assert_eq!(Team::HEADER.len(), 4);
    }

    #[test]
    fn the_deprovision_report_says_what_goes() {
        let text = render(Shown::Deprovision(report(true)), Format::Table);
        for line in [
            "User           alice",
            "Roles          admin",
            "Teams          eng",
            "Personal keys  k1, k2",
            "Sessions       s1",
            "Lock           l1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in\n{text}");
        }
        assert_eq!(
            deprovision_summary(&report(true)),
            "Dry run: deprovisioning alice would deactivate the user, remove 1 role, \
             remove 1 team membership, delete 2 personal API keys, revoke 1 live session \
             and lock every credential. Nothing was changed."
        );
        assert_eq!(
            deprovision_summary(&report(false)),
            "Deprovisioned alice: deactivated the user, removed 1 role, removed 1 team \
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
            "Deprovisioning alice will deactivate the user, remove 1 role, remove 1 team \
             membership, delete 2 personal API keys, revoke 1 live session and lock every \
             credential:"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Shown::Deprovision(report(true)), Format::Json))
                .expect("json");
        assert_eq!(json["dry_run"], true);
        assert_eq!(json["personal_keys"], serde_json::json!(["k1", "k2"]));
    }

    #[test]
    fn an_empty_report_says_none() {
        let mut bare = report(true);
        bare.roles.clear();
        bare.personal_keys.clear();
        let text = render(Shown::Deprovision(bare), Format::Table);
        assert!(text.contains("Roles          none\n"), "{text}");
        assert!(text.contains("Personal keys  none\n"), "{text}");
    }

    #[test]
    fn the_checklist_without_colour_says_pass_and_fail() {
        let text = render(Shown::Verification(verification(false)), Format::Table);
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
        let text = render_with(
            Shown::Verification(verification(false)),
            Format::Table,
            style,
        );
        assert!(text.contains('✓') && text.contains('✗'), "{text}");
        assert!(!text.contains("PASS"), "{text}");
    }

    #[test]
    fn a_session_in_a_table_is_the_token_alone() {
        let session = IssuedSession {
            id: "s1".to_owned(),
            user: alice(),
            expires_at: datetime!(2026-01-01 08:00:00 UTC),
            token: "scimsess_s1_secret".to_owned(),
        };
        assert_eq!(
            render(Shown::Session(session.clone()), Format::Table),
            "scimsess_s1_secret\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Shown::Session(session.clone()), Format::Json))
                .expect("json");
        assert_eq!(json["token"], "scimsess_s1_secret");
        assert_eq!(json["user"]["user_name"], "alice");
        assert_eq!(
            session_summary(&session),
            "Session s1 for alice expires at 2026-01-01T08:00:00Z. The token is shown only this once."
        );
    }

    #[test]
    fn introspection_shows_what_applies() {
        let live = Introspection {
            active: true,
            kind: Some(CredentialKind::ApiKey),
            user: Some(alice()),
            roles: vec!["admin".to_owned()],
            teams: vec!["eng".to_owned()],
            scopes: vec![Scope::UsersRead],
            expires_at: None,
            reason: None,
        };
        let text = render(Shown::Introspection(live.clone()), Format::Table);
        assert!(
            text.starts_with("Live     yes\nKind     API key\n"),
            "{text}"
        );
        assert!(text.contains("Scopes   users:read\n"), "{text}");
        let dead = Introspection {
            active: false,
            kind: None,
            user: None,
            roles: vec![],
            teams: vec![],
            scopes: vec![],
            expires_at: None,
            reason: Some("unknown".to_owned()),
        };
        assert_eq!(
            render(Shown::Introspection(dead), Format::Table),
            "Live    no\nReason  unknown\n"
        );
        let parsed: Introspection =
            serde_json::from_str(&render(Shown::Introspection(live.clone()), Format::Json))
                .expect("an Introspection");
        assert_eq!(parsed, live);
    }

    #[test]
    fn a_team_lists_its_members_one_per_line() {
        let team = Team {
            id: "t-1".to_owned(),
            display_name: "eng".to_owned(),
            external_id: None,
            member_count: 2,
            members: vec![
                alice(),
                UserRef {
                    id: "u-2".to_owned(),
                    user_name: "bob".to_owned(),
                },
            ],
            created_at: datetime!(2026-01-01 00:00:00 UTC),
            updated_at: datetime!(2026-01-01 00:00:00 UTC),
        };
        let text = render(Shown::Team(team), Format::Table);
        assert!(
            text.contains("Members       alice\n              bob\n"),
            "{text}"
        );
    }
}
