//! Unit tests of the pure parsers: addresses as the kernel prints them (built for this
//! machine's endianness, and captured on a little-endian one), malformed lines, fd links and
//! `/proc/PID/status` (`docs/canonical-runtime.md`, `palisade.sockets/1` rules 2 and 8).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a failed test"
)]

use std::net::{IpAddr, Ipv6Addr};

use super::*;

#[cfg(target_endian = "little")]
const TCP: &str = include_str!("../testdata/tcp");
#[cfg(target_endian = "little")]
const UDP6: &str = include_str!("../testdata/udp6");
#[cfg(target_endian = "little")]
const RAW: &str = include_str!("../testdata/raw");
#[cfg(target_endian = "little")]
const PACKET: &str = include_str!("../testdata/packet");

/// An address as the kernel prints it: each 32-bit word of its bytes, read host-endian, in hex.
fn words(ip: IpAddr) -> String {
    let octets = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let word = |c: &[u8]| format!("{:08X}", u32::from_ne_bytes(c.try_into().unwrap()));
    octets.chunks(4).map(word).collect()
}

#[test]
fn rule2_addresses_are_decoded_from_host_endian_words_and_printed_canonically() {
    for text in [
        "127.0.0.1",
        "10.1.2.3",
        "0.0.0.0",
        "::",
        "::1",
        "2001:db8::1",
        "fe80::1:2:3:4",
        "2001:db8:0:1:1:1:1:1",
        "::ffff:127.0.0.1",
        "::ffff:0.0.0.0",
    ] {
        let ip: IpAddr = text.parse().unwrap();
        let hex = format!("{}:0016", words(ip));
        let (parsed, port) = endpoint(&hex, ip.is_ipv6()).unwrap();
        assert_eq!((parsed.to_string().as_str(), port), (text, 22), "{hex}");
    }
    // RFC 5952: lowercase, longest zero run compressed, mapped addresses dotted.
    let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1);
    let (parsed, _) = endpoint(&format!("{}:0000", words(ip.into())), true).unwrap();
    assert_eq!(parsed.to_string(), "2001:db8::1:0:0:1");
    // The family is the table's: an address of the other length does not parse.
    assert_eq!(endpoint("0100007F:0016", true), None);
    assert_eq!(endpoint(&format!("{}:0016", "0".repeat(32)), false), None);
}

#[cfg(target_endian = "little")]
#[test]
fn rule2_captured_tables_decode_on_little_endian() {
    let tcp = inet_table(TCP, false);
    assert_eq!(tcp.malformed, 0);
    assert_eq!(tcp.entries.len(), 3);
    let listener = InetLine {
        local: "127.0.0.1".parse().unwrap(),
        local_port: 8080,
        remote: "0.0.0.0".parse().unwrap(),
        remote_port: 0,
        state: TCP_LISTEN,
        inode: 86830,
    };
    assert_eq!(tcp.entries[0], listener);
    assert_eq!(tcp.entries[2].inode, 0);
    let udp6 = inet_table(UDP6, true);
    let got: Vec<_> = udp6
        .entries
        .iter()
        .map(|l| (l.local.to_string(), l.local_port))
        .collect();
    assert_eq!(
        got,
        [
            ("::1".to_owned(), 5353),
            ("::ffff:127.0.0.1".to_owned(), 6000)
        ]
    );
    let raw = inet_table(RAW, false);
    assert_eq!(raw.entries[0].local_port, 1); // IPPROTO_ICMP
    let packet = packet_table(PACKET);
    let want = PacketLine {
        kind: 2,
        protocol: 0x0800,
        ifindex: 1,
        inode: 86840,
    };
    assert_eq!((packet.malformed, &packet.entries[1]), (0, &want));
}

#[test]
fn fd_links_and_status_parse() {
    assert_eq!(socket_inode("socket:[86830]"), Some(86830));
    for bad in [
        "socket:[]",
        "socket:[+1]",
        "pipe:[5]",
        "socket:[5",
        "anon_inode:[eventfd]",
    ] {
        assert_eq!(socket_inode(bad), None, "{bad}");
    }
    assert_eq!(status_uid("Name:\ta\nUid:\t1000\t0\t0\t0\n"), Some(1000));
    assert_eq!(status_uid("Name:\ta\n"), None);
    assert_eq!(status_uid("Uid:\n"), None);
}

#[test]
fn rule8_malformed_lines_are_skipped_and_counted() {
    let v4 = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 86830 2 0 100 0 0 10 0
   3: 0100007F:0016

\u{1F600} garbage that is long enough to have ten fields a b c d e f
4: +100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 7 2
5: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 +7 2
x: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 0 7 2
6: 0100007F:10000 00000000:0000 0A 0:0 0:0 0 0 0 7 2
7: 0100007F:0016 00000000:0000 0A 0:0 0:0 0 0 7
";
    let parsed = inet_table(v4, false);
    assert_eq!((parsed.entries.len(), parsed.malformed), (1, 7));
    // A header is only the first line; an empty table is no error.
    assert_eq!(inet_table("", true).malformed, 0);
    assert_eq!(inet_table("a\nsl local_address\n", false).malformed, 2);
    let packet = packet_table("sk RefCnt Type Proto Iface R Rmem User Inode\n1 2 3\n");
    assert_eq!((packet.entries.len(), packet.malformed), (0, 1));
    assert_eq!(packet_table("0 1 3 0003 -1 1 0 0 5\n").malformed, 1);
    assert_eq!(packet_table("zz 1 3 0003 1 1 0 0 5\n").malformed, 1);
}
