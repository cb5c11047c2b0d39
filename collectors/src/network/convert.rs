//! Netlink messages → the model. Pure: the kernel's dump comes in as parsed messages, the
//! model goes out; interface indexes are resolved to names here and never leave this module.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use netlink_packet_core::Nla;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, InfoBridge, InfoData, InfoIpVlan, InfoIpVtap,
    InfoMacVlan, InfoMacVtap, InfoVlan, InfoVrf, InfoVxlan, LinkAttribute, LinkInfo, LinkMessage,
    LinkXdp, XdpAttached,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteMetric, RouteNextHop, RouteVia,
};
use netlink_packet_route::rule::{RuleAttribute, RuleMessage};

use super::model::{
    Address, Link, NetworkConfig, NextHop, Route, Rule, Scalar, FORMAT, OTHER_NAMESPACE,
};
use super::names;

/// What one dump of the namespace returned, as the kernel sent it.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// `RTM_NEWLINK` messages.
    pub links: Vec<LinkMessage>,
    /// `RTM_NEWADDR` messages.
    pub addresses: Vec<AddressMessage>,
    /// `RTM_NEWROUTE` messages (IPv4 and IPv6, every table).
    pub routes: Vec<RouteMessage>,
    /// `RTM_NEWRULE` messages (IPv4 and IPv6).
    pub rules: Vec<RuleMessage>,
}

/// The dump refers to an interface it does not list: something changed while it was taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} refers to interface index {index}, which the link dump does not list")]
pub struct Inconsistent {
    /// What referred to it.
    pub what: &'static str,
    /// The unknown index.
    pub index: u32,
}

/// The network configuration in `snapshot`, without sysctls and legacy x_tables (which do not
/// come from netlink), normalised.
pub fn convert(snapshot: &Snapshot) -> Result<NetworkConfig, Inconsistent> {
    let names = Names::new(&snapshot.links);
    let mut config = NetworkConfig::new();
    config.format = FORMAT.to_owned();
    for msg in &snapshot.links {
        let link = link(msg, &names)?;
        link_sysctls(msg, &link.name, &mut config.sysctls);
        config.links.push(link);
    }
    let mut dropped = HashSet::new();
    for msg in &snapshot.addresses {
        match address(msg, &names)? {
            Kept::Yes(a) => config.addresses.push(a),
            Kept::Dropped { link, ip } => {
                dropped.insert((link, ip));
            }
        }
    }
    for msg in &snapshot.routes {
        if let Some(route) = route(msg, &names, &dropped)? {
            config.routes.push(route);
        }
    }
    for msg in &snapshot.rules {
        config.rules.push(rule(msg));
    }
    config.normalize();
    Ok(config)
}

struct Names(HashMap<u32, String>);

impl Names {
    fn new(links: &[LinkMessage]) -> Self {
        let mut map = HashMap::with_capacity(links.len());
        for msg in links {
            for attr in &msg.attributes {
                if let LinkAttribute::IfName(name) = attr {
                    map.insert(msg.header.index, name.clone());
                }
            }
        }
        Self(map)
    }

    fn get(&self, what: &'static str, index: u32) -> Result<String, Inconsistent> {
        self.0
            .get(&index)
            .cloned()
            .ok_or(Inconsistent { what, index })
    }
}

