//! `palisade_collectors::network` against the real kernel: throwaway network namespaces
//! configured with iproute2 (needs root). Invariance (same configuration, different history →
//! same digest), variance (any configuration change → different digest), and events.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palisade_collectors::network::{self, NetworkConfig, NetworkEvent, NetworkEvents, Scalar};

use palisade_collectors::NetNs;

use crate::support::{self, Ns};

impl Ns {
    /// `ip -n NS ARGS…` (ARGS split on whitespace); panics on failure.
    fn ip(&self, args: &str) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend(args.split_whitespace());
        run("ip", &all);
    }

    fn sysctl(&self, setting: &str) {
        self.exec(&["sysctl", "-q", "-w", setting], None);
    }

    fn read(&self) -> NetworkConfig {
        network::read(&self.netns()).unwrap()
    }

    /// Reads once the kernel has finished bringing every admin-up link up: carrier changes
    /// reach the operational state through the link watcher (deferred up to a second, longer
    /// on a loaded machine) and only then does IPv6 add the link's `ff00::/8` route. Reading
    /// before that measures a half-up link, which is a real, different state.
    fn settled(&self) -> NetworkConfig {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let config = self.read();
            let pending: Vec<&str> = config
                .links
                .iter()
                .filter(|l| l.admin_up && l.link_type != "loopback")
                .filter(|l| {
                    l.oper_state != "up"
                        || !config.routes.iter().any(|r| {
                            r.dst == "ff00::/8" && r.dev.as_deref() == Some(l.name.as_str())
                        })
                })
                .map(|l| l.name.as_str())
                .collect();
            if pending.is_empty() {
                return config;
            }
            assert!(
                Instant::now() < deadline,
                "links never came up: {pending:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn digest(&self) -> String {
        self.read().canonical().unwrap().digest().to_string()
    }
}

/// `program ARGS…`; panics on failure.
fn run(program: &str, args: &[&str]) {
    support::run(program, args, None);
}

/// The reference configuration, built in one of two orders. Order 1 creates the veth pair
/// first; order 2 creates (and removes) a scratch link first and the bridge before the veths,
/// so every ifindex differs, and adds addresses, routes and rules in reverse.
fn build(ns: &Ns, order: u8) {
    let links_1 = "link add veth0 type veth peer name veth1\n\
                   link add br0 type bridge\n";
    let links_2 = "link add scratch0 type veth peer name scratch1\n\
                   link del scratch0\n\
                   link add br0 type bridge\n\
                   link add veth1 type veth peer name veth0\n";
    let common = "link set veth1 master br0\n\
                  link set veth0 mtu 1400\n\
                  link set veth0 up\n\
                  link set veth1 up\n\
                  link set br0 up\n";
    let config = [
        "addr add 10.1.0.1/24 dev veth0",
        "addr add 10.1.0.5/24 dev veth0",
        "addr add 2001:db8:1::1/64 dev veth0 nodad",
        "addr add 10.2.0.1/24 dev br0",
        "route add 10.9.0.0/16 via 10.1.0.2",
        "route add 10.8.0.0/16 via 10.1.0.3 table 100",
        "route add default via 10.1.0.254 table 100",
        "route add 2001:db8:9::/48 via 2001:db8:1::2",
        "route add blackhole 192.0.2.0/24 table 200",
        "rule add priority 1000 from 10.1.0.0/24 fwmark 0x10/0xff lookup 100",
        "rule add priority 1001 iif veth0 lookup 200",
        "-6 rule add priority 1000 to 2001:db8:9::/48 lookup main",
    ];
    let mut script = String::from(if order == 1 { links_1 } else { links_2 });
    script.push_str(common);
    let lines: Vec<&str> = if order == 1 {
        config.to_vec()
    } else {
        config.iter().rev().copied().collect()
    };
    // Addresses must exist before the routes through their subnets. Within one subnet the
    // first address is the primary (the source address) and the others secondaries: that order
    // is configuration, so both builds add 10.1.0.1 before 10.1.0.5.
    let (mut addrs, rest): (Vec<&str>, Vec<&str>) =
        lines.iter().partition(|l| l.starts_with("addr"));
    addrs.sort_by_key(|l| l.contains("10.1.0.5"));
    // `ip -batch` takes no per-line options: `-6 …` lines run on their own, in sequence.
    let mut pending_v6 = Vec::new();
    for line in addrs.iter().chain(rest.iter()) {
        if line.starts_with("-6") {
            pending_v6.push(*line);
        } else {
            script.push_str(line);
            script.push('\n');
        }
    }
    ns.ip_batch(&script);
    for line in pending_v6 {
        ns.ip(line);
    }
}

