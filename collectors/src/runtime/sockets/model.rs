//! The typed model of a namespace's socket inventory (`palisade.sockets/1`), its canonical form
//! and palisade's own names for the kernel's protocol numbers. The rules it keeps are written
//! down in `docs/canonical-runtime.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use palisade_evidence::{Canonical, CanonicalError};
use serde::{Deserialize, Serialize};

/// The document format this module writes.
pub const FORMAT: &str = "palisade.sockets/1";

/// Flag: the namespace has at least one raw (`SOCK_RAW`, `AF_INET`/`AF_INET6`) socket.
pub const FLAG_RAW: &str = "raw_sockets";
/// Flag: the namespace has at least one packet (`AF_PACKET`) socket.
pub const FLAG_PACKET: &str = "packet_sockets";
/// Flag: some listener is bound to the wildcard address (`0.0.0.0`, `::` or `::ffff:0.0.0.0`).
pub const FLAG_WILDCARD: &str = "wildcard_listeners";
/// Flag: some line of a socket table could not be parsed and was left out: the inventory may
/// be incomplete (a kernel whose format this version does not know).
pub const FLAG_UNPARSED: &str = "unparsed_lines";

/// The socket inventory of one network namespace.
///
/// Only the canonical part is serialised; [`observed`](Self::observed) holds what is true now
/// but changes on every restart (process ids) and is never digested.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sockets {
    /// Always [`FORMAT`].
    pub format: String,
    /// Listening TCP sockets and bound, unconnected UDP/UDP-Lite sockets.
    pub listeners: Vec<Listener>,
    /// Raw IP sockets.
    pub raw: Vec<RawSocket>,
    /// Packet (`AF_PACKET`) sockets.
    pub packet: Vec<PacketSocket>,
    /// Facts a policy should see at a glance (see the `FLAG_*` constants), sorted.
    pub flags: BTreeSet<String>,
    /// Volatile observations for operators; not serialised, not digested.
    #[serde(skip)]
    pub observed: Observed,
}

/// What the reader saw that the canonical document leaves out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The process ids behind each owner (every owner of every socket in the document).
    pub pids: BTreeMap<Owner, BTreeSet<u32>>,
    /// Lines that could not be parsed, by table (`tcp6`, `packet`, …).
    pub malformed_lines: BTreeMap<String, u32>,
}

/// A process that holds a socket open, by what it is rather than by its pid.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Owner {
    /// `/proc/PID/comm` (at most 15 bytes, set by the process).
    pub comm: String,
    /// The target of `/proc/PID/exe`, `null` when it cannot be read (kernel threads).
    pub exe: Option<String>,
    /// Real user id (`/proc/PID/status`, `Uid:`).
    pub uid: u32,
}

/// A TCP socket in state LISTEN, or a bound UDP/UDP-Lite socket that is not connected.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Listener {
    /// `tcp`, `udp` or `udplite`.
    pub protocol: String,
    /// `inet` or `inet6` (the table it was listed in).
    pub family: String,
    /// Local address: IPv4 dotted, IPv6 in RFC 5952 form (`::ffff:a.b.c.d` when mapped).
    pub address: String,
    /// Local port.
    pub port: u16,
    /// Who holds it, sorted and deduplicated; empty when no process was found.
    pub owners: Vec<Owner>,
    /// How many sockets share everything above (an `SO_REUSEPORT` group).
    pub count: u32,
}

/// A raw IP socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct RawSocket {
    /// `inet` or `inet6`.
    pub family: String,
    /// IP protocol by name (`icmp`, `ipv6-icmp`, …) or in decimal.
    pub protocol: String,
    /// Local address it is bound to (the wildcard when unbound).
    pub address: String,
    /// Who holds it, sorted and deduplicated.
    pub owners: Vec<Owner>,
    /// How many sockets share everything above.
    pub count: u32,
}

/// A packet (`AF_PACKET`) socket.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct PacketSocket {
    /// `raw` (`SOCK_RAW`, with link-layer header), `dgram` (`SOCK_DGRAM`), `packet`
    /// (legacy `SOCK_PACKET`) or the number.
    #[serde(rename = "type")]
    pub kind: String,
    /// Ethertype by name (`all` for `ETH_P_ALL`, `ip`, `arp`, …) or `0x%04x`.
    pub protocol: String,
    /// Interface it is bound to, by name; absent when bound to none (receives on every one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Who holds it, sorted and deduplicated.
    pub owners: Vec<Owner>,
    /// How many sockets share everything above.
    pub count: u32,
}

/// Entries that collapse into one when all but their count agree.
trait Counted: Ord {
    fn owners_mut(&mut self) -> &mut Vec<Owner>;
    fn count_mut(&mut self) -> &mut u32;
    fn same_key(&self, other: &Self) -> bool;
}

