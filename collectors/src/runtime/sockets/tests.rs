//! Unit tests of the socket inventory without a kernel: tables read from a directory of
//! captured text, the owner scan over a fake `/proc`, and the canonical rules of
//! `docs/canonical-runtime.md` (`palisade.sockets/1`) over hand-built tables. The parsers'
//! own tests (rules 2 and 8) are in `parse/tests.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::os::unix::fs::symlink;

use super::*;

/// Captured `/proc/net` tables (x86_64, little-endian words): `tcp` has a listener on
/// 127.0.0.1:8080 and one connection to it (both ends), `udp` 0.0.0.0:53 and a client
/// connected to 127.0.0.1:53, `raw` an ICMP socket, `packet` an `ETH_P_ALL` raw socket on any
/// interface and an `ETH_P_IP` dgram socket bound to ifindex 1.
#[cfg(target_endian = "little")]
const TCP: &str = include_str!("testdata/tcp");
#[cfg(target_endian = "little")]
const UDP: &str = include_str!("testdata/udp");
/// `::1` port 5353 and `::ffff:127.0.0.1` port 6000, both unconnected.
#[cfg(target_endian = "little")]
const UDP6: &str = include_str!("testdata/udp6");
const RAW: &str = include_str!("testdata/raw");
const PACKET: &str = include_str!("testdata/packet");

fn line(local: &str, port: u16, state: u8, inode: u64) -> InetLine {
    let local: IpAddr = local.parse().unwrap();
    let remote = if local.is_ipv6() { "::" } else { "0.0.0.0" };
    InetLine {
        local,
        local_port: port,
        remote: remote.parse().unwrap(),
        remote_port: 0,
        state,
        inode,
    }
}

fn owner(comm: &str, exe: Option<&str>, uid: u32) -> Owner {
    Owner {
        comm: comm.to_owned(),
        exe: exe.map(str::to_owned),
        uid,
    }
}

fn sshd() -> Owner {
    owner("sshd", Some("/usr/sbin/sshd"), 0)
}

/// Owner map: each inode held by the given (owner, pid) pairs.
fn owners(held: &[(u64, Owner, u32)]) -> OwnerMap {
    let mut map = OwnerMap::new();
    for (inode, owner, pid) in held {
        let pids = map.entry(*inode).or_default().entry(owner.clone());
        pids.or_default().insert(*pid);
    }
    map
}

fn tables(inet: &[(Kind, InetLine)]) -> Tables {
    Tables {
        inet: inet
            .iter()
            .map(|(k, l)| (*k, l.local.is_ipv6(), l.clone()))
            .collect(),
        ..Tables::default()
    }
}

fn digest(doc: &Sockets) -> String {
    doc.canonical().unwrap().digest().to_string()
}

#[test]
fn rule1_only_listening_tcp_and_unconnected_udp_are_listeners() {
    let mut connected = line("127.0.0.1", 40000, 0x01, 5);
    connected.remote = "127.0.0.1".parse().unwrap();
    connected.remote_port = 53;
    let mut closed_with_peer = line("127.0.0.1", 40001, 0x07, 6);
    closed_with_peer.remote_port = 53;
    let doc = tables(&[
        (Kind::Tcp, line("0.0.0.0", 22, 0x0A, 1)),
        (Kind::Tcp, line("10.0.0.1", 40000, 0x01, 2)), // established
        (Kind::Tcp, line("10.0.0.1", 40002, 0x07, 3)), // bound, not listening
        (Kind::Udp, line("0.0.0.0", 53, 0x07, 4)),
        (Kind::Udp, connected),
        (Kind::UdpLite, closed_with_peer),
        (Kind::UdpLite, line("::", 7000, 0x07, 7)),
    ])
    .into_sockets(&OwnerMap::new());
    let found: Vec<_> = doc
        .listeners
        .iter()
        .map(|l| (l.protocol.as_str(), l.port))
        .collect();
    assert_eq!(found, [("tcp", 22), ("udp", 53), ("udplite", 7000)]);
}

