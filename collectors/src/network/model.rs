//! The typed model of a namespace's network configuration (`palisade.network/1`) and its
//! canonical form. The rules it keeps are written down in `docs/canonical-network.md`.
//!
//! Every collection is sorted by the model's own total order ([`Ord`] derived field by field),
//! except policy-routing rules of equal priority, whose kernel order is their evaluation order.
//! Names (families, scopes, protocols, route types) are palisade's own spelling (iproute2's),
//! taken from the kernel's numbers, never from a library's `Display`: a dependency upgrade must
//! not change a digest.

use std::collections::{BTreeMap, BTreeSet};

use palisade_evidence::{Canonical, CanonicalError};
use serde::{Deserialize, Serialize};

/// The document format this module writes.
pub const FORMAT: &str = "palisade.network/1";

/// Flag: legacy `ip_tables` (iptables-legacy) tables exist beside nftables; their rules are not
/// part of the measured nftables ruleset.
pub const FLAG_LEGACY_IPTABLES: &str = "legacy_iptables";
/// Flag: legacy `ip6_tables` tables exist.
pub const FLAG_LEGACY_IP6TABLES: &str = "legacy_ip6tables";
/// Flag: legacy `arp_tables` tables exist.
pub const FLAG_LEGACY_ARPTABLES: &str = "legacy_arptables";
/// Flag: some link has an XDP program attached; which program is the runtime inventory's to
/// measure (by its tag), this document records only that one is attached and in which mode.
pub const FLAG_XDP: &str = "xdp_attached";
/// Flag: some route uses a nexthop object (`nhid`), whose contents this document does not hold.
pub const FLAG_NEXTHOP_OBJECTS: &str = "route_nexthop_objects";
/// Flag: some route has a lightweight-tunnel encapsulation, recorded by type only.
pub const FLAG_ROUTE_ENCAP: &str = "route_encap";

/// A scalar value: kind-specific link details, route metrics, sysctls.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// An integer (every integer here fits a double exactly).
    Int(i64),
    /// Anything else, as text.
    Text(String),
}

impl From<u32> for Scalar {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<u16> for Scalar {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<u8> for Scalar {
    fn from(v: u8) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

/// The network configuration of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkConfig {
    /// Always [`FORMAT`].
    pub format: String,
    /// Links, sorted by name.
    pub links: Vec<Link>,
    /// Addresses, sorted by link, family, address.
    pub addresses: Vec<Address>,
    /// Routes of every table, sorted by family, table, destination, then every other field.
    pub routes: Vec<Route>,
    /// Policy-routing rules in evaluation order: by family, then priority; rules of equal
    /// priority keep the kernel's order (the order in which they are tried).
    pub rules: Vec<Rule>,
    /// Sysctls, keyed by their path below `/proc/sys` (`net/ipv4/conf/eth0/rp_filter`):
    /// a path is unambiguous where the dotted form is not (`eth0.5`).
    pub sysctls: BTreeMap<String, Scalar>,
    /// Legacy x_tables in use in this namespace (table names, sorted).
    pub legacy_xtables: LegacyXtables,
    /// Facts a policy should see at a glance (see the `FLAG_*` constants), sorted.
    pub flags: BTreeSet<String>,
}

/// Legacy (non-nftables) x_tables tables registered in the namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegacyXtables {
    /// `/proc/net/ip_tables_names`.
    pub ip: BTreeSet<String>,
    /// `/proc/net/ip6_tables_names`.
    pub ip6: BTreeSet<String>,
    /// `/proc/net/arp_tables_names`.
    pub arp: BTreeSet<String>,
}

/// One network interface, identified by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    /// Interface name (unique in the namespace).
    pub name: String,
    /// `IFLA_INFO_KIND` (`veth`, `bridge`, `vlan`, …); absent for physical NICs and loopback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Link-layer type (`ether`, `loopback`, `none`, … or the ARPHRD number).
    pub link_type: String,
    /// Administratively up (`IFF_UP`).
    pub admin_up: bool,
    /// RFC 2863 operational state (`up`, `down`, `lowerlayerdown`, `unknown`, …).
    pub oper_state: String,
    /// MTU.
    pub mtu: u32,
    /// Master device (bridge, bond, VRF) by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The lower device (`IFLA_LINK`: a VLAN's parent, a veth's peer) by name, or
    /// [`OTHER_NAMESPACE`] when it lives in another namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower: Option<String>,
    /// Configuration flags from `IFF_*` (`noarp`, `promisc`, `allmulti`, `multicast`, …), sorted;
    /// operational flags (`running`, `lower_up`, `dormant`, `echo`) and `up` are not here.
    pub flags: BTreeSet<String>,
    /// MAC address, only for links without a kind (physical NICs): virtual links get random
    /// addresses at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Device group, when not the default 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// `IFLA_PROTO_DOWN` set by a control plane.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub proto_down: bool,
    /// XDP attachment modes (`driver`, `generic`, `offload`), sorted; empty when none.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub xdp: BTreeSet<String>,
    /// XDP program ids by mode: runtime identities that change on every reload, so they are
    /// kept for attribution and never serialised (never part of the digest).
    #[serde(skip)]
    pub xdp_program_ids: BTreeMap<String, u32>,
    /// Kind-specific configuration (`vlan`: `id`, `protocol`; `vrf`: `table`; …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, Scalar>,
}

