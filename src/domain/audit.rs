//! The audit log's rules: writing an entry (who did what to which target,
//! with what outcome) inside the change's transaction, and reading entries
//! back by filter, page by page.

use serde_json::Value;
use time::OffsetDateTime;

use super::actor::Actor;
use super::{Error, Result};
use crate::api::Page;
use crate::api::audit::{self as wire, AuditActor, AuditEntry, AuditQuery};
use crate::store::audit::{ActionMatch, EntryRow, Filter, Order};
use crate::store::{Conn, Store, StoreError, audit, users};

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Success,
    Denied,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Success, Outcome::Denied];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
        }
    }
}

/// Appends an entry on `conn`: pass the transaction of the change so the two
/// commit together.
pub async fn record(
    conn: &mut Conn,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    outcome: Outcome,
    details: Value,
) -> Result<(), StoreError> {
    let entry = audit::NewEntry {
        at: OffsetDateTime::now_utc(),
        actor_key_id: actor.key_id.as_deref(),
        actor_name: &actor.name,
        source_ip: actor.source_ip.map(|ip| ip.to_string()),
        request_id: actor.request_id.as_deref(),
        action,
        target,
        outcome: outcome.as_str(),
        details,
    };
    audit::append(conn, &entry).await
}

/// One page of entries matching `query`: newest first, or oldest first
/// after an id when `query.after` is set. A query that cannot be used is
/// [`Error::Invalid`] naming the value and what would be accepted.
pub async fn list(store: &Store, query: &AuditQuery) -> Result<Page<AuditEntry>> {
    let mut request = Request::parse(query, OffsetDateTime::now_utc())?;
    let mut conn = store.conn().await?;
    if let Some(target) = non_empty(&query.target) {
        request.filter.targets = targets(&mut conn, target).await?;
    }
    // One more than asked tells whether another page follows.
    let mut rows =
        audit::list(&mut conn, &request.filter, request.order, request.limit + 1).await?;
    let more = rows.len() > request.limit as usize;
    rows.truncate(request.limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|row| row.id.to_string()))
        .flatten();
    Ok(Page {
        items: rows.into_iter().map(to_api).collect(),
        next_cursor,
    })
}

/// What `target` matches: itself (a key id, a path, a group's name), and,
/// when it names a user by id or userName (any case, by the same key as
/// everywhere), that user's id and userName: entries about a user name them
/// by userName as it was spelled then, and operators type either.
async fn targets(conn: &mut Conn, target: String) -> Result<Vec<String>> {
    let mut targets = vec![target];
    if let Some(user) = users::resolve(conn, &targets[0]).await? {
        for also in [user.id, user.user_name] {
            if !targets.contains(&also) {
                targets.push(also);
            }
        }
    }
    Ok(targets)
}

/// A checked [`AuditQuery`].
#[derive(Debug)]
struct Request {
    filter: Filter,
    order: Order,
    limit: u32,
}

impl Request {
    fn parse(query: &AuditQuery, now: OffsetDateTime) -> Result<Request> {
        let time = |name: &str, value: &Option<String>| {
            value
                .as_deref()
                .map(|value| wire::parse_time_bound(value, now).map_err(|err| invalid(name, err)))
                .transpose()
        };
        let since = time("since", &query.since)?;
        let until = time("until", &query.until)?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(Error::Invalid(format!(
                "since ({}) must be before until ({}): nothing can match",
                crate::api::rfc3339(since),
                crate::api::rfc3339(until)
            )));
        }
        let outcome = query
            .outcome
            .as_deref()
            .map(|value| {
                Outcome::ALL
                    .into_iter()
                    .find(|outcome| outcome.as_str() == value)
                    .map(|outcome| outcome.as_str().to_owned())
                    .ok_or_else(|| {
                        invalid(
                            "outcome",
                            format!(
                                "{value:?} is not an outcome: use {}",
                                Outcome::ALL.map(Outcome::as_str).join(" or ")
                            ),
                        )
                    })
            })
            .transpose()?;
        let limit = match query.limit.as_deref() {
            None => wire::DEFAULT_LIMIT,
            Some(value) => value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|limit| (1..=wire::MAX_LIMIT).contains(limit))
                .ok_or_else(|| {
                    invalid(
                        "limit",
                        format!(
                            "{value:?} is not a page size: use a number from 1 to {}",
                            wire::MAX_LIMIT
                        ),
                    )
                })?,
        };
        let cursor = query
            .cursor
            .as_deref()
            .map(|value| {
                id(value).ok_or_else(|| {
                    invalid(
                        "cursor",
                        format!(
                            "{value:?} is not a cursor: pass back the next_cursor of the previous page"
                        ),
                    )
                })
            })
            .transpose()?;
        let after = query
            .after
            .as_deref()
            .map(|value| {
                id(value).ok_or_else(|| {
                    invalid(
                        "after",
                        format!("{value:?} is not an entry id: use the id of an entry, or 0"),
                    )
                })
            })
            .transpose()?;
        let order = match after {
            // The cursor is the last id of the previous page, in either order.
            Some(after) => Order::OldestFirst {
                after: cursor.map_or(after, |cursor| cursor.max(after)),
            },
            None => Order::NewestFirst { before: cursor },
        };
        Ok(Request {
            filter: Filter {
                since,
                until,
                actor: non_empty(&query.actor),
                action: non_empty(&query.action).map(action_match),
                // Resolved against the users in `list`.
                targets: Vec::new(),
                outcome,
            },
            order,
            limit,
        })
    }
}

