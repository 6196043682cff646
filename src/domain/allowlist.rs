//! The IP allowlist's rules: adding, removing and replacing entries behind the
//! lockout guard, and the check every request passes before authentication
//! (parsing CIDRs, which the CLI does too, is `api::cidr`).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde_json::{Value, json};

use super::actor::Actor;
use super::audit::{self, Outcome};
use super::{Error, Result};
use crate::api::allowlist::{
    AddEntriesRequest, AllowlistChange, AllowlistCheck, AllowlistEntry, EntryNote, EntryNoteKind,
    NewEntry, RemoveEntriesRequest, ReplaceAllowlistRequest,
};
use crate::store::allowlist::{self as rows, EntryRow};
use crate::store::{self, Conn, Store, StoreError, Tx};

/// Most entries the list may hold: every request checks the whole list, so it
/// must stay small. Wider CIDRs cover more addresses with fewer entries.
pub const MAX_ENTRIES: usize = 1000;
/// Longest note, in characters.
pub const MAX_NOTE_LEN: usize = 200;
/// The audit action of every change.
const ACTION: &str = "allowlist.update";
const TARGET: &str = "allowlist";

// ---------------------------------------------------------------------------
// Parsing: the CIDR and address rules are wire-level values the CLI checks
// too, so they live in `api::cidr`.

pub use crate::api::cidr::{Cidr, CidrError, IpError, canonical, parse_cidr, parse_ip};

// ---------------------------------------------------------------------------
// Planning (pure, so the rules are testable without a database)

/// Whether `list` lets `ip` in: an empty list allows every address.
pub fn admits(list: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    list.is_empty() || list.iter().any(|net| net.contains(&ip))
}

/// A requested entry, parsed and with its note checked.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requested {
    net: IpNet,
    note: Option<String>,
}

/// Parses every requested entry: the first bad one fails the whole request.
/// Normalisations and repeats go to `notes`; repeats are dropped.
fn prepare(entries: Vec<NewEntry>, notes: &mut Vec<EntryNote>) -> Result<Vec<Requested>> {
    let mut requested: Vec<Requested> = Vec::with_capacity(entries.len());
    for entry in entries {
        let cidr = parse_cidr(&entry.cidr).map_err(|err| Error::Invalid(err.to_string()))?;
        let note = clean_note(entry.note, cidr.net)?;
        normalisation_note(&entry.cidr, cidr, notes);
        if requested.iter().any(|seen| seen.net == cidr.net) {
            notes.push(EntryNote {
                cidr: cidr.net,
                kind: EntryNoteKind::Duplicate,
                message: format!("{} is given more than once: used once", cidr.net),
            });
            continue;
        }
        requested.push(Requested {
            net: cidr.net,
            note,
        });
    }
    Ok(requested)
}

/// Parses the networks of a remove request, as [`prepare`] does.
fn prepare_nets(cidrs: &[String], notes: &mut Vec<EntryNote>) -> Result<Vec<IpNet>> {
    let mut nets: Vec<IpNet> = Vec::with_capacity(cidrs.len());
    for text in cidrs {
        let cidr = parse_cidr(text).map_err(|err| Error::Invalid(err.to_string()))?;
        normalisation_note(text, cidr, notes);
        if nets.contains(&cidr.net) {
            notes.push(EntryNote {
                cidr: cidr.net,
                kind: EntryNoteKind::Duplicate,
                message: format!("{} is given more than once", cidr.net),
            });
        } else {
            nets.push(cidr.net);
        }
    }
    Ok(nets)
}

fn normalisation_note(typed: &str, cidr: Cidr, notes: &mut Vec<EntryNote>) {
    if cidr.normalised {
        notes.push(EntryNote {
            cidr: cidr.net,
            kind: EntryNoteKind::Normalised,
            message: format!("{} has host bits set: stored as {}", typed.trim(), cidr.net),
        });
    }
}

