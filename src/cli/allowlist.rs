//! `scimctl allowlist list|add|remove|replace|check`: the IP allowlist every
//! request to the server's APIs must pass, and the replace file format.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::listing::Limit;
use super::{CliError, Context};
use crate::api::allowlist::{
    AddEntriesRequest, AllowlistChange, NewEntry, RemoveEntriesRequest, ReplaceAllowlistRequest,
};
use crate::api::cidr::parse_cidr;
use crate::domain::allowlist::MAX_NOTE_LEN;
use crate::output::{Answer, Data, Output};

#[derive(Subcommand, Debug)]
pub enum AllowlistCommand {
    /// List the entries of the IP allowlist
    ///
    /// Only addresses inside an entry may use the admin, SCIM and auth APIs;
    /// others get 403 and their attempt is audited. An empty list allows
    /// every address.
    List(Limit),

    /// Add entries: CIDRs (10.0.0.0/8, 2001:db8::/32) or bare addresses
    ///
    /// A bare address means that address alone (/32 or /128). Host bits are
    /// cleared (10.1.2.3/8 becomes 10.0.0.0/8, with a note); entries already
    /// in the list and entries inside another one are reported. Adding to an
    /// empty list starts restricting access, so a change that would shut out
    /// the address you connect from is refused unless --force is given.
    Add(AddArgs),

    /// Remove entries
    ///
    /// Each must be an entry of the list as `scimctl allowlist list` shows
    /// it, or nothing is removed. Asks for confirmation on a terminal;
    /// without one, pass --yes.
    Remove(RemoveArgs),

    /// Replace the whole allowlist with the entries of a file
    ///
    /// One CIDR or address per line, optionally followed by a note:
    ///
    ///   10.0.0.0/8      office VPN
    ///   2001:db8::/32   # data centre
    ///   # a comment; blank lines are ignored too
    ///
    /// A bad line aborts the whole replace, naming its line number, and
    /// nothing changes. An empty file empties the list, which allows every
    /// address. Asks for confirmation on a terminal; without one, pass --yes.
    #[command(verbatim_doc_comment)]
    Replace(ReplaceArgs),

    /// Check whether an address is allowed: exit 0 if it is, 5 if not
    ///
    /// Shows the entry that lets it in, if any.
    Check(CheckArgs),
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// CIDRs or addresses to add
    #[arg(value_name = "CIDR", required = true)]
    pub cidrs: Vec<String>,

    /// A note kept with every entry added, e.g. "office VPN"
    #[arg(long, value_name = "TEXT")]
    pub note: Option<String>,

    #[command(flatten)]
    pub force: ForceArg,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// Entries to remove
    #[arg(value_name = "CIDR", required = true)]
    pub cidrs: Vec<String>,

    #[command(flatten)]
    pub force: ForceArg,
}

#[derive(Args, Debug)]
pub struct ReplaceArgs {
    /// The new list, one entry per line; `-` reads standard input
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub force: ForceArg,
}

#[derive(Args, Debug)]
pub struct ForceArg {
    /// Make the change even if it shuts out the address you connect from
    ///
    /// Your next request from that address is then refused (exit 4). Asks
    /// for confirmation on a terminal; without one, --yes is needed too.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// An IPv4 or IPv6 address, e.g. 10.1.2.3
    #[arg(value_name = "IP")]
    pub ip: String,
}

const FORCE_WARNING: &str = "--force: even if it shuts out your own address";

