//! `scimctl users list|show|create|grant|revoke|deprovision|verify|
//! reactivate|why|protect|unprotect`: the directory's users, the roles given
//! them by hand, and the offboarding runbook's commands.

use super::complete;
use std::io::{self, Write as _};

use clap::builder::NonEmptyStringValueParser;
use clap::{ArgGroup, Args, Subcommand};

use super::Context;
use super::listing::{self, Paging};
use crate::api::grants::{UserRolesChange, UserRolesRequest};
use crate::api::users::{
    CreateUserRequest, DeprovisionReport, DeprovisionRequest, ReactivateRequest, UserListQuery,
    UserStatus,
};
use crate::output::grants::change_summary;
use crate::output::users::{deprovision_plan, deprovision_summary, verification_summary};
use crate::output::{self, Answer, Format, Output, Style};
use crate::scim::resolve::user_list_filter;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// List users, ordered by userName
    ///
    /// Prints page by page as the server answers, so any number of users
    /// lists in constant memory; -o json prints one JSON array of users.
    List(ListArgs),

    /// Show one user: roles, groups, emails, deprovisioning state
    Show(UserArg),

    /// Create a user by hand (for organisations without an IdP yet, and for tests)
    ///
    /// Users an IdP pushes over SCIM need no creating. Groups must exist
    /// unless --create-groups is given; an unknown role or group is refused
    /// (exit 3) and nothing is created. Without --role the user gets the
    /// default role.
    Create(CreateArgs),

    /// Give a user roles by hand
    ///
    /// Each ROLE is recorded as given by hand (`users why` shows the key
    /// that gave it) and stays until `users revoke` takes it away or the
    /// user is deprovisioned: a mapping never removes it. A role already
    /// given by hand changes nothing; one the user holds from the default
    /// role or a mapping is given by hand too, so it stays if that source
    /// goes. Refused for a user who is inactive, pending, deprovisioned or
    /// locked (`users reactivate` first), and for a role whose permissions
    /// the key lacks. All roles or none; --dry-run shows the change and
    /// makes none.
    Grant(RolesArgs),

    /// Take away roles given by hand
    ///
    /// Only the grant by hand goes: a role the user also holds from the
    /// default role or a mapping stays, and the answer names that source. A
    /// role the user does not hold changes nothing. Refused, changing
    /// nothing: a role only a mapping or the default role gives (the error
    /// names it; `mappings remove` takes a mapping away from everyone), and
    /// admin from the last active admin. All roles or none; --dry-run shows
    /// the change and makes none.
    Revoke(RolesArgs),

    /// Take away all of a user's access, in one step
    ///
    /// Deactivates the user and removes their roles, group memberships,
    /// personal API keys and live sessions, and locks every credential.
    /// First shows what will be removed and asks on a terminal; without one,
    /// pass --yes. --dry-run only shows it. Running it again on a
    /// deprovisioned user changes nothing and says so.
    Deprovision(DeprovisionArgs),

    /// Check that a user has no access left; exit 0 only if so
    ///
    /// Prints the checklist (inactive, no roles, no groups, no personal keys,
    /// no live sessions, lock present) with what was found. Exits 5 when
    /// any check fails, so a runbook can stop on it.
    Verify(UserArg),

    /// Give a deprovisioned user access again
    ///
    /// Lifts the lock, activates the user and gives the default role and the
    /// roles mappings grant for what the user has now; groups come back only
    /// as the IdP pushes them. Asks on a terminal; without one, pass --yes.
    Reactivate(ReactivateArgs),

    /// Explain a user's access: each role with where it comes from, each
    /// group with how it came
    ///
    /// A role's sources are the default role, a mapping (from a group or a
    /// SCIM roles value, `scimctl mappings list`), or a key that assigned it
    /// by hand; a role with several sources stays until all are gone. A
    /// group came by a SCIM push or by hand.
    Why(UserArg),

    /// Protect a user from the IdP: never deprovisioned, deleted or demoted by SCIM
    ///
    /// SCIM may still update their attributes. A deactivation or deletion
    /// the IdP sends is held: the IdP is answered as usual and sees the user
    /// inactive, the user keeps their roles, groups, keys and sessions, and
    /// `users list --pending` and `users verify` show it held (protected).
    /// `users deprovision` applies it; an IdP reactivation discards it.
    Protect(UserArg),

    /// Lift a user's protection
    ///
    /// The IdP's next deactivation or deletion goes through. Changes already
    /// held stay held until `users deprovision` or a reactivation. Lifting
    /// it needs a key holding every scope the user's roles grant.
    Unprotect(UserArg),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("status").args(["active", "inactive", "pending"])))]