fn clean_note(note: Option<String>, net: IpNet) -> Result<Option<String>> {
    let Some(note) = note else {
        return Ok(None);
    };
    let note = note.trim();
    if note.is_empty() {
        return Ok(None);
    }
    if note.chars().count() > MAX_NOTE_LEN {
        return Err(Error::Invalid(format!(
            "the note for {net} is longer than {MAX_NOTE_LEN} characters"
        )));
    }
    if note.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "the note for {net} contains a control character (a newline or tab); write it on one line"
        )));
    }
    Ok(Some(note.to_owned()))
}

/// Notes on entries that add nothing because another contains them:
/// each of `new` covered by another entry of `after`, and each of `old`
/// that some entry of `new` now covers.
fn coverage_notes(new: &[IpNet], after: &[IpNet], old: &[IpNet]) -> Vec<EntryNote> {
    let mut notes = Vec::new();
    for net in new {
        if let Some(wider) = after
            .iter()
            .filter(|other| *other != net && other.contains(net))
            .max_by_key(|other| other.prefix_len())
        {
            notes.push(EntryNote {
                cidr: *net,
                kind: EntryNoteKind::Covered,
                message: format!("{net} is inside {wider}, which already allows it"),
            });
        }
        for narrower in old
            .iter()
            .filter(|other| *other != net && net.contains(*other))
        {
            notes.push(EntryNote {
                cidr: *net,
                kind: EntryNoteKind::Covers,
                message: format!("{net} contains the entry {narrower}, which now adds nothing"),
            });
        }
    }
    notes
}

/// The lockout guard: refuses a list that shuts out the caller's own
/// address unless forced. Answers the caller's address and whether the list
/// lets it in.
fn guard(actor: &Actor, after: &[IpNet], force: bool) -> Result<(Option<IpAddr>, bool)> {
    let Some(ip) = actor.source_ip.map(canonical) else {
        // The server acting on its own has no address to lock out.
        return Ok((None, true));
    };
    let allowed = admits(after, ip);
    if !allowed && !force {
        return Err(Error::Conflict(format!(
            "this change would lock you out: your address {ip} (as the server sees it) would not \
             be in the IP allowlist. Add an entry that covers it first (`scimctl allowlist add {ip}`), \
             or pass --force (\"force\": true in the API) to make the change anyway"
        )));
    }
    Ok((Some(ip), allowed))
}

// ---------------------------------------------------------------------------
// Operations

/// Every entry, ordered by address (IPv4 first).
pub async fn list(store: &Store) -> Result<Vec<AllowlistEntry>> {
    Ok(load(&mut *store.conn().await?).await?)
}

/// Adds entries. Those already present are left as they are; normalisations,
/// repeats and coverage are reported in the answer's `notes`.
pub async fn add(
    store: &Store,
    actor: &Actor,
    request: AddEntriesRequest,
) -> Result<AllowlistChange> {
    if request.entries.is_empty() {
        return Err(Error::Invalid("give at least one CIDR to add".to_owned()));
    }
    let mut notes = Vec::new();
    let requested = prepare(request.entries, &mut notes)?;

    let mut tx = store.begin().await?;
    rows::lock(&mut tx).await?;
    let current = load(&mut tx).await?;
    let current_nets: Vec<IpNet> = current.iter().map(|entry| entry.cidr).collect();
    let mut added: Vec<Requested> = Vec::new();
    // Answers list networks by address, as the list itself is ordered.
    let mut requested = requested;
    requested.sort_by_key(|entry| entry.net);
    for entry in requested {
        if current_nets.contains(&entry.net) {
            notes.push(EntryNote {
                cidr: entry.net,
                kind: EntryNoteKind::AlreadyPresent,
                message: format!("{} is already in the list: left as it is", entry.net),
            });
        } else {
            added.push(entry);
        }
    }
    let added_nets: Vec<IpNet> = added.iter().map(|entry| entry.net).collect();
    let after: Vec<IpNet> = current_nets.iter().chain(&added_nets).copied().collect();
    check_size(after.len())?;
    notes.extend(coverage_notes(&added_nets, &after, &current_nets));
    if added.is_empty() {
        // Nothing to change, so nothing to audit; the guard has nothing to
        // judge either (the current list let the caller in).
        return Ok(unchanged(actor, current, notes));
    }
    let (caller_ip, caller_allowed) = guard(actor, &after, request.force)?;

    let now = store::now();
    for entry in &added {
        rows::insert(
            &mut tx,
            &EntryRow {
                cidr: entry.net.to_string(),
                note: entry.note.clone(),
                created_at: now,
                created_by: actor.name.clone(),
            },
        )
        .await?;
    }
    let change = Applied {
        added: added.iter().collect(),
        removed: Vec::new(),
        updated: Vec::new(),
        force: request.force,
        notes,
        caller_ip,
        caller_allowed,
    };
    commit(tx, actor, change).await
}

