//! CIDRs and IP addresses as the allowlist accepts them: parsing,
//! normalising, and a precise diagnosis of text that is neither. Shared by
//! the CLI (which checks a file before sending it) and the server.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// A CIDR as typed, normalised: host bits cleared, an IPv4-mapped IPv6
/// network written as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub net: IpNet,
    /// `net` differs from what was typed (host bits were set, or it was an
    /// IPv4-mapped IPv6 network). A bare address is not "normalised".
    pub normalised: bool,
}

/// Text that is not a CIDR, and exactly what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input} is not a CIDR ({problem})")]
pub struct CidrError {
    pub input: String,
    pub problem: String,
}

/// Text that is not an IP address, and exactly what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input} is not an IP address ({problem})")]
pub struct IpError {
    pub input: String,
    pub problem: String,
}

/// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
/// ipnet's own error says only "invalid IP address syntax", so a failure
/// is diagnosed here: which octet or group, which prefix length.
pub fn parse_cidr(input: &str) -> Result<Cidr, CidrError> {
    let text = input.trim();
    let fail = |problem: String| CidrError {
        input: shown(text),
        problem,
    };
    if text.is_empty() {
        return Err(fail(
            "it is empty; give one such as 10.0.0.0/8 or 2001:db8::/32".to_owned(),
        ));
    }
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr = parse_addr(addr_text).map_err(fail)?;
    let (max, family) = match addr {
        IpAddr::V4(_) => (32, "IPv4"),
        IpAddr::V6(_) => (128, "IPv6"),
    };
    let prefix = match prefix_text {
        None => max,
        Some(prefix) => parse_prefix(prefix, max, family).map_err(fail)?,
    };
    let net = IpNet::new(addr, prefix)
        .map_err(|_| fail(format!("prefix length {prefix} > {max} for {family}")))?;
    let truncated = net.trunc();
    let (net, was_mapped) = unmap(truncated);
    Ok(Cidr {
        net,
        normalised: truncated.addr() != addr || was_mapped,
    })
}

/// Parses one address (no prefix length), IPv4-mapped IPv6 written as IPv4.
pub fn parse_ip(input: &str) -> Result<IpAddr, IpError> {
    let text = input.trim();
    let fail = |problem: String| IpError {
        input: shown(text),
        problem,
    };
    if text.is_empty() {
        return Err(fail(
            "it is empty; give one such as 10.1.2.3 or 2001:db8::1".to_owned(),
        ));
    }
    if text.contains('/') {
        return Err(fail(
            "it is a network; give a single address such as 10.1.2.3".to_owned(),
        ));
    }
    parse_addr(text).map(canonical).map_err(fail)
}

/// The form addresses are compared in: an IPv4-mapped IPv6 address
/// (`::ffff:10.1.2.3`, what a dual-stack socket reports for an IPv4 client)
/// is the IPv4 address it maps.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Quotes text whose problem would otherwise be invisible (empty, spaces).
fn shown(text: &str) -> String {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        format!("{text:?}")
    } else {
        text.to_owned()
    }
}

fn parse_addr(text: &str) -> Result<IpAddr, String> {
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(addr);
    }
    if text.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".to_owned());
    }
    if text.is_empty() {
        return Err("the address before / is missing".to_owned());
    }
    Err(if text.contains(':') || text.contains('[') {
        diagnose_v6(text)
    } else {
        diagnose_v4(text)
    })
}

fn parse_prefix(text: &str, max: u8, family: &str) -> Result<u8, String> {
    if text.is_empty() {
        return Err("the prefix length after / is missing".to_owned());
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("prefix length {text:?} is not a number"));
    }
    match text.parse::<u8>() {
        Ok(prefix) if prefix <= max => Ok(prefix),
        _ => Err(format!("prefix length {text} > {max} for {family}")),
    }
}