pub struct ListArgs {
    /// Only active users
    #[arg(long)]
    pub active: bool,

    /// Only inactive users (deprovisioned, or deactivated by the IdP)
    #[arg(long)]
    pub inactive: bool,

    /// Only users deactivated by the IdP whose access is not yet torn down
    ///
    /// These exist while auto-deprovisioning is off, and when a safety rail
    /// held the deprovisioning (protected user, last admin, open circuit
    /// breaker: the DEPROVISIONING column says `held: …`); `scimctl users
    /// deprovision USER` finishes each.
    #[arg(long)]
    pub pending: bool,

    /// Only users with this role (an unknown role exits 3)
    #[arg(long, value_name = "ROLE", add = complete::roles())]
    pub role: Option<String>,

    /// Only members of this group: display name or id (an unknown group
    /// exits 3)
    #[arg(long, value_name = "GROUP", alias = "team", add = complete::groups())]
    pub group: Option<String>,

    /// Only users whose userName, display name or an email contains TEXT
    /// (ignoring case)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,

    /// Only users a SCIM filter matches, e.g. 'userName sw "a" and active eq
    /// true'
    ///
    /// The filter language of SCIM (RFC 7644 §3.4.2.2), read as the server's
    /// /scim/v2/Users?filter= reads it: attributes such as userName,
    /// displayName, name.familyName, emails.value, groups.display, active,
    /// meta.created; operators eq, ne, co, sw, ew, gt, ge, lt, le, pr; and,
    /// or, not (…), and value filters (emails[type eq "work"]). Combines
    /// with the other filters. A bad filter is refused (exit 2) before
    /// anything is sent, pointing at where it goes wrong.
    #[arg(long, value_name = "EXPR", value_parser = parse_filter)]
    pub filter: Option<String>,

    #[command(flatten)]
    pub paging: Paging,
}

/// `--filter`: checked while parsing by the server's own parser and
/// resolver, so a bad filter is a usage error before any request.
fn parse_filter(value: &str) -> Result<String, String> {
    user_list_filter(value)?;
    Ok(value.to_owned())
}

impl ListArgs {
    fn status(&self) -> Option<UserStatus> {
        if self.active {
            Some(UserStatus::Active)
        } else if self.inactive {
            Some(UserStatus::Inactive)
        } else if self.pending {
            Some(UserStatus::Pending)
        } else {
            None
        }
    }

    fn query(&self) -> UserListQuery {
        UserListQuery {
            status: self.status(),
            role: self.role.clone(),
            group: self.group.clone(),
            search: self.search.clone(),
            filter: self.filter.clone(),
            limit: None,
            cursor: None,
        }
    }

    fn filtered(&self) -> bool {
        self.status().is_some()
            || self.role.is_some()
            || self.group.is_some()
            || self.search.is_some()
            || self.filter.is_some()
    }
}

#[derive(Args, Debug)]
pub struct UserArg {
    /// The user's userName (any case) or id
    #[arg(value_name = "USER", value_parser = NonEmptyStringValueParser::new(), add = complete::users())]
    pub user: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The userName, unique ignoring case, e.g. alice@example.com
    #[arg(value_name = "USERNAME", value_parser = NonEmptyStringValueParser::new())]
    pub user_name: String,

