//! Reading an IdP's user export (CSV) for `drift`: which columns are the
//! userName, active and groups under Okta's, Entra ID's and the plain
//! names, what their values mean, and where a file is wrong.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

use crate::cli::CliError;
use crate::text::user_name_key;

/// One user as the export has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpUser {
    /// As the export spells it.
    pub user_name: String,
    pub active: bool,
    /// `None` when the export has no groups column.
    pub groups: Option<BTreeSet<String>>,
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
}

/// The users of an export, by the key that makes userNames equal on the
/// server (RFC 8265 UsernameCaseMapped: `Alice` and `alice` are one user).
#[derive(Debug, Default)]
pub struct Export {
    pub users: HashMap<String, IdpUser>,
    /// Whether the file has a groups column: without one, memberships are
    /// not compared.
    pub has_groups: bool,
}

/// Header names for each field, in order of preference, compared after
/// [`normalize_header`]: plain `userName,active,groups`; Okta's user export
/// (`Username`, `Status`; `login` in API-derived exports); Entra ID's
/// "Download users" (`userPrincipalName`, `accountEnabled`).
const USER_NAME_HEADERS: &[&str] = &["username", "userprincipalname", "login"];
const ACTIVE_HEADERS: &[&str] = &["active", "accountenabled", "status"];
const GROUPS_HEADERS: &[&str] = &["groups"];

/// Values that mean active: booleans in their usual spellings (Entra's
/// `True`), and Okta statuses of an account that exists and stays assigned
/// (Okta pushes `active: true` for them).
const ACTIVE_VALUES: &[&str] = &[
    "true",
    "yes",
    "1",
    "enabled",
    "active",
    "provisioned",
    "pending_user_action",
    "recovery",
    "password_reset",
    "password_expired",
    "locked_out",
];

/// Values that mean inactive: Okta deactivates the app user when it
/// suspends or deactivates the person; a staged person is not pushed yet.
const INACTIVE_VALUES: &[&str] = &[
    "false",
    "no",
    "0",
    "disabled",
    "inactive",
    "staged",
    "suspended",
    "deprovisioned",
    "deactivated",
];

/// `User principal name`, `user_name`, `Username` all read `username`.
fn normalize_header(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Reads `path` (`-` for standard input). Every problem is a usage error
/// naming the file, the line and column, and what to do: nothing is sent
/// to the server before the whole file reads.
pub fn read(path: &str) -> Result<Export, CliError> {
    if path == "-" {
        return parse(std::io::stdin().lock(), "standard input");
    }
    let file = std::fs::File::open(path).map_err(|err| {
        CliError::Usage(format!(
            "--from {path}: cannot read it ({err}); give the path of the CSV export"
        ))
    })?;
    parse(file, path)
}

/// Parses an export from `reader`; `source` names it in errors.
pub fn parse(reader: impl Read, source: &str) -> Result<Export, CliError> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let bad = |line: Option<u64>, text: String| {
        CliError::Usage(match line {
            Some(line) => format!("{source} line {line}: {text}"),
            None => format!("{source}: {text}"),
        })
    };
    let headers = csv
        .headers()
        .map_err(|err| bad(Some(1), format!("not a CSV header ({err})")))?
        .clone();
    let names: Vec<String> = headers.iter().map(normalize_header).collect();
    let find = |wanted: &[&str]| {
        wanted
            .iter()
            .find_map(|want| names.iter().position(|name| name == want))
    };
    let missing = |field: &str, accepted: &str| {
        bad(
            Some(1),
            format!(
                "no {field} column; the header must name one of {accepted} \
                 (found: {})",
                headers.iter().collect::<Vec<_>>().join(", ")
            ),
        )
    };
    let user_name_at = find(USER_NAME_HEADERS).ok_or_else(|| {
        missing(
            "userName",
            "userName, Username (Okta), userPrincipalName (Entra ID) or login",
        )
    })?;
    let active_at = find(ACTIVE_HEADERS).ok_or_else(|| {
        missing(
            "active",
            "active, Status (Okta) or accountEnabled (Entra ID)",
        )
    })?;
    let groups_at = find(GROUPS_HEADERS);

    let mut export = Export {
        users: HashMap::new(),
        has_groups: groups_at.is_some(),
    };
    for record in csv.records() {
        let record = record.map_err(|err| {
            let line = err.position().map(csv::Position::line);
            bad(line, record_problem(&err))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let cell = |at: usize| record.get(at).unwrap_or_default();
        let user_name = cell(user_name_at);
        if user_name.is_empty() {
            return Err(bad(
                Some(line),
                format!(
                    "column {:?} is empty; every user needs a userName",
                    &headers[user_name_at]
                ),
            ));
        }
        let active = parse_active(cell(active_at)).ok_or_else(|| {
            bad(
                Some(line),
                format!(
                    "column {:?}: {:?} is not an active state; use true or false \
                     (also yes/no, 1/0, enabled/disabled, or an Okta status such as \
                     ACTIVE, SUSPENDED, DEPROVISIONED)",
                    &headers[active_at],
                    cell(active_at)
                ),
            )
        })?;
        let groups = groups_at.map(|at| split_groups(cell(at)));
        let key = user_name_key(user_name);
        let user = IdpUser {
            user_name: user_name.to_owned(),
            active,
            groups,
            line,
        };
        if let Some(earlier) = export.users.insert(key, user) {
            return Err(bad(
                Some(line),
                format!(
                    "{user_name:?} is also on line {} (userNames compare without case); \
                     keep one row per user",
                    earlier.line
                ),
            ));
        }
    }
    Ok(export)
}

/// What is wrong with a row the CSV reader refused, and what to do.
fn record_problem(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "{len} fields where the header has {expected_len}; quote a value that holds \
             a comma (\"eng, ops\") and run drift again"
        ),
        csv::ErrorKind::Utf8 { .. } => {
            "not UTF-8 text; save the export as UTF-8 CSV and run drift again".to_owned()
        }
        _ => format!("cannot read it as CSV ({err}); fix the file and run drift again"),
    }
}

