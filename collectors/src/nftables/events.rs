//! nftables change events: the kernel's `NFNLGRP_NFTABLES` multicast group, read in one network
//! namespace.
//!
//! Every committed nftables transaction (`nft`, iptables-nft, firewalld, kube-proxy, ...) is
//! announced on this group as the objects it changed (`NFT_MSG_NEWTABLE`, `NFT_MSG_DELRULE`, ...)
//! followed by one `NFT_MSG_NEWGEN` that commits them. NEWGEN carries the new ruleset generation
//! id and the pid and `comm` of the process that committed (`NFTA_GEN_ID`, `NFTA_GEN_PROC_PID`,
//! `NFTA_GEN_PROC_NAME`, all in `linux/netfilter/nf_tables.h`). [`NftEvents`] turns that stream
//! into one [`NftEvent::Committed`] per transaction.
//!
//! Events are triggers and attribution, never the measured object (DESIGN.md): a consumer
//! re-reads the ruleset after an event. Events can be lost — the socket's receive buffer
//! overruns (`ENOBUFS`) when a large batch or a burst of commits outpaces the reader — and then
//! the reader gets [`NftEvent::Overrun`]: "something changed, who is unknown, re-measure".
//!
//! The netlink bytes come from the kernel, but they are parsed defensively anyway
//! ([`parse_datagram`]): every length is bounds-checked, nothing panics, and a datagram that does
//! not parse is reported as an overrun rather than dropped silently.
//!
//! The socket is created by a thread that entered the namespace ([`NetNs::run`]); a socket keeps
//! the namespace it was created in, so [`NftEvents`] can then be read from any thread.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd as _;
use std::time::{Duration, Instant};

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use crate::netns::{NetNs, NetNsError};

/// `NFNLGRP_NFTABLES` (`linux/netfilter/nfnetlink.h`): the nftables change multicast group.
pub const NFNLGRP_NFTABLES: u32 = 7;
/// `NFNL_SUBSYS_NFTABLES`: high byte of an nftables message type.
const NFNL_SUBSYS_NFTABLES: u8 = 10;
/// `NFT_MSG_NEWGEN` (`enum nf_tables_msg_types`): low byte of the commit announcement.
const NFT_MSG_NEWGEN: u8 = 15;
/// `NLMSG_OVERRUN` (`linux/netlink.h`): data lost.
const NLMSG_OVERRUN: u16 = 4;
/// Netlink message types below this are control messages (`NLMSG_MIN_TYPE`).
const NLMSG_MIN_TYPE: u16 = 0x10;
/// `enum nft_gen_attributes`.
const NFTA_GEN_ID: u16 = 1;
const NFTA_GEN_PROC_PID: u16 = 2;
const NFTA_GEN_PROC_NAME: u16 = 3;
/// `NLA_TYPE_MASK`: attribute type without the nested / byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// `sizeof(struct nlmsghdr)`.
const NLMSG_HDRLEN: usize = 16;
/// `sizeof(struct nfgenmsg)`.
const NFGENMSG_LEN: usize = 4;
/// `sizeof(struct nlattr)`.
const NLA_HDRLEN: usize = 4;
/// Longest process name kept; the kernel's is 16 bytes (`TASK_COMM_LEN`) with its NUL.
const MAX_COMM_LEN: usize = 64;

/// Receive buffer per datagram. The kernel packs notifications into skbs of at most
/// `NLMSG_GOODSIZE` (one page, up to 8 KiB); anything longer is reported as an overrun.
const DATAGRAM_BUFFER: usize = 64 * 1024;
/// Socket receive buffer asked for (the kernel caps it at `net.core.rmem_max`). Larger means
/// fewer overruns on big batches; an overrun is handled either way.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// One change announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NftEvent {
    /// A transaction was committed: the ruleset is now at `generation`.
    Committed {
        /// The new ruleset generation id (`NFTA_GEN_ID`); it increases with every commit.
        generation: u32,
        /// Process id of the writer, as the kernel numbers it (initial PID namespace).
        pid: u32,
        /// The writer's process name (`comm`, at most 15 bytes; attacker-settable via
        /// `prctl(PR_SET_NAME)`, so advisory and to be escaped before printing).
        comm: String,
    },
    /// Events may have been lost (socket overrun, or a datagram that could not be read):
    /// something may have changed, the writer is unknown; re-measure.
    Overrun,
}

