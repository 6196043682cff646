//! The comparison `drift` makes: the export held by userName key, the
//! directory fed through one user at a time as its pages arrive, so only
//! the export (never the directory too) is in memory.

use std::collections::BTreeSet;

use super::export::{Export, IdpUser};
use crate::api::users::User;
use crate::output::drift::{Difference, DriftCounts, DriftKind};
use crate::text::user_name_key;

pub struct Comparison {
    export: Export,
    differences: Vec<Difference>,
    counts: DriftCounts,
}

impl Comparison {
    pub fn new(export: Export) -> Self {
        let counts = DriftCounts {
            in_export: export.users.len() as u64,
            ..DriftCounts::default()
        };
        Comparison {
            export,
            differences: Vec::new(),
            counts,
        }
    }

    /// Compares one user of the directory with the export's row for them,
    /// and takes that row out (what is left at the end is not here).
    pub fn user(&mut self, here: &User) {
        self.counts.here += 1;
        let idp = self.export.users.remove(&user_name_key(&here.user_name));
        match (here.active, idp) {
            (true, None) => self.push(
                here,
                None,
                DriftKind::NotInIdp,
                None,
                "active here, not in the IdP's export: unassigned in the IdP but never \
                 deactivated here, or made by hand (`scimctl users deprovision` if they left)"
                    .to_owned(),
            ),
            (true, Some(idp)) if !idp.active => self.push(
                here,
                Some(&idp),
                DriftKind::InactiveInIdp,
                None,
                "active here, inactive in the IdP: the deactivation did not arrive or is \
                 pending (`scimctl users list --pending`)"
                    .to_owned(),
            ),
            (false, Some(idp)) if idp.active => self.push(
                here,
                Some(&idp),
                DriftKind::InactiveHere,
                None,
                "active in the IdP, inactive here: the IdP has not pushed the reactivation \
                 (push the user again from the IdP)"
                    .to_owned(),
            ),
            (true, Some(idp)) => self.groups(here, &idp),
            (false, _) => {}
        }
    }

    /// Group differences of a user active on both sides, when the export
    /// has a groups column.
    fn groups(&mut self, here: &User, idp: &IdpUser) {
        let Some(idp_groups) = &idp.groups else {
            return;
        };
        let here_groups: BTreeSet<&str> = here
            .groups
            .iter()
            .map(|group| group.display_name.as_str())
            .collect();
        for group in idp_groups {
            if !here_groups.contains(group.as_str()) {
                self.push(
                    here,
                    Some(idp),
                    DriftKind::GroupMissingHere,
                    Some(group),
                    format!(
                        "in {group} in the IdP, not here: push the group from the IdP \
                         (Okta: Push Groups; Entra ID: assign the group to the app)"
                    ),
                );
            }
        }
        for group in here_groups {
            if !idp_groups.contains(group) {
                self.push(
                    here,
                    Some(idp),
                    DriftKind::GroupOnlyHere,
                    Some(group),
                    format!("in {group} here, not in the IdP: the removal did not arrive"),
                );
            }
        }
    }

    fn push(
        &mut self,
        here: &User,
        idp: Option<&IdpUser>,
        kind: DriftKind,
        group: Option<&str>,
        detail: String,
    ) {
        self.counts.add(kind);
        self.differences.push(Difference {
            user_name: here.user_name.clone(),
            kind,
            group: group.map(str::to_owned),
            line: idp.map(|idp| idp.line),
            detail,
        });
    }

    /// The differences, the export's active users the directory lacked
    /// last, in the file's order; and the counts.
    pub fn finish(mut self) -> (Vec<Difference>, DriftCounts) {
        let mut missing: Vec<IdpUser> = self
            .export
            .users
            .drain()
            .map(|(_, user)| user)
            .filter(|user| user.active)
            .collect();
        missing.sort_by_key(|user| user.line);
        for user in missing {
            self.counts.add(DriftKind::MissingHere);
            self.differences.push(Difference {
                user_name: user.user_name,
                kind: DriftKind::MissingHere,
                group: None,
                line: Some(user.line),
                detail: "active in the IdP, not here: not assigned to this app in the IdP, \
                         or its push failed (`scimctl users list --search` to check the spelling)"
                    .to_owned(),
            });
        }
        (self.differences, self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::groups::GroupRef;
    use crate::api::users::{DeprovisionState, Origin};
    use crate::cli::drift::export::parse;

    fn user(name: &str, active: bool, groups: &[&str]) -> User {
        User {
            id: format!("id-{name}"),
            user_name: name.to_owned(),
            external_id: None,
            display_name: None,
            given_name: None,
            family_name: None,
            emails: Vec::new(),
            active,
            origin: Origin::Scim,
            roles: Vec::new(),
            groups: groups
                .iter()
                .map(|g| GroupRef {
                    id: format!("g-{g}"),
                    display_name: (*g).to_owned(),
                })
                .collect(),
            deprovisioning: DeprovisionState::None,
            deprovisioned_at: None,
            locked: false,
            protected: false,
            held: Vec::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn every_kind_of_difference_is_found_once() {
        let export = parse(
            "userName,active,groups\nALICE,true,eng;ops\nbob,false,\ncarol,true,\n\
             dave,true,\nerin,false,\nfrank,true,eng\n"
                .as_bytes(),
            "x.csv",
        )
        .expect("parses");
        let mut comparison = Comparison::new(export);
        for here in [
            user("alice", true, &["eng", "sales"]),
            user("bob", true, &[]),
            user("dave", false, &[]),
            user("erin", false, &[]),
            user("frank", true, &["eng"]),
            user("gina", true, &[]),
            user("hal", false, &[]),
        ] {
            comparison.user(&here);
        }
        let (differences, counts) = comparison.finish();
        let seen: Vec<(&str, DriftKind, Option<&str>)> = differences
            .iter()
            .map(|d| (d.user_name.as_str(), d.kind, d.group.as_deref()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("alice", DriftKind::GroupMissingHere, Some("ops")),
                ("alice", DriftKind::GroupOnlyHere, Some("sales")),
                ("bob", DriftKind::InactiveInIdp, None),
                ("dave", DriftKind::InactiveHere, None),
                ("gina", DriftKind::NotInIdp, None),
                ("carol", DriftKind::MissingHere, None),
            ]
        );
        assert_eq!((counts.in_export, counts.here, counts.total()), (6, 7, 6));
    }

    #[test]
    fn without_a_groups_column_memberships_are_not_compared() {
        let export = parse("userName,active\nalice,true\n".as_bytes(), "x.csv").expect("parses");
        let mut comparison = Comparison::new(export);
        comparison.user(&user("alice", true, &["eng"]));
        assert!(comparison.finish().0.is_empty());
    }
}