/// Removes entries. Every one must be in the list, or nothing is removed.
pub async fn remove(
    store: &Store,
    actor: &Actor,
    request: RemoveEntriesRequest,
) -> Result<AllowlistChange> {
    if request.cidrs.is_empty() {
        return Err(Error::Invalid(
            "give at least one CIDR to remove".to_owned(),
        ));
    }
    let mut notes = Vec::new();
    let mut removed = prepare_nets(&request.cidrs, &mut notes)?;
    removed.sort();

    let mut tx = store.begin().await?;
    rows::lock(&mut tx).await?;
    let current = load(&mut tx).await?;
    let current_nets: Vec<IpNet> = current.iter().map(|entry| entry.cidr).collect();
    let missing: Vec<String> = removed
        .iter()
        .filter(|net| !current_nets.contains(net))
        .map(
            |net| match current_nets.iter().find(|entry| entry.contains(net)) {
                Some(wider) => format!("{net} is not an entry (it is inside the entry {wider})"),
                None => format!("{net} is not in the IP allowlist"),
            },
        )
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "{}; nothing was removed. `scimctl allowlist list` shows the entries",
            missing.join("; ")
        )));
    }
    let after: Vec<IpNet> = current_nets
        .iter()
        .filter(|net| !removed.contains(net))
        .copied()
        .collect();
    let (caller_ip, caller_allowed) = guard(actor, &after, request.force)?;

    for net in &removed {
        rows::delete(&mut tx, &net.to_string()).await?;
    }
    let change = Applied {
        added: Vec::new(),
        removed,
        updated: Vec::new(),
        force: request.force,
        notes,
        caller_ip,
        caller_allowed,
    };
    commit(tx, actor, change).await
}

/// Empties the list on `conn` (every address allowed again), for recovery
/// on the host; the caller audits it. Returns the entries removed.
pub async fn clear_in(conn: &mut Conn) -> Result<Vec<String>> {
    rows::lock(conn).await?;
    let removed = rows::cidrs(conn).await?;
    for cidr in &removed {
        rows::delete(conn, cidr).await?;
    }
    Ok(removed)
}

