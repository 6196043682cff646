//! `doctor --ranges FILE`: the IdP's published egress ranges, and whether
//! the allowlist admits every address in them.

use ipnet::IpNet;

use crate::cli::CliError;

/// Reads a ranges file: one CIDR (or bare address) per line; `#` starts a
/// comment; blank lines are skipped. A bad line is a usage error naming it,
/// before anything is sent.
pub fn read(path: &str) -> Result<Vec<IpNet>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        CliError::Usage(format!(
            "--ranges {path}: cannot read it ({err}); give a file with one CIDR per line"
        ))
    })?;
    parse(&text, path)
}

pub fn parse(text: &str, source: &str) -> Result<Vec<IpNet>, CliError> {
    let mut ranges = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        let range = parse_range(entry).ok_or_else(|| {
            CliError::Usage(format!(
                "{source} line {}: {entry:?} is not a CIDR range or address \
                 (e.g. 203.0.113.0/24 or 2001:db8::/32); fix it and run doctor again",
                index + 1
            ))
        })?;
        ranges.push(range.trunc());
    }
    if ranges.is_empty() {
        return Err(CliError::Usage(format!(
            "{source}: no ranges in it; put one CIDR per line (see docs/troubleshooting.md \
             for where Okta and Microsoft publish theirs)"
        )));
    }
    Ok(ranges)
}

/// A CIDR, or a bare address as its /32 or /128 (as the allowlist reads it).
pub fn parse_range(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// The ranges not wholly inside the allowlist `entries`; none when the
/// allowlist is empty (it then admits everyone). A range counts as covered
/// when several entries cover it together: the entries are aggregated
/// into maximal CIDR blocks first, and an aligned block inside the union
/// of the entries always lies inside one of those.
pub fn uncovered(ranges: &[IpNet], entries: &[IpNet]) -> Vec<IpNet> {
    if entries.is_empty() {
        return Vec::new();
    }
    let merged = IpNet::aggregate(&entries.to_vec());
    ranges
        .iter()
        .filter(|range| !merged.iter().any(|entry| entry.contains(*range)))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|text| parse_range(text).expect("valid"))
            .collect()
    }

    #[test]
    fn comments_blank_lines_and_bare_addresses() {
        let ranges = parse(
            "# Okta egress\n203.0.113.0/24  # cell 1\n\n198.51.100.7\n2001:db8::/32\n",
            "r.txt",
        )
        .expect("parses");
        assert_eq!(
            ranges,
            nets(&["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/32"])
        );
        let err = parse("203.0.113.0/24\n10.0.0.0/33\n", "r.txt")
            .expect_err("bad")
            .to_string();
        assert!(err.starts_with("r.txt line 2: \"10.0.0.0/33\""), "{err}");
        assert!(parse("# nothing\n", "r.txt").is_err());
    }

    #[test]
    fn a_range_is_covered_by_one_entry_or_by_several_together() {
        let ranges = nets(&[
            "10.0.0.0/24",
            "10.0.2.0/24",
            "192.0.2.0/24",
            "2001:db8::/48",
        ]);
        let entries = nets(&[
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.2.0/23",
            "2001:db8::/32",
            "192.0.2.0/25",
        ]);
        assert_eq!(uncovered(&ranges, &entries), nets(&["192.0.2.0/24"]));
        assert!(
            uncovered(&ranges, &[]).is_empty(),
            "an empty allowlist admits all"
        );
        // An IPv4 entry never covers an IPv6 range.
        assert_eq!(
            uncovered(&nets(&["2001:db8::/48"]), &nets(&["0.0.0.0/0"])),
            nets(&["2001:db8::/48"])
        );
    }
}
