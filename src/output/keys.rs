//! How API keys look in the CLI: `keys list|show|create|revoke` and
//! `whoami`.

use std::io::{self, Write};

use serde::Serialize;

use time::OffsetDateTime;

use super::{
    Column, Show, Style, expiry, last_used, or_dash, scopes, scopes_in_list, timestamp,
    write_vertical,
};
use crate::api::{ApiKey, CreatedKey, WhoAmI};

/// Whether a key still works, as a word: `revoked` wins over `expired`.
fn status(key: &ApiKey, now: OffsetDateTime) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "live"
    }
}

/// Indexes in [`ApiKey::COLUMNS`]: the scopes, which CSV has whole, and
/// the columns a list may leave out.
const SCOPES: usize = 3;
const REVOKED: usize = 7;
const OWNER: usize = 8;

impl Show for ApiKey {
    const COLUMNS: &'static [Column] = &[
        Column::whole("ID"),
        Column::free("NAME"),
        Column::whole("STATUS"),
        Column::free("SCOPES"),
        Column::whole("EXPIRES"),
        Column::whole("LAST USED"),
        Column::whole("LAST USED IP"),
        Column::whole("REVOKED"),
        Column::free("OWNER"),
    ];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            status(self, OffsetDateTime::now_utc()).to_owned(),
            scopes_in_list(&self.scopes),
            expiry(self.expires_at),
            last_used(self.last_used_at),
            or_dash(self.last_used_ip.as_deref()),
            self.revoked_at.map_or_else(|| "-".to_owned(), timestamp),
            or_dash(self.owner.as_ref().map(|o| o.user_name.as_str())),
        ]
    }

    /// Every scope, where the table says `all`.
    fn csv_row(&self) -> Vec<String> {
        let mut row = self.row();
        row[SCOPES] = scopes(&self.scopes);
        row
    }

    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        write_vertical(out, key_rows(self), style)
    }

    /// Revoked and personal keys are the exception: their columns show
    /// only when a listed key is one (`--columns` can ask for them always).
    fn default_columns(keys: &[Self]) -> Vec<usize> {
        let any_revoked = keys.iter().any(|key| key.revoked_at.is_some());
        let any_owner = keys.iter().any(|key| key.owner.is_some());
        (0..Self::COLUMNS.len())
            .filter(|&i| (i != REVOKED || any_revoked) && (i != OWNER || any_owner))
            .collect()
    }
}

fn key_rows(key: &ApiKey) -> Vec<(&'static str, String)> {
    vec![
        ("ID", key.id.clone()),
        ("Name", key.name.clone()),
        ("Status", status(key, OffsetDateTime::now_utc()).to_owned()),
        ("Scopes", scopes(&key.scopes)),
        ("Created", timestamp(key.created_at)),
        ("Created by", or_dash(key.created_by.as_deref())),
        (
            "Owner",
            key.owner
                .as_ref()
                .map_or_else(|| "- (service key)".to_owned(), |o| o.user_name.clone()),
        ),
        ("Expires", expiry(key.expires_at)),
        ("Last used", last_used(key.last_used_at)),
        ("Last used IP", or_dash(key.last_used_ip.as_deref())),
        (
            "Revoked",
            key.revoked_at.map_or_else(|| "no".to_owned(), timestamp),
        ),
    ]
}

impl Show for CreatedKey {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let mut rows = key_rows(&self.key);
        // Nothing to say yet about use or revocation of a brand-new key.
        rows.retain(|(label, _)| {
            !matches!(*label, "Status" | "Last used" | "Last used IP" | "Revoked")
        });
        rows.push(("Token", self.token.clone()));
        write_vertical(out, rows, style)
    }
}

/// `whoami`: the API's answer, and the server the CLI asked, which the
/// table shows too. Its JSON is the API's answer alone.
#[derive(Debug)]
pub struct KeyInUse {
    pub who: WhoAmI,
    pub server: String,
}

impl Serialize for KeyInUse {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.who.serialize(serializer)
    }
}

