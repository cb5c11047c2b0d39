//! Listening TCP/UDP sockets, raw and packet sockets of a network namespace, with the processes
//! that hold them, read from `/proc` (no eBPF) and reduced to the canonical document
//! `palisade.sockets/1` (rules in `docs/canonical-runtime.md`).
//!
//! The socket tables are read by a thread inside the namespace (`/proc/thread-self/net` is
//! that thread's namespace; `/proc/net` would be the process's); owners are found by scanning
//! every process's open files, which is global.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use palisade_collectors::{runtime::sockets, NetNs};
//! let inventory = sockets::read(&NetNs::named("web1"))?;
//! let canonical = inventory.canonical()?; // the measured bytes and their SHA-256
//! for (owner, pids) in inventory.owners_with_pids() {
//!     println!("{} ({:?}): {pids:?}", owner.comm, owner.exe);
//! }
//! # let _ = canonical; Ok(()) }
//! ```

mod model;
mod owners;
mod parse;

use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::RouteNetlinkMessage;

pub use model::{
    Listener, Observed, Owner, PacketSocket, RawSocket, Sockets, FLAG_PACKET, FLAG_RAW,
    FLAG_UNPARSED, FLAG_WILDCARD, FORMAT,
};

use crate::netns::{NetNs, NetNsError};
use crate::network::dump::Dumper;
use crate::network::NetworkError;
use owners::OwnerMap;
use parse::{InetLine, PacketLine};

/// The calling thread's view of its network namespace.
const NET_ROOT: &str = "/proc/thread-self/net";
/// Where processes are listed.
const PROC_ROOT: &str = "/proc";

/// What kind of socket a table lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
    UdpLite,
    Raw,
}

/// The inet socket tables: file, kind, IPv6, whether the file must exist. IPv4 TCP, UDP and
/// raw are always built in; a missing IPv6 or UDP-Lite table means the kernel has none.
const INET_TABLES: &[(&str, Kind, bool, bool)] = &[
    ("tcp", Kind::Tcp, false, true),
    ("tcp6", Kind::Tcp, true, false),
    ("udp", Kind::Udp, false, true),
    ("udp6", Kind::Udp, true, false),
    ("udplite", Kind::UdpLite, false, false),
    ("udplite6", Kind::UdpLite, true, false),
    ("raw", Kind::Raw, false, true),
    ("raw6", Kind::Raw, true, false),
];

