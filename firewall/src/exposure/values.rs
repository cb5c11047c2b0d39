//! Values of the modelled dimensions: protocol codes and names, conntrack states, ports,
//! addresses (as numbers and CIDR text), and interface tokens.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::space::{Iv, Ivs};

/// Conntrack states, by index in the `CT` dimension.
pub(crate) const CT_STATES: [&str; 5] = ["new", "established", "related", "invalid", "untracked"];

/// Protocols with ports, by internal code `0..=4` (so that "has ports" is one interval).
const PORT_PROTOS: [u8; 5] = [6, 17, 132, 33, 136];
/// Largest internal code of a protocol with ports.
pub(crate) const PORT_PROTOS_MAX: u128 = 4;
/// Codes 5 and 6: ICMP and ICMPv6; every other protocol number follows in numeric order.
const FIRST_OTHER_CODE: u128 = 7;

/// Protocol numbers and their `/etc/protocols` names (what nft prints).
const PROTO_NAMES: [(&str, u8); 40] = [
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("sctp", 132),
    ("mobility-header", 135),
    ("udplite", 136),
    ("hip", 139),
    ("shim6", 140),
];

/// IPv6 extension headers: `ip6 nexthdr` names one of these when the packet carries one.
pub(crate) const IPV6_EXTENSION_HEADERS: [u8; 10] = [0, 43, 44, 51, 60, 135, 139, 140, 253, 254];

/// The internal code of protocol number `n`.
pub(crate) fn proto_code(n: u8) -> u128 {
    if let Some(i) = PORT_PROTOS.iter().position(|&p| p == n) {
        return i as u128;
    }
    match n {
        1 => 5,
        58 => 6,
        _ => {
            let below = PORT_PROTOS.iter().filter(|&&p| p < n).count() as u128
                + u128::from(n > 1)
                + u128::from(n > 58);
            FIRST_OTHER_CODE + u128::from(n) - below
        }
    }
}

/// The protocol number of an internal code.
pub(crate) fn proto_number(code: u128) -> u8 {
    (0..=255u8).find(|&n| proto_code(n) == code).unwrap_or(255)
}

/// A protocol number from nft's JSON (a name or a number).
pub(crate) fn proto_value(v: &str) -> Option<u8> {
    let name = match v {
        "icmpv6" => "ipv6-icmp",
        other => other,
    };
    PROTO_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .or_else(|| v.parse().ok())
}

/// The set of internal codes of these protocol numbers.
pub(crate) fn proto_set(numbers: impl IntoIterator<Item = u8>) -> Ivs {
    Ivs::from_unsorted(
        numbers
            .into_iter()
            .map(|n| (proto_code(n), proto_code(n)))
            .collect(),
    )
}

/// The codes of the protocols with ports.
pub(crate) fn port_protos() -> Ivs {
    Ivs::one(0, PORT_PROTOS_MAX)
}

/// Output names of a protocol set: the well-known names, `"other"` when the set holds every
/// protocol without a name of its own here, else the remaining numbers.
pub(crate) fn proto_names(set: &Ivs) -> Vec<String> {
    const NAMED: [(&str, u8); 7] = [
        ("tcp", 6),
        ("udp", 17),
        ("sctp", 132),
        ("dccp", 33),
        ("udplite", 136),
        ("icmp", 1),
        ("icmpv6", 58),
    ];
    let mut out: Vec<String> = NAMED
        .iter()
        .filter(|(_, n)| set.contains(proto_code(*n)))
        .map(|(name, _)| (*name).to_owned())
        .collect();
    let others = Ivs::one(FIRST_OTHER_CODE, 255);
    let present = set.intersect(&others);
    if present == others {
        out.push("other".to_owned());
    } else {
        let mut numbers: Vec<u8> = present
            .as_slice()
            .iter()
            .flat_map(|&(lo, hi)| lo..=hi)
            .map(proto_number)
            .collect();
        numbers.sort_unstable();
        out.extend(numbers.into_iter().map(|n| {
            PROTO_NAMES
                .iter()
                .find(|(_, p)| *p == n)
                .map_or_else(|| n.to_string(), |(name, _)| (*name).to_owned())
        }));
    }
    out
}

/// A port from nft's JSON: nft prints numbers; a few service names are accepted too.
pub(crate) fn port_value(v: &str) -> Option<u128> {
    let n: u16 = match v {
        "ssh" => 22,
        "smtp" => 25,
        "domain" => 53,
        "http" => 80,
        "https" => 443,
        other => other.parse::<u16>().ok()?,
    };
    Some(u128::from(n))
}

/// An address of the family with `bits`-bit addresses, as a number.
pub(crate) fn addr_value(v: &str, bits: u32) -> Option<u128> {
    if bits == 32 {
        v.parse::<Ipv4Addr>().ok().map(|a| u128::from(u32::from(a)))
    } else {
        v.parse::<Ipv6Addr>().ok().map(u128::from)
    }
}

/// The interval of `addr/len`; host bits are ignored.
pub(crate) fn prefix_interval(addr: u128, len: u32, bits: u32) -> Option<Iv> {
    if len > bits {
        return None;
    }
    let host = bits - len;
    let mask = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    Some((addr & !mask, (addr & !mask) | mask))
}

/// The fewest CIDR blocks covering exactly the set (ascending).
pub(crate) fn cidrs(set: &Ivs, bits: u32) -> Vec<String> {
    let mut out = Vec::new();
    for &(lo, hi) in set.as_slice() {
        let mut cur = lo;
        loop {
            // The largest aligned block starting at `cur` that ends at or before `hi`.
            let mut size_bits = if cur == 0 {
                bits
            } else {
                cur.trailing_zeros().min(bits)
            };
            while size_bits > 0 {
                let last = cur.checked_add(block_mask(size_bits));
                if matches!(last, Some(l) if l <= hi) {
                    break;
                }
                size_bits -= 1;
            }
            out.push(format_cidr(cur, bits - size_bits, bits));
            let last = cur.saturating_add(block_mask(size_bits));
            if last >= hi {
                break;
            }
            cur = last + 1;
        }
    }
    out
}