/// What is wrong with text that is meant to be an IPv4 address.
fn diagnose_v4(text: &str) -> String {
    let octets: Vec<&str> = text.split('.').collect();
    if octets.len() == 1 {
        return if text.bytes().all(|b| b.is_ascii_digit()) {
            format!("an IPv4 address has 4 octets, found 1; write it in full, e.g. {text}.0.0.0")
        } else {
            "expected an address such as 10.1.2.3 or 2001:db8::1; host names are not accepted"
                .to_owned()
        };
    }
    for (index, octet) in octets.iter().enumerate() {
        if octet.is_empty() {
            return format!("octet {} is empty", index + 1);
        }
        if !octet.bytes().all(|b| b.is_ascii_digit()) {
            return format!("octet {octet:?} is not a number");
        }
        // Short-circuits before parsing, so "99999999999" cannot overflow.
        if octet.len() > 3 || octet.parse::<u16>().is_ok_and(|value| value > 255) {
            return format!("octet {octet} > 255");
        }
        if octet.len() > 1 && octet.starts_with('0') {
            return format!("octet {octet} has a leading zero, which could mean octal");
        }
    }
    if octets.len() != 4 {
        return format!("an IPv4 address has 4 octets, found {}", octets.len());
    }
    "not a valid IPv4 address".to_owned()
}

