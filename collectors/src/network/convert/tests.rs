//! One test per canonicalisation rule of `docs/canonical-network.md` that concerns netlink
//! (rules 1–16), over hand-built kernel messages: no root, no kernel.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::DefaultNla;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressProtocol, AddressScope, CacheInfo,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVlan, LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage,
    LinkXdp, State, Stats64, XdpAttached,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::AddressFamily;

use super::{convert, Snapshot};
use crate::network::model::{FLAG_NEXTHOP_OBJECTS, FLAG_XDP};
use crate::network::NetworkConfig;

fn link(index: u32, name: &str, kind: Option<InfoKind>) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m.header.link_layer_type = LinkLayerType::Ether;
    m.header.flags = LinkFlags::Up | LinkFlags::Broadcast | LinkFlags::Multicast;
    m.attributes = vec![
        LinkAttribute::IfName(name.to_owned()),
        LinkAttribute::Mtu(1500),
        LinkAttribute::OperState(State::Up),
        LinkAttribute::Address(vec![2, 0, 0, 0, 0, index as u8]),
    ];
    if let Some(kind) = kind {
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(kind)]));
    }
    m
}

fn addr(index: u32, ip: IpAddr, prefix: u8) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.family = if ip.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    m.header.prefix_len = prefix;
    m.header.scope = AddressScope::Universe;
    m.header.index = index;
    m.attributes = vec![
        AddressAttribute::Address(ip),
        AddressAttribute::Flags(AddressFlags::Permanent),
    ];
    if ip.is_ipv4() {
        m.attributes.push(AddressAttribute::Local(ip));
    }
    m
}

fn route(dst: Ipv4Addr, len: u8, gateway: Option<Ipv4Addr>, oif: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = len;
    m.header.table = 254;
    m.header.protocol = RouteProtocol::Static;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes = vec![
        RouteAttribute::Table(254),
        RouteAttribute::Destination(RouteAddress::Inet(dst)),
        RouteAttribute::Oif(oif),
    ];
    if let Some(gw) = gateway {
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
    }
    m
}

fn rule(priority: u32, from: Option<(Ipv4Addr, u8)>, table: u32) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = AddressFamily::Inet;
    m.header.action = RuleAction::ToTable;
    m.attributes = vec![
        RuleAttribute::Priority(priority),
        RuleAttribute::Table(table),
    ];
    if let Some((ip, len)) = from {
        m.header.src_len = len;
        m.attributes.push(RuleAttribute::Source(IpAddr::V4(ip)));
    }
    m
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A small namespace: lo(1), eth0(2, physical), veth0(3)/veth1(4), with addresses, routes and
/// rules.
fn reference() -> Snapshot {
    let mut lo = link(1, "lo", None);
    lo.header.link_layer_type = LinkLayerType::Loopback;
    let mut veth0 = link(3, "veth0", Some(InfoKind::Veth));
    veth0.attributes.push(LinkAttribute::Link(4));
    let mut veth1 = link(4, "veth1", Some(InfoKind::Veth));
    veth1.attributes.push(LinkAttribute::Link(3));
    Snapshot {
        links: vec![lo, link(2, "eth0", None), veth0, veth1],
        addresses: vec![
            addr(1, IpAddr::V4(v4("127.0.0.1")), 8),
            addr(2, IpAddr::V4(v4("192.0.2.10")), 24),
            addr(3, IpAddr::V6(v6("2001:db8::1")), 64),
        ],
        routes: vec![
            route(v4("0.0.0.0"), 0, Some(v4("192.0.2.1")), 2),
            route(v4("10.0.0.0"), 8, Some(v4("192.0.2.2")), 2),
            route(v4("198.51.100.0"), 24, None, 3),
        ],
        rules: vec![
            rule(0, None, 255),
            rule(100, Some((v4("10.0.0.0"), 8)), 100),
        ],
    }
}

fn doc(s: &Snapshot) -> NetworkConfig {
    convert(s).unwrap()
}

fn canon(s: &Snapshot) -> String {
    doc(s).canonical().unwrap().as_str().to_owned()
}

