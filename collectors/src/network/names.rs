//! Names for the kernel's numbers, in iproute2's spelling (`/etc/iproute2/rt_protos`,
//! `rt_scopes`, `ip-link(8)`). Palisade owns these tables so that a digest never depends on a
//! library's `Display`; a number without a name is written in decimal.

/// Address family (`AF_*`).
pub(crate) fn family(n: u8) -> String {
    match n {
        2 => "inet".to_owned(),
        10 => "inet6".to_owned(),
        7 => "bridge".to_owned(),
        28 => "mpls".to_owned(),
        other => other.to_string(),
    }
}

/// Link-layer type (`ARPHRD_*`).
pub(crate) fn link_type(n: u16) -> String {
    let name = match n {
        1 => "ether",
        24 => "ieee1394",
        32 => "infiniband",
        280 => "can",
        512 => "ppp",
        768 => "ipip",
        769 => "tunnel6",
        772 => "loopback",
        776 => "sit",
        778 => "gre",
        801 => "ieee80211",
        803 => "ieee80211_radiotap",
        823 => "ip6gre",
        824 => "netlink",
        65534 => "none",
        65535 => "void",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// RFC 2863 operational state (`IF_OPER_*`).
pub(crate) fn oper_state(n: u8) -> String {
    let name = match n {
        0 => "unknown",
        1 => "notpresent",
        2 => "down",
        3 => "lowerlayerdown",
        4 => "testing",
        5 => "dormant",
        6 => "up",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// Interface flags (`IFF_*`) that are configuration, with their names. `IFF_UP` is the link's
/// `admin_up`; `IFF_RUNNING`, `IFF_LOWER_UP`, `IFF_DORMANT` and `IFF_ECHO` are operational and
/// deliberately absent.
pub(crate) const LINK_FLAGS: &[(u32, &str)] = &[
    (1 << 1, "broadcast"),
    (1 << 2, "debug"),
    (1 << 3, "loopback"),
    (1 << 4, "pointopoint"),
    (1 << 5, "notrailers"),
    (1 << 7, "noarp"),
    (1 << 8, "promisc"),
    (1 << 9, "allmulti"),
    (1 << 10, "master"),
    (1 << 11, "slave"),
    (1 << 12, "multicast"),
    (1 << 13, "portsel"),
    (1 << 14, "automedia"),
    (1 << 15, "dynamic"),
];

/// `IFF_UP`.
pub(crate) const IFF_UP: u32 = 1;

/// Scope (`RT_SCOPE_*`), for addresses and routes.
pub(crate) fn scope(n: u8) -> String {
    let name = match n {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        255 => "nowhere",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// Address flags (`IFA_F_*`) that are configuration. `IFA_F_TEMPORARY` (= `0x01` on IPv6) marks
/// an address that is dropped altogether; `tentative`, `optimistic` and `deprecated` are DAD and
/// lifetime states and are absent.
pub(crate) fn address_flags(flags: u32, ipv6: bool) -> Vec<&'static str> {
    const TABLE: &[(u32, &str)] = &[
        (0x02, "nodad"),
        (0x08, "dadfailed"),
        (0x10, "homeaddress"),
        (0x80, "permanent"),
        (0x100, "mngtmpaddr"),
        (0x200, "noprefixroute"),
        (0x400, "mcautojoin"),
        (0x800, "stable-privacy"),
    ];
    let mut names: Vec<&'static str> = TABLE
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if !ipv6 && flags & IFA_F_SECONDARY != 0 {
        names.push("secondary");
    }
    names
}

/// `IFA_F_SECONDARY` (IPv4) and `IFA_F_TEMPORARY` (IPv6) share this bit.
pub(crate) const IFA_F_SECONDARY: u32 = 0x01;

/// Who created an address (`IFAPROT_*`).
pub(crate) fn address_protocol(n: u8) -> String {
    let name = match n {
        0 => "unspec",
        1 => "kernel_lo",
        2 => "kernel_ra",
        3 => "kernel_ll",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// `IFAPROT_KERNEL_LL`: the link-local address the kernel generated itself.
pub(crate) const IFAPROT_KERNEL_LL: u8 = 3;

/// Route type (`RTN_*`).
pub(crate) fn route_type(n: u8) -> String {
    let name = match n {
        0 => "unspec",
        1 => "unicast",
        2 => "local",
        3 => "broadcast",
        4 => "anycast",
        5 => "multicast",
        6 => "blackhole",
        7 => "unreachable",
        8 => "prohibit",
        9 => "throw",
        10 => "nat",
        11 => "xresolve",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// Route protocol (`RTPROT_*`), as in `/etc/iproute2/rt_protos`.
pub(crate) fn route_protocol(n: u8) -> String {
    let name = match n {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        10 => "mrt",
        11 => "zebra",
        12 => "bird",
        13 => "dnrouted",
        14 => "xorp",
        15 => "ntk",
        16 => "dhcp",
        17 => "mrouted",
        18 => "keepalived",
        42 => "babel",
        99 => "openr",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        192 => "eigrp",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// `RTPROT_KERNEL`.
pub(crate) const RTPROT_KERNEL: u8 = 2;

/// Next-hop / route flags (`RTNH_F_*`) that are configuration. `dead`, `linkdown`, `offload`,
/// `trap`, `unresolved` follow link state and hardware, and are absent.
pub(crate) fn nexthop_flags(flags: u32) -> Vec<&'static str> {
    const TABLE: &[(u32, &str)] = &[(2, "pervasive"), (4, "onlink")];
    TABLE
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// `RTM_F_CLONED`: a cache entry, not configuration.
pub(crate) const RTM_F_CLONED: u32 = 0x200;

/// IPv6 router preference (`ICMPV6_ROUTER_PREF_*`).
pub(crate) fn route_pref(n: u8) -> String {
    let name = match n {
        0 => "medium",
        1 => "high",
        3 => "low",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// Lightweight-tunnel encapsulation type (`LWTUNNEL_ENCAP_*`).
pub(crate) fn encap_type(n: u16) -> String {
    let name = match n {
        1 => "mpls",
        2 => "ip",
        3 => "ila",
        4 => "ip6",
        5 => "seg6",
        6 => "bpf",
        7 => "seg6local",
        8 => "rpl",
        9 => "ioam6",
        10 => "xfrm",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// Route metric (`RTAX_*`) names, as `ip route` prints them.
pub(crate) fn route_metric(n: u16) -> String {
    let name = match n {
        1 => "lock",
        2 => "mtu",
        3 => "window",
        4 => "rtt",
        5 => "rttvar",
        6 => "ssthresh",
        7 => "cwnd",
        8 => "advmss",
        9 => "reordering",
        10 => "hoplimit",
        11 => "initcwnd",
        12 => "features",
        13 => "rto_min",
        14 => "initrwnd",
        15 => "quickack",
        16 => "congctl",
        17 => "fastopen_no_cookie",
        other => return format!("metric{other}"),
    };
    name.to_owned()
}

/// Policy-rule action (`FR_ACT_*`).
pub(crate) fn rule_action(n: u8) -> String {
    let name = match n {
        0 => "unspec",
        1 => "lookup",
        2 => "goto",
        3 => "nop",
        6 => "blackhole",
        7 => "unreachable",
        8 => "prohibit",
        other => return other.to_string(),
    };
    name.to_owned()
}

/// `FIB_RULE_INVERT`.
pub(crate) const FIB_RULE_INVERT: u32 = 2;

/// MAC address as lowercase colon-separated hex.
pub(crate) fn mac(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_numbers_are_decimal() {
        assert_eq!(route_protocol(250), "250");
        assert_eq!(scope(17), "17");
        assert_eq!(link_type(9999), "9999");
        assert_eq!(route_metric(99), "metric99");
    }

    #[test]
    fn secondary_is_ipv4_only() {
        assert_eq!(address_flags(0x81, false), ["permanent", "secondary"]);
        assert_eq!(address_flags(0x80, true), ["permanent"]);
    }

    #[test]
    fn mac_is_lowercase_hex() {
        assert_eq!(mac(&[0x02, 0xAB, 0, 1, 2, 3]), "02:ab:00:01:02:03");
    }
}