pub async fn run(ctx: &Context, command: AllowlistCommand) -> anyhow::Result<Output> {
    match command {
        AllowlistCommand::List(limit) => {
            let (client, _) = ctx.client().await?;
            let entries = limit.apply(client.list_allowlist().await?);
            let output = if entries.is_empty() {
                Output::default().note(
                    "The IP allowlist is empty: every address may connect. \
                     Restrict it with `scimctl allowlist add CIDR`.",
                )
            } else {
                Output::default()
            };
            Ok(Output {
                data: Data::list(entries),
                ..output
            })
        }
        AllowlistCommand::Add(args) => add(ctx, args).await,
        AllowlistCommand::Remove(args) => remove(ctx, args).await,
        AllowlistCommand::Replace(args) => replace(ctx, args).await,
        AllowlistCommand::Check(args) => {
            let (client, _) = ctx.client().await?;
            let check = client.check_allowlist(&args.ip).await?;
            let answer = if check.allowed {
                Answer::Yes
            } else {
                Answer::No
            };
            Ok(Output {
                data: Data::one(check),
                answer,
                ..Output::default()
            })
        }
    }
}

async fn add(ctx: &Context, args: AddArgs) -> anyhow::Result<Output> {
    let force = args.force.force;
    let listed = args.cidrs.join(", ");
    // Decide before any request: without a terminal and --yes nothing is sent.
    let ask = force && ctx.must_confirm(&format!("add {listed} with --force"))?;
    let (client, _) = ctx.client().await?;
    if ask {
        ctx.confirm(
            format!("Add {listed} to the IP allowlist ({FORCE_WARNING})?"),
            "nothing was added to the IP allowlist".to_owned(),
        )
        .await?;
    }
    let entries = args
        .cidrs
        .into_iter()
        .map(|cidr| NewEntry {
            cidr,
            note: args.note.clone(),
        })
        .collect();
    let change = client
        .add_allowlist(&AddEntriesRequest { entries, force })
        .await?;
    Ok(change_output(change))
}

async fn remove(ctx: &Context, args: RemoveArgs) -> anyhow::Result<Output> {
    let force = args.force.force;
    let listed = args.cidrs.join(", ");
    let ask = ctx.must_confirm(&format!("remove {listed} from the IP allowlist"))?;
    let (client, _) = ctx.client().await?;
    if ask {
        let mut question = format!("Remove {listed} from the IP allowlist?");
        if force {
            question = format!("Remove {listed} from the IP allowlist ({FORCE_WARNING})?");
        }
        ctx.confirm(
            question,
            "nothing was removed from the IP allowlist".to_owned(),
        )
        .await?;
    }
    let change = client
        .remove_allowlist(&RemoveEntriesRequest {
            cidrs: args.cidrs,
            force,
        })
        .await?;
    Ok(change_output(change))
}

async fn replace(ctx: &Context, args: ReplaceArgs) -> anyhow::Result<Output> {
    let force = args.force.force;
    let shown = args.file.display().to_string();
    let text = read_list(&args.file).with_context(|| format!("cannot read {shown}"))?;
    // A bad line stops everything here, before any request.
    let entries = parse_list(&text)
        .map_err(|problem| CliError::Usage(format!("{shown} {problem}; nothing was changed")))?;
    let count = entries.len();
    let ask = ctx.must_confirm(&format!(
        "replace the IP allowlist with the {count} entries of {shown}"
    ))?;
    let (client, _) = ctx.client().await?;
    if ask {
        let now = client.list_allowlist().await?.len();
        let mut question = format!(
            "Replace the IP allowlist ({now} entries now) with the {count} entries of {shown}?"
        );
        if count == 0 {
            question.push_str(" An empty list allows every address.");
        }
        if force {
            question.push_str(&format!(" ({FORCE_WARNING})"));
        }
        ctx.confirm(question, "the IP allowlist was not replaced".to_owned())
            .await?;
    }
    let change = client
        .replace_allowlist(&ReplaceAllowlistRequest { entries, force })
        .await?;
    Ok(change_output(change))
}

fn read_list(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
}