/// Renumbers every interface index (as a reboot or a namespace move would).
fn renumber(s: &mut Snapshot, f: impl Fn(u32) -> u32) {
    for l in &mut s.links {
        l.header.index = f(l.header.index);
        for a in &mut l.attributes {
            if let LinkAttribute::Link(i) | LinkAttribute::Controller(i) = a {
                *i = f(*i);
            }
        }
    }
    for a in &mut s.addresses {
        a.header.index = f(a.header.index);
    }
    for r in &mut s.routes {
        for a in &mut r.attributes {
            if let RouteAttribute::Oif(i) = a {
                *i = f(*i);
            }
            if let RouteAttribute::MultiPath(hops) = a {
                for h in hops {
                    h.interface_index = f(h.interface_index);
                }
            }
        }
    }
}

#[test]
fn rule1_links_are_identified_by_name_never_by_ifindex() {
    let mut s = reference();
    s.links[3].attributes.push(LinkAttribute::Controller(3));
    let before = canon(&s);
    renumber(&mut s, |i| i * 7 + 100);
    assert_eq!(canon(&s), before);
    let d = doc(&s);
    assert_eq!(d.link("veth1").unwrap().master.as_deref(), Some("veth0"));
    assert_eq!(d.link("veth0").unwrap().lower.as_deref(), Some("veth1"));
    assert!(d.routes.iter().any(|r| r.dev.as_deref() == Some("eth0")));
    // A reference to an index the link dump does not list is a torn snapshot, not a value.
    s.routes[0].attributes.push(RouteAttribute::Oif(9999));
    let err = convert(&s).unwrap_err();
    assert_eq!(err.index, 9999);
}

#[test]
fn rule2_collections_are_sorted_so_dump_order_does_not_matter() {
    let mut s = reference();
    let before = canon(&s);
    s.links.reverse();
    s.addresses.reverse();
    s.routes.reverse();
    s.rules.reverse(); // different priorities: their order comes from the priority
    assert_eq!(canon(&s), before);
}

#[test]
fn rule3_counters_and_statistics_are_dropped() {
    let mut s = reference();
    let before = canon(&s);
    let mut stats = Stats64::default();
    stats.rx_packets = 12345;
    stats.tx_bytes = 999_999;
    s.links[1].attributes.extend([
        LinkAttribute::Stats64(stats),
        LinkAttribute::CarrierChanges(7),
        LinkAttribute::CarrierUpCount(4),
        LinkAttribute::CarrierDownCount(3),
    ]);
    let mut cache = CacheInfo::default();
    cache.cstamp = 100;
    cache.tstamp = 200;
    s.addresses[1]
        .attributes
        .push(AddressAttribute::CacheInfo(cache));
    assert_eq!(canon(&s), before);
}

#[test]
fn rule4_operational_link_flags_are_dropped_admin_and_oper_state_are_kept() {
    let mut s = reference();
    let before = canon(&s);
    s.links[1].header.flags |= LinkFlags::Running | LinkFlags::LowerUp | LinkFlags::Echo;
    assert_eq!(
        canon(&s),
        before,
        "running/lower_up/echo are not configuration"
    );
    let mut down = reference();
    down.links[1].header.flags.remove(LinkFlags::Up);
    assert_ne!(canon(&down), before, "admin state is configuration");
    let mut oper = reference();
    oper.links[1].attributes[2] = LinkAttribute::OperState(State::LowerLayerDown);
    assert_ne!(canon(&oper), before, "operational state is kept");
    let mut noarp = reference();
    noarp.links[1].header.flags |= LinkFlags::Noarp;
    assert_ne!(canon(&noarp), before, "noarp is configuration");
}

#[test]
fn rule5_mac_is_kept_only_for_links_without_a_kind() {
    let s = reference();
    let before = canon(&s);
    let d = doc(&s);
    assert_eq!(
        d.link("eth0").unwrap().mac.as_deref(),
        Some("02:00:00:00:00:02")
    );
    assert_eq!(d.link("veth0").unwrap().mac, None);
    let mut veth = reference();
    veth.links[2].attributes[3] = LinkAttribute::Address(vec![0x0a, 1, 2, 3, 4, 5]);
    assert_eq!(
        canon(&veth),
        before,
        "a veth's random MAC is not configuration"
    );
    let mut nic = reference();
    nic.links[1].attributes[3] = LinkAttribute::Address(vec![0x0a, 1, 2, 3, 4, 5]);
    assert_ne!(canon(&nic), before, "a physical NIC's MAC is");
}

