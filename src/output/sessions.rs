//! How sessions look in the CLI: `sessions issue` (the token alone, so
//! `$(scimctl sessions issue alice)` is the token) and `introspect`.

use std::io::{self, Write};

use comfy_table::Table;

use super::{Show, Style, list, scopes, table, timestamp, user_ref, vertical, yes_no};
use crate::api::sessions::{CredentialKind, Introspection, IssuedSession};

/// Table: the token alone; JSON: the whole session.
impl Show for IssuedSession {
    fn write_table(&self, out: &mut dyn Write, _style: Style) -> io::Result<()> {
        writeln!(out, "{}", self.token)
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

impl Show for Introspection {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        table(out, introspection_table(self, style))
    }
}

fn introspection_table(answer: &Introspection, style: Style) -> Table {
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
        rows.push(("Groups", list(&answer.groups)));
        if answer.kind == Some(CredentialKind::ApiKey) {
            rows.push(("Scopes", scopes(&answer.scopes)));
        }
    }
    if let Some(at) = answer.expires_at {
        rows.push(("Expires", timestamp(at)));
    }
    if let Some(reason) = &answer.reason {
        rows.push(("Reason", reason.clone()));
    }
    vertical(rows, style)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::scope::Scope;
    use crate::output::tests::{alice, render};
    use crate::output::{Format, Output};
    use time::macros::datetime;

    #[test]
    fn a_session_in_a_table_is_the_token_alone() {
        let session = IssuedSession {
            id: "s1".to_owned(),
            user: alice(),
            expires_at: datetime!(2026-01-01 08:00:00 UTC),
            token: "scimsess_s1_secret".to_owned(),
        };
        assert_eq!(
            render(Output::one(session.clone()), Format::Table),
            "scimsess_s1_secret\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Output::one(session.clone()), Format::Json))
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
            groups: vec!["eng".to_owned()],
            scopes: vec![Scope::UsersRead],
            expires_at: None,
            reason: None,
        };
        let text = render(Output::one(live.clone()), Format::Table);
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
            groups: vec![],
            scopes: vec![],
            expires_at: None,
            reason: Some("unknown".to_owned()),
        };
        assert_eq!(
            render(Output::one(dead), Format::Table),
            "Live    no\nReason  unknown\n"
        );
        let parsed: Introspection =
            serde_json::from_str(&render(Output::one(live.clone()), Format::Json))
                .expect("an Introspection");
        assert_eq!(parsed, live);
    }
}
