//! Point queries over an exposure document: what happens to one concrete packet (family, hook,
//! protocol, port, addresses, interface, conntrack state). For tests, tools and alerts; Rego
//! policies read the document itself.

use std::net::IpAddr;

use super::schema::{Class, Exposure, RuleRef};

/// One concrete packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// `tcp`, `udp`, `icmp`, … (the names of [`Class::proto`]).
    pub proto: String,
    /// Destination port (ignored for protocols without ports).
    pub port: Option<u16>,
    /// Source address; its family selects the family of the query.
    pub source: IpAddr,
    /// Destination address (`None`: any, the query then asks about every destination).
    pub destination: Option<IpAddr>,
    /// Input interface name (`None` on output).
    pub iif: Option<String>,
    /// Output interface name (`None` on input).
    pub oif: Option<String>,
    /// Conntrack state: `new`, `established`, `related`, `invalid`, `untracked`.
    pub ct_state: String,
}

/// The verdict for one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketVerdict {
    /// Every packet like it is accepted, by these rules.
    Accepted(Vec<RuleRef>),
    /// It may be accepted (something on its way was not evaluated), by these rules.
    Possible(Vec<RuleRef>),
    /// It is dropped (no class holds it).
    Dropped,
}

impl Exposure {
    /// The verdict on `hook` (`input`, `forward`, `output`) for `packet`.
    pub fn verdict(&self, hook: &str, packet: &Packet) -> PacketVerdict {
        let family = if packet.source.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        let Some(h) = self.families.get(family).and_then(|f| f.hooks.get(hook)) else {
            return PacketVerdict::Dropped;
        };
        let mut possible = None;
        for class in h.accepted.iter().filter(|c| holds(c, packet)) {
            if class.certain {
                return PacketVerdict::Accepted(class.via.clone());
            }
            possible.get_or_insert_with(|| class.via.clone());
        }
        possible.map_or(PacketVerdict::Dropped, PacketVerdict::Possible)
    }
}

/// Whether `class` holds `packet`.
pub fn holds(class: &Class, packet: &Packet) -> bool {
    let proto_ok = class.proto.contains(&packet.proto)
        || (class.proto.iter().any(|p| p == "other")
            && !["tcp", "udp", "sctp", "dccp", "udplite", "icmp", "icmpv6"]
                .contains(&packet.proto.as_str()));
    let port_ok = match (&class.ports, packet.port) {
        (None, _) => true,
        (Some(ranges), Some(p)) => ranges
            .iter()
            .any(|[lo, hi]| *lo <= u32::from(p) && u32::from(p) <= *hi),
        (Some(_), None) => false,
    };
    let dst_ok = packet
        .destination
        .is_none_or(|d| class.destinations.iter().any(|c| cidr_contains(c, d)));
    proto_ok
        && port_ok
        && class
            .sources
            .iter()
            .any(|c| cidr_contains(c, packet.source))
        && dst_ok
        && iface_ok(&class.iif, &class.iif_except, packet.iif.as_deref())
        && iface_ok(&class.oif, &class.oif_except, packet.oif.as_deref())
        && class.ct_state.contains(&packet.ct_state)
}

fn iface_ok(only: &Option<Vec<String>>, except: &Option<Vec<String>>, name: Option<&str>) -> bool {
    let Some(name) = name else { return true };
    let matches = |list: &Vec<String>| list.iter().any(|p| name_matches(p, name));
    match (only, except) {
        (Some(list), _) => matches(list),
        (None, Some(list)) => !matches(list),
        (None, None) => true,
    }
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Whether `addr` lies in the CIDR block `cidr` (`10.0.0.0/8`).
pub fn cidr_contains(cidr: &str, addr: IpAddr) -> bool {
    let Some((net, len)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(len)) = (net.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    let (n, a, bits) = match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => (u128::from(u32::from(n)), u128::from(u32::from(a)), 32),
        (IpAddr::V6(n), IpAddr::V6(a)) => (u128::from(n), u128::from(a), 128),
        _ => return false,
    };
    if len > bits {
        return false;
    }
    let host = bits - len;
    let mask = if host >= 128 {
        0
    } else {
        !((1u128 << host) - 1)
    };
    n & mask == a & mask
}