/// What is wrong with text that is meant to be an IPv6 address.
fn diagnose_v6(text: &str) -> String {
    if text.starts_with('[') || text.ends_with(']') {
        return "remove the brackets: write 2001:db8::1, not [2001:db8::1]".to_owned();
    }
    if let Some((host, port)) = text.rsplit_once(':')
        && host.parse::<Ipv4Addr>().is_ok()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return format!("remove the port: write {host}");
    }
    if let Some(at) = text.find('%') {
        return format!("zone index {:?} is not allowed", &text[at..]);
    }
    if text.contains(":::") {
        return "\":::\" is not valid; \"::\" stands for any run of zero groups".to_owned();
    }
    let compressed = text.matches("::").count();
    if compressed > 1 {
        return "\"::\" may appear only once".to_owned();
    }
    if text.starts_with(':') && !text.starts_with("::") {
        return "it starts with a single \":\"".to_owned();
    }
    if text.ends_with(':') && !text.ends_with("::") {
        return "it ends with a single \":\"".to_owned();
    }
    let groups: Vec<&str> = text.split(':').collect();
    let mut count = 0;
    for (index, group) in groups.iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        if index == groups.len() - 1 && group.contains('.') {
            if group.parse::<Ipv4Addr>().is_err() {
                return format!("in the embedded IPv4 part {group}: {}", diagnose_v4(group));
            }
            count += 2;
            continue;
        }
        if !group.bytes().all(|b| b.is_ascii_hexdigit()) {
            return format!("group {group:?} is not hexadecimal");
        }
        if group.len() > 4 {
            return format!("group {group} has more than 4 hex digits");
        }
        count += 1;
    }
    if compressed == 0 && count != 8 {
        return format!(
            "an IPv6 address has 8 groups, found {count}; \"::\" stands for a run of zero groups"
        );
    }
    if compressed == 1 && count > 7 {
        return format!("{count} groups and \"::\" make more than 8 groups");
    }
    "not a valid IPv6 address".to_owned()
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 network
/// it maps, since client addresses are compared in their IPv4 form.
fn unmap(net: IpNet) -> (IpNet, bool) {
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && let Ok(mapped) = IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96)
    {
        return (mapped, true);
    }
    (net, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().expect("test CIDR")
    }

    fn err(input: &str) -> String {
        parse_cidr(input).expect_err(input).to_string()
    }

    #[test]
    fn cidrs_and_bare_addresses_parse() {
        assert_eq!(
            parse_cidr("10.0.0.0/8"),
            Ok(Cidr {
                net: net("10.0.0.0/8"),
                normalised: false
            })
        );
        assert_eq!(
            parse_cidr(" 192.168.1.7 ").expect("bare v4").net,
            net("192.168.1.7/32")
        );
        assert_eq!(
            parse_cidr("2001:db8::/32").expect("v6").net,
            net("2001:db8::/32")
        );
        assert_eq!(
            parse_cidr("2001:db8::1").expect("bare v6").net,
            net("2001:db8::1/128")
        );
        assert_eq!(
            parse_cidr("0.0.0.0/0").expect("everything").net,
            net("0.0.0.0/0")
        );
        assert!(!parse_cidr("::1").expect("loopback").normalised);
    }

    #[test]
    fn bad_ipv4_names_the_problem() {
        assert_eq!(
            err("10.0.0.300/8"),
            "10.0.0.300/8 is not a CIDR (octet 300 > 255)"
        );
        assert_eq!(
            err("10.0.0/8"),
            "10.0.0/8 is not a CIDR (an IPv4 address has 4 octets, found 3)"
        );
        assert_eq!(
            err("10.0.0.0.1"),
            "10.0.0.0.1 is not a CIDR (an IPv4 address has 4 octets, found 5)"
        );
        assert_eq!(err("10..0.1"), "10..0.1 is not a CIDR (octet 2 is empty)");
        assert_eq!(
            err("10.a.0.1"),
            "10.a.0.1 is not a CIDR (octet \"a\" is not a number)"
        );
        assert_eq!(
            err("10.0.0.99999999999"),
            "10.0.0.99999999999 is not a CIDR (octet 99999999999 > 255)"
        );
        assert!(err("010.0.0.1").contains("octet 010 has a leading zero"));
        assert!(err("10/8").contains("found 1; write it in full, e.g. 10.0.0.0"));
        assert!(err("localhost").contains("host names are not accepted"));
    }

    #[test]
    fn bad_prefixes_name_the_problem() {
        assert_eq!(
            err("10.0.0.0/33"),
            "10.0.0.0/33 is not a CIDR (prefix length 33 > 32 for IPv4)"
        );
        assert_eq!(
            err("2001:db8::/129"),
            "2001:db8::/129 is not a CIDR (prefix length 129 > 128 for IPv6)"
        );
        assert_eq!(
            err("10.0.0.0/999999"),
            "10.0.0.0/999999 is not a CIDR (prefix length 999999 > 32 for IPv4)"
        );
        assert_eq!(
            err("10.0.0.0/"),
            "10.0.0.0/ is not a CIDR (the prefix length after / is missing)"
        );
        assert_eq!(
            err("10.0.0.0/x"),
            "10.0.0.0/x is not a CIDR (prefix length \"x\" is not a number)"
        );
        assert_eq!(
            err("10.0.0.0/+8"),
            "10.0.0.0/+8 is not a CIDR (prefix length \"+8\" is not a number)"
        );
        assert_eq!(
            err("10.0.0.0/8/9"),
            "10.0.0.0/8/9 is not a CIDR (prefix length \"8/9\" is not a number)"
        );
        assert_eq!(
            err("/8"),
            "/8 is not a CIDR (the address before / is missing)"
        );
    }

    #[test]
    fn bad_ipv6_names_the_problem() {
        assert!(err("2001:db8::12345").contains("group 12345 has more than 4 hex digits"));
        assert!(err("2001:dg8::").contains("group \"dg8\" is not hexadecimal"));
        assert!(err("2001::db8::1").contains("\"::\" may appear only once"));
        assert!(err("1:2:3:4:5:6:7").contains("8 groups, found 7"));
        assert!(err("1:2:3:4:5:6:7:8:9").contains("8 groups, found 9"));
        assert!(err("1:2:3:4::5:6:7:8").contains("more than 8 groups"));
        assert!(err("fe80::1%eth0").contains("zone index \"%eth0\""));
        assert!(err("[2001:db8::1]").contains("remove the brackets"));
        assert!(err("::ffff:10.0.0.256").contains("octet 256 > 255"));
        assert!(err(":1:2:3:4:5:6:7").contains("single \":\""));
        assert!(err("10.0.0.1:8080").contains("remove the port: write 10.0.0.1"));
    }

    #[test]
    fn empty_and_spaced_input_is_quoted() {
        assert!(err("").starts_with("\"\" is not a CIDR (it is empty"));
        assert_eq!(
            err("10.0.0.0 /8"),
            "\"10.0.0.0 /8\" is not a CIDR (it contains whitespace)"
        );
    }

    #[test]
    fn single_addresses_parse_for_check() {
        assert_eq!(parse_ip("10.1.2.3"), Ok("10.1.2.3".parse().expect("ip")));
        assert_eq!(
            parse_ip("10.0.0.300").expect_err("bad").to_string(),
            "10.0.0.300 is not an IP address (octet 300 > 255)"
        );
        assert!(
            parse_ip("10.0.0.0/8")
                .expect_err("network")
                .to_string()
                .contains("is a network")
        );
    }
}
