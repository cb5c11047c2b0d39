//! rtnetlink dumps over a synchronous `NETLINK_ROUTE` socket, opened by the thread that has
//! entered the namespace (a netlink socket belongs to the namespace it was created in).

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::convert::Snapshot;
use super::NetworkError;

/// Big enough for any dump datagram: the kernel caps them at 32 KiB.
const RECV_BUFFER: usize = 64 * 1024;

/// One socket used for a whole snapshot.
pub(crate) struct Dumper {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// A snapshot, and whether any dump said it was interrupted by a concurrent change
/// (`NLM_F_DUMP_INTR`), in which case it must be taken again.
pub(crate) struct Dumped {
    pub snapshot: Snapshot,
    pub interrupted: bool,
}

impl Dumper {
    /// Opens a `NETLINK_ROUTE` socket in the calling thread's namespace.
    pub fn open() -> Result<Self, NetworkError> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetworkError::socket("socket"))?;
        socket.bind_auto().map_err(NetworkError::socket("bind"))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetworkError::socket("connect"))?;
        Ok(Self {
            socket,
            seq: 0,
            buf: vec![0; RECV_BUFFER],
        })
    }

    /// Links, addresses, IPv4 and IPv6 routes of every table, IPv4 and IPv6 rules.
    pub fn snapshot(&mut self) -> Result<Dumped, NetworkError> {
        let mut snapshot = Snapshot::default();
        let mut interrupted = false;

        let mut get_link = LinkMessage::default();
        // Counters are never measured: ask the kernel not to send them.
        get_link
            .attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        for msg in self.dump(
            "links",
            RouteNetlinkMessage::GetLink(get_link),
            &mut interrupted,
        )? {
            if let RouteNetlinkMessage::NewLink(m) = msg {
                snapshot.links.push(m);
            }
        }
        let get_addr = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        for msg in self.dump("addresses", get_addr, &mut interrupted)? {
            if let RouteNetlinkMessage::NewAddress(m) = msg {
                snapshot.addresses.push(m);
            }
        }
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut get_route = RouteMessage::default();
            get_route.header.address_family = family;
            let get_route = RouteNetlinkMessage::GetRoute(get_route);
            for msg in self.dump("routes", get_route, &mut interrupted)? {
                if let RouteNetlinkMessage::NewRoute(m) = msg {
                    snapshot.routes.push(m);
                }
            }
            let mut get_rule = RuleMessage::default();
            get_rule.header.family = family;
            let get_rule = RouteNetlinkMessage::GetRule(get_rule);
            for msg in self.dump("rules", get_rule, &mut interrupted)? {
                if let RouteNetlinkMessage::NewRule(m) = msg {
                    snapshot.rules.push(m);
                }
            }
        }
        Ok(Dumped {
            snapshot,
            interrupted,
        })
    }

    /// One dump request, answered with every message of the dump (`interrupted` set when the
    /// kernel flagged it `NLM_F_DUMP_INTR`).
    pub(crate) fn dump(
        &mut self,
        what: &'static str,
        request: RouteNetlinkMessage,
        interrupted: &mut bool,
    ) -> Result<Vec<RouteNetlinkMessage>, NetworkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut packet =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::from(request));
        packet.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        packet.header.sequence_number = self.seq;
        packet.finalize();
        let mut out = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(NetworkError::socket("send"))?;

        let mut messages = Vec::new();
        loop {
            let len = self
                .socket
                .recv(&mut &mut self.buf[..], nix::libc::MSG_TRUNC)
                .map_err(NetworkError::socket("recv"))?;
            let datagram = self
                .buf
                .get(..len)
                .ok_or(NetworkError::Truncated { what, len })?;
            let mut offset = 0;
            while offset < datagram.len() {
                let bytes = datagram.get(offset..).unwrap_or_default();
                let frame = NetlinkBuffer::new_checked(bytes)
                    .map_err(|e| NetworkError::decode(what, &e))?;
                let frame_len = frame.length() as usize;
                let frame_bytes = bytes.get(..frame_len).unwrap_or(bytes);
                offset += frame_len.max(1).next_multiple_of(4);
                if frame.sequence_number() != self.seq {
                    continue;
                }
                if frame.flags() & NLM_F_DUMP_INTR != 0 {
                    *interrupted = true;
                }
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(frame_bytes)
                    .map_err(|e| NetworkError::decode(what, &e))?;
                match msg.payload {
                    NetlinkPayload::Done(done) => {
                        if done.code != 0 {
                            return Err(NetworkError::Kernel {
                                what,
                                errno: done.code.saturating_neg(),
                            });
                        }
                        return Ok(messages);
                    }
                    NetlinkPayload::Error(err) => {
                        return Err(NetworkError::Kernel {
                            what,
                            errno: err.code.map_or(0, |c| c.get().saturating_neg()),
                        });
                    }
                    NetlinkPayload::InnerMessage(inner) => messages.push(inner),
                    _ => {}
                }
            }
        }
    }
}