fn with_xdp(mode: XdpAttached, id: u32) -> Snapshot {
    let mut s = reference();
    s.links[1].attributes.push(LinkAttribute::Xdp(vec![
        LinkXdp::Attached(mode),
        LinkXdp::ProgId(id),
    ]));
    s
}

#[test]
fn rule6_xdp_attachment_mode_is_kept_and_program_ids_are_not() {
    let none = canon(&reference());
    let a = with_xdp(XdpAttached::Driver, 17);
    let b = with_xdp(XdpAttached::Driver, 4242);
    assert_eq!(
        canon(&a),
        canon(&b),
        "a reload (new id) is not a change here"
    );
    assert_ne!(canon(&a), none, "attaching XDP is");
    assert_ne!(
        canon(&a),
        canon(&with_xdp(XdpAttached::SocketBuffer, 17)),
        "so is its mode"
    );
    let d = doc(&a);
    let eth0 = d.link("eth0").unwrap();
    assert_eq!(eth0.xdp.iter().collect::<Vec<_>>(), ["driver"]);
    assert_eq!(
        eth0.xdp_program_ids.get("driver"),
        Some(&17),
        "kept for attribution"
    );
    assert!(!d.canonical().unwrap().as_str().contains("17"));
    assert!(d.flags.contains(FLAG_XDP));
    // Several programs at once (XDP_ATTACHED_MULTI) list each mode.
    let mut multi = reference();
    multi.links[1].attributes.push(LinkAttribute::Xdp(vec![
        LinkXdp::Attached(XdpAttached::Multiple),
        LinkXdp::DrvProgId(1),
        LinkXdp::SkbProgId(2),
    ]));
    let modes: Vec<String> = doc(&multi)
        .link("eth0")
        .unwrap()
        .xdp
        .iter()
        .cloned()
        .collect();
    assert_eq!(modes, ["driver", "generic"]);
}

#[test]
fn rule7_kind_specific_configuration_is_kept() {
    let vlan = |id: u16| {
        let mut s = reference();
        let mut m = link(5, "eth0.5", None);
        m.attributes.push(LinkAttribute::Link(2));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Vlan),
            LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(id)])),
        ]));
        s.links.push(m);
        s
    };
    let d = doc(&vlan(5));
    let l = d.link("eth0.5").unwrap();
    assert_eq!(l.kind.as_deref(), Some("vlan"));
    assert_eq!(l.lower.as_deref(), Some("eth0"));
    assert_eq!(l.details["id"], crate::network::Scalar::Int(5));
    assert_ne!(canon(&vlan(5)), canon(&vlan(6)));
}

#[test]
fn rule8_address_lifetimes_and_dad_states_are_dropped() {
    let before = canon(&reference());
    let mut s = reference();
    let mut cache = CacheInfo::default();
    cache.ifa_preferred = 3600;
    cache.ifa_valid = 7200;
    s.addresses[2]
        .attributes
        .push(AddressAttribute::CacheInfo(cache));
    s.addresses[2].attributes[1] = AddressAttribute::Flags(
        AddressFlags::Permanent
            | AddressFlags::Tentative
            | AddressFlags::Optimistic
            | AddressFlags::Deprecated,
    );
    assert_eq!(canon(&s), before);
    let mut nodad = reference();
    nodad.addresses[2].attributes[1] =
        AddressAttribute::Flags(AddressFlags::Permanent | AddressFlags::Nodad);
    assert_ne!(canon(&nodad), before, "nodad is configuration");
    let mut failed = reference();
    failed.addresses[2].attributes[1] =
        AddressAttribute::Flags(AddressFlags::Permanent | AddressFlags::Dadfailed);
    assert_ne!(
        canon(&failed),
        before,
        "a failed DAD leaves the address unusable"
    );
}