    /// An email address; repeat for several (the first is primary)
    #[arg(long = "email", value_name = "EMAIL", value_parser = parse_email)]
    pub emails: Vec<String>,

    /// The name shown for people, e.g. "Alice Example"
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub display_name: Option<String>,

    /// A role to give; repeat for several [default: the default role]
    #[arg(long = "role", value_name = "ROLE", value_parser = NonEmptyStringValueParser::new(), add = complete::roles())]
    pub roles: Vec<String>,

    /// A group to join by display name; repeat for several. Each must exist
    /// unless --create-groups is given
    #[arg(
        long = "group",
        alias = "team",
        value_name = "GROUP",
        value_parser = NonEmptyStringValueParser::new(),
        add = complete::groups()
    )]
    pub groups: Vec<String>,

    /// Create the --group groups that do not exist yet
    ///
    /// Without it an unknown group is refused (exit 3) and nothing is
    /// created, so a typo does not make a new group.
    #[arg(long, alias = "create-teams", requires = "groups")]
    pub create_groups: bool,
}

#[derive(Args, Debug)]
pub struct RolesArgs {
    #[command(flatten)]
    pub user: UserArg,

    /// The roles, by name; `scimctl roles list` shows them
    #[arg(value_name = "ROLE", required = true, num_args = 1.., value_parser = NonEmptyStringValueParser::new(), add = complete::roles())]
    pub roles: Vec<String>,

    /// Show what would change, and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl RolesArgs {
    fn request(&self) -> UserRolesRequest {
        UserRolesRequest {
            roles: dedup(self.roles.clone()),
            dry_run: self.dry_run,
        }
    }
}

#[derive(Args, Debug)]
pub struct DeprovisionArgs {
    #[command(flatten)]
    pub user: UserArg,

    /// Why, for the audit log and the lock, e.g. "left the company"
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    pub reason: Option<String>,

    /// Show what would be removed, change nothing, and do not ask
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ReactivateArgs {
    #[command(flatten)]
    pub user: UserArg,

    /// Why, for the audit log
    #[arg(long, value_name = "TEXT", value_parser = NonEmptyStringValueParser::new())]
    pub reason: Option<String>,
}

pub async fn run(ctx: &Context, command: UsersCommand) -> anyhow::Result<Output> {
    match command {
        UsersCommand::List(args) => list(ctx, args).await,
        UsersCommand::Show(args) => {
            let (client, _) = ctx.client().await?;
            let user = client.get_user(&args.user).await?;
            Ok(Output::one(user))
        }
        UsersCommand::Create(args) => create(ctx, args).await,
        UsersCommand::Grant(args) => {
            let (client, _) = ctx.client().await?;
            let change = client.grant_roles(&args.user.user, &args.request()).await?;
            Ok(roles_output(change))
        }
        UsersCommand::Revoke(args) => {
            let (client, _) = ctx.client().await?;
            let change = client
                .revoke_roles(&args.user.user, &args.request())
                .await?;
            Ok(roles_output(change))
        }
        UsersCommand::Deprovision(args) => deprovision(ctx, args).await,
        UsersCommand::Verify(args) => verify(ctx, args).await,
        UsersCommand::Reactivate(args) => reactivate(ctx, args).await,
        UsersCommand::Why(args) => {
            let (client, _) = ctx.client().await?;
            Ok(Output::one(client.user_why(&args.user).await?))
        }
        UsersCommand::Protect(args) => {
            let (client, _) = ctx.client().await?;
            let user = client.protect_user(&args.user).await?;
            let note = format!(
                "{} is protected: SCIM may update them, never deprovision, delete or demote them.",
                user.user_name
            );
            Ok(Output::one(user).note(note))
        }
        UsersCommand::Unprotect(args) => {
            let (client, _) = ctx.client().await?;
            let user = client.unprotect_user(&args.user).await?;
            let note = if user.held.is_empty() {
                format!("{} is no longer protected.", user.user_name)
            } else {
                format!(
                    "{} is no longer protected; changes already held stay held until \
                     `scimctl users deprovision {}` or a reactivation.",
                    user.user_name, user.user_name
                )
            };
            Ok(Output::one(user).note(note))
        }
    }
}

async fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let client = &client;
    let query = args.query();
    let count = listing::stream(ctx, "users", args.paging, |cursor, limit| {
        let query = UserListQuery {
            cursor,
            limit,
            ..query.clone()
        };
        async move { client.list_users_page(&query).await }
    })
    .await?;
    Ok(match (count, args.filtered()) {
        (0, true) => Output::default().note("No users match."),
        (0, false) => Output::default().note("No users yet."),
        _ => Output::default(),
    })
}