fn invalid(name: &str, message: String) -> Error {
    Error::Invalid(format!("bad {name}: {message}"))
}

/// An entry id as a query carries it: a whole number, 0 or more.
fn id(value: &str) -> Option<i64> {
    value.trim().parse::<i64>().ok().filter(|id| *id >= 0)
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// `user.*` matches every action starting with `user.`; anything else
/// matches itself only.
fn action_match(action: String) -> ActionMatch {
    match action.strip_suffix('*') {
        Some(prefix) if prefix.ends_with('.') => ActionMatch::Prefix(prefix.to_owned()),
        // A bare `*` means every action: no condition would say the same,
        // but an empty prefix matches all.
        Some("") => ActionMatch::Prefix(String::new()),
        _ => ActionMatch::Exact(action),
    }
}

pub(crate) fn to_api(row: EntryRow) -> AuditEntry {
    AuditEntry {
        id: row.id,
        time: row.at,
        actor: AuditActor {
            key_id: row.actor_key_id,
            name: row.actor_name,
        },
        source_ip: row.source_ip,
        request_id: row.request_id,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        details: row.details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);

    fn parse(query: AuditQuery) -> Result<Request> {
        Request::parse(&query, NOW)
    }

    fn message(err: Error) -> String {
        match err {
            Error::Invalid(message) => message,
            other => panic!("not Invalid: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_newest_first_one_hundred() {
        let request = parse(AuditQuery::default()).expect("valid");
        assert_eq!(request.order, Order::NewestFirst { before: None });
        assert_eq!(request.limit, 100);
        assert!(request.filter.since.is_none() && request.filter.action.is_none());
    }

    #[test]
    fn times_durations_and_actions_are_read() {
        let request = parse(AuditQuery {
            since: Some("2h".into()),
            until: Some("2026-06-01T11:30:00Z".into()),
            action: Some("user.*".into()),
            actor: Some("  ".into()),
            limit: Some("1000".into()),
            ..AuditQuery::default()
        })
        .expect("valid");
        assert_eq!(request.filter.since, Some(datetime!(2026-06-01 10:00 UTC)));
        assert_eq!(request.filter.until, Some(datetime!(2026-06-01 11:30 UTC)));
        assert_eq!(
            request.filter.action,
            Some(ActionMatch::Prefix("user.".into()))
        );
        assert_eq!(request.filter.actor, None, "blank means no filter");
        assert_eq!(request.limit, 1000);
    }

    #[test]
    fn actions_without_a_dot_star_match_exactly() {
        assert_eq!(
            action_match("key.create".into()),
            ActionMatch::Exact("key.create".into())
        );
        assert_eq!(
            action_match("user*".into()),
            ActionMatch::Exact("user*".into())
        );
        assert_eq!(action_match("*".into()), ActionMatch::Prefix(String::new()));
    }

    #[test]
    fn after_switches_to_oldest_first_and_the_cursor_continues_it() {
        let request = parse(AuditQuery {
            after: Some("7".into()),
            ..AuditQuery::default()
        })
        .expect("valid");
        assert_eq!(request.order, Order::OldestFirst { after: 7 });
        let request = parse(AuditQuery {
            after: Some("7".into()),
            cursor: Some("20".into()),
            ..AuditQuery::default()
        })
        .expect("valid");
        assert_eq!(request.order, Order::OldestFirst { after: 20 });
        let request = parse(AuditQuery {
            cursor: Some("20".into()),
            ..AuditQuery::default()
        })
        .expect("valid");
        assert_eq!(request.order, Order::NewestFirst { before: Some(20) });
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (
                AuditQuery {
                    since: Some("yesterday".into()),
                    ..AuditQuery::default()
                },
                ["since", "\"yesterday\"", "RFC 3339"],
            ),
            (
                AuditQuery {
                    until: Some("soon".into()),
                    ..AuditQuery::default()
                },
                ["until", "\"soon\"", "30m"],
            ),
            (
                AuditQuery {
                    limit: Some("1001".into()),
                    ..AuditQuery::default()
                },
                ["limit", "\"1001\"", "1 to 1000"],
            ),
            (
                AuditQuery {
                    limit: Some("0".into()),
                    ..AuditQuery::default()
                },
                ["limit", "\"0\"", "1 to 1000"],
            ),
            (
                AuditQuery {
                    outcome: Some("failed".into()),
                    ..AuditQuery::default()
                },
                ["outcome", "\"failed\"", "success or denied"],
            ),
            (
                AuditQuery {
                    cursor: Some("abc".into()),
                    ..AuditQuery::default()
                },
                ["cursor", "\"abc\"", "next_cursor"],
            ),
            (
                AuditQuery {
                    after: Some("-3".into()),
                    ..AuditQuery::default()
                },
                ["after", "\"-3\"", "id"],
            ),
            (
                AuditQuery {
                    since: Some("1h".into()),
                    until: Some("2h".into()),
                    ..AuditQuery::default()
                },
                ["since", "until", "before"],
            ),
        ];
        for (query, words) in cases {
            let text = message(parse(query.clone()).expect_err("invalid"));
            for word in words {
                assert!(text.contains(word), "{query:?}: {text} lacks {word}");
            }
        }
    }
}