#[cfg(target_endian = "little")]
#[test]
fn captured_tables_read_from_a_directory_give_the_expected_document() {
    let dir = tempfile::tempdir().unwrap();
    let any_interface = PACKET.lines().take(2).collect::<Vec<_>>().join("\n");
    for (file, text) in [
        ("tcp", TCP),
        ("udp", UDP),
        ("udp6", UDP6),
        ("raw", RAW),
        ("packet", any_interface.as_str()),
    ] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let t = Tables::read(dir.path()).unwrap();
    assert_eq!(
        t.inodes(),
        BTreeSet::from([86830, 86833, 86834, 86836, 86837, 86839])
    );
    let doc = t.into_sockets(&owners(&[(86830, sshd(), 1)]));
    let listeners: Vec<_> = doc
        .listeners
        .iter()
        .map(|l| format!("{} {} {}", l.protocol, l.address, l.port))
        .collect();
    let want = [
        "tcp 127.0.0.1 8080",
        "udp 0.0.0.0 53",
        "udp ::1 5353",
        "udp ::ffff:127.0.0.1 6000",
    ];
    assert_eq!(listeners, want);
    assert_eq!(doc.listeners[0].owners, [sshd()]);
    assert_eq!(
        (doc.raw[0].protocol.as_str(), doc.raw[0].address.as_str()),
        ("icmp", "0.0.0.0")
    );
    assert_eq!(doc.packet[0].protocol, "all");
    let flags: Vec<_> = doc.flags.iter().map(String::as_str).collect();
    assert_eq!(flags, [FLAG_PACKET, FLAG_RAW, FLAG_WILDCARD]);
}

#[test]
fn rule3_inodes_pids_and_kernel_counters_are_not_in_the_document() {
    let first = tables(&[(Kind::Tcp, line("0.0.0.0", 22, 0x0A, 100))]).into_sockets(&owners(&[(
        100,
        sshd(),
        812,
    )]));
    let restarted = tables(&[(Kind::Tcp, line("0.0.0.0", 22, 0x0A, 94321))])
        .into_sockets(&owners(&[(94321, sshd(), 30977)]));
    assert_eq!(digest(&first), digest(&restarted));
    let text = first.canonical().unwrap().as_str().to_owned();
    assert!(!text.contains("100") && !text.contains("812"), "{text}");
    // The pids are still there for operators.
    assert_eq!(first.owners_with_pids()[&sshd()], BTreeSet::from([812]));
    assert_ne!(
        first, restarted,
        "observed differs, the canonical bytes do not"
    );
}

#[test]
fn rule4_owners_are_comm_exe_uid_sorted_and_deduplicated() {
    let worker = owner("nginx", Some("/usr/sbin/nginx"), 33);
    let master = owner("nginx", Some("/usr/sbin/nginx"), 0);
    let kthread = owner("kworker/0:1", None, 0);
    let held = owners(&[
        (1, worker.clone(), 11),
        (1, worker.clone(), 12),
        (1, master.clone(), 10),
        (2, kthread.clone(), 2),
    ]);
    let doc = tables(&[
        (Kind::Tcp, line("0.0.0.0", 80, 0x0A, 1)),
        (Kind::Udp, line("0.0.0.0", 9, 0x07, 2)),
        (Kind::Udp, line("0.0.0.0", 10, 0x07, 3)),
    ])
    .into_sockets(&held);
    let by_port = |p: u16| doc.listeners.iter().find(|l| l.port == p).unwrap();
    assert_eq!(by_port(80).owners, [master, worker.clone()]);
    assert_eq!(by_port(9).owners, [kthread]);
    assert!(by_port(10).owners.is_empty());
    assert_eq!(doc.owners_with_pids()[&worker], BTreeSet::from([11, 12]));
    let json = serde_json::to_value(by_port(9)).unwrap();
    assert_eq!(json["owners"][0]["exe"], serde_json::Value::Null);
}

#[test]
fn rule5_identical_sockets_collapse_into_one_entry_with_a_count() {
    let held = owners(&[
        (1, sshd(), 5),
        (2, sshd(), 5),
        (3, sshd(), 5),
        (4, sshd(), 6),
    ]);
    let doc = tables(&[
        (Kind::Udp, line("0.0.0.0", 443, 0x07, 1)),
        (Kind::Udp, line("0.0.0.0", 443, 0x07, 2)),
        (Kind::Udp, line("0.0.0.0", 443, 0x07, 3)),
        (Kind::Udp, line("0.0.0.0", 443, 0x07, 9)), // same port, no owner: its own entry
    ])
    .into_sockets(&held);
    let counts: Vec<_> = doc
        .listeners
        .iter()
        .map(|l| (l.owners.len(), l.count))
        .collect();
    assert_eq!(counts, [(0, 1), (1, 3)]);
}

