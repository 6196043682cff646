//! What `--help` and the man pages teach beyond the flags: examples for
//! every command that does something, and the program's environment, files
//! and exit statuses. One table each, apart from the argument definitions,
//! so `help` shows and `man` renders the same text.

use std::fmt::Write as _;

use clap::{Command, CommandFactory as _, FromArgMatches as _};

use super::Cli;

/// One example: a command line, and what it does.
pub struct Example {
    pub line: &'static str,
    pub does: &'static str,
}

const fn ex(line: &'static str, does: &'static str) -> Example {
    Example { line, does }
}

/// Examples by command path (`"users list"`), for every visible command
/// that runs something (a test holds every such command to 1–3).
pub const EXAMPLES: &[(&str, &[Example])] = &[
    (
        "server",
        &[
            ex(
                "scimctl server --dev",
                "A throwaway server; prints its address and a root key",
            ),
            ex(
                "scimctl server --database sqlite:///var/lib/scimctl/scimctl.db",
                "Serve from an SQLite file, made with its directory if missing",
            ),
            ex(
                "scimctl server --config /etc/scimctl/scimctl.toml",
                "Serve with a settings file",
            ),
        ],
    ),
    (
        "server recover",
        &[
            ex(
                "scimctl server recover --database sqlite:///var/lib/scimctl/scimctl.db --new-admin-key",
                "Locked out: mint a key with every scope, on the server's host",
            ),
            ex(
                "scimctl server recover --config /etc/scimctl/scimctl.toml --clear-allowlist",
                "Let every address connect again",
            ),
        ],
    ),
    (
        "login",
        &[
            ex(
                "scimctl login --addr https://scim.example.com",
                "Store a key for that server (asks for it)",
            ),
            ex(
                "printf '%s\\n' \"$KEY\" | scimctl login --addr https://scim.example.com --profile prod --token-stdin",
                "In a script: a named profile, the key from standard input",
            ),
        ],
    ),
    (
        "logout",
        &[ex(
            "scimctl logout --profile prod",
            "Forget the key stored for the prod profile",
        )],
    ),
    (
        "whoami",
        &[
            ex(
                "scimctl whoami",
                "The key in use: its name, scopes and owner",
            ),
            ex("scimctl whoami -o json", "The same, for a script"),
        ],
    ),
    (
        "auth status",
        &[
            ex(
                "scimctl auth status",
                "Which profile, server and key are in use, and whether they work",
            ),
            ex(
                "scimctl auth status --profile prod -o json",
                "The same for the prod profile, for a script (exit 4 if refused, 1 if unreachable)",
            ),
        ],
    ),
    (
        "profiles list",
        &[
            ex(
                "scimctl profiles list",
                "Every profile, its address and whether a key is stored; * marks the one in use",
            ),
            ex("scimctl profiles list -o json", "The same, for a script"),
        ],
    ),
    (
        "keys create",
        &[
            ex(
                "scimctl keys create --name okta-prod --scope scim:provision",
                "A key for an identity provider; the token is printed once",
            ),
            ex(
                "scimctl keys create --name ci-audit --scope users:read,audit:read --expires 90d",
                "A read-only key that stops working in 90 days",
            ),
            ex(
                "scimctl keys create --name alice-laptop --scope users:read --owner alice",
                "A personal key: it dies with alice's access",
            ),
        ],
    ),
    (
        "keys list",
        &[
            ex("scimctl keys list", "Live keys, newest first"),
            ex(
                "scimctl keys list --all -o csv --columns id,name,status,expires > keys.csv",
                "Every key and whether it still works (live, expired, revoked), for a spreadsheet",
            ),
            ex(
                "scimctl keys list --jq '.[].id'",
                "Just the ids, one per line (strings print raw), ready for xargs",
            ),
        ],
    ),
    (
        "keys show",
        &[
            ex("scimctl keys show 4f3a9c0d2b7e1a65", "One key by id"),
            ex(
                "scimctl keys show 'nightly report'",
                "By name, when one live key has it",
            ),
        ],
    ),
    (
        "keys revoke",
        &[
            ex(
                "scimctl keys revoke 4f3a9c0d2b7e1a65 --yes",
                "Revoke a key without asking",
            ),
            ex(
                "scimctl keys revoke 4f3a9c0d2b7e1a65 --force",
                "Even the key in use",
            ),
        ],
    ),
    (
        "provisioning status",
        &[ex(
            "scimctl provisioning status",
            "Whether SCIM may create users",
        )],
    ),
    (
        "provisioning enable",
        &[ex(
            "scimctl provisioning enable",
            "Let the IdP create users",
        )],
    ),
    (
        "provisioning disable",
        &[ex(
            "scimctl provisioning disable",
            "New users are refused (403); updates still apply",
        )],
    ),
    (
        "provisioning breaker status",
        &[
            ex(
                "scimctl provisioning breaker status",
                "Open or closed, the count in the window, the held users",
            ),
            ex(
                "scimctl provisioning breaker status -o json",
                "The same, for a script or an alert",
            ),
        ],
    ),
    (
        "provisioning breaker release",
        &[
            ex(
                "scimctl provisioning breaker release --dry-run",
                "List the held deprovisionings; change nothing",
            ),
            ex(
                "scimctl provisioning breaker release --yes",
                "The burst was real: apply them and close the breaker",
            ),
        ],
    ),
    (
        "provisioning breaker reset",
        &[ex(
            "scimctl provisioning breaker reset --yes",
            "A bad sync: discard them, the users stay active",
        )],
    ),
    (
        "provisioning breaker set",
        &[ex(
            "scimctl provisioning breaker set --threshold 50 --percent 5 --window 30m",
            "Open after 50 users, or 5% if more, in 30 minutes",
        )],
    ),
    (
        "deprovisioning status",
        &[ex(
            "scimctl deprovisioning status",
            "Whether deactivation removes access at once",
        )],
    ),
    (
        "deprovisioning enable",
        &[ex(
            "scimctl deprovisioning enable",
            "IdP deactivations remove access at once",
        )],
    ),
    (
        "deprovisioning disable",
        &[ex(
            "scimctl deprovisioning disable",
            "Hold IdP deactivations as pending for an operator",
        )],
    ),
    (
        "default-role show",
        &[ex("scimctl default-role show", "The role new users get")],
    ),
    (
        "default-role set",
        &[ex(
            "scimctl default-role set member",
            "New users get member",
        )],
    ),
    (
        "roles list",
        &[ex("scimctl roles list", "Every role and its permissions")],
    ),
    (
        "roles create",
        &[ex(
            "scimctl roles create support --permission users:read --permission groups:read",
            "A role that can read users and groups",
        )],
    ),
    (
        "roles delete",
        &[ex(
            "scimctl roles delete support --yes",
            "Delete a custom role",
        )],
    ),
    (
        "mappings list",
        &[ex(
            "scimctl mappings list",
            "Which group or SCIM role grants which role",
        )],
    ),
    (
        "mappings add",
        &[
            ex(
                "scimctl mappings add --group Engineering --role support --dry-run",
                "Who would gain the role, changing nothing",
            ),
            ex(
                "scimctl mappings add --group Engineering --role support",
                "Everyone in the IdP group Engineering gets support",
            ),
            ex(
                "scimctl mappings add --scim-role Admin --role admin --yes",
                "Entra ID's app role Admin grants admin",
            ),
        ],
    ),
    (
        "mappings remove",
        &[ex(
            "scimctl mappings remove 5f0c2a3e-9d7b-4c1e-8a6f-2b4d9e8c7a10 --dry-run",
            "Who would lose the role, changing nothing",
        )],
    ),
    (
        "allowlist list",
        &[ex(
            "scimctl allowlist list",
            "The entries, with their notes",
        )],
    ),
    (
        "allowlist add",
        &[
            ex(
                "scimctl allowlist add 127.0.0.0/8 ::1 --note loopback",
                "Admit the host itself",
            ),
            ex(
                "scimctl allowlist add 203.0.113.0/24 --note \"okta egress\"",
                "Admit an IdP's addresses",
            ),
        ],
    ),
    (
        "allowlist remove",
        &[ex(
            "scimctl allowlist remove 203.0.113.0/24 --yes",
            "Remove an entry without asking",
        )],
    ),
    (
        "allowlist replace",
        &[
            ex(
                "scimctl allowlist replace --file allowlist.txt --yes",
                "The whole list from a file",
            ),
            ex(
                "printf '127.0.0.0/8\\n10.0.0.0/8\\n' | scimctl allowlist replace --file - --yes",
                "From standard input",
            ),
        ],
    ),
    (
        "allowlist check",
        &[ex(
            "scimctl allowlist check 10.1.2.3",
            "Exit 0 if that address may connect, 5 if not",
        )],
    ),
    (
        "users list",
        &[
            ex(
                "scimctl users list --pending",
                "Deactivated by the IdP, access not yet removed",
            ),
            ex(
                "scimctl users list --filter 'userName sw \"a\" and active eq true' --limit 20",
                "At most 20 active users whose userName starts with a (a SCIM filter)",
            ),
            ex(
                "scimctl users list -o json > users.json",
                "Everyone, streamed as one JSON array",
            ),
        ],
    ),
    (
        "users show",
        &[
            ex(
                "scimctl users show alice",
                "Roles, groups, emails and state, by userName or id",
            ),
            ex("scimctl users show alice -o json", "The same, for a script"),
        ],
    ),
    (
        "users create",
        &[
            ex(
                "scimctl users create alice --email alice@example.com --role auditor --group eng",
                "A user made by hand, before an IdP is connected, in the existing group eng",
            ),
            ex(
                "scimctl users create bob --group ops --create-groups",
                "Creating the group ops if it does not exist yet",
            ),
        ],
    ),
    (
        "users grant",
        &[
            ex(
                "scimctl users grant alice auditor",
                "Give alice the auditor role by hand",
            ),
            ex(
                "scimctl users grant alice auditor support --dry-run",
                "What giving both would change; changes nothing",
            ),
        ],
    ),
    (
        "users revoke",
        &[
            ex(
                "scimctl users revoke alice auditor",
                "Take away the auditor role given by hand; says if a mapping still gives it",
            ),
            ex(
                "scimctl users revoke alice auditor -o json",
                "The same, for a script: each role's outcome and the roles left",
            ),
        ],
    ),
    (
        "users deprovision",
        &[
            ex(
                "scimctl users deprovision alice --dry-run",
                "What would be removed; changes nothing",
            ),
            ex(
                "scimctl users deprovision alice --reason \"left the company\" --yes",
                "Remove every access at once, without asking",
            ),
        ],
    ),
    (
        "users verify",
        &[ex(
            "scimctl users verify alice && echo offboarded",
            "Exit 0 only when no access is left",
        )],
    ),
    (
        "users why",
        &[ex(
            "scimctl users why alice",
            "Each role with where it comes from, each group with how it came",
        )],
    ),
    (
        "users reactivate",
        &[ex(
            "scimctl users reactivate alice --reason \"rehired\" --yes",
            "Undo a deprovisioning: lock lifted, default role back",
        )],
    ),
    (
        "users protect",
        &[ex(
            "scimctl users protect breakglass@example.com",
            "The IdP can no longer deprovision, delete or demote this account",
        )],
    ),
    (
        "users unprotect",
        &[ex(
            "scimctl users unprotect breakglass@example.com",
            "Let the IdP's next deactivation through",
        )],
    ),
    (
        "groups list",
        &[
            ex("scimctl groups list", "Every group and its member count"),
            ex("scimctl groups list -o json", "The same, for a script"),
        ],
    ),
    (
        "groups show",
        &[ex(
            "scimctl groups show Engineering",
            "A group and its members, by name or id",
        )],
    ),
    (
        "locks list",
        &[ex(
            "scimctl locks list",
            "Every user whose credentials are blocked",
        )],
    ),
    (
        "locks remove",
        &[ex(
            "scimctl locks remove 0f0e6a2c-5b1d-4c8e-9f3a-2d7b1e4c6a90 --yes",
            "Lift a lock",
        )],
    ),
    (
        "sessions issue",
        &[ex(
            "scimctl sessions issue alice --ttl 1h",
            "A session token for alice (what an SSO front door does)",
        )],
    ),
    (
        "introspect",
        &[
            ex(
                "scimctl introspect \"$SESSION\"",
                "Exit 0 if the token is live, 5 if not",
            ),
            ex(
                "printf '%s\\n' \"$SESSION\" | scimctl introspect -",
                "Read the token from standard input",
            ),
        ],
    ),
    (
        "audit list",
        &[
            ex(
                "scimctl audit list --since 1h",
                "What happened in the last hour",
            ),
            ex(
                "scimctl audit list --action 'user.*' --target alice",
                "Everything that happened to alice",
            ),
            ex(
                "scimctl audit list --follow",
                "Print new entries as they are recorded",
            ),
        ],
    ),
    (
        "scim log",
        &[
            ex(
                "scimctl scim log --failed --since 1h",
                "Every refused SCIM request of the last hour",
            ),
            ex(
                "scimctl scim log --user alice@example.com --status 4xx",
                "What the IdP sent about one user and was refused",
            ),
        ],
    ),
    (
        "scim explain",
        &[ex(
            "scimctl scim explain 6817364e-330e-497d-a5bc-8a65b2fd74ee",
            "Why the IdP got that answer, and what to do about it",
        )],
    ),
    (
        "scim replay",
        &[ex(
            "scimctl scim replay 6817364e-330e-497d-a5bc-8a65b2fd74ee --dry-run",
            "What that request would change if the IdP sent it again now",
        )],
    ),
    (
        "scim show",
        &[ex(
            "scimctl scim show 6817364e-330e-497d-a5bc-8a65b2fd74ee",
            "One exchange, whole and redacted, with its audit entries",
        )],
    ),
    (
        "drift",
        &[
            ex(
                "scimctl drift --from okta-users.csv",
                "What differs between Okta's user export and the directory; exit 5 if anything",
            ),
            ex(
                "scimctl drift --from entra-users.csv -o json > drift.json",
                "The same from Entra ID's \"Download users\" file, for a script",
            ),
        ],
    ),
    (
        "doctor",
        &[
            ex(
                "printf '%s\\n' \"$OKTA_KEY\" | scimctl doctor --idp okta --token-stdin --ranges okta-ranges.txt",
                "Go-live checks for Okta with its SCIM key and egress ranges; exit 5 if any fails",
            ),
            ex(
                "scimctl doctor --idp entra",
                "The same for Entra ID, asking for the key (hidden)",
            ),
            ex(
                "printf '%s\\n' \"$KEY\" | scimctl doctor --token-stdin -o json",
                "Every check as JSON: name, passed, severity, message, fix",
            ),
        ],
    ),
    (
        "completions",
        &[ex(
            "scimctl completions bash > ~/.local/share/bash-completion/completions/scimctl",
            "Install bash completion",
        )],
    ),
];