#[test]
fn reader_sees_links_addresses_routes_rules_and_sysctls() {
    let ns = Ns::new("net");
    build(&ns, 1);
    let config = ns.read();
    println!("{}", serde_json::to_string_pretty(&config).unwrap());

    assert_eq!(config.format, "palisade.network/1");
    let veth0 = config.link("veth0").unwrap();
    assert_eq!(veth0.kind.as_deref(), Some("veth"));
    assert_eq!(veth0.mtu, 1400);
    assert!(veth0.admin_up);
    assert_eq!(veth0.lower.as_deref(), Some("veth1"));
    assert_eq!(veth0.mac, None, "a veth's MAC is random, not configuration");
    let veth1 = config.link("veth1").unwrap();
    assert_eq!(veth1.master.as_deref(), Some("br0"));
    assert_eq!(config.link("br0").unwrap().kind.as_deref(), Some("bridge"));
    let lo = config.link("lo").unwrap();
    assert_eq!(lo.link_type, "loopback");
    assert_eq!(lo.mac.as_deref(), Some("00:00:00:00:00:00"));

    let addrs: Vec<(&str, &str)> = config
        .addresses
        .iter()
        .map(|a| (a.link.as_str(), a.address.as_str()))
        .collect();
    for expected in [
        ("veth0", "10.1.0.1/24"),
        ("veth0", "10.1.0.5/24"),
        ("veth0", "2001:db8:1::1/64"),
        ("br0", "10.2.0.1/24"),
        ("lo", "127.0.0.1/8"),
        ("lo", "::1/128"),
    ] {
        assert!(
            addrs.contains(&expected),
            "{expected:?} missing in {addrs:?}"
        );
    }
    let secondary = config
        .addresses
        .iter()
        .find(|a| a.address == "10.1.0.5/24")
        .unwrap();
    assert!(secondary.flags.contains("secondary"), "{secondary:?}");
    assert!(
        !config
            .addresses
            .iter()
            .any(|a| a.address.starts_with("fe80:")),
        "kernel-generated link-local addresses are not configuration"
    );

    let route = |table: u32, dst: &str| {
        config
            .routes
            .iter()
            .find(|r| r.table == table && r.dst == dst)
            .unwrap_or_else(|| panic!("no route {dst} in table {table}"))
    };
    let r = route(254, "10.9.0.0/16");
    assert_eq!(r.gateway.as_deref(), Some("10.1.0.2"));
    assert_eq!(r.dev.as_deref(), Some("veth0"));
    assert_eq!(r.protocol, "boot");
    assert_eq!(
        route(100, "10.8.0.0/16").gateway.as_deref(),
        Some("10.1.0.3")
    );
    assert_eq!(
        route(100, "0.0.0.0/0").gateway.as_deref(),
        Some("10.1.0.254")
    );
    assert_eq!(route(200, "192.0.2.0/24").kind, "blackhole");
    assert_eq!(route(254, "2001:db8:9::/48").family, "inet6");
    let connected = route(254, "10.1.0.0/24");
    assert_eq!(connected.protocol, "kernel");
    assert_eq!(connected.prefsrc.as_deref(), Some("10.1.0.1"));
    assert_eq!(route(255, "10.1.0.1/32").kind, "local");

    let rule = config
        .rules
        .iter()
        .find(|r| r.family == "inet" && r.priority == 1000)
        .unwrap();
    assert_eq!(rule.from.as_deref(), Some("10.1.0.0/24"));
    assert_eq!(rule.fwmark, Some(0x10));
    assert_eq!(rule.fwmask, Some(0xff));
    assert_eq!(rule.table, Some(100));
    assert_eq!(rule.action, "lookup");
    let iif = config.rules.iter().find(|r| r.priority == 1001).unwrap();
    assert_eq!(iif.iif.as_deref(), Some("veth0"));
    let priorities: Vec<(&str, u32)> = config
        .rules
        .iter()
        .map(|r| (r.family.as_str(), r.priority))
        .collect();
    for default in [("inet", 0), ("inet", 32766), ("inet", 32767), ("inet6", 0)] {
        assert!(
            priorities.contains(&default),
            "{default:?} in {priorities:?}"
        );
    }

    for key in [
        "net/ipv4/ip_forward",
        "net/ipv4/conf/all/rp_filter",
        "net/ipv4/conf/default/accept_source_route",
        "net/ipv4/conf/veth0/send_redirects",
        "net/ipv4/conf/br0/accept_redirects",
        "net/ipv6/conf/all/forwarding",
        "net/ipv6/conf/default/accept_ra",
        "net/ipv6/conf/veth0/accept_ra",
    ] {
        assert!(config.sysctls.contains_key(key), "{key} missing");
    }
    assert_eq!(config.sysctls["net/ipv4/ip_forward"], Scalar::Int(0));
    assert!(config.flags.is_empty(), "{:?}", config.flags);
}