async fn create(ctx: &Context, args: CreateArgs) -> anyhow::Result<Output> {
    let request = CreateUserRequest {
        user_name: args.user_name,
        display_name: args.display_name,
        emails: dedup(args.emails),
        roles: dedup(args.roles),
        groups: dedup(args.groups),
        create_groups: args.create_groups,
    };
    let (client, _) = ctx.client().await?;
    let user = client.create_user(&request).await?;
    let note = format!("Created user {} ({}).", user.user_name, user.id);
    Ok(Output::one(user).note(note))
}

/// A grant's or revocation's lines, with a sentence per role on stderr.
fn roles_output(change: UserRolesChange) -> Output {
    let notes = change_summary(&change);
    notes
        .into_iter()
        .fold(Output::one(change), |output, note| output.note(note))
}

/// Keeps the order given, minus repeats: `--group eng --group eng` is a
/// slip, not a request the server should reject.
fn dedup(values: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        if !kept.contains(&value) {
            kept.push(value);
        }
    }
    kept
}

async fn deprovision(ctx: &Context, args: DeprovisionArgs) -> anyhow::Result<Output> {
    let user = args.user.user;
    let request = |dry_run| DeprovisionRequest {
        reason: args.reason.clone(),
        dry_run,
    };
    if args.dry_run {
        let (client, _) = ctx.client().await?;
        let report = client.deprovision_user(&user, &request(true)).await?;
        let note = deprovision_summary(&report);
        return Ok(report_output(report).note(note));
    }
    // Decided before any request: without a terminal and --yes, nothing is
    // sent, so nothing can change.
    let ask = ctx.must_confirm(&format!(
        "deprovision user {user} (or --dry-run to see what it would remove)"
    ))?;
    let (client, _) = ctx.client().await?;
    if ask {
        // The dry run names what goes in the question, and an unknown user
        // fails (exit 3) before anyone is asked anything.
        let plan = client.deprovision_user(&user, &request(true)).await?;
        if plan.already_deprovisioned {
            let note = deprovision_summary(&plan);
            return Ok(report_output(plan).note(note));
        }
        show_plan(&plan, ctx.global.quiet)?;
        ctx.confirm(
            format!(
                "Deprovision {}? Only `scimctl users reactivate` gives access back",
                plan.user.user_name
            ),
            format!("user {} was not deprovisioned", plan.user.user_name),
        )
        .await?;
    }
    let report = client.deprovision_user(&user, &request(false)).await?;
    let note = deprovision_summary(&report);
    Ok(report_output(report).note(note))
}

fn report_output(report: DeprovisionReport) -> Output {
    Output::one(report)
}

/// The dry run, on stderr (the terminal the question is asked on): stdout
/// carries only the result.
fn show_plan(plan: &DeprovisionReport, quiet: bool) -> anyhow::Result<()> {
    let mut stderr = io::stderr().lock();
    if !quiet {
        writeln!(stderr, "{}", deprovision_plan(plan))?;
    }
    let style = Style {
        tty: true,
        color: !output::no_color(),
    };
    output::write_one(&mut stderr, plan, Format::Table, style)?;
    Ok(())
}