/// Replaces the whole list. Entries that stay keep when and by whom they
/// were added; their note becomes the one given.
pub async fn replace(
    store: &Store,
    actor: &Actor,
    request: ReplaceAllowlistRequest,
) -> Result<AllowlistChange> {
    let mut notes = Vec::new();
    let mut wanted = prepare(request.entries, &mut notes)?;
    wanted.sort_by_key(|entry| entry.net);
    check_size(wanted.len())?;
    let wanted_nets: Vec<IpNet> = wanted.iter().map(|entry| entry.net).collect();

    let mut tx = store.begin().await?;
    rows::lock(&mut tx).await?;
    let current = load(&mut tx).await?;
    let current_notes: BTreeMap<IpNet, Option<String>> = current
        .iter()
        .map(|entry| (entry.cidr, entry.note.clone()))
        .collect();
    let removed: Vec<IpNet> = current
        .iter()
        .map(|entry| entry.cidr)
        .filter(|net| !wanted_nets.contains(net))
        .collect();
    let added: Vec<&Requested> = wanted
        .iter()
        .filter(|entry| !current_notes.contains_key(&entry.net))
        .collect();
    let updated: Vec<&Requested> = wanted
        .iter()
        .filter(|entry| {
            current_notes
                .get(&entry.net)
                .is_some_and(|note| *note != entry.note)
        })
        .collect();
    notes.extend(coverage_notes(&wanted_nets, &wanted_nets, &[]));
    if removed.is_empty() && added.is_empty() && updated.is_empty() {
        return Ok(unchanged(actor, current, notes));
    }
    let (caller_ip, caller_allowed) = guard(actor, &wanted_nets, request.force)?;

    for net in &removed {
        rows::delete(&mut tx, &net.to_string()).await?;
    }
    let now = store::now();
    for entry in &added {
        rows::insert(
            &mut tx,
            &EntryRow {
                cidr: entry.net.to_string(),
                note: entry.note.clone(),
                created_at: now,
                created_by: actor.name.clone(),
            },
        )
        .await?;
    }
    for entry in &updated {
        rows::set_note(&mut tx, &entry.net.to_string(), entry.note.as_deref()).await?;
    }
    let change = Applied {
        added,
        removed,
        updated,
        force: request.force,
        notes,
        caller_ip,
        caller_allowed,
    };
    commit(tx, actor, change).await
}

/// Whether `ip_text` is allowed, and by which entry (the most specific).
pub async fn check(store: &Store, ip_text: &str) -> Result<AllowlistCheck> {
    let ip = parse_ip(ip_text).map_err(|err| Error::Invalid(err.to_string()))?;
    let entries = list(store).await?;
    let matched = entries
        .iter()
        .filter(|entry| entry.cidr.contains(&ip))
        .max_by_key(|entry| entry.cidr.prefix_len())
        .cloned();
    Ok(AllowlistCheck {
        ip,
        allowed: entries.is_empty() || matched.is_some(),
        matched,
        allowlist_empty: entries.is_empty(),
    })
}

/// The stored entries as networks, for the check every request passes
/// (see `policy`).
pub(crate) fn stored_nets(cidrs: &[String]) -> Result<Vec<IpNet>, StoreError> {
    cidrs.iter().map(|cidr| stored_net(cidr)).collect()
}

/// A change written in a transaction, before its audit entry.
struct Applied<'a> {
    added: Vec<&'a Requested>,
    removed: Vec<IpNet>,
    updated: Vec<&'a Requested>,
    force: bool,
    notes: Vec<EntryNote>,
    caller_ip: Option<IpAddr>,
    caller_allowed: bool,
}

/// The end of every change: its `allowlist.update` entry in the same
/// transaction, the commit, and the answer with the list as it now is.
async fn commit(mut tx: Tx, actor: &Actor, change: Applied<'_>) -> Result<AllowlistChange> {
    let details = json!({
        "added": change.added.iter().map(|entry| entry_json(entry)).collect::<Vec<_>>(),
        "removed": change.removed.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "updated": change.updated.iter().map(|entry| entry_json(entry)).collect::<Vec<_>>(),
        "force": change.force,
        "caller_allowed": change.caller_allowed,
    });
    audit::record(
        &mut tx,
        actor,
        ACTION,
        Some(TARGET),
        Outcome::Success,
        details,
    )
    .await?;
    let entries = load(&mut tx).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let nets = |entries: &[&Requested]| entries.iter().map(|entry| entry.net).collect();
    Ok(AllowlistChange {
        added: nets(&change.added),
        removed: change.removed,
        updated: nets(&change.updated),
        notes: change.notes,
        entries,
        caller_ip: change.caller_ip,
        caller_allowed: change.caller_allowed,
    })
}