/// The meaning of an active cell, case-insensitively (`True`, `ACTIVE`,
/// `Locked out`); `None` for anything else.
fn parse_active(value: &str) -> Option<bool> {
    let value: String = value
        .trim()
        .chars()
        .map(|c| if matches!(c, ' ' | '-') { '_' } else { c })
        .flat_map(char::to_lowercase)
        .collect();
    if ACTIVE_VALUES.contains(&value.as_str()) {
        Some(true)
    } else if INACTIVE_VALUES.contains(&value.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// A groups cell: names separated by `;`, or by `,` when the cell has no
/// `;` (so a name with a comma in it is written with `;` separators).
/// Names are trimmed; empty ones are dropped.
fn split_groups(cell: &str) -> BTreeSet<String> {
    let separator = if cell.contains(';') { ';' } else { ',' };
    cell.split(separator)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<Export, CliError> {
        parse(text.as_bytes(), "export.csv")
    }

    fn error(text: &str) -> String {
        parse_text(text).expect_err("refused").to_string()
    }

    #[test]
    fn okta_entra_and_plain_headers_are_read() {
        let okta = parse_text(
            "id,Username,First name,Status\n00u1,Alice@Example.com,Alice,ACTIVE\n\
             00u2,bob@example.com,Bob,SUSPENDED\n00u3,carol@example.com,Carol,LOCKED_OUT\n",
        )
        .expect("okta");
        assert!(!okta.has_groups);
        let alice = &okta.users["alice@example.com"];
        assert_eq!(
            (alice.user_name.as_str(), alice.active, alice.line),
            ("Alice@Example.com", true, 2)
        );
        assert!(!okta.users["bob@example.com"].active);
        assert!(okta.users["carol@example.com"].active);

        let entra = parse_text(
            "\u{feff}userPrincipalName,displayName,accountEnabled\nalice@example.com,Alice,True\n\
             bob@example.com,Bob,False\n",
        )
        .expect("entra");
        assert!(entra.users["alice@example.com"].active);
        assert!(!entra.users["bob@example.com"].active);

        let plain =
            parse_text("userName,active,groups\nalice,true,\"eng, ops\"\nbob,false,\"a;b,c\"\n")
                .expect("plain");
        assert!(plain.has_groups);
        assert_eq!(
            plain.users["alice"].groups,
            Some(BTreeSet::from(["eng".to_owned(), "ops".to_owned()]))
        );
        // With a `;`, commas are part of the names.
        assert_eq!(
            plain.users["bob"].groups,
            Some(BTreeSet::from(["a".to_owned(), "b,c".to_owned()]))
        );
    }

    #[test]
    fn the_plain_name_wins_over_an_idp_alias() {
        let export = parse_text("Status,active,userName\nSUSPENDED,true,alice\n").expect("parses");
        assert!(export.users["alice"].active);
    }

    #[test]
    fn a_malformed_file_names_the_line_the_column_and_the_fix() {
        let err = error("email,active\na@example.com,true\n");
        assert!(
            err.contains("export.csv line 1: no userName column"),
            "{err}"
        );
        assert!(err.contains("userPrincipalName"), "{err}");
        let err = error("userName,enabled\nalice,true\n");
        assert!(err.contains("no active column"), "{err}");
        let err = error("userName,active\nalice,true\nbob,maybe\n");
        assert!(
            err.contains("line 3: column \"active\": \"maybe\""),
            "{err}"
        );
        assert!(err.contains("use true or false"), "{err}");
        let err = error("userName,active\nalice,true\nALICE,false\n");
        assert!(
            err.contains("line 3") && err.contains("also on line 2"),
            "{err}"
        );
        let err = error("userName,active\n,true\n");
        assert!(err.contains("line 2") && err.contains("is empty"), "{err}");
        let err = error("userName,active\nalice,true,extra\n");
        assert!(
            err.contains("line 2: 3 fields where the header has 2"),
            "{err}"
        );
        let err = read("/nonexistent/export.csv")
            .expect_err("unreadable")
            .to_string();
        assert!(
            err.contains("--from /nonexistent/export.csv: cannot read it"),
            "{err}"
        );
    }
}