/// Failure to subscribe or to read events. Overruns are not errors ([`NftEvent::Overrun`]).
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The namespace could not be entered.
    #[error(transparent)]
    NetNs(#[from] NetNsError),
    /// The netlink socket could not be set up (`socket`, `bind`, group membership).
    #[error("cannot subscribe to nftables events ({step}): {source}")]
    Subscribe {
        /// The step that failed.
        step: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading the socket failed (other than an overrun).
    #[error("cannot read nftables events: {0}")]
    Receive(#[source] io::Error),
}

/// A netlink datagram that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A netlink header's length is shorter than the header or runs past the datagram.
    #[error("netlink message at offset {offset}: length {len} with {available} bytes left")]
    MessageLength {
        /// Offset of the message in the datagram.
        offset: usize,
        /// The length the header claims.
        len: usize,
        /// Bytes from the offset to the end of the datagram.
        available: usize,
    },
    /// Fewer bytes than a netlink header are left.
    #[error("netlink message at offset {offset}: truncated header")]
    TruncatedHeader {
        /// Offset of the message in the datagram.
        offset: usize,
    },
    /// An nftables message is shorter than its `nfgenmsg` header.
    #[error("nftables message without its nfgenmsg header")]
    TruncatedNfgenmsg,
    /// An attribute's length is shorter than its header or runs past the message.
    #[error("attribute at offset {offset}: length {len} with {available} bytes left")]
    AttributeLength {
        /// Offset of the attribute in the message payload.
        offset: usize,
        /// The length the attribute claims.
        len: usize,
        /// Bytes left in the payload.
        available: usize,
    },
    /// A NEWGEN attribute has the wrong size for its type.
    #[error("NEWGEN attribute {kind} has {len} bytes")]
    AttributeSize {
        /// The attribute type.
        kind: u16,
        /// Its payload length.
        len: usize,
    },
    /// A NEWGEN message lacks a generation id.
    #[error("NEWGEN without a generation id")]
    MissingGeneration,
}

/// A subscription to nftables change events in one network namespace.
#[derive(Debug)]
pub struct NftEvents {
    socket: Socket,
    buf: Vec<u8>,
    pending: VecDeque<NftEvent>,
    netns: String,
}

impl NftEvents {
    /// Opens a `NETLINK_NETFILTER` socket inside `netns` and joins `NFNLGRP_NFTABLES`. Changes
    /// committed after this returns are announced; subscribe before taking the first
    /// measurement, so no change falls between the two.
    pub fn subscribe(netns: &NetNs) -> Result<Self, EventError> {
        let socket = netns.run(open_socket)??;
        Ok(Self {
            socket,
            buf: Vec::with_capacity(DATAGRAM_BUFFER),
            pending: VecDeque::new(),
            netns: netns.label(),
        })
    }

    /// Blocks until the next event.
    pub fn recv(&mut self) -> Result<NftEvent, EventError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            self.receive(None)?;
        }
    }

    /// Like [`NftEvents::next`], but gives up after `timeout` with `Ok(None)`.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<NftEvent>, EventError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.receive(Some(left))? {
                return Ok(None);
            }
        }
    }

    /// Reads one datagram into `pending`. With a timeout, returns `false` if none arrived in time.
    fn receive(&mut self, timeout: Option<Duration>) -> Result<bool, EventError> {
        if let Some(timeout) = timeout {
            if !self.readable(timeout)? {
                return Ok(false);
            }
        }
        self.buf.clear();
        // MSG_TRUNC: the return value is the datagram's real length, so truncation is visible.
        match self.socket.recv(&mut self.buf, nix::libc::MSG_TRUNC) {
            Ok(len) if len > self.buf.len() => {
                tracing::warn!(netns = %self.netns, len, "nftables event datagram truncated; treating it as lost events");
                self.pending.push_back(NftEvent::Overrun);
            }
            Ok(_) => match parse_datagram(&self.buf) {
                Ok(events) => self.pending.extend(events),
                Err(error) => {
                    tracing::warn!(netns = %self.netns, %error, "unparsable nftables event; treating it as lost events");
                    self.pending.push_back(NftEvent::Overrun);
                }
            },
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOBUFS) => {
                tracing::debug!(netns = %self.netns, "nftables event socket overrun");
                self.pending.push_back(NftEvent::Overrun);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(EventError::Receive(e)),
        }
        Ok(true)
    }

    /// Waits until the socket is readable or `timeout` passes.
    fn readable(&self, timeout: Duration) -> Result<bool, EventError> {
        let millis = i32::try_from(timeout.as_millis().max(1)).unwrap_or(i32::MAX);
        let timeout = PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(EventError::Receive(e.into())),
        }
    }
}

fn open_socket() -> Result<Socket, EventError> {
    let step = |step| move |source| EventError::Subscribe { step, source };
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(step("socket"))?;
    socket.bind(&SocketAddr::new(0, 0)).map_err(step("bind"))?;
    if let Err(error) = socket.set_rx_buf_sz(SOCKET_BUFFER) {
        tracing::debug!(%error, "could not enlarge the nftables event socket buffer");
    }
    socket
        .add_membership(NFNLGRP_NFTABLES)
        .map_err(step("join NFNLGRP_NFTABLES"))?;
    Ok(socket)
}