macro_rules! counted {
    ($ty:ty, $($field:ident),+) => {
        impl Counted for $ty {
            fn owners_mut(&mut self) -> &mut Vec<Owner> {
                &mut self.owners
            }
            fn count_mut(&mut self) -> &mut u32 {
                &mut self.count
            }
            fn same_key(&self, other: &Self) -> bool {
                $(self.$field == other.$field)&&+ && self.owners == other.owners
            }
        }
    };
}

counted!(Listener, protocol, family, address, port);
counted!(RawSocket, family, protocol, address);
counted!(PacketSocket, kind, protocol, interface);

/// Sorts owners and entries and merges entries that differ only in their count.
fn collapse<T: Counted>(entries: &mut Vec<T>) {
    for entry in entries.iter_mut() {
        let owners = entry.owners_mut();
        owners.sort();
        owners.dedup();
    }
    entries.sort();
    entries.dedup_by(|later, kept| {
        let same = later.same_key(kept);
        if same {
            let add = *later.count_mut();
            let count = kept.count_mut();
            *count = count.saturating_add(add);
        }
        same
    });
}

impl Sockets {
    /// An empty document of the current format.
    pub fn new() -> Self {
        Self {
            format: FORMAT.to_owned(),
            ..Self::default()
        }
    }

    /// Sorts every list, merges identical entries (adding their counts) and recomputes the
    /// derived flags. [`read`](super::read) returns documents already in this form.
    pub fn normalize(&mut self) {
        collapse(&mut self.listeners);
        collapse(&mut self.raw);
        collapse(&mut self.packet);
        let unparsed = self.flags.contains(FLAG_UNPARSED);
        let mut flags = BTreeSet::new();
        let mut flag = |on: bool, name: &str| {
            if on {
                flags.insert(name.to_owned());
            }
        };
        flag(!self.raw.is_empty(), FLAG_RAW);
        flag(!self.packet.is_empty(), FLAG_PACKET);
        flag(self.listeners.iter().any(is_wildcard), FLAG_WILDCARD);
        flag(unparsed, FLAG_UNPARSED);
        self.flags = flags;
    }

    /// The RFC 8785 canonical form: the bytes that are measured. The document is normalised
    /// first, so the bytes depend on the content only; [`observed`](Self::observed) is not
    /// part of them.
    pub fn canonical(&self) -> Result<Canonical, CanonicalError> {
        let mut normalized = self.clone();
        normalized.normalize();
        Canonical::from_serialize(&normalized)
    }

    /// Each owner in the document with the process ids seen behind it (for operators; pids
    /// are not part of the canonical document).
    pub fn owners_with_pids(&self) -> &BTreeMap<Owner, BTreeSet<u32>> {
        &self.observed.pids
    }
}

fn is_wildcard(listener: &Listener) -> bool {
    match listener.address.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => a.is_unspecified(),
        Ok(IpAddr::V6(a)) => {
            a.is_unspecified() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_unspecified())
        }
        Err(_) => false,
    }
}

/// The name of an IP protocol number (`/etc/protocols` spelling), else the number in decimal.
pub(crate) fn ip_protocol(number: u16) -> String {
    let name = match number {
        0 => "ip",
        1 => "icmp",
        2 => "igmp",
        4 => "ipencap",
        6 => "tcp",
        17 => "udp",
        41 => "ipv6",
        47 => "gre",
        50 => "esp",
        51 => "ah",
        58 => "ipv6-icmp",
        89 => "ospf",
        103 => "pim",
        112 => "vrrp",
        132 => "sctp",
        136 => "udplite",
        255 => "raw",
        n => return n.to_string(),
    };
    name.to_owned()
}

/// The name of an ethertype as a packet socket's protocol (`linux/if_ether.h`), else
/// `0x%04x`.
pub(crate) fn ethertype(number: u16) -> String {
    let name = match number {
        0x0001 => "802.3",
        0x0003 => "all",
        0x0004 => "802.2",
        0x0800 => "ip",
        0x0806 => "arp",
        0x8035 => "rarp",
        0x8100 => "802.1q",
        0x86dd => "ipv6",
        0x8847 => "mpls_uc",
        0x8848 => "mpls_mc",
        0x8863 => "pppoe_discovery",
        0x8864 => "pppoe_session",
        0x888e => "eapol",
        0x88a8 => "802.1ad",
        0x88cc => "lldp",
        0x88f7 => "ptp",
        n => return format!("0x{n:04x}"),
    };
    name.to_owned()
}

/// The name of a packet socket's type (`SOCK_*`), else the number in decimal.
pub(crate) fn packet_type(number: u16) -> String {
    match number {
        2 => "dgram".to_owned(),
        3 => "raw".to_owned(),
        10 => "packet".to_owned(),
        n => n.to_string(),
    }
}
