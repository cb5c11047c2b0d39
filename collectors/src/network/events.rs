//! Change notifications for a namespace's network configuration: an rtnetlink socket created
//! inside the namespace and subscribed to the link, address, route, rule and netconf groups.
//!
//! Events are triggers, not the measured object: on any event (or an overrun) the agent takes a
//! fresh snapshot with [`read`](super::read) and compares digests. Sysctls other than the ones
//! netconf reports (`forwarding`, `rp_filter`) have no notification: the agent's periodic
//! fallback poll re-reads them.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use netlink_packet_core::NetlinkBuffer;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};
use nix::libc;

use super::NetworkError;
use crate::netns::NetNs;

/// The multicast groups joined.
const GROUPS: &[u32] = &[
    libc::RTNLGRP_LINK,
    libc::RTNLGRP_IPV4_IFADDR,
    libc::RTNLGRP_IPV6_IFADDR,
    libc::RTNLGRP_IPV4_ROUTE,
    libc::RTNLGRP_IPV6_ROUTE,
    libc::RTNLGRP_IPV4_RULE,
    libc::RTNLGRP_IPV6_RULE,
    libc::RTNLGRP_IPV4_NETCONF,
    libc::RTNLGRP_IPV6_NETCONF,
];

/// Receive buffer requested from the kernel: room for bursts (a route daemon installing a full
/// table) before the kernel reports an overrun.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkEvent {
    /// Something of this kind changed: `link`, `address`, `route`, `rule` or `netconf`.
    Changed {
        /// The kind of object.
        what: &'static str,
    },
    /// The kernel dropped notifications (`ENOBUFS`): anything may have changed.
    Overrun,
}

/// A subscription to one namespace's network configuration changes.
pub struct NetworkEvents {
    socket: Socket,
    buf: Vec<u8>,
    pending: VecDeque<NetworkEvent>,
}

impl std::fmt::Debug for NetworkEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkEvents")
            .field("fd", &self.socket.as_raw_fd())
            .field("pending", &self.pending)
            .finish()
    }
}

impl NetworkEvents {
    /// Subscribes inside `netns`. The socket stays in that namespace after the thread that
    /// created it has gone; the caller's threads never move.
    pub fn subscribe(netns: &NetNs) -> Result<Self, NetworkError> {
        let socket = netns.run(|| -> Result<Socket, NetworkError> {
            let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetworkError::socket("socket"))?;
            socket.bind_auto().map_err(NetworkError::socket("bind"))?;
            // Best effort: the kernel caps it at net.core.rmem_max, which is fine.
            let _ = socket.set_rx_buf_sz(SOCKET_BUFFER);
            for group in GROUPS {
                socket
                    .add_membership(*group)
                    .map_err(NetworkError::socket("add_membership"))?;
            }
            Ok(socket)
        })??;
        Ok(Self {
            socket,
            buf: vec![0; 64 * 1024],
            pending: VecDeque::new(),
        })
    }

    /// Blocks until the next event.
    pub fn recv(&mut self) -> Result<NetworkEvent, NetworkError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            if let Some(event) = self.receive()? {
                return Ok(event);
            }
        }
    }

    /// The next event if one is queued, without blocking (after
    /// [`set_nonblocking(true)`](Self::set_nonblocking); for use with a poller on [`AsFd`]).
    pub fn try_next(&mut self) -> Result<Option<NetworkEvent>, NetworkError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            match self.receive() {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(NetworkError::Socket { source, .. })
                    if source.kind() == std::io::ErrorKind::WouldBlock =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes [`try_next`](Self::try_next) return instead of waiting.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<(), NetworkError> {
        self.socket
            .set_non_blocking(nonblocking)
            .map_err(NetworkError::socket("set_non_blocking"))
    }

    /// Reads one datagram; queues its events and returns the first, or `None` when it held no
    /// event palisade cares about.
    fn receive(&mut self) -> Result<Option<NetworkEvent>, NetworkError> {
        let len = match self.socket.recv(&mut &mut self.buf[..], libc::MSG_TRUNC) {
            Ok(len) => len,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                return Ok(Some(NetworkEvent::Overrun))
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(NetworkError::socket("recv")(e)),
        };
        // A notification larger than the buffer is cut; what matters is its type, which the
        // first header carries.
        let datagram = self.buf.get(..len.min(self.buf.len())).unwrap_or_default();
        for event in classify_notifications(datagram) {
            self.pending.push_back(event);
        }
        Ok(self.pending.pop_front())
    }
}