fn local_route_v6(ip: &str, oif: u32) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet6;
    m.header.destination_prefix_length = 128;
    m.header.table = 255;
    m.header.protocol = RouteProtocol::Kernel;
    m.header.kind = RouteType::Local;
    m.attributes = vec![
        RouteAttribute::Table(255),
        RouteAttribute::Destination(RouteAddress::Inet6(v6(ip))),
        RouteAttribute::Oif(oif),
    ];
    m
}

#[test]
fn rule9_generated_link_local_and_temporary_addresses_and_their_local_routes_are_dropped() {
    let before = canon(&reference());
    let mut s = reference();
    let mut ll = addr(3, IpAddr::V6(v6("fe80::a8c1:abff:fe12:3456")), 64);
    ll.header.scope = AddressScope::Link;
    ll.attributes
        .push(AddressAttribute::Protocol(AddressProtocol::LinkLocal));
    let mut temp = addr(2, IpAddr::V6(v6("2001:db8::5eed:1234")), 64);
    temp.attributes[1] = AddressAttribute::Flags(AddressFlags::Secondary); // IFA_F_TEMPORARY
    s.addresses.extend([ll, temp]);
    s.routes
        .push(local_route_v6("fe80::a8c1:abff:fe12:3456", 3));
    s.routes.push(local_route_v6("2001:db8::5eed:1234", 2));
    assert_eq!(canon(&s), before);
    // A link-local address an operator configured is configuration, and so is its route.
    let mut manual = reference();
    let mut fe80 = addr(3, IpAddr::V6(v6("fe80::1")), 64);
    fe80.header.scope = AddressScope::Link;
    manual.addresses.push(fe80);
    manual.routes.push(local_route_v6("fe80::1", 3));
    let d = doc(&manual);
    assert!(d.addresses.iter().any(|a| a.address == "fe80::1/64"));
    assert!(d
        .routes
        .iter()
        .any(|r| r.dst == "fe80::1/128" && r.protocol == "kernel"));
}

#[test]
fn rule10_address_label_is_kept_only_when_it_differs_from_the_link_name() {
    let before = canon(&reference());
    let mut same = reference();
    same.addresses[1]
        .attributes
        .push(AddressAttribute::Label("eth0".to_owned()));
    assert_eq!(canon(&same), before);
    let mut alias = reference();
    alias.addresses[1]
        .attributes
        .push(AddressAttribute::Label("eth0:web".to_owned()));
    let d = doc(&alias);
    assert_eq!(
        d.addresses
            .iter()
            .find(|a| a.link == "eth0")
            .unwrap()
            .label
            .as_deref(),
        Some("eth0:web")
    );
}

#[test]
fn rule11_route_cache_entries_lifetimes_and_link_state_flags_are_dropped() {
    let before = canon(&reference());
    let mut s = reference();
    let mut cloned = route(v4("203.0.113.7"), 32, Some(v4("192.0.2.1")), 2);
    cloned.header.flags = RouteFlags::Cloned;
    s.routes.push(cloned);
    s.routes[0].attributes.push(RouteAttribute::Expires(300));
    s.routes[1].header.flags = RouteFlags::Linkdown | RouteFlags::Dead;
    assert_eq!(canon(&s), before);
    let mut onlink = reference();
    onlink.routes[1].header.flags = RouteFlags::Onlink;
    assert_ne!(canon(&onlink), before, "onlink is configuration");
}

#[test]
fn rule12_kernel_derived_routes_are_kept_and_marked() {
    let mut s = reference();
    let mut connected = route(v4("192.0.2.0"), 24, None, 2);
    connected.header.protocol = RouteProtocol::Kernel;
    connected.header.scope = RouteScope::Link;
    s.routes.push(connected);
    let d = doc(&s);
    let r = d.routes.iter().find(|r| r.dst == "192.0.2.0/24").unwrap();
    assert_eq!(r.protocol, "kernel");
    assert_eq!(r.scope, "link");
    assert_ne!(canon(&s), canon(&reference()));
}

fn hop(gw: &str, oif: u32, hops: u8) -> RouteNextHop {
    let mut h = RouteNextHop::default();
    h.hops = hops;
    h.interface_index = oif;
    h.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(v4(gw)))];
    h
}

