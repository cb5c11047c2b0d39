//! Pure parsers of the text the socket inventory reads: the `/proc/net` socket tables (`tcp`,
//! `udp`, `raw`, their `6` twins, `udplite`, `packet`) and the `/proc/PID` files of the owner
//! scan. Nothing here does I/O or panics.
//!
//! A table line that does not parse is skipped and counted ([`Parsed::malformed`]); the reader
//! turns a non-zero count into the flag `unparsed_lines`, so one strange line neither hides the
//! rest of the inventory nor goes unseen by the verifier.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// TCP state LISTEN.
pub(crate) const TCP_LISTEN: u8 = 0x0A;
/// TCP state CLOSE: the state of every UDP and raw socket that is not connected.
pub(crate) const TCP_CLOSE: u8 = 0x07;

/// The lines of one table that parsed, and how many did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<T> {
    /// Parsed lines, in file order.
    pub entries: Vec<T>,
    /// Lines that were not empty, not the header, and did not parse.
    pub malformed: u32,
}

/// One line of `/proc/net/{tcp,udp,udplite,raw}{,6}`. For raw sockets the "port" is the IP
/// protocol number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InetLine {
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    /// The TCP state number (`st`), also used by UDP and raw sockets.
    pub state: u8,
    /// Socket inode; 0 for sockets without one (request and time-wait minisockets).
    pub inode: u64,
}

/// One line of `/proc/net/packet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PacketLine {
    /// `SOCK_*` type.
    pub kind: u16,
    /// Ethertype, host order.
    pub protocol: u16,
    /// Interface index it is bound to; 0 for none.
    pub ifindex: u32,
    pub inode: u64,
}

/// Parses an IPv4 (`v6 == false`) or IPv6 socket table.
pub(crate) fn inet_table(text: &str, v6: bool) -> Parsed<InetLine> {
    table(text, "sl", |fields| inet_line(fields, v6))
}

/// Parses `/proc/net/packet`.
pub(crate) fn packet_table(text: &str) -> Parsed<PacketLine> {
    table(text, "sk", packet_line)
}

fn table<T>(text: &str, header: &str, line: impl Fn(&[&str]) -> Option<T>) -> Parsed<T> {
    let mut out = Parsed {
        entries: Vec::new(),
        malformed: 0,
    };
    for (n, text) in text.lines().enumerate() {
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() || (n == 0 && fields.first() == Some(&header)) {
            continue;
        }
        match line(&fields) {
            Some(entry) => out.entries.push(entry),
            None => out.malformed = out.malformed.saturating_add(1),
        }
    }
    out
}

// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …
fn inet_line(fields: &[&str], v6: bool) -> Option<InetLine> {
    let [sl, local, remote, state, _queues, _timer, _retransmits, _uid, _timeout, inode, ..] =
        fields
    else {
        return None;
    };
    decimal::<u32>(sl.strip_suffix(':')?)?;
    let (local, local_port) = endpoint(local, v6)?;
    let (remote, remote_port) = endpoint(remote, v6)?;
    Some(InetLine {
        local,
        local_port,
        remote,
        remote_port,
        state: hex_u8(state)?,
        inode: decimal(inode)?,
    })
}

// sk RefCnt Type Proto Iface R Rmem User Inode
fn packet_line(fields: &[&str]) -> Option<PacketLine> {
    let [sk, _refcnt, kind, protocol, iface, _running, _rmem, _user, inode, ..] = fields else {
        return None;
    };
    if !is_hex(sk) {
        return None;
    }
    Some(PacketLine {
        kind: decimal(kind)?,
        protocol: hex_u16(protocol)?,
        ifindex: decimal(iface)?,
        inode: decimal(inode)?,
    })
}

/// `ADDRESS:PORT` as the kernel prints it: the address as 32-bit words in hex, each word the
/// in-memory (network-order) bytes read as a host-endian integer; the port as a number.
pub(crate) fn endpoint(text: &str, v6: bool) -> Option<(IpAddr, u16)> {
    let (address, port) = text.split_once(':')?;
    Some((address_words(address, v6)?, hex_u16(port)?))
}

/// An address printed as host-endian 32-bit hex words: 8 digits for IPv4, 32 for IPv6.
pub(crate) fn address_words(hex: &str, v6: bool) -> Option<IpAddr> {
    let expected = if v6 { 32 } else { 8 };
    if hex.len() != expected || !is_hex(hex) {
        return None;
    }
    let mut octets = [0u8; 16];
    for (word, out) in hex.as_bytes().chunks(8).zip(octets.chunks_mut(4)) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        out.copy_from_slice(&word.to_ne_bytes());
    }
    if v6 {
        Some(IpAddr::V6(Ipv6Addr::from(octets)))
    } else {
        let [a, b, c, d, ..] = octets;
        Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
    }
}

/// The socket inode of an fd link target `socket:[INODE]`.
pub(crate) fn socket_inode(target: &str) -> Option<u64> {
    decimal(target.strip_prefix("socket:[")?.strip_suffix(']')?)
}

/// The real uid from `/proc/PID/status` (`Uid:` real effective saved filesystem).
pub(crate) fn status_uid(status: &str) -> Option<u32> {
    let ids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    decimal(ids.split_whitespace().next()?)
}

fn is_hex(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_u8(text: &str) -> Option<u8> {
    is_hex(text)
        .then(|| u8::from_str_radix(text, 16).ok())
        .flatten()
}

fn hex_u16(text: &str) -> Option<u16> {
    is_hex(text)
        .then(|| u16::from_str_radix(text, 16).ok())
        .flatten()
}

/// Digits only: `FromStr` for integers also accepts a leading `+`.
fn decimal<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