/// The `lower` of a link whose lower device lives in another network namespace.
pub const OTHER_NAMESPACE: &str = "@other-namespace";

/// One interface address.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    /// The link it is on, by name.
    pub link: String,
    /// `inet` or `inet6`.
    pub family: String,
    /// The local address with its prefix length (`192.0.2.1/24`).
    pub address: String,
    /// Point-to-point peer, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// IPv4 broadcast address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<String>,
    /// Scope (`global`, `link`, `host`, `site`, `nowhere` or a number).
    pub scope: String,
    /// IPv4 label, only when it is not the link's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Configuration flags (`permanent`, `secondary`, `nodad`, `noprefixroute`, `mngtmpaddr`,
    /// `homeaddress`, `mcautojoin`, `stable-privacy`, `dadfailed`), sorted.
    pub flags: BTreeSet<String>,
    /// Metric of the prefix route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// Who created it (`IFA_PROTO`: `kernel_lo`, `kernel_ra`, or a number), when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// One route of any table.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Route {
    /// `inet` or `inet6`.
    pub family: String,
    /// Table id (254 main, 255 local, 253 default).
    pub table: u32,
    /// Destination prefix (`0.0.0.0/0` for a default route).
    pub dst: String,
    /// Source prefix of a source-specific (IPv6) route.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// TOS / DSCP selector, when not 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    /// Metric (`RTA_PRIORITY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// Route type (`unicast`, `local`, `broadcast`, `blackhole`, `unreachable`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Who installed it (`kernel`, `boot`, `static`, `dhcp`, `bgp`, … or a number); `kernel`
    /// marks routes the kernel derived from addresses.
    pub protocol: String,
    /// Scope (`global`, `link`, `host`, …).
    pub scope: String,
    /// Gateway (`RTA_GATEWAY`, or `RTA_VIA` for a gateway of the other family).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Output device by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Preferred source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefsrc: Option<String>,
    /// Configuration flags (`onlink`, `pervasive`), sorted.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub flags: BTreeSet<String>,
    /// Multipath next hops, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nexthops: Vec<NextHop>,
    /// Nexthop object id (`nhid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nhid: Option<u32>,
    /// Route metrics (`mtu`, `advmss`, `hoplimit`, `lock`, `congctl`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, Scalar>,
    /// IPv6 router preference (`low`, `medium`, `high`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pref: Option<String>,
    /// IPv4 realms (`RTA_FLOW`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<u32>,
    /// Lightweight-tunnel encapsulation type (`mpls`, `seg6`, …), by type only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<String>,
    /// Attributes this version does not know, by attribute number, value in hex: kept so that
    /// a newer kernel's route never looks like a simpler one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

/// One next hop of a multipath route.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct NextHop {
    /// Gateway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// Output device by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Weight (`rtnh_hops + 1`).
    pub weight: u32,
    /// Configuration flags (`onlink`), sorted.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub flags: BTreeSet<String>,
}