#[test]
fn same_configuration_built_in_a_different_order_has_the_same_digest() {
    let a = Ns::new("net");
    let b = Ns::new("net");
    build(&a, 1);
    build(&b, 2);
    let (ca, cb) = (a.settled(), b.settled());
    let ifindex = |ns: &Ns| {
        let out = Command::new("ip")
            .args(["-n", &ns.name, "-o", "link", "show", "veth0"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_ne!(
        ifindex(&a),
        ifindex(&b),
        "the two builds must differ in ifindexes"
    );
    assert_eq!(
        serde_json::to_string_pretty(&ca).unwrap(),
        serde_json::to_string_pretty(&cb).unwrap()
    );
    assert_eq!(ca.canonical().unwrap(), cb.canonical().unwrap());
}

#[test]
fn reading_twice_and_traffic_do_not_change_the_digest() {
    let ns = Ns::new("net");
    let peer = Ns::new("net");
    ns.ip(&format!(
        "link add up0 type veth peer name down0 netns {}",
        peer.name
    ));
    ns.ip("addr add 10.5.0.1/24 dev up0");
    ns.ip("link set up0 up");
    peer.ip("addr add 10.5.0.2/24 dev down0");
    peer.ip("link set down0 up");
    let before = ns.settled();
    assert_eq!(
        before.link("up0").unwrap().lower.as_deref(),
        Some(network::OTHER_NAMESPACE)
    );
    let first = before.canonical().unwrap();
    assert_eq!(ns.read().canonical().unwrap(), first);
    ns.exec(&["ping", "-c", "3", "-i", "0.2", "-q", "10.5.0.2"], None);
    // Traffic also fills the neighbour table, which is not measured either.
    let after = ns.read();
    assert_eq!(
        serde_json::to_string_pretty(&after).unwrap(),
        serde_json::to_string_pretty(&before).unwrap()
    );
    assert_eq!(after.canonical().unwrap(), first);
}

#[test]
fn every_configuration_change_changes_the_digest() {
    let ns = Ns::new("net");
    build(&ns, 1);
    let mut seen = vec![ns.digest()];
    let mut check = |what: &str, ns: &Ns| {
        let d = ns.digest();
        assert!(!seen.contains(&d), "{what} did not change the digest");
        seen.push(d);
    };
    ns.ip("route add 10.20.0.0/16 via 10.1.0.2");
    check("a route in main", &ns);
    ns.ip("route add 10.21.0.0/16 via 10.1.0.2 table 100");
    check("a route in a custom table", &ns);
    ns.ip("link set veth0 mtu 1300");
    check("an MTU", &ns);
    ns.sysctl("net.ipv4.ip_forward=1");
    check("net.ipv4.ip_forward", &ns);
    ns.sysctl("net.ipv4.conf.veth0.rp_filter=1");
    check("a per-link rp_filter", &ns);
    ns.ip("rule add priority 2000 to 10.30.0.0/16 lookup 100");
    check("a rule", &ns);
    ns.ip("addr add 10.3.0.1/24 dev br0");
    check("an address", &ns);
    ns.ip("link set br0 down");
    check("a link's admin state", &ns);
    ns.ip("route replace 10.9.0.0/16 via 10.1.0.3");
    check("a route's gateway", &ns);
}

#[test]
fn equal_priority_rules_keep_their_evaluation_order() {
    let a = Ns::new("net");
    let b = Ns::new("net");
    for (ns, tables) in [(&a, [100, 200]), (&b, [200, 100])] {
        for table in tables {
            ns.ip(&format!(
                "rule add priority 500 from 10.0.0.0/8 lookup {table}"
            ));
        }
    }
    let (ca, cb) = (a.read(), b.read());
    assert_ne!(ca.canonical().unwrap(), cb.canonical().unwrap());
    let tables: Vec<Option<u32>> = ca
        .rules
        .iter()
        .filter(|r| r.priority == 500)
        .map(|r| r.table)
        .collect();
    assert_eq!(tables, [Some(100), Some(200)]);
}

#[test]
fn sysctls_are_read_in_the_namespace() {
    let ns = Ns::new("net");
    ns.ip("link add sy0 type veth peer name sy1");
    let host = network::read(&NetNs::Current).unwrap();
    let host_forward = host.sysctls["net/ipv4/ip_forward"].clone();
    let flipped = if host_forward == Scalar::Int(1) { 0 } else { 1 };
    ns.sysctl(&format!("net.ipv4.ip_forward={flipped}"));
    ns.sysctl("net.ipv4.conf.sy0.rp_filter=2");
    let config = ns.read();
    assert_eq!(config.sysctls["net/ipv4/ip_forward"], Scalar::Int(flipped));
    assert_eq!(
        config.sysctls["net/ipv4/conf/sy0/rp_filter"],
        Scalar::Int(2)
    );
    assert!(!host.sysctls.contains_key("net/ipv4/conf/sy0/rp_filter"));
    let host_again = network::read(&NetNs::Current).unwrap();
    assert_eq!(host_again.sysctls["net/ipv4/ip_forward"], host_forward);
}

#[test]
fn per_link_sysctls_from_the_link_dump_match_proc() {
    let ns = Ns::new("net");
    ns.ip("link add pl0 type veth peer name pl1");
    ns.sysctl("net.ipv4.conf.pl0.rp_filter=1");
    ns.sysctl("net.ipv4.conf.pl1.accept_redirects=0");
    ns.sysctl("net.ipv6.conf.pl1.accept_ra=2");
    ns.sysctl("net.ipv4.conf.all.send_redirects=0");
    let config = ns.read();
    let keys: Vec<&String> = config.sysctls.keys().collect();
    let mut script = String::new();
    for key in &keys {
        script.push_str(&format!("echo \"{key} $(cat /proc/sys/{key})\"\n"));
    }
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "sh", "-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap();
        assert_eq!(
            config.sysctls[key],
            Scalar::Int(value.trim().parse().unwrap()),
            "{key}"
        );
        checked += 1;
    }
    assert_eq!(checked, keys.len());
    for link in ["lo", "pl0", "pl1"] {
        for key in [
            "rp_filter",
            "forwarding",
            "accept_redirects",
            "send_redirects",
            "accept_source_route",
        ] {
            assert!(config
                .sysctls
                .contains_key(&format!("net/ipv4/conf/{link}/{key}")));
        }
        for key in ["forwarding", "accept_ra"] {
            assert!(config
                .sysctls
                .contains_key(&format!("net/ipv6/conf/{link}/{key}")));
        }
    }
    assert_eq!(
        config.sysctls["net/ipv6/conf/pl1/accept_ra"],
        Scalar::Int(2)
    );
}

/// Instantiates the legacy `filter` table in `ns`: with `iptables-legacy` if installed, else by
/// asking the kernel for the table's info the way iptables does (IPT_SO_GET_INFO), through
/// Python's ctypes. Returns false when neither is available.
fn instantiate_legacy_filter(ns: &Ns) -> bool {
    let ok = |mut cmd: Command| cmd.status().map(|s| s.success()).unwrap_or(false);
    let mut legacy = Command::new("ip");
    legacy.args([
        "netns",
        "exec",
        &ns.name,
        "iptables-legacy",
        "-t",
        "filter",
        "-L",
        "-n",
    ]);
    legacy.stdout(Stdio::null()).stderr(Stdio::null());
    if ok(legacy) {
        return true;
    }
    let script = "import ctypes,socket\n\
        s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_RAW)\n\
        buf=ctypes.create_string_buffer(b'filter',84)\n\
        n=ctypes.c_uint(84)\n\
        libc=ctypes.CDLL(None,use_errno=True)\n\
        r=libc.getsockopt(s.fileno(),0,64,buf,ctypes.byref(n))\n\
        raise SystemExit(0 if r==0 else 1)\n";
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, "python3", "-c", script]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    ok(cmd)
}

#[test]
fn legacy_iptables_is_flagged() {
    let ns = Ns::new("net");
    let before = ns.read();
    assert!(
        before.legacy_xtables.ip.is_empty(),
        "{:?}",
        before.legacy_xtables
    );
    assert!(!before.flags.contains(network::model::FLAG_LEGACY_IPTABLES));
    if !instantiate_legacy_filter(&ns) {
        eprintln!("skipped: neither iptables-legacy nor python3 can create a legacy table");
        return;
    }
    let after = ns.read();
    assert!(
        after.legacy_xtables.ip.contains("filter"),
        "{:?}",
        after.legacy_xtables
    );
    assert!(after.flags.contains(network::model::FLAG_LEGACY_IPTABLES));
    assert_ne!(before.canonical().unwrap(), after.canonical().unwrap());
    // Read from a thread inside the namespace: another namespace's tables are not seen.
    let other = Ns::new("net");
    assert!(other.read().legacy_xtables.ip.is_empty());
}

/// Events queued within `wait`, without blocking longer.
fn drain(events: &mut NetworkEvents, wait: Duration) -> Vec<NetworkEvent> {
    events.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        match events.try_next().unwrap() {
            Some(e) => out.push(e),
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    out
}

#[test]
fn changes_in_the_namespace_produce_events_and_other_namespaces_do_not() {
    let ns = Ns::new("net");
    let other = Ns::new("net");
    ns.ip("link add ev0 type veth peer name ev1");
    ns.ip("link set ev0 up");
    let mut events = NetworkEvents::subscribe(&ns.netns()).unwrap();
    let mut other_events = NetworkEvents::subscribe(&other.netns()).unwrap();
    drain(&mut events, Duration::from_millis(50));

    ns.ip("addr add 10.7.0.1/24 dev ev0");
    let got = drain(&mut events, Duration::from_millis(300));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "address" }),
        "{got:?}"
    );

    ns.ip("route add 10.70.0.0/16 via 10.7.0.2");
    let got = drain(&mut events, Duration::from_millis(300));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "route" }),
        "{got:?}"
    );

    ns.ip("rule add priority 100 lookup 100");
    let got = drain(&mut events, Duration::from_millis(300));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "rule" }),
        "{got:?}"
    );

    ns.ip("link set ev0 mtu 1280");
    let got = drain(&mut events, Duration::from_millis(300));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "link" }),
        "{got:?}"
    );

    ns.sysctl("net.ipv4.ip_forward=1");
    let got = drain(&mut events, Duration::from_millis(300));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "netconf" }),
        "{got:?}"
    );

    let got = drain(&mut other_events, Duration::from_millis(100));
    assert!(
        got.is_empty(),
        "another namespace's changes leaked: {got:?}"
    );
    // The host's namespace does not see them either, and a change there is not ours.
    let host = Ns::new("net");
    host.ip("link add ho0 type veth peer name ho1");
    let got = drain(&mut events, Duration::from_millis(200));
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn blocking_next_returns_an_event() {
    let ns = Ns::new("net");
    let mut events = NetworkEvents::subscribe(&ns.netns()).unwrap();
    let name = ns.name.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        run(
            "ip",
            &[
                "-n", &name, "link", "add", "bl0", "type", "veth", "peer", "name", "bl1",
            ],
        );
    });
    // A new link is announced as a link and as its netconf (per-device forwarding etc.).
    let mut got = vec![events.recv().unwrap()];
    writer.join().unwrap();
    got.extend(drain(&mut events, Duration::from_millis(200)));
    assert!(
        got.contains(&NetworkEvent::Changed { what: "link" }),
        "{got:?}"
    );
}