fn check_size(len: usize) -> Result<()> {
    if len > MAX_ENTRIES {
        return Err(Error::Invalid(format!(
            "the allowlist would have {len} entries, more than the {MAX_ENTRIES} allowed; \
             use wider CIDRs to cover more addresses with fewer entries"
        )));
    }
    Ok(())
}

/// The answer to a request that changed nothing.
fn unchanged(
    actor: &Actor,
    entries: Vec<AllowlistEntry>,
    notes: Vec<EntryNote>,
) -> AllowlistChange {
    let nets: Vec<IpNet> = entries.iter().map(|entry| entry.cidr).collect();
    let caller_ip = actor.source_ip.map(canonical);
    AllowlistChange {
        added: Vec::new(),
        removed: Vec::new(),
        updated: Vec::new(),
        notes,
        caller_allowed: caller_ip.is_none_or(|ip| admits(&nets, ip)),
        caller_ip,
        entries,
    }
}

fn entry_json(entry: &Requested) -> Value {
    json!({ "cidr": entry.net.to_string(), "note": entry.note })
}

async fn load(conn: &mut Conn) -> Result<Vec<AllowlistEntry>, StoreError> {
    let mut entries = rows::list(conn)
        .await?
        .into_iter()
        .map(|row| {
            Ok(AllowlistEntry {
                cidr: stored_net(&row.cidr)?,
                note: row.note,
                created_at: row.created_at,
                created_by: row.created_by,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    entries.sort_by_key(|entry| entry.cidr);
    Ok(entries)
}

fn stored_net(text: &str) -> Result<IpNet, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("allowlist entry {text:?} is not a CIDR")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().expect("test CIDR")
    }

    #[test]
    fn host_bits_are_cleared_and_said_so() {
        let cidr = parse_cidr("10.1.2.3/8").expect("valid");
        assert_eq!(cidr.net, net("10.0.0.0/8"));
        assert!(cidr.normalised);
        let cidr = parse_cidr("2001:db8:abcd::1/32").expect("valid");
        assert_eq!(cidr.net, net("2001:db8::/32"));
        assert!(cidr.normalised);
        let mut notes = Vec::new();
        let requested = prepare(
            vec![NewEntry {
                cidr: "10.1.2.3/8".to_owned(),
                note: None,
            }],
            &mut notes,
        )
        .expect("valid");
        assert_eq!(requested[0].net, net("10.0.0.0/8"));
        assert_eq!(notes[0].kind, EntryNoteKind::Normalised);
        assert_eq!(
            notes[0].message,
            "10.1.2.3/8 has host bits set: stored as 10.0.0.0/8"
        );
    }

    #[test]
    fn ipv4_mapped_networks_become_ipv4() {
        let cidr = parse_cidr("::ffff:10.0.0.0/104").expect("valid");
        assert_eq!(cidr.net, net("10.0.0.0/8"));
        assert!(cidr.normalised);
        assert_eq!(
            parse_ip("::ffff:127.0.0.1"),
            Ok("127.0.0.1".parse().expect("ip"))
        );
        assert!(admits(
            &[net("127.0.0.0/8")],
            "::ffff:127.0.0.1".parse().expect("ip")
        ));
    }

    #[test]
    fn duplicates_in_a_request_are_dropped_and_reported() {
        let mut notes = Vec::new();
        let entries = ["10.0.0.0/8", "10.9.9.9/8", "10.0.0.0/8"]
            .map(|cidr| NewEntry {
                cidr: cidr.to_owned(),
                note: None,
            })
            .to_vec();
        let requested = prepare(entries, &mut notes).expect("valid");
        assert_eq!(requested.len(), 1);
        let kinds: Vec<EntryNoteKind> = notes.iter().map(|note| note.kind).collect();
        assert_eq!(
            kinds,
            [
                EntryNoteKind::Normalised,
                EntryNoteKind::Duplicate,
                EntryNoteKind::Duplicate
            ]
        );
    }

    #[test]
    fn one_bad_entry_fails_the_request_naming_it() {
        let mut notes = Vec::new();
        let entries = ["10.0.0.0/8", "10.0.0.300/8"]
            .map(|cidr| NewEntry {
                cidr: cidr.to_owned(),
                note: None,
            })
            .to_vec();
        let err = prepare(entries, &mut notes).expect_err("bad entry");
        assert!(
            matches!(&err, Error::Invalid(message) if message == "10.0.0.300/8 is not a CIDR (octet 300 > 255)"),
            "{err}"
        );
    }

    #[test]
    fn notes_are_trimmed_and_checked() {
        let n = net("10.0.0.0/8");
        assert_eq!(
            clean_note(Some("  office  ".into()), n)
                .expect("ok")
                .as_deref(),
            Some("office")
        );
        assert_eq!(clean_note(Some("   ".into()), n).expect("ok"), None);
        assert!(clean_note(Some("a\nb".into()), n).is_err());
        assert!(clean_note(Some("x".repeat(MAX_NOTE_LEN + 1)), n).is_err());
    }

    #[test]
    fn coverage_is_reported_both_ways() {
        let old = [net("10.1.0.0/16"), net("192.168.0.0/16")];
        let new = [net("10.0.0.0/8"), net("192.168.7.0/24")];
        let after: Vec<IpNet> = old.iter().chain(&new).copied().collect();
        let notes = coverage_notes(&new, &after, &old);
        let said: Vec<(EntryNoteKind, String)> = notes
            .into_iter()
            .map(|note| (note.kind, note.message))
            .collect();
        assert_eq!(
            said,
            [
                (
                    EntryNoteKind::Covers,
                    "10.0.0.0/8 contains the entry 10.1.0.0/16, which now adds nothing".to_owned()
                ),
                (
                    EntryNoteKind::Covered,
                    "192.168.7.0/24 is inside 192.168.0.0/16, which already allows it".to_owned()
                ),
            ]
        );
        // IPv4 and IPv6 never cover each other.
        assert!(
            coverage_notes(
                &[net("::/0")],
                &[net("::/0"), net("10.0.0.0/8")],
                &[net("10.0.0.0/8")]
            )
            .is_empty()
        );
    }

    #[test]
    fn coverage_names_the_narrowest_wider_entry() {
        let list = [net("10.0.0.0/8"), net("10.1.0.0/16"), net("10.1.2.0/24")];
        let notes = coverage_notes(&[net("10.1.2.0/24")], &list, &[]);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].message.contains("inside 10.1.0.0/16"),
            "{}",
            notes[0].message
        );
    }

    #[test]
    fn an_empty_list_allows_everyone() {
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        assert!(admits(&[], ip));
        assert!(!admits(&[net("10.0.0.0/8")], ip));
        assert!(admits(&[net("10.0.0.0/8"), net("203.0.113.0/24")], ip));
        assert!(
            !admits(&[net("::/0")], ip),
            "IPv6 ::/0 does not hold IPv4 addresses"
        );
    }

    fn actor_at(ip: &str) -> Actor {
        Actor {
            source_ip: Some(ip.parse().expect("ip")),
            ..Actor::system()
        }
    }

    #[test]
    fn the_guard_refuses_a_list_without_the_caller_unless_forced() {
        let actor = actor_at("127.0.0.1");
        let without = [net("10.0.0.0/8")];
        let err = guard(&actor, &without, false).expect_err("locked out");
        let message = err.to_string();
        assert!(matches!(err, Error::Conflict(_)));
        assert!(
            message.contains("127.0.0.1") && message.contains("--force"),
            "{message}"
        );
        assert_eq!(
            guard(&actor, &without, true).expect("forced"),
            (Some("127.0.0.1".parse().expect("ip")), false)
        );
        assert_eq!(
            guard(&actor, &[], false).expect("empty allows all"),
            (Some("127.0.0.1".parse().expect("ip")), true)
        );
        assert!(guard(&Actor::system(), &without, false).is_ok());
    }
}