/// The environment variables the CLI reads.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SCIMCTL_ADDR",
        "Server address, as --addr; empty means unset",
    ),
    (
        "SCIMCTL_PROFILE",
        "Profile, as --profile; empty means unset",
    ),
    (
        "SCIMCTL_TOKEN",
        "API token; wins over the one `scimctl login` stored, and is sent to whatever \
         address is in use (a stored key only goes to its profile's address); empty means unset",
    ),
    ("NO_COLOR", "Set to anything to turn colours off"),
    (
        "COMPLETE",
        "Set by the dynamic completion scripts (`source <(COMPLETE=bash scimctl)`): \
         print completions instead of running; empty or 0 means unset",
    ),
];

/// The files the CLI reads and writes.
pub const FILES: &[(&str, &str)] = &[
    (
        "$XDG_CONFIG_HOME/scimctl/config.toml (~/.config/scimctl on Linux)",
        "Profiles ([profiles.NAME] addr = \"URL\"), default_profile, credential_store (keyring or file)",
    ),
    (
        "$XDG_CONFIG_HOME/scimctl/credentials.toml",
        "API keys, where no OS keyring is available (mode 0600)",
    ),
];

/// What each exit status means.
pub const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "success"),
    (
        "1",
        "error: the server, the network, an address that is not a scimctl server (a web \
         page, the SCIM base URL, https to plain HTTP), or something unexpected",
    ),
    (
        "2",
        "usage: a bad flag or value, or a confirmation that needs --yes",
    ),
    (
        "3",
        "not found (scimctl's own answer that there is no such thing)",
    ),
    (
        "4",
        "not logged in, key rejected, or permission denied; also a stored key that --addr or \
         SCIMCTL_ADDR would send to another server than the one it was stored for (nothing is sent)",
    ),
    ("5", "a check answered \"no\""),
];