/// Parses one netlink datagram from `NFNLGRP_NFTABLES` into events: one
/// [`NftEvent::Committed`] per `NFT_MSG_NEWGEN`, one [`NftEvent::Overrun`] per `NLMSG_OVERRUN`;
/// the object messages that precede a NEWGEN in its transaction are checked for framing and
/// otherwise skipped (the consumer re-measures).
pub fn parse_datagram(bytes: &[u8]) -> Result<Vec<NftEvent>, ParseError> {
    let mut events = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = bytes.get(offset..).unwrap_or_default();
        let header = rest
            .get(..NLMSG_HDRLEN)
            .ok_or(ParseError::TruncatedHeader { offset })?;
        let len = usize::try_from(u32_ne(header, 0)).unwrap_or(usize::MAX);
        let msg_type = u16_ne(header, 4);
        if len < NLMSG_HDRLEN || len > rest.len() {
            return Err(ParseError::MessageLength {
                offset,
                len,
                available: rest.len(),
            });
        }
        let payload = rest.get(NLMSG_HDRLEN..len).unwrap_or_default();
        if msg_type == NLMSG_OVERRUN {
            events.push(NftEvent::Overrun);
        } else if msg_type >= NLMSG_MIN_TYPE {
            let [subsys, op] = msg_type.to_be_bytes();
            if subsys == NFNL_SUBSYS_NFTABLES && op == NFT_MSG_NEWGEN {
                events.push(parse_newgen(payload)?);
            }
        }
        // Messages are aligned to 4 bytes; the last one's padding may be absent.
        offset = offset.saturating_add(align4(len));
    }
    Ok(events)
}

fn parse_newgen(payload: &[u8]) -> Result<NftEvent, ParseError> {
    let attrs = payload
        .get(NFGENMSG_LEN..)
        .ok_or(ParseError::TruncatedNfgenmsg)?;
    let (mut generation, mut pid, mut comm) = (None, 0, String::new());
    for attr in attributes(attrs) {
        let (kind, value) = attr?;
        match kind {
            NFTA_GEN_ID => generation = Some(be32(kind, value)?),
            NFTA_GEN_PROC_PID => pid = be32(kind, value)?,
            NFTA_GEN_PROC_NAME => {
                let name = value.split(|&b| b == 0).next().unwrap_or_default();
                let name = name.get(..MAX_COMM_LEN).unwrap_or(name);
                comm = String::from_utf8_lossy(name).into_owned();
            }
            _ => {}
        }
    }
    Ok(NftEvent::Committed {
        generation: generation.ok_or(ParseError::MissingGeneration)?,
        pid,
        comm,
    })
}

/// The `(type, payload)` of each netlink attribute in `bytes`; stops after the first error.
fn attributes(bytes: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), ParseError>> {
    let mut offset = 0;
    std::iter::from_fn(move || {
        if offset >= bytes.len() {
            return None;
        }
        let rest = bytes.get(offset..).unwrap_or_default();
        let len = rest.get(..NLA_HDRLEN).map(|h| usize::from(u16_ne(h, 0)));
        let parsed = match (len, rest.get(2..NLA_HDRLEN)) {
            (Some(len), Some(kind)) if len >= NLA_HDRLEN && len <= rest.len() => {
                let kind = u16_ne(kind, 0) & NLA_TYPE_MASK;
                let value = rest.get(NLA_HDRLEN..len).unwrap_or_default();
                offset = offset.saturating_add(align4(len));
                Ok((kind, value))
            }
            (len, _) => {
                let error = ParseError::AttributeLength {
                    offset,
                    len: len.unwrap_or(rest.len()),
                    available: rest.len(),
                };
                offset = bytes.len();
                Err(error)
            }
        };
        Some(parsed)
    })
}

fn be32(kind: u16, value: &[u8]) -> Result<u32, ParseError> {
    let bytes: [u8; 4] = value.try_into().map_err(|_| ParseError::AttributeSize {
        kind,
        len: value.len(),
    })?;
    Ok(u32::from_be_bytes(bytes))
}

/// Native-endian u32 at `at` (netlink headers are host byte order); 0 if out of range.
fn u32_ne(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    if let Some(src) = bytes.get(at..at.saturating_add(4)) {
        b.copy_from_slice(src);
    }
    u32::from_ne_bytes(b)
}

/// Native-endian u16 at `at`; 0 if out of range.
fn u16_ne(bytes: &[u8], at: usize) -> u16 {
    let mut b = [0; 2];
    if let Some(src) = bytes.get(at..at.saturating_add(2)) {
        b.copy_from_slice(src);
    }
    u16::from_ne_bytes(b)
}

fn align4(len: usize) -> usize {
    len.saturating_add(3) & !3
}

#[cfg(test)]
mod tests;