#[test]
fn rule6_ipv4_and_ipv6_sockets_are_separate_entries() {
    let doc = tables(&[
        (Kind::Tcp, line("0.0.0.0", 22, 0x0A, 1)),
        (Kind::Tcp, line("::", 22, 0x0A, 2)),
    ])
    .into_sockets(&owners(&[(1, sshd(), 5), (2, sshd(), 5)]));
    let families: Vec<_> = doc.listeners.iter().map(|l| l.family.as_str()).collect();
    assert_eq!(families, ["inet", "inet6"]);
    assert!(doc.listeners.iter().all(|l| l.count == 1));
}

#[test]
fn rule7_protocols_and_interfaces_are_named() {
    let mut t = tables(&[
        (Kind::Raw, line("0.0.0.0", 1, 0x07, 1)),
        (Kind::Raw, line("::", 58, 0x07, 2)),
        (Kind::Raw, line("0.0.0.0", 200, 0x07, 3)),
    ]);
    let packet = |kind, protocol, ifindex| PacketLine {
        kind,
        protocol,
        ifindex,
        inode: 0,
    };
    t.packet = vec![
        packet(3, 0x0003, 0),
        packet(2, 0x0800, 2),
        packet(3, 0x88b5, 9),
    ];
    t.links = BTreeMap::from([(2, "eth0".to_owned())]);
    let doc = t.into_sockets(&OwnerMap::new());
    let raw: Vec<_> = doc.raw.iter().map(|r| r.protocol.as_str()).collect();
    assert_eq!(raw, ["200", "icmp", "ipv6-icmp"]);
    let packet: Vec<_> = doc
        .packet
        .iter()
        .map(|p| (p.kind.as_str(), p.protocol.as_str(), p.interface.as_deref()))
        .collect();
    assert_eq!(
        packet,
        [
            ("dgram", "ip", Some("eth0")),
            ("raw", "0x88b5", Some("if9")),
            ("raw", "all", None),
        ]
    );
    let json = serde_json::to_value(&doc.packet[2]).unwrap();
    assert!(
        json.get("interface").is_none() && json["type"] == "raw",
        "{json}"
    );
}