fn link(msg: &LinkMessage, names: &Names) -> Result<Link, Inconsistent> {
    let flags = msg.header.flags.bits();
    let mut link = Link {
        name: names.get("link", msg.header.index)?,
        link_type: names::link_type(u16::from(msg.header.link_layer_type)),
        admin_up: flags & names::IFF_UP != 0,
        oper_state: names::oper_state(0),
        flags: names::LINK_FLAGS
            .iter()
            .filter(|(bit, _)| flags & bit != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect(),
        ..Link::default()
    };
    let mut mac = None;
    let mut lower = None;
    let mut lower_elsewhere = false;
    let mut info: Option<&Vec<LinkInfo>> = None;
    for attr in &msg.attributes {
        match attr {
            LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
            LinkAttribute::OperState(state) => {
                link.oper_state = names::oper_state(u8::from(*state))
            }
            LinkAttribute::Controller(index) if *index != 0 => {
                link.master = Some(names.get("link master", *index)?);
            }
            LinkAttribute::Link(index) if *index != 0 => lower = Some(*index),
            LinkAttribute::LinkNetNsId(_) => lower_elsewhere = true,
            LinkAttribute::Address(bytes) => mac = Some(names::mac(bytes)),
            LinkAttribute::Group(group) if *group != 0 => link.group = Some(*group),
            LinkAttribute::ProtoDown(down) => link.proto_down = *down != 0,
            LinkAttribute::Xdp(xdp) => xdp_into(xdp, &mut link),
            LinkAttribute::LinkInfo(infos) => info = Some(infos),
            _ => {}
        }
    }
    if let Some(infos) = info {
        for item in infos {
            match item {
                LinkInfo::Kind(kind) => link.kind = Some(kind.to_string()),
                LinkInfo::Data(data) => kind_details(data, names, &mut link.details)?,
                _ => {}
            }
        }
    }
    link.lower = match lower {
        Some(_) if lower_elsewhere => Some(OTHER_NAMESPACE.to_owned()),
        // Physical devices report themselves as their own lower device.
        Some(index) if index == msg.header.index => None,
        Some(index) => Some(names.get("link lower device", index)?),
        None => None,
    };
    if link.kind.is_none() {
        link.mac = mac;
    }
    Ok(link)
}

/// The per-link sysctls (`net/ipv4/conf/<link>/…`, `net/ipv6/conf/<link>/…`) from the link's
/// `IFLA_AF_SPEC`: the same values `/proc/sys` shows, taken from the same dump as the link, so
/// they cannot disagree with the link list (and cost no file reads). A link without IPv4 or IPv6
/// state has no such directory under `/proc/sys` either.
fn link_sysctls(msg: &LinkMessage, name: &str, out: &mut BTreeMap<String, Scalar>) {
    for attr in &msg.attributes {
        let LinkAttribute::AfSpecUnspec(specs) = attr else {
            continue;
        };
        for spec in specs {
            match spec {
                AfSpecUnspec::Inet(items) => {
                    for item in items {
                        if let AfSpecInet::DevConf(c) = item {
                            for (key, value) in [
                                ("rp_filter", c.rp_filter),
                                ("forwarding", c.forwarding),
                                ("accept_redirects", c.accept_redirects),
                                ("send_redirects", c.send_redirects),
                                ("accept_source_route", c.accept_source_route),
                            ] {
                                out.insert(
                                    format!("net/ipv4/conf/{name}/{key}"),
                                    Scalar::Int(i64::from(value)),
                                );
                            }
                        }
                    }
                }
                AfSpecUnspec::Inet6(items) => {
                    for item in items {
                        if let AfSpecInet6::DevConf(c) = item {
                            for (key, value) in
                                [("forwarding", c.forwarding), ("accept_ra", c.accept_ra)]
                            {
                                out.insert(
                                    format!("net/ipv6/conf/{name}/{key}"),
                                    Scalar::Int(i64::from(value)),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

fn xdp_into(xdp: &[LinkXdp], link: &mut Link) {
    let mut attached = None;
    let mut ids = BTreeMap::new();
    let mut single = None;
    for item in xdp {
        match item {
            LinkXdp::Attached(mode) => attached = Some(*mode),
            LinkXdp::ProgId(id) => single = Some(*id),
            LinkXdp::DrvProgId(id) => {
                ids.insert("driver".to_owned(), *id);
            }
            LinkXdp::SkbProgId(id) => {
                ids.insert("generic".to_owned(), *id);
            }
            LinkXdp::HwProgId(id) => {
                ids.insert("offload".to_owned(), *id);
            }
            _ => {}
        }
    }
    let mode = match attached {
        None | Some(XdpAttached::None) => return,
        Some(XdpAttached::Driver) => "driver",
        Some(XdpAttached::SocketBuffer) => "generic",
        Some(XdpAttached::Hardware) => "offload",
        Some(XdpAttached::Multiple) => "",
        Some(_) => "other",
    };
    if !mode.is_empty() {
        if let Some(id) = single {
            ids.entry(mode.to_owned()).or_insert(id);
        }
        link.xdp.insert(mode.to_owned());
    }
    link.xdp.extend(ids.keys().cloned());
    link.xdp_program_ids = ids;
}

/// The kind-specific settings that are configuration, per kind. Timers, counters and learned
/// state (bridge root id, hello timer, bond active port) are not.
fn kind_details(
    data: &InfoData,
    names: &Names,
    out: &mut BTreeMap<String, Scalar>,
) -> Result<(), Inconsistent> {
    let mut put = |key: &str, value: Scalar| {
        out.insert(key.to_owned(), value);
    };
    match data {
        InfoData::Vlan(items) => {
            for item in items {
                match item {
                    InfoVlan::Id(id) => put("id", (*id).into()),
                    InfoVlan::Protocol(p) => put("protocol", vlan_protocol(u16::from(*p)).into()),
                    _ => {}
                }
            }
        }
        InfoData::Vrf(items) => {
            for item in items {
                if let InfoVrf::TableId(table) = item {
                    put("table", (*table).into());
                }
            }
        }
        InfoData::MacVlan(items) => {
            for item in items {
                if let InfoMacVlan::Mode(mode) = item {
                    put("mode", macvlan_mode(u32::from(*mode)).into());
                }
            }
        }
        InfoData::MacVtap(items) => {
            for item in items {
                if let InfoMacVtap::Mode(mode) = item {
                    put("mode", macvlan_mode(u32::from(*mode)).into());
                }
            }
        }
        InfoData::IpVlan(items) => {
            for item in items {
                if let InfoIpVlan::Mode(mode) = item {
                    put("mode", ipvlan_mode(u16::from(*mode)).into());
                }
            }
        }
        InfoData::IpVtap(items) => {
            for item in items {
                if let InfoIpVtap::Mode(mode) = item {
                    put("mode", ipvlan_mode(u16::from(*mode)).into());
                }
            }
        }
        InfoData::Bond(items) => {
            for item in items {
                if let netlink_packet_route::link::InfoBond::Mode(mode) = item {
                    put("mode", bond_mode(u8::from(*mode)).into());
                }
            }
        }
        InfoData::Bridge(items) => {
            for item in items {
                match item {
                    InfoBridge::VlanFiltering(on) => put("vlan_filtering", (*on).into()),
                    InfoBridge::StpState(state) => put("stp_state", u32::from(*state).into()),
                    InfoBridge::VlanProtocol(p) => {
                        put("vlan_protocol", vlan_protocol(u16::from(*p)).into());
                    }
                    InfoBridge::VlanDefaultPvid(pvid) => put("vlan_default_pvid", (*pvid).into()),
                    _ => {}
                }
            }
        }
        InfoData::Vxlan(items) => {
            for item in items {
                match item {
                    InfoVxlan::Id(id) => put("id", (*id).into()),
                    InfoVxlan::Port(port) => put("port", (*port).into()),
                    InfoVxlan::Group(ip) => put("group", ip.to_string().into()),
                    InfoVxlan::Group6(ip) => put("group", ip.to_string().into()),
                    InfoVxlan::Local(ip) => put("local", ip.to_string().into()),
                    InfoVxlan::Local6(ip) => put("local", ip.to_string().into()),
                    InfoVxlan::Link(index) if *index != 0 => {
                        put("dev", names.get("vxlan underlay", *index)?.into());
                    }
                    InfoVxlan::Learning(on) => put("learning", (*on).into()),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn vlan_protocol(p: u16) -> String {
    match p {
        0x8100 => "802.1Q".to_owned(),
        0x88a8 => "802.1ad".to_owned(),
        other => format!("{other:#06x}"),
    }
}

fn macvlan_mode(m: u32) -> String {
    match m {
        1 => "private".to_owned(),
        2 => "vepa".to_owned(),
        4 => "bridge".to_owned(),
        8 => "passthru".to_owned(),
        16 => "source".to_owned(),
        other => other.to_string(),
    }
}

fn ipvlan_mode(m: u16) -> String {
    match m {
        0 => "l2".to_owned(),
        1 => "l3".to_owned(),
        2 => "l3s".to_owned(),
        other => other.to_string(),
    }
}

fn bond_mode(m: u8) -> String {
    let name = match m {
        0 => "balance-rr",
        1 => "active-backup",
        2 => "balance-xor",
        3 => "broadcast",
        4 => "802.3ad",
        5 => "balance-tlb",
        6 => "balance-alb",
        other => return other.to_string(),
    };
    name.to_owned()
}

enum Kept {
    Yes(Address),
    Dropped { link: String, ip: IpAddr },
}

fn address(msg: &AddressMessage, names: &Names) -> Result<Kept, Inconsistent> {
    let family = u8::from(msg.header.family);
    let ipv6 = family == 10;
    let link = names.get("address", msg.header.index)?;
    let mut flags = u32::from(msg.header.flags.bits());
    let (mut address, mut local, mut label, mut broadcast) = (None, None, None, None);
    let (mut metric, mut origin) = (None, None);
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Label(l) => label = Some(l.clone()),
            AddressAttribute::Broadcast(ip) => broadcast = Some(ip.to_string()),
            AddressAttribute::Flags(f) => flags = f.bits(),
            AddressAttribute::RoutePriority(m) => metric = Some(*m),
            AddressAttribute::Protocol(p) => origin = Some(u8::from(*p)),
            _ => {}
        }
    }
    // IFA_LOCAL is the local address when present (IPv4 always; IPv6 only with a peer), and
    // IFA_ADDRESS is then the peer; otherwise IFA_ADDRESS is the local address.
    let (ip, peer) = match (local, address) {
        (Some(local), Some(addr)) if local != addr => (local, Some(addr)),
        (Some(local), _) => (local, None),
        (None, Some(addr)) => (addr, None),
        (None, None) => (IpAddr::from([0, 0, 0, 0]), None),
    };
    let temporary = ipv6 && flags & names::IFA_F_SECONDARY != 0;
    if temporary || origin == Some(names::IFAPROT_KERNEL_LL) {
        return Ok(Kept::Dropped { link, ip });
    }
    let prefix = msg.header.prefix_len;
    Ok(Kept::Yes(Address {
        family: names::family(family),
        address: format!("{ip}/{prefix}"),
        peer: peer.map(|p| format!("{p}/{prefix}")),
        broadcast,
        scope: names::scope(u8::from(msg.header.scope)),
        label: label.filter(|l| *l != link),
        flags: names::address_flags(flags, ipv6)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        metric,
        origin: origin.map(names::address_protocol),
        link,
    }))
}

fn route_address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

fn route_address_text(a: &RouteAddress) -> String {
    match route_address(a) {
        Some(ip) => ip.to_string(),
        None => match a {
            RouteAddress::Mpls(label) => format!("mpls:{}", label.label),
            _ => format!("raw:{}", hex_of(a)),
        },
    }
}

fn hex_of<T: netlink_packet_core::Emitable>(value: &T) -> String {
    let mut buf = vec![0u8; value.buffer_len()];
    value.emit(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn nla_hex<T: Nla>(nla: &T) -> String {
    let mut buf = vec![0u8; nla.value_len()];
    nla.emit_value(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// `ip/len` with the host bits cleared.
fn prefix(ip: IpAddr, len: u8) -> String {
    let masked = match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & mask).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
    };
    format!("{masked}/{len}")
}

fn unspecified(family: u8) -> IpAddr {
    if family == 10 {
        IpAddr::from([0u16; 8])
    } else {
        IpAddr::from([0u8; 4])
    }
}

fn route(
    msg: &RouteMessage,
    names: &Names,
    dropped: &HashSet<(String, IpAddr)>,
) -> Result<Option<Route>, Inconsistent> {
    let header = &msg.header;
    let flags = header.flags.bits();
    if flags & names::RTM_F_CLONED != 0 {
        return Ok(None);
    }
    let family = u8::from(header.address_family);
    let protocol = u8::from(header.protocol);
    let mut route = Route {
        family: names::family(family),
        table: u32::from(header.table),
        kind: names::route_type(u8::from(header.kind)),
        protocol: names::route_protocol(protocol),
        scope: names::scope(u8::from(header.scope)),
        tos: Some(header.tos).filter(|t| *t != 0),
        flags: names::nexthop_flags(flags)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ..Route::default()
    };
    let mut dst = unspecified(family);
    let mut src = None;
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(table) => route.table = *table,
            RouteAttribute::Destination(a) => {
                if let Some(ip) = route_address(a) {
                    dst = ip;
                }
            }
            RouteAttribute::Source(a) => src = route_address(a),
            RouteAttribute::Gateway(a) => route.gateway = Some(route_address_text(a)),
            RouteAttribute::Via(via) => route.gateway = Some(via_text(via)),
            RouteAttribute::PrefSource(a) => route.prefsrc = Some(route_address_text(a)),
            RouteAttribute::Oif(index) => route.dev = Some(names.get("route", *index)?),
            RouteAttribute::Priority(metric) => route.metric = Some(*metric),
            RouteAttribute::MultiPath(hops) => {
                for hop in hops {
                    route.nexthops.push(nexthop(hop, names)?);
                }
            }
            RouteAttribute::NhId(id) => route.nhid = Some(*id),
            RouteAttribute::Metrics(metrics) => {
                for m in metrics {
                    let (key, value) = metric(m);
                    route.metrics.insert(key, value);
                }
            }
            RouteAttribute::Preference(p) => route.pref = Some(names::route_pref(u8::from(*p))),
            RouteAttribute::Realm(realm) => {
                route.realms = Some(u32::from(realm.source) << 16 | u32::from(realm.destination));
            }
            RouteAttribute::EncapType(t) => route.encap = Some(names::encap_type(u16::from(*t))),
            RouteAttribute::Other(nla) => {
                route.other.insert(nla.kind().to_string(), nla_hex(nla));
            }
            _ => {}
        }
    }
    let full = if family == 10 { 128 } else { 32 };
    if protocol == names::RTPROT_KERNEL && header.destination_prefix_length == full {
        if let Some(dev) = &route.dev {
            if dropped.contains(&(dev.clone(), dst)) {
                return Ok(None);
            }
        }
    }
    route.dst = prefix(dst, header.destination_prefix_length);
    route.src = src.map(|ip| prefix(ip, header.source_prefix_length));
    Ok(Some(route))
}

fn via_text(via: &RouteVia) -> String {
    match via {
        RouteVia::Inet(ip) => ip.to_string(),
        RouteVia::Inet6(ip) => ip.to_string(),
        other => format!("raw:{}", hex_of(other)),
    }
}

fn nexthop(hop: &RouteNextHop, names: &Names) -> Result<NextHop, Inconsistent> {
    let mut out = NextHop {
        weight: u32::from(hop.hops) + 1,
        flags: names::nexthop_flags(u32::from(hop.flags.bits()))
            .into_iter()
            .map(str::to_owned)
            .collect(),
        ..NextHop::default()
    };
    if hop.interface_index != 0 {
        out.dev = Some(names.get("route next hop", hop.interface_index)?);
    }
    for attr in &hop.attributes {
        match attr {
            RouteAttribute::Gateway(a) => out.gateway = Some(route_address_text(a)),
            RouteAttribute::Via(via) => out.gateway = Some(via_text(via)),
            _ => {}
        }
    }
    Ok(out)
}

fn metric(m: &RouteMetric) -> (String, Scalar) {
    let kind = m.kind();
    let value = match m {
        RouteMetric::Lock(v)
        | RouteMetric::Mtu(v)
        | RouteMetric::Window(v)
        | RouteMetric::Rtt(v)
        | RouteMetric::RttVar(v)
        | RouteMetric::SsThresh(v)
        | RouteMetric::Cwnd(v)
        | RouteMetric::Advmss(v)
        | RouteMetric::Reordering(v)
        | RouteMetric::Hoplimit(v)
        | RouteMetric::InitCwnd(v)
        | RouteMetric::Features(v)
        | RouteMetric::RtoMin(v)
        | RouteMetric::InitRwnd(v)
        | RouteMetric::QuickAck(v)
        | RouteMetric::FastopenNoCookie(v) => Scalar::from(*v),
        RouteMetric::CcAlgo(name) => Scalar::from(name.as_str()),
        other => Scalar::Text(nla_hex(other)),
    };
    (names::route_metric(kind), value)
}

fn rule(msg: &RuleMessage) -> Rule {
    let header = &msg.header;
    let family = u8::from(header.family);
    let mut rule = Rule {
        family: names::family(family),
        action: names::rule_action(u8::from(header.action)),
        table: Some(u32::from(header.table)).filter(|t| *t != 0),
        not: header.flags.bits() & names::FIB_RULE_INVERT != 0,
        tos: Some(header.tos).filter(|t| *t != 0),
        protocol: names::route_protocol(0),
        ..Rule::default()
    };
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => rule.table = Some(*t).filter(|t| *t != 0),
            RuleAttribute::Goto(target) => rule.goto = Some(*target),
            RuleAttribute::Source(ip) => rule.from = Some(prefix(*ip, header.src_len)),
            RuleAttribute::Destination(ip) => rule.to = Some(prefix(*ip, header.dst_len)),
            RuleAttribute::Iifname(name) => rule.iif = Some(name.clone()),
            RuleAttribute::Oifname(name) => rule.oif = Some(name.clone()),
            RuleAttribute::FwMark(mark) => rule.fwmark = Some(*mark),
            RuleAttribute::FwMask(mask) => rule.fwmask = Some(*mask),
            RuleAttribute::IpProtocol(p) => rule.ipproto = Some(u8::from(*p)),
            RuleAttribute::SourcePortRange(r) => {
                rule.sport = Some(format!("{}-{}", r.start, r.end))
            }
            RuleAttribute::DestinationPortRange(r) => {
                rule.dport = Some(format!("{}-{}", r.start, r.end));
            }
            RuleAttribute::UidRange(r) => rule.uidrange = Some(format!("{}-{}", r.start, r.end)),
            RuleAttribute::SuppressPrefixLen(len) => {
                rule.suppress_prefixlen = Some(*len).filter(|l| *l != u32::MAX);
            }
            RuleAttribute::SuppressIfGroup(group) => {
                rule.suppress_ifgroup = Some(*group).filter(|g| *g != u32::MAX);
            }
            RuleAttribute::L3MDev(on) => rule.l3mdev = *on,
            RuleAttribute::Realm(realm) => {
                rule.realms = Some(u32::from(realm.source) << 16 | u32::from(realm.destination));
            }
            RuleAttribute::TunId(id) => rule.tun_id = Some(id.to_string()).filter(|t| t != "0"),
            RuleAttribute::Protocol(p) => rule.protocol = names::route_protocol(u8::from(*p)),
            RuleAttribute::Other(nla) => {
                rule.other.insert(nla.kind().to_string(), nla_hex(nla));
            }
            _ => {}
        }
    }
    rule
}

#[cfg(test)]
mod tests;