/// The events in one datagram of rtnetlink notifications, in order: what [`NetworkEvents`] does
/// with each datagram, public for callers that read the socket themselves and for fuzzing. Only
/// message headers are read; any byte string is accepted.
pub fn classify_notifications(datagram: &[u8]) -> Vec<NetworkEvent> {
    let mut events = Vec::new();
    let mut offset = 0usize;
    while let Some(bytes) = datagram.get(offset..).filter(|b| b.len() >= 16) {
        let Ok(frame) = NetlinkBuffer::new_checked(bytes) else {
            // A truncated tail: the header is whole, so its type still counts.
            let frame = NetlinkBuffer::new(bytes);
            if let Some(what) = classify(frame.message_type()) {
                events.push(NetworkEvent::Changed { what });
            }
            break;
        };
        if let Some(what) = classify(frame.message_type()) {
            events.push(NetworkEvent::Changed { what });
        }
        offset += (frame.length() as usize).max(16).next_multiple_of(4);
    }
    events
}

/// `RTM_*` message type → what changed.
pub(crate) fn classify(message_type: u16) -> Option<&'static str> {
    match message_type {
        libc::RTM_NEWLINK | libc::RTM_DELLINK => Some("link"),
        libc::RTM_NEWADDR | libc::RTM_DELADDR => Some("address"),
        libc::RTM_NEWROUTE | libc::RTM_DELROUTE => Some("route"),
        libc::RTM_NEWRULE | libc::RTM_DELRULE => Some("rule"),
        libc::RTM_NEWNETCONF | libc::RTM_DELNETCONF => Some("netconf"),
        _ => None,
    }
}

impl AsFd for NetworkEvents {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for NetworkEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netlink header of `len` bytes (payload zeroed) with this message type.
    fn frame(message_type: u16, len: u32) -> Vec<u8> {
        let mut f = vec![0u8; (len as usize).max(16)];
        f[..4].copy_from_slice(&len.to_ne_bytes());
        f[4..6].copy_from_slice(&message_type.to_ne_bytes());
        f
    }

    #[test]
    fn every_message_of_a_datagram_is_classified_in_order() {
        let mut datagram = frame(libc::RTM_NEWADDR, 24);
        datagram.extend(frame(libc::NLMSG_NOOP as u16, 16));
        datagram.extend(frame(libc::RTM_DELROUTE, 22)); // NLMSG_ALIGN: 2 bytes of padding
        datagram.extend([0u8; 2]);
        datagram.extend(frame(libc::RTM_NEWRULE, 16));
        datagram.extend(frame(libc::RTM_NEWNETCONF, 16));
        let what: Vec<_> = classify_notifications(&datagram)
            .into_iter()
            .map(|e| match e {
                NetworkEvent::Changed { what } => what,
                NetworkEvent::Overrun => "overrun",
            })
            .collect();
        assert_eq!(what, ["address", "route", "rule", "netconf"]);
    }

    #[test]
    fn a_truncated_notification_still_counts_and_garbage_does_not_panic() {
        let mut cut = frame(libc::RTM_NEWLINK, 2000);
        cut.truncate(100);
        assert_eq!(
            classify_notifications(&cut),
            [NetworkEvent::Changed { what: "link" }]
        );
        assert!(classify_notifications(&[0xff; 7]).is_empty());
        assert!(classify_notifications(&frame(libc::RTM_NEWLINK, 0)).len() <= 1);
        assert_eq!(
            classify(libc::RTM_NEWNEIGH),
            None,
            "neighbours are not configuration"
        );
    }
}