/// Prefix lengths of the CIDR cover (same order as [`cidrs`]).
pub(crate) fn widest_prefix(set: &Ivs, bits: u32) -> u32 {
    cidrs(set, bits)
        .iter()
        .filter_map(|c| c.rsplit('/').next()?.parse::<u32>().ok())
        .min()
        .unwrap_or(bits)
}

fn block_mask(size_bits: u32) -> u128 {
    if size_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << size_bits) - 1
    }
}

fn format_cidr(addr: u128, len: u32, bits: u32) -> String {
    if bits == 32 {
        format!(
            "{}/{len}",
            Ipv4Addr::from(u32::try_from(addr).unwrap_or(u32::MAX))
        )
    } else {
        format!("{}/{len}", Ipv6Addr::from(addr))
    }
}

/// Interface tokens: every exact name and every wildcard prefix (`eth*`) the ruleset mentions,
/// plus `lo`, sorted, and last a token for "any other name". A wildcard token stands for the
/// names it matches that no exact token or longer wildcard token takes, so every match on a
/// name or a wildcard is an exact set of tokens.
#[derive(Debug, Clone)]
pub(crate) struct Interfaces {
    /// Names; wildcards keep their trailing `*`.
    names: Vec<String>,
}

impl Interfaces {
    /// The tokens of these names (`lo` is always present).
    pub(crate) fn new(mentioned: BTreeSet<String>) -> Self {
        let mut all = mentioned;
        all.insert("lo".to_owned());
        Self {
            names: all.into_iter().collect(),
        }
    }

    /// Number of tokens, "other" included.
    pub(crate) fn len(&self) -> usize {
        self.names.len() + 1
    }

    /// Index of the "any other name" token.
    pub(crate) fn other(&self) -> u128 {
        self.names.len() as u128
    }

    /// Token of `lo`.
    pub(crate) fn lo(&self) -> u128 {
        self.names.iter().position(|n| n == "lo").unwrap_or(0) as u128
    }

    /// Output name of a token.
    pub(crate) fn name(&self, token: u128) -> Option<&str> {
        usize::try_from(token)
            .ok()
            .and_then(|i| self.names.get(i))
            .map(String::as_str)
    }

    /// The tokens a name or wildcard pattern (`eth*`) matches.
    pub(crate) fn matching(&self, pattern: &str) -> Ivs {
        let hits: Vec<Iv> = match pattern.strip_suffix('*') {
            Some(prefix) if !prefix.ends_with('\\') => self
                .names
                .iter()
                .enumerate()
                .filter(|(_, n)| n.trim_end_matches('*').starts_with(prefix))
                .map(|(i, _)| (i as u128, i as u128))
                .collect(),
            _ => self
                .names
                .iter()
                .position(|n| n == pattern)
                .map(|i| vec![(i as u128, i as u128)])
                .unwrap_or_default(),
        };
        Ivs::from_unsorted(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_codes_are_a_permutation() {
        let mut seen: Vec<u128> = (0..=255u8).map(proto_code).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..=255u128).collect::<Vec<_>>());
        for n in 0..=255u8 {
            assert_eq!(proto_number(proto_code(n)), n);
        }
        assert_eq!(proto_code(6), 0);
        assert_eq!(proto_code(136), 4);
        assert_eq!(proto_value("ipv6-icmp"), Some(58));
        assert_eq!(
            proto_names(&Ivs::one(0, 255)).last().map(String::as_str),
            Some("other")
        );
        assert_eq!(proto_names(&proto_set([6, 47])), ["tcp", "gre"]);
    }

    #[test]
    fn cidr_cover() {
        let v4 = |s: &str| addr_value(s, 32).unwrap_or_default();
        let set = Ivs::one(v4("10.0.0.0"), v4("10.0.1.255"));
        assert_eq!(cidrs(&set, 32), ["10.0.0.0/23"]);
        let set = Ivs::one(0, u128::from(u32::MAX));
        assert_eq!(cidrs(&set, 32), ["0.0.0.0/0"]);
        let set = Ivs::one(v4("10.0.0.1"), v4("10.0.0.6"));
        assert_eq!(
            cidrs(&set, 32),
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(cidrs(&Ivs::one(0, u128::MAX), 128), ["::/0"]);
        assert_eq!(cidrs(&Ivs::one(1, 1), 128), ["::1/128"]);
        assert_eq!(
            widest_prefix(&Ivs::one(v4("10.0.0.1"), v4("10.0.0.6")), 32),
            31
        );
    }

    #[test]
    fn interface_wildcards_are_exact_token_sets() {
        let ifs = Interfaces::new(
            ["eth0", "eth*", "et*", "wg0"]
                .into_iter()
                .map(String::from)
                .collect(),
        );
        // tokens: et*, eth*, eth0, lo, wg0, other
        assert_eq!(ifs.matching("eth0"), Ivs::one(2, 2));
        assert_eq!(ifs.matching("eth*"), Ivs::one(1, 2));
        assert_eq!(ifs.matching("et*"), Ivs::one(0, 2));
        assert_eq!(ifs.matching("lo"), Ivs::one(3, 3));
        assert_eq!(ifs.matching("nope"), Ivs::empty());
        assert_eq!(ifs.other(), 5);
    }
}