async fn verify(ctx: &Context, args: UserArg) -> anyhow::Result<Output> {
    let (client, _) = ctx.client().await?;
    let report = client.verify_user(&args.user).await?;
    let answer = if report.deprovisioned {
        Answer::Yes
    } else {
        Answer::No
    };
    let note = verification_summary(&report);
    Ok(Output {
        answer,
        ..Output::one(report).note(note)
    })
}

async fn reactivate(ctx: &Context, args: ReactivateArgs) -> anyhow::Result<Output> {
    let user = args.user.user;
    let ask = ctx.must_confirm(&format!("reactivate user {user}"))?;
    let (client, _) = ctx.client().await?;
    if ask {
        let found = client.get_user(&user).await?;
        ctx.confirm(
            format!(
                "Reactivate {}? The lock is lifted and the default role given: they can sign in again",
                found.user_name
            ),
            format!("user {} was not reactivated", found.user_name),
        )
        .await?;
    }
    let reactivated = client
        .reactivate_user(
            &user,
            &ReactivateRequest {
                reason: args.reason,
            },
        )
        .await?;
    let note = format!(
        "Reactivated {}: active, unlocked, roles: {}.",
        reactivated.user_name,
        if reactivated.roles.is_empty() {
            "none".to_owned()
        } else {
            reactivated.roles.join(", ")
        }
    );
    Ok(Output::one(reactivated).note(note))
}