impl Show for KeyInUse {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let who = &self.who;
        write_vertical(
            out,
            vec![
                ("Key ID", who.key.id.clone()),
                ("Name", who.key.name.clone()),
                ("Scopes", scopes(&who.key.scopes)),
                ("Expires", expiry(who.key.expires_at)),
                ("Source IP", who.source_ip.clone()),
                ("Server", self.server.clone()),
            ],
            style,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::scope::Scope;
    use crate::output::tests::render;
    use crate::output::{Format, Output};
    use time::macros::datetime;

    fn key(id: &str, name: &str) -> ApiKey {
        ApiKey {
            id: id.to_owned(),
            name: name.to_owned(),
            scopes: vec![Scope::KeysManage, Scope::UsersRead],
            created_at: datetime!(2026-01-02 03:04:05.678 UTC),
            created_by: None,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            revoked_at: None,
            owner: None,
        }
    }

    fn keys() -> Vec<ApiKey> {
        let mut ci = key("k2ci", "ci-deploy");
        ci.expires_at = Some(datetime!(2127-03-01 00:00:00 +02:00));
        ci.last_used_at = Some(datetime!(2026-02-01 10:00:00.5 UTC));
        ci.last_used_ip = Some("10.0.0.7".to_owned());
        let mut root = key("k1root", "root");
        root.scopes = Scope::ALL.to_vec();
        vec![root, ci]
    }

    #[test]
    fn key_list_as_a_table() {
        let text = render(Output::list(keys()), Format::Table);
        let expected = "\
ID      NAME       STATUS  SCOPES                   EXPIRES               LAST USED             LAST USED IP
k1root  root       live    all                      never                 never                 -
k2ci    ci-deploy  live    keys:manage, users:read  2127-02-28T22:00:00Z  2026-02-01T10:00:00Z  10.0.0.7
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_revoked_column_only_when_a_key_is_revoked() {
        let mut list = keys();
        list[1].revoked_at = Some(datetime!(2026-03-01 00:00:00 UTC));
        let text = render(Output::list(list), Format::Table);
        let header = text.lines().next().expect("header");
        assert!(header.ends_with("REVOKED"), "{text}");
        assert!(text.contains("2026-03-01T00:00:00Z"), "{text}");
    }

    #[test]
    fn expired_and_revoked_keys_are_marked() {
        let mut list = keys();
        list[0].expires_at = Some(datetime!(2020-01-01 00:00:00 UTC));
        list[1].revoked_at = Some(datetime!(2026-03-01 00:00:00 UTC));
        let text = render(Output::list(list), Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        let at = lines[0].find("STATUS").expect("a STATUS column");
        assert_eq!(&lines[1][at..at + 7], "expired", "{text}");
        assert_eq!(&lines[2][at..at + 7], "revoked", "{text}");
    }

    #[test]
    fn key_list_as_csv_has_every_scope_and_the_table_columns() {
        let text = render(Output::list(keys()), Format::Csv);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "id,name,status,scopes,expires,last-used,last-used-ip",
            "{text}"
        );
        assert!(
            lines[1].starts_with("k1root,root,live,\"scim:provision, users:read,"),
            "{text}"
        );
        for name in ApiKey::COLUMNS.iter().map(Column::name) {
            assert!(!name.contains(' '), "{name}");
        }
        assert_eq!(ApiKey::COLUMNS[SCOPES].title, "SCOPES");
        assert_eq!(ApiKey::COLUMNS[REVOKED].title, "REVOKED");
        assert_eq!(ApiKey::COLUMNS[OWNER].title, "OWNER");
    }

    #[test]
    fn key_list_as_json_is_an_array_of_api_keys() {
        let text = render(Output::list(keys()), Format::Json);
        let parsed: Vec<ApiKey> = serde_json::from_str(&text).expect("array of ApiKey");
        assert_eq!(parsed, keys());
        assert!(text.ends_with("]\n"));
    }

    #[test]
    fn a_created_key_shows_its_token() {
        let created = CreatedKey {
            key: key("k3", "okta"),
            token: "scimctl_k3_s3cr3t".to_owned(),
        };
        let text = render(Output::one(created.clone()), Format::Table);
        assert!(
            text.lines().any(|l| l == "Token       scimctl_k3_s3cr3t"),
            "{text}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(Output::one(created), Format::Json)).expect("json");
        assert_eq!(json["token"], "scimctl_k3_s3cr3t");
        assert_eq!(json["id"], "k3");
    }

    #[test]
    fn one_key_vertically() {
        let text = render(Output::one(key("k1", "root")), Format::Table);
        assert!(text.starts_with("ID            k1\n"), "{text}");
        assert!(
            text.contains("Created       2026-01-02T03:04:05Z\n"),
            "{text}"
        );
        assert!(text.contains("Expires       never\n"), "{text}");
    }
}