/// One policy-routing rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct Rule {
    /// `inet` or `inet6`.
    pub family: String,
    /// Priority (preference): lower is tried first.
    pub priority: u32,
    /// `lookup`, `goto`, `nop`, `blackhole`, `unreachable`, `prohibit`.
    pub action: String,
    /// Table looked up (for `lookup`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<u32>,
    /// Target priority (for `goto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goto: Option<u32>,
    /// Inverted match (`not`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not: bool,
    /// Source prefix, host bits cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Destination prefix, host bits cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Input interface name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    /// Output interface name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    /// Firewall mark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmark: Option<u32>,
    /// Firewall mark mask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fwmask: Option<u32>,
    /// TOS / DSCP selector, when not 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    /// IP protocol number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipproto: Option<u8>,
    /// Source port range `start-end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<String>,
    /// Destination port range `start-end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<String>,
    /// UID range `start-end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uidrange: Option<String>,
    /// Suppress lookups whose result has a prefix this long or shorter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_prefixlen: Option<u32>,
    /// Suppress lookups whose result uses a device of this group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppress_ifgroup: Option<u32>,
    /// Use the table of the VRF (l3mdev) of the packet.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub l3mdev: bool,
    /// IPv4 realms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realms: Option<u32>,
    /// Tunnel id, as decimal text (a u64 need not fit a JSON number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tun_id: Option<String>,
    /// Who installed it (`kernel` for the default rules, `boot`, `static`, …).
    pub protocol: String,
    /// Selectors this version does not know (a newer kernel's `FRA_*`), by attribute number,
    /// value in hex: kept so that a rule never looks broader than it is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, String>,
}

impl NetworkConfig {
    /// An empty document of the current format.
    pub fn new() -> Self {
        Self {
            format: FORMAT.to_owned(),
            ..Self::default()
        }
    }

    /// Puts every collection in canonical order and recomputes the derived flags. [`read`]
    /// returns documents already in this form; call it after editing a document by hand.
    ///
    /// [`read`]: super::read
    pub fn normalize(&mut self) {
        self.links.sort();
        self.addresses.sort();
        for route in &mut self.routes {
            route.nexthops.sort();
        }
        self.routes.sort();
        // Stable: equal-priority rules keep their evaluation order.
        self.rules
            .sort_by(|a, b| (&a.family, a.priority).cmp(&(&b.family, b.priority)));
        self.flags = self.derived_flags();
    }

    fn derived_flags(&self) -> BTreeSet<String> {
        let mut flags = BTreeSet::new();
        let mut flag = |on: bool, name: &str| {
            if on {
                flags.insert(name.to_owned());
            }
        };
        flag(!self.legacy_xtables.ip.is_empty(), FLAG_LEGACY_IPTABLES);
        flag(!self.legacy_xtables.ip6.is_empty(), FLAG_LEGACY_IP6TABLES);
        flag(!self.legacy_xtables.arp.is_empty(), FLAG_LEGACY_ARPTABLES);
        flag(self.links.iter().any(|l| !l.xdp.is_empty()), FLAG_XDP);
        flag(
            self.routes.iter().any(|r| r.nhid.is_some()),
            FLAG_NEXTHOP_OBJECTS,
        );
        flag(
            self.routes.iter().any(|r| r.encap.is_some()),
            FLAG_ROUTE_ENCAP,
        );
        flags
    }

    /// Whether the document is in the order [`normalize`](Self::normalize) gives.
    pub fn is_normalized(&self) -> bool {
        self.links.is_sorted()
            && self.addresses.is_sorted()
            && self.routes.iter().all(|r| r.nexthops.is_sorted())
            && self.routes.is_sorted()
            && self
                .rules
                .is_sorted_by(|a, b| (&a.family, a.priority) <= (&b.family, b.priority))
            && self.flags == self.derived_flags()
    }

    /// The RFC 8785 canonical form: the bytes that are measured. A document edited out of
    /// canonical order is normalised first, so the bytes depend on the content only.
    pub fn canonical(&self) -> Result<Canonical, CanonicalError> {
        if self.is_normalized() {
            Canonical::from_serialize(self)
        } else {
            let mut normalized = self.clone();
            normalized.normalize();
            Canonical::from_serialize(&normalized)
        }
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}