/// The replace file: one CIDR or address per line, then optionally a note
/// (a leading `#` on it is dropped); `#` lines and blank lines are skipped.
/// Every CIDR is checked here, so the first bad line is named (`line 3:
/// 10.0.0.300/8 is not a CIDR (octet 300 > 255)`) before anything is sent.
pub fn parse_list(text: &str) -> Result<Vec<NewEntry>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cidr, rest) = line
            .split_once(|c: char| c.is_whitespace() || c == '#')
            .map_or((line, ""), |(cidr, _)| {
                // Keep a `#` that ended the CIDR with the note, to strip below.
                (cidr, line[cidr.len()..].trim())
            });
        parse_cidr(cidr).map_err(|err| format!("line {number}: {err}"))?;
        let note = rest.strip_prefix('#').unwrap_or(rest).trim();
        if note.chars().count() > MAX_NOTE_LEN {
            return Err(format!(
                "line {number}: the note is longer than {MAX_NOTE_LEN} characters"
            ));
        }
        entries.push(NewEntry {
            cidr: cidr.to_owned(),
            note: (!note.is_empty()).then(|| note.to_owned()),
        });
    }
    Ok(entries)
}

/// The list after a change, with what happened on stderr: the server's notes
/// (normalised, duplicate, covered), a summary, and a warning when a forced
/// change shut out the caller.
fn change_output(change: AllowlistChange) -> Output {
    let mut output = Output::default();
    for note in &change.notes {
        output = output.note(format!("note: {}", note.message));
    }
    let joined = |nets: &[ipnet::IpNet]| {
        nets.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut done = Vec::new();
    if !change.added.is_empty() {
        done.push(format!("added {}", joined(&change.added)));
    }
    if !change.removed.is_empty() {
        done.push(format!("removed {}", joined(&change.removed)));
    }
    if !change.updated.is_empty() {
        done.push(format!("updated the note of {}", joined(&change.updated)));
    }
    let summary = if done.is_empty() {
        "The IP allowlist is unchanged.".to_owned()
    } else {
        let text = done.join("; ");
        let mut chars = text.chars();
        let first = chars.next().map(|c| c.to_ascii_uppercase());
        format!(
            "{}{}.",
            first.map(String::from).unwrap_or_default(),
            chars.as_str()
        )
    };
    output = output.note(summary);
    if change.entries.is_empty() {
        output = output.note("The IP allowlist is empty: every address may connect.");
    }
    if !change.caller_allowed {
        let ip = change
            .caller_ip
            .map_or_else(|| "your address".to_owned(), |ip| ip.to_string());
        output = output.warn(format!(
            "{ip}, the address you connected from, is no longer allowed: \
             requests from it will be refused"
        ));
    }
    Output {
        data: Data::one(change),
        ..output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cidr: &str, note: Option<&str>) -> NewEntry {
        NewEntry {
            cidr: cidr.to_owned(),
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn the_replace_file_format() {
        let text = "\u{feff}# office networks\n\
                    10.0.0.0/8   office VPN\n\
                    \n\
                    \t2001:db8::/32\t# data centre \n\
                    192.0.2.7#door\n\
                    198.51.100.0/24\r\n";
        assert_eq!(
            parse_list(text),
            Ok(vec![
                entry("10.0.0.0/8", Some("office VPN")),
                entry("2001:db8::/32", Some("data centre")),
                entry("192.0.2.7", Some("door")),
                entry("198.51.100.0/24", None),
            ])
        );
        assert_eq!(parse_list(""), Ok(Vec::new()));
        assert_eq!(parse_list("# nothing\n\n"), Ok(Vec::new()));
    }

    #[test]
    fn a_bad_line_is_named_by_its_number() {
        let text = "10.0.0.0/8\n# comment\n10.0.0.300/8 lab\n192.0.2.0/24\n";
        assert_eq!(
            parse_list(text),
            Err("line 3: 10.0.0.300/8 is not a CIDR (octet 300 > 255)".to_owned())
        );
        let long = format!("10.0.0.0/8 {}", "x".repeat(MAX_NOTE_LEN + 1));
        assert!(
            parse_list(&long)
                .expect_err("long note")
                .starts_with("line 1: the note")
        );
    }
}
