//! Exposure facts against the kernel: a ruleset loaded with real nft into a "server" namespace,
//! its exposure computed from `nft -j list ruleset`, and sampled traffic classes (tcp/udp,
//! port, source address) actually sent from a "client" namespace over a veth pair. Where the
//! exposure is certain the kernel must agree: certain accept ⇒ delivered, certain drop ⇒ not
//! delivered; "possible" may go either way.
//!
//! Each client source address `S` talks to its own server address `D`, with a client route
//! `D src S`, so every probe picks its source without binding before connect and all probes of
//! a ruleset run at once.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use crate::support::{run, Ns};
use palisade_firewall::exposure::{exposure, Exposure, Packet, PacketVerdict};

/// How long a probe waits for an answer before it counts as not delivered. Local veth: a
/// delivered SYN is answered in well under a millisecond.
const WAIT: Duration = Duration::from_millis(1500);

/// Client sources, and the server address each talks to.
const PAIRS: [(&str, &str); 9] = [
    ("10.99.0.2", "10.99.1.1"),
    ("192.0.2.9", "10.99.1.2"),
    ("10.1.2.3", "10.99.1.3"),
    ("172.16.0.1", "10.99.1.4"),
    ("198.51.100.7", "10.99.1.5"),
    ("192.168.1.50", "10.99.1.6"),
    ("fd99::2", "fd99:1::1"),
    ("2001:db8:1::7", "fd99:1::2"),
    ("2001:db9::1", "fd99:1::3"),
];

/// Ports probed in every ruleset, besides the edges of its open port ranges.
const PORTS: [u16; 14] = [
    22, 23, 25, 53, 80, 443, 1500, 2001, 3000, 3306, 5000, 8080, 8443, 9000,
];

const SERVER_MAC: &str = "02:00:00:00:00:01";
const CLIENT_MAC: &str = "02:00:00:00:00:02";

/// A server and a client namespace joined by a veth pair.
struct Pair {
    server: Ns,
    client: Ns,
}

impl Pair {
    fn new() -> Self {
        let server = Ns::new("exps");
        let client = Ns::new("expc");
        run(
            "ip",
            &[
                "link",
                "add",
                "veth-s",
                "address",
                SERVER_MAC,
                "netns",
                &server.name,
                "type",
                "veth",
                "peer",
                "name",
                "veth-c",
                "address",
                CLIENT_MAC,
                "netns",
                &client.name,
            ],
            None,
        );
        let mut s = String::from("link set lo up\nlink set veth-s up\n");
        let mut c = String::from("link set lo up\nlink set veth-c up\n");
        for (src, dst) in PAIRS {
            let (len, nodad) = if src.contains(':') {
                (128, " nodad")
            } else {
                (32, "")
            };
            s.push_str(&format!("addr add {dst}/{len} dev veth-s{nodad}\n"));
            c.push_str(&format!("addr add {src}/{len} dev veth-c{nodad}\n"));
            c.push_str(&format!("route add {dst}/{len} dev veth-c src {src}\n"));
            // Static neighbours: the rulesets under test may drop ARP-less ND (ICMPv6), and
            // the probes test the filter, not neighbour discovery.
            c.push_str(&format!(
                "neigh add {dst} lladdr {SERVER_MAC} dev veth-c nud permanent\n"
            ));
            s.push_str(&format!(
                "neigh add {src} lladdr {CLIENT_MAC} dev veth-s nud permanent\n"
            ));
        }
        s.push_str("route add default dev veth-s\nroute add ::/0 dev veth-s\n");
        server.ip_batch(&s);
        client.ip_batch(&c);
        Self { server, client }
    }
}

/// What the exposure says about one probe: `Some(true)` certainly delivered, `Some(false)`
/// certainly not, `None` possible.
fn expected(e: &Exposure, proto: &str, port: u16, src: IpAddr, dst: IpAddr) -> Option<bool> {
    let packet = |state: &str| Packet {
        proto: proto.to_owned(),
        port: Some(port),
        source: src,
        destination: Some(dst),
        iif: Some("veth-s".to_owned()),
        oif: None,
        ct_state: state.to_owned(),
    };
    let family = if src.is_ipv4() { "ipv4" } else { "ipv6" };
    let output_open = e.families[family].hooks["output"].default == "accept"
        && e.families[family].hooks["output"]
            .base_chains
            .iter()
            .all(|b| b.policy != "drop");
    match e.verdict("input", &packet("new")) {
        PacketVerdict::Dropped => Some(false),
        PacketVerdict::Possible(_) => None,
        // TCP also needs the handshake's established ACK in, and the SYN-ACK out.
        PacketVerdict::Accepted(_) if proto == "udp" => Some(true),
        PacketVerdict::Accepted(_) => {
            let est = matches!(
                e.verdict("input", &packet("established")),
                PacketVerdict::Accepted(_)
            );
            (est && output_open).then_some(true)
        }
    }
}

fn unmap(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    }
}

