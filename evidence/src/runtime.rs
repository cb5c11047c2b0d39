//! Runtime events: what palisade's eBPF programs saw happen to the network stack and the BPF
//! subsystem, attributed to a process. They are triggers and attribution, never the measured
//! object (the agent re-reads and measures the state an event touched), and they travel beside
//! the evidence so that an alert can say who did it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Event kinds, as they appear in [`RuntimeEvent::kind`].
pub mod kind {
    /// A BPF program was loaded.
    pub const BPF_PROG_LOAD: &str = "bpf_prog_load";
    /// A BPF program was attached or detached with `BPF_PROG_ATTACH`/`BPF_PROG_DETACH`.
    pub const BPF_ATTACH: &str = "bpf_attach";
    /// A BPF link was created, updated or detached.
    pub const BPF_LINK: &str = "bpf_link";
    /// A TCP socket started listening.
    pub const LISTEN: &str = "listen";
    /// A socket was bound to an address and a non-zero port.
    pub const BIND: &str = "bind";
    /// A packet (`AF_PACKET`) socket was created.
    pub const PACKET_SOCKET: &str = "packet_socket";
    /// A raw IP socket was created.
    pub const RAW_SOCKET: &str = "raw_socket";
    /// A state-changing message went to rtnetlink or nfnetlink.
    pub const NETLINK_WRITE: &str = "netlink_write";
    /// A legacy iptables/ip6tables/arptables/ebtables table was replaced.
    pub const XTABLES_REPLACE: &str = "xtables_replace";
    /// A kernel module was loaded.
    pub const MODULE_LOAD: &str = "module_load";
    /// Events were lost (the kernel ring buffer was full): `details.lost` says how many.
    pub const EVENTS_LOST: &str = "events_lost";
}

/// The process an event is attributed to. Advisory: pids are reused and a process chooses its
/// own name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Process id (thread-group id, initial PID namespace).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name (`comm`, at most 15 bytes).
    pub comm: String,
    /// The program it last executed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// Its cgroup (v2) id.
    pub cgroup_id: u64,
}

/// One attributed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuntimeEvent {
    /// Position in the agent's event stream (see [`EventSlice::run`]).
    pub seq: u64,
    /// When it happened (RFC 3339, agent clock).
    pub time: String,
    /// One of [`kind`].
    pub kind: String,
    /// Who did it.
    pub process: Process,
    /// Inode of the network namespace it happened in (`None`: unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<u32>,
    /// Kind-specific details (`command`, `attach_type`, `address`, `port`, `message`, …).
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
    /// One line for people: `pid 4242 (ip) attached a BPF program (bpf_link, xdp) to ifindex 3`.
    pub summary: String,
}

/// Events the verifier has not seen yet, from one run of the agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventSlice {
    /// Identifies the agent run whose sequence numbers these are; a new run starts again at 0.
    pub run: String,
    /// The sequence number to ask from next time.
    pub next: u64,
    /// Events the verifier asked for that the agent no longer holds (its buffer is bounded),
    /// or that the kernel dropped before the agent read them.
    pub missed: u64,
    /// Whether the agent's eBPF monitor is running (`false`: no events are collected, and
    /// `monitor_error` says why).
    pub monitoring: bool,
    /// Why the monitor is not running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_error: Option<String>,
    /// The events, oldest first.
    pub events: Vec<RuntimeEvent>,
}

impl EventSlice {
    /// The cursor to send back to the agent for the next slice: `run:next`.
    pub fn cursor(&self) -> String {
        format!("{}:{}", self.run, self.next)
    }
}

/// Parses a cursor `run:next`.
pub fn parse_cursor(cursor: &str) -> Option<(&str, u64)> {
    let (run, next) = cursor.rsplit_once(':')?;
    Some((run, next.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let s = EventSlice {
            run: "r-1f".into(),
            next: 42,
            ..EventSlice::default()
        };
        assert_eq!(parse_cursor(&s.cursor()), Some(("r-1f", 42)));
        assert_eq!(parse_cursor("nope"), None);
        assert_eq!(parse_cursor("a:b"), None);
    }
}