/// `--email`: a light check that catches a swapped argument (`--email
/// alice --role admin` typed as `--email admin`); the server has the last
/// word.
fn parse_email(value: &str) -> Result<String, String> {
    let value = value.trim();
    match value.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !value.contains(char::is_whitespace) =>
        {
            Ok(value.to_owned())
        }
        _ => Err("expected an email address such as alice@example.com".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<UsersCommand, clap::Error> {
        let cli =
            Cli::try_parse_from(["scimctl", "users"].into_iter().chain(args.iter().copied()))?;
        match cli.command {
            Command::Users(command) => Ok(command),
            other => panic!("not a users command: {other:?}"),
        }
    }

    #[test]
    fn list_filters_become_the_query() {
        let UsersCommand::List(args) = parse(&[
            "list",
            "--pending",
            "--role",
            "admin",
            "--group",
            "eng",
            "--search",
            "ali",
            "--limit",
            "5",
        ])
        .expect("parses") else {
            panic!("not list");
        };
        let query = args.query();
        assert_eq!(query.status, Some(UserStatus::Pending));
        assert_eq!(query.role.as_deref(), Some("admin"));
        assert_eq!(query.group.as_deref(), Some("eng"));
        assert_eq!(query.search.as_deref(), Some("ali"));
        assert_eq!(args.paging.limit, Some(5));
        assert!(query.limit.is_none() && query.cursor.is_none());
        assert!(args.filtered());

        let UsersCommand::List(plain) = parse(&["list"]).expect("parses") else {
            panic!("not list");
        };
        assert!(plain.query().status.is_none() && !plain.filtered());
    }

    #[test]
    fn one_status_at_a_time_and_page_sizes_in_range() {
        let err = parse(&["list", "--active", "--inactive"]).expect_err("conflict");
        assert_eq!(err.exit_code(), 2);
        for bad in ["0", "x"] {
            let err = parse(&["list", "--limit", bad]).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(
                err.to_string().contains("--limit must be at least 1"),
                "{err}"
            );
        }
        for bad in ["0", "1001", "x"] {
            let err = parse(&["list", "--page-size", bad]).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(
                err.to_string()
                    .contains("--page-size must be from 1 to 1000"),
                "{err}"
            );
        }
        let UsersCommand::List(args) =
            parse(&["list", "--limit", "5000", "--page-size", "1000"]).expect("parses")
        else {
            panic!("not list");
        };
        assert_eq!(
            (args.paging.limit, args.paging.page_size),
            (Some(5000), Some(1000))
        );
    }

    #[test]
    fn filters_are_checked_by_the_servers_parser() {
        let UsersCommand::List(args) = parse(&[
            "list",
            "--filter",
            r#"userName sw "a" and active eq true"#,
            "--active",
        ])
        .expect("parses") else {
            panic!("not list");
        };
        let query = args.query();
        assert_eq!(
            query.filter.as_deref(),
            Some(r#"userName sw "a" and active eq true"#)
        );
        assert_eq!(query.status, Some(UserStatus::Active));

        let err = parse(&["list", "--filter", r#"userName sw "a" annd active eq true"#])
            .expect_err("bad syntax");
        assert_eq!(err.exit_code(), 2);
        let message = err.to_string();
        assert!(message.contains("at position 16"), "{message}");
        assert!(
            message.contains(&format!("\n  {}^", " ".repeat(16))),
            "a caret under the position: {message}"
        );
        let err = parse(&["list", "--filter", r#"shoeSize eq "9""#]).expect_err("unknown");
        assert!(err.to_string().contains("shoeSize"), "{err}");
    }

    #[test]
    fn create_takes_repeated_emails_roles_and_groups() {
        let UsersCommand::Create(args) = parse(&[
            "create",
            "alice",
            "--email",
            "alice@example.com",
            "--role",
            "admin",
            "--role",
            "auditor",
            "--group",
            "Sales, EMEA",
            "--team",
            "Ops",
            "--display-name",
            "Alice",
        ])
        .expect("parses") else {
            panic!("not create");
        };
        assert_eq!(args.user_name, "alice");
        assert_eq!(args.emails, ["alice@example.com"]);
        assert_eq!(args.roles, ["admin", "auditor"]);
        // Group names may hold commas: no splitting. `--team`, the flag's
        // name before groups had one noun, still works for old scripts.
        assert_eq!(args.groups, ["Sales, EMEA", "Ops"]);
        assert_eq!(args.display_name.as_deref(), Some("Alice"));
    }

    #[test]
    fn bad_create_input_is_a_usage_error() {
        for args in [
            &["create", ""][..],
            &["create", "alice", "--email", "admin"],
            &["create", "alice", "--email", "a b@example.com"],
            &["create", "alice", "--role", ""],
        ] {
            let err = parse(args).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let err = parse(&["create", "alice", "--email", "admin"]).expect_err("refused");
        assert!(err.to_string().contains("alice@example.com"), "{err}");
    }

    #[test]
    fn deprovision_and_reactivate_arguments() {
        let UsersCommand::Deprovision(args) =
            parse(&["deprovision", "alice", "--reason", "left", "--dry-run"]).expect("parses")
        else {
            panic!("not deprovision");
        };
        assert_eq!(args.user.user, "alice");
        assert_eq!(args.reason.as_deref(), Some("left"));
        assert!(args.dry_run);
        assert!(parse(&["deprovision"]).is_err(), "USER is required");
        assert!(matches!(
            parse(&["reactivate", "alice", "--yes"]).expect("--yes is global"),
            UsersCommand::Reactivate(_)
        ));
    }

    #[test]
    fn grant_and_revoke_take_a_user_and_one_or_more_roles() {
        let UsersCommand::Grant(args) =
            parse(&["grant", "alice", "auditor", "support", "auditor"]).expect("parses")
        else {
            panic!("not grant");
        };
        assert_eq!(args.user.user, "alice");
        assert_eq!(args.request().roles, ["auditor", "support"]);
        assert!(!args.request().dry_run);
        let UsersCommand::Revoke(args) =
            parse(&["revoke", "alice", "auditor", "--dry-run"]).expect("parses")
        else {
            panic!("not revoke");
        };
        assert!(args.request().dry_run);
        for bad in [
            &["grant", "alice"][..],
            &["revoke"],
            &["grant", "alice", ""],
        ] {
            let err = parse(bad).expect_err("refused");
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn repeats_are_dropped_in_order() {
        let values = ["b", "a", "b"].map(str::to_owned).to_vec();
        assert_eq!(dedup(values), ["b", "a"]);
    }
}