/// Sends every probe; returns the delivered ones.
fn probe(
    pair: &Pair,
    probes: &[(&'static str, u16, IpAddr, IpAddr)],
) -> BTreeSet<(&'static str, u16, IpAddr)> {
    let ports: BTreeSet<u16> = probes.iter().map(|p| p.1).collect();
    let any = SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0));
    let (listeners, udp) = pair
        .server
        .netns()
        .run(|| {
            let mut tcp = Vec::new();
            let mut udp = Vec::new();
            for &p in &ports {
                let at = SocketAddr::new(any.ip(), p);
                tcp.push(TcpListener::bind(at).unwrap());
                let u = UdpSocket::bind(at).unwrap();
                u.set_nonblocking(true).unwrap();
                udp.push(u);
            }
            (tcp, udp)
        })
        .unwrap();
    let client = pair.client.netns();
    let mut delivered = BTreeSet::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = probes
            .iter()
            .filter(|p| p.0 == "tcp")
            .map(|&(proto, port, src, dst)| {
                let client = client.clone();
                scope.spawn(move || {
                    let r = client
                        .run(|| TcpStream::connect_timeout(&SocketAddr::new(dst, port), WAIT))
                        .unwrap();
                    // Every probed port has a listener: only a completed handshake is a
                    // delivery (a refusal is a `reject` answering for the host).
                    match r {
                        Ok(_) => Some((proto, port, src)),
                        Err(e)
                            if matches!(
                                e.kind(),
                                ErrorKind::TimedOut
                                    | ErrorKind::WouldBlock
                                    | ErrorKind::ConnectionRefused
                                    // ICMPv6 administratively prohibited (`reject`).
                                    | ErrorKind::PermissionDenied
                                    | ErrorKind::HostUnreachable
                                    | ErrorKind::NetworkUnreachable
                            ) =>
                        {
                            None
                        }
                        Err(e) => panic!("connect {src} → {dst}:{port}: {e}"),
                    }
                })
            })
            .collect();
        client
            .run(|| {
                for &(_, port, src, dst) in probes.iter().filter(|p| p.0 == "udp") {
                    let s = UdpSocket::bind(SocketAddr::new(src, 0)).unwrap();
                    s.send_to(b"probe", SocketAddr::new(dst, port)).unwrap();
                }
            })
            .unwrap();
        for h in handles {
            delivered.extend(h.join().unwrap());
        }
    });
    // Every UDP datagram had WAIT (the TCP probes' timeout) to arrive.
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        let mut got = false;
        for (&port, s) in ports.iter().zip(&udp) {
            let mut buf = [0u8; 16];
            while let Ok((_, from)) = s.recv_from(&mut buf) {
                delivered.insert(("udp", port, unmap(from.ip())));
                got = true;
            }
        }
        if !got && Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(listeners);
    delivered
}

/// Loads `script`, computes exposure from the listing, probes, and compares.
fn check(name: &str, script: &str, majority_certain: bool) {
    let pair = Pair::new();
    pair.server.load(&format!("flush ruleset\n{script}"));
    let listing = run(
        "ip",
        &[
            "netns",
            "exec",
            &pair.server.name,
            "nft",
            "-j",
            "list",
            "ruleset",
        ],
        None,
    )
    .stdout;
    let ruleset = palisade_firewall::from_nft_json(&listing).unwrap();
    let e = exposure(&ruleset);

    let mut ports: BTreeSet<u16> = PORTS.into_iter().collect();
    for o in e
        .open_ports
        .iter()
        .filter(|o| matches!(o.proto.as_str(), "tcp" | "udp"))
    {
        for p in [
            o.port_from,
            o.port_to,
            o.port_from.saturating_sub(1),
            o.port_to + 1,
        ] {
            if let Ok(p) = u16::try_from(p) {
                if p > 0 && ports.len() < 40 {
                    ports.insert(p);
                }
            }
        }
    }
    let mut probes = Vec::new();
    for proto in ["tcp", "udp"] {
        for &port in &ports {
            for (src, dst) in PAIRS {
                probes.push((proto, port, src.parse().unwrap(), dst.parse().unwrap()));
            }
        }
    }
    let delivered = probe(&pair, &probes);
    let mut wrong = Vec::new();
    let mut certain = 0;
    for &(proto, port, src, dst) in &probes {
        let got = delivered.contains(&(proto, port, src));
        let want = expected(&e, proto, port, src, dst);
        if want.is_some() {
            certain += 1;
        }
        if want.is_some_and(|w| w != got) {
            wrong.push(format!(
                "{proto}/{port} from {src}: exposure says {want:?}, kernel delivered: {got}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{name}: {} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The comparison means something: most probes (targeted rulesets) or at least some (the
    // corpus, where e.g. firewalld's fib reverse-path check is unmodelled and makes most
    // outcomes "possible") have a certain answer.
    let enough = if majority_certain {
        certain * 2 > probes.len()
    } else {
        certain > 0
    };
    assert!(
        enough,
        "{name}: only {certain} of {} probes certain",
        probes.len()
    );
    eprintln!(
        "{name}: {} probes, {certain} certain, {} delivered",
        probes.len(),
        delivered.len()
    );
}

#[test]
fn exposure_agrees_with_the_kernel_on_targeted_rulesets() {
    for (name, script) in [
        (
            "first_match",
            include_str!("../../firewall/src/exposure/fixtures/first_match.nft"),
        ),
        (
            "jumps",
            include_str!("../../firewall/src/exposure/fixtures/jumps.nft"),
        ),
        (
            "multi_base",
            include_str!("../../firewall/src/exposure/fixtures/multi_base.nft"),
        ),
        (
            "sets",
            include_str!("../../firewall/src/exposure/fixtures/sets.nft"),
        ),
        (
            "unmodelled",
            include_str!("../../firewall/src/exposure/fixtures/unmodelled.nft"),
        ),
    ] {
        check(name, script, true);
    }
}

#[test]
fn exposure_agrees_with_the_kernel_on_the_corpus() {
    for (name, script) in [
        (
            "cis-baseline",
            include_str!("../../firewall/testdata/corpus/cis-baseline.nft"),
        ),
        (
            "firewalld-zones",
            include_str!("../../firewall/testdata/corpus/firewalld-zones.nft"),
        ),
        (
            "docker-nat",
            include_str!("../../firewall/testdata/corpus/docker-nat.nft"),
        ),
        (
            "kube-proxy-nft",
            include_str!("../../firewall/testdata/corpus/kube-proxy-nft.nft"),
        ),
    ] {
        check(name, script, false);
    }
}