/// Failure to read a namespace's sockets.
#[derive(Debug, thiserror::Error)]
pub enum SocketsError {
    /// The namespace could not be entered.
    #[error(transparent)]
    NetNs(#[from] NetNsError),
    /// A socket table or the process list could not be read.
    #[error("cannot read {path}: {source}")]
    Proc {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The interfaces that packet sockets are bound to could not be listed.
    #[error("cannot list the interfaces packet sockets are bound to: {source}")]
    Interfaces {
        /// The rtnetlink failure.
        #[source]
        source: NetworkError,
    },
}

/// Reads the socket inventory of `netns`, normalised (ready for [`Sockets::canonical`]).
pub fn read(netns: &NetNs) -> Result<Sockets, SocketsError> {
    let tables = netns.run(|| Tables::read(Path::new(NET_ROOT)))??;
    let owners = owners::scan(Path::new(PROC_ROOT), &tables.inodes())?;
    Ok(tables.into_sockets(&owners))
}

/// The parsed socket tables of one namespace, before owners are known.
#[derive(Debug, Default)]
struct Tables {
    /// Every line of the inet tables, with its kind and whether it is IPv6.
    inet: Vec<(Kind, bool, InetLine)>,
    packet: Vec<PacketLine>,
    /// Interface names of the indexes packet sockets are bound to.
    links: BTreeMap<u32, String>,
    malformed: BTreeMap<String, u32>,
}

impl Tables {
    /// Reads the tables below `net` (`/proc/thread-self/net`), and the interface names when a
    /// packet socket is bound to one (over rtnetlink, in the calling thread's namespace).
    fn read(net: &Path) -> Result<Self, SocketsError> {
        let mut tables = Self::default();
        for &(file, kind, v6, required) in INET_TABLES {
            let Some(text) = read_table(&net.join(file), required)? else {
                continue;
            };
            let parsed = parse::inet_table(&text, v6);
            tables.note_malformed(file, parsed.malformed);
            tables
                .inet
                .extend(parsed.entries.into_iter().map(|l| (kind, v6, l)));
        }
        if let Some(text) = read_table(&net.join("packet"), false)? {
            let parsed = parse::packet_table(&text);
            tables.note_malformed("packet", parsed.malformed);
            tables.packet = parsed.entries;
        }
        if tables.packet.iter().any(|p| p.ifindex != 0) {
            tables.links = link_names().map_err(|source| SocketsError::Interfaces { source })?;
        }
        Ok(tables)
    }

    fn note_malformed(&mut self, file: &str, count: u32) {
        if count > 0 {
            self.malformed.insert(file.to_owned(), count);
        }
    }

    /// The inet sockets that belong in the document (see [`selected`]).
    fn selected(&self) -> impl Iterator<Item = &(Kind, bool, InetLine)> {
        self.inet
            .iter()
            .filter(|(kind, _, line)| selected(*kind, line))
    }

    /// The inodes whose owners are wanted (0 means the socket has none).
    fn inodes(&self) -> BTreeSet<u64> {
        let inet = self.selected().map(|(_, _, l)| l.inode);
        let packet = self.packet.iter().map(|p| p.inode);
        inet.chain(packet).filter(|&i| i != 0).collect()
    }

    /// The document: volatile fields dropped, owners attached, entries merged and sorted.
    fn into_sockets(self, owners: &OwnerMap) -> Sockets {
        let mut doc = Sockets::new();
        let mut owners_of = |inode: u64| -> Vec<Owner> {
            let Some(found) = owners.get(&inode) else {
                return Vec::new();
            };
            for (owner, pids) in found {
                let seen = doc.observed.pids.entry(owner.clone()).or_default();
                seen.extend(pids);
            }
            found.keys().cloned().collect()
        };
        let mut listeners = Vec::new();
        let mut raw = Vec::new();
        for (kind, v6, line) in self.selected() {
            let family = if *v6 { "inet6" } else { "inet" }.to_owned();
            let owners = owners_of(line.inode);
            let address = line.local.to_string();
            let protocol = match kind {
                Kind::Tcp => "tcp",
                Kind::Udp => "udp",
                Kind::UdpLite => "udplite",
                Kind::Raw => {
                    raw.push(RawSocket {
                        family,
                        protocol: model::ip_protocol(line.local_port),
                        address,
                        owners,
                        count: 1,
                    });
                    continue;
                }
            };
            listeners.push(Listener {
                protocol: protocol.to_owned(),
                family,
                address,
                port: line.local_port,
                owners,
                count: 1,
            });
        }
        let mut packet = Vec::new();
        for line in &self.packet {
            let interface = (line.ifindex != 0).then(|| {
                self.links
                    .get(&line.ifindex)
                    .cloned()
                    .unwrap_or_else(|| format!("if{}", line.ifindex))
            });
            packet.push(PacketSocket {
                kind: model::packet_type(line.kind),
                protocol: model::ethertype(line.protocol),
                interface,
                owners: owners_of(line.inode),
                count: 1,
            });
        }
        doc.listeners = listeners;
        doc.raw = raw;
        doc.packet = packet;
        if !self.malformed.is_empty() {
            doc.flags.insert(FLAG_UNPARSED.to_owned());
        }
        doc.observed.malformed_lines = self.malformed;
        doc.normalize();
        doc
    }
}

/// Whether a table line belongs in the document: TCP in LISTEN; UDP/UDP-Lite not connected
/// (state CLOSE with no remote end); every raw socket.
fn selected(kind: Kind, line: &InetLine) -> bool {
    match kind {
        Kind::Tcp => line.state == parse::TCP_LISTEN,
        Kind::Udp | Kind::UdpLite => {
            line.state == parse::TCP_CLOSE && line.remote.is_unspecified() && line.remote_port == 0
        }
        Kind::Raw => true,
    }
}

/// A table's text; `None` when an optional table does not exist.
fn read_table(path: &Path, required: bool) -> Result<Option<String>, SocketsError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound && !required => Ok(None),
        Err(source) => Err(SocketsError::Proc {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Interface index → name in the calling thread's namespace.
fn link_names() -> Result<BTreeMap<u32, String>, NetworkError> {
    let mut dumper = Dumper::open()?;
    let mut request = LinkMessage::default();
    request
        .attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    let mut interrupted = false;
    let messages = dumper.dump(
        "links",
        RouteNetlinkMessage::GetLink(request),
        &mut interrupted,
    )?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(link) => {
                let name = link.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                })?;
                Some((link.header.index, name))
            }
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests;
