//! Times as people type them: a duration counted from now (`90d`,
//! `"1h 30m"`) or an RFC 3339 time. `--expires`, `since` and `until` follow
//! the same rules in the CLI and the server.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Which way a duration points from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `1h` means an hour ago (`since`, `until`).
    Ago,
    /// `90d` means ninety days from now (`--expires`).
    FromNow,
}

impl Direction {
    fn forms(self) -> &'static str {
        match self {
            Direction::Ago => {
                "a duration ago such as 30m, 1h, 7d or \"1h 30m\", \
                 or an RFC 3339 time such as 2026-01-31T09:00:00Z"
            }
            Direction::FromNow => {
                "a duration from now such as 90d or 12h, \
                 or an RFC 3339 time such as 2027-01-31T00:00:00Z"
            }
        }
    }
}

/// Reads `value` relative to `now`. The error names the value and the forms
/// accepted.
pub fn parse(
    value: &str,
    now: OffsetDateTime,
    direction: Direction,
) -> Result<OffsetDateTime, String> {
    let trimmed = value.trim();
    if let Ok(at) = OffsetDateTime::parse(trimmed, &Rfc3339) {
        return Ok(at);
    }
    let duration = humantime::parse_duration(trimmed)
        .map_err(|_| format!("{value:?} is not a time: use {}", direction.forms()))?;
    let out_of_range = || format!("{value:?} reaches further than a date can");
    let duration = Duration::try_from(duration).map_err(|_| out_of_range())?;
    match direction {
        Direction::Ago => now.checked_sub(duration),
        Direction::FromNow => now.checked_add(duration),
    }
    .ok_or_else(out_of_range)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00:00 UTC);

    #[test]
    fn durations_count_either_way_from_now() {
        assert_eq!(
            parse("1h 30m", NOW, Direction::Ago),
            Ok(datetime!(2026-06-01 10:30:00 UTC))
        );
        assert_eq!(
            parse("7d", NOW, Direction::Ago),
            Ok(datetime!(2026-05-25 12:00:00 UTC))
        );
        assert_eq!(
            parse("90d", NOW, Direction::FromNow),
            Ok(datetime!(2026-08-30 12:00:00 UTC))
        );
    }

    #[test]
    fn rfc3339_is_taken_as_given() {
        let at = datetime!(2026-01-31 08:00:00 UTC);
        for direction in [Direction::Ago, Direction::FromNow] {
            assert_eq!(parse("2026-01-31T09:00:00+01:00", NOW, direction), Ok(at));
        }
    }

    #[test]
    fn bad_values_are_named_with_the_forms() {
        for bad in ["yesterday", "", "2026-01-31", "9x", "-1h"] {
            for (direction, example) in [(Direction::Ago, "1h"), (Direction::FromNow, "90d")] {
                let err = parse(bad, NOW, direction).expect_err(bad);
                assert!(err.contains(&format!("{bad:?}")), "{err}");
                assert!(err.contains("RFC 3339") && err.contains(example), "{err}");
            }
        }
        assert!(parse("100000000y", NOW, Direction::Ago).is_err());
        assert!(parse("100000000y", NOW, Direction::FromNow).is_err());
    }
}