#[test]
fn rule13_multipath_next_hops_are_a_set() {
    let ecmp = |hops: Vec<RouteNextHop>| {
        let mut s = reference();
        let mut r = route(v4("172.16.0.0"), 12, None, 2);
        r.attributes
            .retain(|a| !matches!(a, RouteAttribute::Oif(_)));
        r.attributes.push(RouteAttribute::MultiPath(hops));
        s.routes.push(r);
        s
    };
    let a = ecmp(vec![hop("192.0.2.1", 2, 0), hop("192.0.2.2", 2, 1)]);
    let b = ecmp(vec![hop("192.0.2.2", 2, 1), hop("192.0.2.1", 2, 0)]);
    assert_eq!(canon(&a), canon(&b));
    let weights = ecmp(vec![hop("192.0.2.1", 2, 1), hop("192.0.2.2", 2, 1)]);
    assert_ne!(canon(&a), canon(&weights), "weights are configuration");
    let d = doc(&a);
    let r = d.routes.iter().find(|r| r.dst == "172.16.0.0/12").unwrap();
    assert_eq!(r.nexthops[1].weight, 2);
    assert_eq!(r.nexthops[0].dev.as_deref(), Some("eth0"));
}

#[test]
fn rule14_rule_prefixes_are_normalised() {
    let mut a = reference();
    a.rules[1] = rule(100, Some((v4("10.1.2.3"), 8)), 100);
    assert_eq!(canon(&a), canon(&reference()));
    assert_eq!(doc(&a).rules[1].from.as_deref(), Some("10.0.0.0/8"));
}

#[test]
fn rule15_rules_keep_evaluation_order_within_a_priority() {
    let same_priority = |tables: [u32; 2]| {
        let mut s = reference();
        s.rules.push(rule(500, None, tables[0]));
        s.rules.push(rule(500, None, tables[1]));
        s
    };
    let a = same_priority([100, 200]);
    let b = same_priority([200, 100]);
    assert_ne!(
        canon(&a),
        canon(&b),
        "first match wins among equal priorities"
    );
    let tables: Vec<Option<u32>> = doc(&a)
        .rules
        .iter()
        .filter(|r| r.priority == 500)
        .map(|r| r.table)
        .collect();
    assert_eq!(tables, [Some(100), Some(200)]);
}

#[test]
fn rule16_unknown_route_and_rule_attributes_are_kept() {
    let before = canon(&reference());
    let mut s = reference();
    s.rules[1]
        .attributes
        .push(RuleAttribute::Other(DefaultNla::new(31, vec![0x2e])));
    s.routes[1]
        .attributes
        .push(RouteAttribute::Other(DefaultNla::new(99, vec![1, 2])));
    let d = doc(&s);
    assert_eq!(d.rules[1].other["31"], "2e");
    assert_eq!(
        d.routes
            .iter()
            .find(|r| r.dst == "10.0.0.0/8")
            .unwrap()
            .other["99"],
        "0102"
    );
    assert_ne!(canon(&s), before);
}

#[test]
fn nexthop_objects_are_flagged() {
    let mut s = reference();
    s.routes[2].attributes.push(RouteAttribute::NhId(7));
    let d = doc(&s);
    assert!(d.flags.contains(FLAG_NEXTHOP_OBJECTS));
    assert_eq!(
        d.routes.iter().find(|r| r.nhid.is_some()).unwrap().nhid,
        Some(7)
    );
}

#[test]
fn names_come_from_the_kernel_numbers() {
    let mut s = reference();
    s.routes[0].header.protocol = RouteProtocol::Other(186);
    s.routes[1].header.protocol = RouteProtocol::Other(250);
    let d = doc(&s);
    let protos: Vec<&str> = d.routes.iter().map(|r| r.protocol.as_str()).collect();
    assert!(
        protos.contains(&"bgp") && protos.contains(&"250"),
        "{protos:?}"
    );
    assert_eq!(d.link("lo").unwrap().link_type, "loopback");
    assert_eq!(d.rules[0].action, "lookup");
}