#[test]
fn rule8_malformed_lines_are_flagged_and_counted_in_observed() {
    let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 86830 2 0
   1: 0100007F:0016 garbage
   2: 0100007F:0017 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 +86831 2 0
";
    let dir = tempfile::tempdir().unwrap();
    for (file, text) in [("tcp", v4), ("udp", ""), ("raw", "")] {
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let t = Tables::read(dir.path()).unwrap();
    assert_eq!(t.malformed, BTreeMap::from([("tcp".to_owned(), 2)]));
    let doc = t.into_sockets(&OwnerMap::new());
    assert_eq!(doc.listeners.len(), 1);
    assert!(doc.flags.contains(FLAG_UNPARSED));
    assert_eq!(doc.observed.malformed_lines["tcp"], 2);
    // Kept through normalisation of the document alone.
    assert!(doc.canonical().unwrap().as_str().contains(FLAG_UNPARSED));
}

#[test]
fn rule9_flags_are_derived_from_the_entries() {
    let none = tables(&[(Kind::Tcp, line("127.0.0.1", 22, 0x0A, 1))]);
    assert!(none.into_sockets(&OwnerMap::new()).flags.is_empty());
    for (wildcard, yes) in [
        ("0.0.0.0", true),
        ("::", true),
        ("::ffff:0.0.0.0", true),
        ("::1", false),
    ] {
        let doc =
            tables(&[(Kind::Udp, line(wildcard, 53, 0x07, 1))]).into_sockets(&OwnerMap::new());
        assert_eq!(doc.flags.contains(FLAG_WILDCARD), yes, "{wildcard}");
    }
    let mut t = tables(&[(Kind::Raw, line("0.0.0.0", 1, 0x07, 1))]);
    t.packet = vec![PacketLine {
        kind: 3,
        protocol: 3,
        ifindex: 0,
        inode: 2,
    }];
    let flags = t.into_sockets(&OwnerMap::new()).flags;
    assert_eq!(
        flags,
        BTreeSet::from([FLAG_PACKET.to_owned(), FLAG_RAW.to_owned()])
    );
}

#[test]
fn rule10_the_document_is_rfc8785_sorted_and_depends_on_content_only() {
    let doc = tables(&[
        (Kind::Udp, line("::1", 5353, 0x07, 2)),
        (Kind::Tcp, line("0.0.0.0", 22, 0x0A, 1)),
    ])
    .into_sockets(&owners(&[(1, sshd(), 7)]));
    let expected = concat!(
        r#"{"flags":["wildcard_listeners"],"format":"palisade.sockets/1","listeners":["#,
        r#"{"address":"0.0.0.0","count":1,"family":"inet","owners":[{"comm":"sshd","#,
        r#""exe":"/usr/sbin/sshd","uid":0}],"port":22,"protocol":"tcp"},"#,
        r#"{"address":"::1","count":1,"family":"inet6","owners":[],"port":5353,"protocol":"udp"}"#,
        r#"],"packet":[],"raw":[]}"#
    );
    assert_eq!(doc.canonical().unwrap().as_str(), expected);
    // A hand-edited document out of order, duplicated and with stale flags: same bytes.
    let mut edited = doc.clone();
    edited.listeners.reverse();
    edited.flags.clear();
    edited.observed = Observed::default();
    assert_eq!(digest(&edited), digest(&doc));
    let mut split = doc.clone();
    split.listeners.push(split.listeners[0].clone());
    split.listeners[0].count = 0;
    assert_eq!(digest(&split), digest(&doc));
}

#[test]
fn rule11_missing_optional_tables_are_empty_and_required_ones_fail() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["tcp", "udp"] {
        std::fs::write(dir.path().join(file), "").unwrap();
    }
    let err = Tables::read(dir.path()).unwrap_err();
    assert!(
        matches!(&err, SocketsError::Proc { path, .. } if path.ends_with("raw")),
        "{err}"
    );
    std::fs::write(dir.path().join("raw"), RAW).unwrap();
    let t = Tables::read(dir.path()).unwrap();
    assert_eq!((t.inet.len(), t.packet.len()), (1, 0));
}

#[test]
fn owner_scan_reads_fd_links_comm_exe_and_real_uid_and_skips_vanished_processes() {
    let proc = tempfile::tempdir().unwrap();
    let process = |pid: &str, fds: &[&str], comm: Option<&str>, exe: Option<&str>| {
        let dir = proc.path().join(pid);
        std::fs::create_dir_all(dir.join("fd")).unwrap();
        for (n, target) in fds.iter().enumerate() {
            symlink(target, dir.join("fd").join(n.to_string())).unwrap();
        }
        if let Some(comm) = comm {
            std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
            let status = "Name:\tx\nUmask:\t0022\nUid:\t101\t0\t0\t0\nGid:\t0\t0\t0\t0\n";
            std::fs::write(dir.join("status"), status).unwrap();
        }
        if let Some(exe) = exe {
            symlink(exe, dir.join("exe")).unwrap();
        }
    };
    process(
        "10",
        &["/dev/null", "socket:[100]", "socket:[200]"],
        Some("sshd"),
        Some("/usr/sbin/sshd"),
    );
    process(
        "11",
        &["socket:[100]"],
        Some("sshd"),
        Some("/usr/sbin/sshd"),
    );
    process("12", &["socket:[300]"], Some("kthread"), None);
    process("13", &["socket:[100]"], None, None); // exited between the fd and comm reads
    process("self", &["socket:[100]"], Some("self"), None);
    std::fs::create_dir(proc.path().join("14")).unwrap(); // exited: no fd directory
    let wanted = BTreeSet::from([100, 300, 400]);
    let map = owners::scan(proc.path(), &wanted).unwrap();
    let sshd = owner("sshd", Some("/usr/sbin/sshd"), 101);
    assert_eq!(
        map[&100],
        BTreeMap::from([(sshd, BTreeSet::from([10, 11]))])
    );
    assert_eq!(
        map[&300].keys().next().unwrap(),
        &owner("kthread", None, 101)
    );
    assert_eq!(map.len(), 2, "200 is not wanted, 400 has no owner");
    let missing = owners::scan(&proc.path().join("nope"), &wanted).unwrap_err();
    assert!(matches!(missing, SocketsError::Proc { .. }));
}
