//! How roles given by hand look in the CLI: `users grant` and `users
//! revoke`, a line per role asked for and a sentence each saying what
//! changed.

use std::io::{self, Write};

use serde::Serialize;

use super::mappings::grant_text;
use super::{Column, Show, Style, write_list};
use crate::api::grants::{RoleGrantChange, RoleOutcome, UserRolesChange};

/// A line of the table: one requested role.
#[derive(Serialize)]
struct RoleLine {
    role: String,
    change: &'static str,
    held: &'static str,
    also_from: String,
}

impl Show for RoleLine {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ROLE"),
        Column::whole("CHANGE"),
        Column::whole("HELD"),
        Column::free("ALSO FROM"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.role.clone(),
            self.change.to_owned(),
            self.held.to_owned(),
            self.also_from.clone(),
        ]
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_list(std::slice::from_ref(self), out, style)
    }
}

fn change_word(outcome: RoleOutcome, dry_run: bool) -> &'static str {
    match (outcome, dry_run) {
        (RoleOutcome::Granted, false) => "granted",
        (RoleOutcome::Granted, true) => "would grant",
        (RoleOutcome::Revoked, false) => "revoked",
        (RoleOutcome::Revoked, true) => "would revoke",
        (RoleOutcome::AlreadyGranted, _) => "unchanged (already by hand)",
        (RoleOutcome::NotHeld, _) => "unchanged (not held)",
    }
}

/// The other sources of a role, joined: `default role; mapping … from group eng`.
fn also_from(change: &RoleGrantChange) -> String {
    change
        .also_from
        .iter()
        .map(grant_text)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A line per requested role: what became of it, whether the user holds it
/// now, and its other sources.
impl Show for UserRolesChange {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let lines: Vec<RoleLine> = self
            .changes
            .iter()
            .map(|change| RoleLine {
                role: change.role.clone(),
                change: change_word(change.outcome, self.dry_run),
                held: if change.held { "yes" } else { "no" },
                also_from: match also_from(change) {
                    sources if sources.is_empty() => "-".to_owned(),
                    sources => sources,
                },
            })
            .collect();
        write_list(&lines, out, style)
    }
}

/// A sentence per requested role saying what changed (or would), for
/// stderr; a dry run ends by saying nothing changed.
pub fn change_summary(change: &UserRolesChange) -> Vec<String> {
    let user = &change.user.user_name;
    let dry = change.dry_run;
    let mut sentences: Vec<String> = change
        .changes
        .iter()
        .map(|role| {
            let name = &role.role;
            let sources = also_from(role);
            match role.outcome {
                RoleOutcome::Granted => {
                    let verb = if dry { "Would give" } else { "Gave" };
                    if sources.is_empty() {
                        format!("{verb} {user} the role {name} by hand.")
                    } else {
                        format!(
                            "{verb} {user} the role {name} by hand; {user} holds it from {sources} \
                             too, and keeps it by hand if that goes."
                        )
                    }
                }
                RoleOutcome::AlreadyGranted => {
                    format!("{user} already holds {name} by hand: nothing changed.")
                }
                RoleOutcome::Revoked if role.held => {
                    let verb = if dry { "Would take" } else { "Took" };
                    format!(
                        "{verb} away the grant by hand of {name}; {user} still holds {name} from \
                         {sources} (`scimctl users why {user}`)."
                    )
                }
                RoleOutcome::Revoked => {
                    let verb = if dry { "Would take" } else { "Took" };
                    format!("{verb} {name} (given by hand) from {user}: {user} no longer holds it.")
                }
                RoleOutcome::NotHeld => {
                    format!("{user} does not hold {name}: nothing changed.")
                }
            }
        })
        .collect();
    if dry {
        sentences.push("Dry run: nothing was changed.".to_owned());
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::mappings::{GrantSource, MappingSource};
    use crate::api::users::UserRef;
    use time::macros::datetime;

    fn change(outcome: RoleOutcome, held: bool, also_from: Vec<GrantSource>) -> RoleGrantChange {
        RoleGrantChange {
            role: "auditor".to_owned(),
            outcome,
            held,
            also_from,
        }
    }

    fn answer(changes: Vec<RoleGrantChange>, dry_run: bool) -> UserRolesChange {
        UserRolesChange {
            user: UserRef {
                id: "u1".to_owned(),
                user_name: "alice".to_owned(),
            },
            dry_run,
            changes,
            roles: vec!["auditor".to_owned(), "member".to_owned()],
        }
    }

    fn mapped() -> GrantSource {
        GrantSource::Mapping {
            mapping_id: "m1".to_owned(),
            source: Some(MappingSource::ScimRole {
                value: "Reader".to_owned(),
            }),
            granted_at: datetime!(2026-11-29 09:00 UTC),
        }
    }

    #[test]
    fn each_outcome_says_what_changed_and_names_other_sources() {
        let granted = answer(vec![change(RoleOutcome::Granted, true, vec![])], false);
        assert_eq!(
            change_summary(&granted),
            ["Gave alice the role auditor by hand."]
        );
        let both = answer(
            vec![change(RoleOutcome::Granted, true, vec![mapped()])],
            false,
        );
        let said = change_summary(&both).join(" ");
        assert!(
            said.contains("from mapping m1 from SCIM role \"Reader\" too"),
            "{said}"
        );
        let kept = answer(
            vec![change(RoleOutcome::Revoked, true, vec![mapped()])],
            false,
        );
        let said = change_summary(&kept).join(" ");
        assert!(
            said.contains("still holds auditor from mapping m1"),
            "{said}"
        );
        assert!(said.contains("scimctl users why alice"), "{said}");
        let gone = answer(vec![change(RoleOutcome::Revoked, false, vec![])], true);
        assert_eq!(
            change_summary(&gone),
            [
                "Would take auditor (given by hand) from alice: alice no longer holds it.",
                "Dry run: nothing was changed."
            ]
        );
        for (outcome, says) in [
            (
                RoleOutcome::AlreadyGranted,
                "already holds auditor by hand: nothing changed",
            ),
            (
                RoleOutcome::NotHeld,
                "does not hold auditor: nothing changed",
            ),
        ] {
            let said = change_summary(&answer(vec![change(outcome, false, vec![])], false));
            assert!(said[0].contains(says), "{said:?}");
        }
    }
}