/// The program's sections, in the order help and man pages show them.
pub const SECTIONS: [(&str, &[(&str, &str)]); 3] = [
    ("Environment", ENVIRONMENT),
    ("Files", FILES),
    ("Exit status", EXIT_STATUS),
];

/// The examples of the command at `path` (`"users list"`; `""` is the
/// program itself).
pub fn examples(path: &str) -> &'static [Example] {
    EXAMPLES
        .iter()
        .find(|(command, _)| *command == path)
        .map_or(&[], |(_, examples)| examples)
}

/// The command line with this module's text in every help: what [`parse`]
/// parses with and what the docs are generated from.
pub fn command() -> Command {
    with_examples(Cli::command(), "").after_long_help(sections_text())
}

/// The process's arguments, parsed against [`command`] (so `--help` shows
/// the examples).
pub fn parse() -> Result<Cli, clap::Error> {
    let mut matches = command().try_get_matches()?;
    super::check_jq_format(&matches)?;
    Cli::from_arg_matches_mut(&mut matches)
}

fn with_examples(mut command: Command, path: &str) -> Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        command = command.mut_subcommand(&name, |sub| with_examples(sub, &sub_path));
    }
    let examples = examples(path);
    if examples.is_empty() {
        command
    } else {
        command.after_help(examples_text(examples))
    }
}

fn examples_text(examples: &[Example]) -> String {
    let mut text = String::from("Examples:");
    for example in examples {
        let _ = write!(text, "\n  {}\n      {}", example.does, example.line);
    }
    text
}

fn sections_text() -> String {
    let mut text = String::new();
    for (title, entries) in SECTIONS {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(title);
        text.push(':');
        let width = entries
            .iter()
            .map(|(name, _)| name.len())
            .max()
            .unwrap_or(0);
        for (name, meaning) in entries {
            if name.len() > 20 {
                let _ = write!(text, "\n  {name}\n      {meaning}");
            } else {
                let _ = write!(text, "\n  {name:width$}  {meaning}");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command that runs something (a leaf, or one that runs
    /// without a subcommand), with its path.
    fn runnable(command: &Command, path: &str, found: &mut Vec<String>) {
        let visible: Vec<&Command> = command
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .collect();
        if !path.is_empty() && (visible.is_empty() || !command.is_subcommand_required_set()) {
            found.push(path.to_owned());
        }
        for sub in visible {
            let sub_path = if path.is_empty() {
                sub.get_name().to_owned()
            } else {
                format!("{path} {}", sub.get_name())
            };
            runnable(sub, &sub_path, found);
        }
    }

    #[test]
    fn every_command_that_runs_has_one_to_three_examples() {
        let mut commands = Vec::new();
        runnable(&Cli::command(), "", &mut commands);
        for path in &commands {
            let count = examples(path).len();
            assert!(
                (1..=3).contains(&count),
                "`scimctl {path}` has {count} examples"
            );
        }
        for (path, _) in EXAMPLES {
            assert!(
                commands.iter().any(|command| command == path),
                "examples for unknown `{path}`"
            );
        }
    }

    #[test]
    fn every_example_parses() {
        for (path, examples) in EXAMPLES {
            for example in *examples {
                // The scimctl part of a line (before a pipe's `|`, or a
                // redirect or `&&` after it).
                let line = example.line.rsplit("| ").next().expect("a line");
                let line = line.split(['>', '&']).next().expect("a line");
                let words =
                    shlex::split(line).unwrap_or_else(|| panic!("quotes balance in {line}"));
                assert_eq!(words.first().map(String::as_str), Some("scimctl"), "{line}");
                let parsed = command().try_get_matches_from(&words);
                assert!(
                    parsed.is_ok(),
                    "`{}` (for {path}): {}",
                    example.line,
                    parsed.unwrap_err()
                );
                let expected: Vec<&str> = path.split(' ').collect();
                assert_eq!(
                    &words[1..=expected.len()],
                    expected.as_slice(),
                    "{line} is an example of {path}"
                );
            }
        }
    }

    #[test]
    fn help_shows_the_examples_and_the_sections() {
        let mut command = command();
        let help = command
            .find_subcommand_mut("users")
            .and_then(|users| users.find_subcommand_mut("verify"))
            .expect("users verify")
            .render_help()
            .to_string();
        assert!(
            help.contains(
                "Examples:\n  Exit 0 only when no access is left\n      scimctl users verify alice"
            ),
            "{help}"
        );
        let long = command.render_long_help().to_string();
        for heading in [
            "Environment:",
            "Files:",
            "Exit status:",
            "  4  not logged in",
        ] {
            assert!(long.contains(heading), "{heading} in {long}");
        }
    }
}
