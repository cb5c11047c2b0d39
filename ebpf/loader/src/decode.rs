//! From the programs' raw [`Event`]s to attributed [`RuntimeEvent`]s: names for the kernel's
//! numbers, addresses as text, the wall-clock time, and one line a person reads in an alert.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use palisade_ebpf_common::{execs, kind, Event};
use palisade_evidence::runtime::{kind as name, Process, RuntimeEvent};
use serde_json::{json, Value};

/// Converts `CLOCK_BOOTTIME` nanoseconds to wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall-clock nanoseconds since the Unix epoch at boot-time zero.
    offset_ns: i128,
}

impl Clock {
    /// The offset now.
    pub fn now() -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        let boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(0, |t| {
            i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec())
        });
        Self {
            offset_ns: wall - boot,
        }
    }

    /// RFC 3339 (UTC, microseconds) of a boot-time instant.
    pub fn rfc3339(&self, boot_ns: u64) -> String {
        let ns = self.offset_ns + i128::from(boot_ns);
        time::OffsetDateTime::from_unix_timestamp_nanos(ns)
            .ok()
            .and_then(|t| {
                t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
                    .ok()?
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }
}

fn text(bytes: &[u8]) -> String {
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(bytes.get(..len).unwrap_or_default()).into_owned()
}

/// The path in an exec-table slot (`palisade_ebpf_common::execs`) if the slot belongs to
/// `tgid`: a slot a process with another tgid took over, or an empty one, gives nothing.
pub fn exec_slot_path(slot: &[u8], tgid: u32) -> Option<String> {
    let owner = slot.get(..4)?;
    let path = text(slot.get(execs::PATH..)?);
    (owner == tgid.to_ne_bytes() && !path.is_empty()).then_some(path)
}

fn family(n: i64) -> &'static str {
    match n {
        2 => "ipv4",
        10 => "ipv6",
        17 => "packet",
        16 => "netlink",
        _ => "other",
    }
}

fn address(fam: i64, addr: &[u8; 16]) -> String {
    if fam == 2 {
        let b: [u8; 4] = addr
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]);
        Ipv4Addr::from(b).to_string()
    } else {
        Ipv6Addr::from(*addr).to_string()
    }
}

fn bpf_command(n: i64) -> &'static str {
    match n {
        5 => "BPF_PROG_LOAD",
        8 => "BPF_PROG_ATTACH",
        9 => "BPF_PROG_DETACH",
        28 => "BPF_LINK_CREATE",
        29 => "BPF_LINK_UPDATE",
        34 => "BPF_LINK_DETACH",
        _ => "?",
    }
}

/// rtnetlink and nfnetlink message names for the writes the programs report.
fn netlink_message(protocol: i64, ty: i64) -> String {
    if protocol == 12 {
        return if ty == 16 {
            "NFNL_MSG_BATCH_BEGIN (nftables transaction)".into()
        } else {
            format!("nfnetlink {ty}")
        };
    }
    let family = match (ty - 16) / 4 {
        0 => "LINK",
        1 => "ADDR",
        2 => "ROUTE",
        3 => "NEIGH",
        4 => "RULE",
        5 => "QDISC",
        6 => "TCLASS",
        7 => "TFILTER",
        8 => "ACTION",
        _ => return format!("rtnetlink {ty}"),
    };
    let verb = match (ty - 16) % 4 {
        0 => "NEW",
        1 => "DEL",
        3 => "SET",
        _ => "GET",
    };
    format!("RTM_{verb}{family}")
}

/// The attributed event; `seq` is the agent's stream position.
pub fn decode(e: &Event, exe: Option<String>, clock: &Clock, seq: u64) -> RuntimeEvent {
    let comm = text(&e.comm);
    let [a0, a1, a2, a3] = e.args;
    let mut d: BTreeMap<String, Value> = BTreeMap::new();
    let who = format!("pid {} ({comm})", e.tgid);
    let (kind, summary) = match e.kind {
        kind::BPF_PROG_LOAD => {
            d.insert("command".into(), json!(bpf_command(a0)));
            d.insert("prog_type".into(), json!(a2));
            (
                name::BPF_PROG_LOAD,
                format!("{who} loaded a BPF program (type {a2})"),
            )
        }
        kind::BPF_ATTACH | kind::BPF_LINK => {
            d.insert("command".into(), json!(bpf_command(a0)));
            d.insert("attach_type".into(), json!(a2));
            d.insert("target".into(), json!(a3));
            let k = if e.kind == kind::BPF_ATTACH {
                name::BPF_ATTACH
            } else {
                name::BPF_LINK
            };
            (
                k,
                format!("{who} {} (attach type {a2}, target {a3})", bpf_command(a0)),
            )
        }
        kind::LISTEN | kind::BIND => {
            let addr = address(a0, &e.addr);
            d.insert("family".into(), json!(family(a0)));
            d.insert("address".into(), json!(addr));
            d.insert("port".into(), json!(a1));
            if e.kind == kind::LISTEN {
                d.insert("protocol".into(), json!(a2));
                (name::LISTEN, format!("{who} listens on {addr} port {a1}"))
            } else {
                (name::BIND, format!("{who} binds {addr} port {a1}"))
            }
        }
        kind::PACKET_SOCKET | kind::RAW_SOCKET => {
            d.insert("family".into(), json!(family(a0)));
            d.insert("type".into(), json!(a1 & 0xf));
            d.insert("protocol".into(), json!(a2));
            let (k, what) = if e.kind == kind::PACKET_SOCKET {
                (name::PACKET_SOCKET, "a packet socket")
            } else {
                (name::RAW_SOCKET, "a raw socket")
            };
            (k, format!("{who} opened {what} (protocol {a2})"))
        }
        kind::NETLINK_WRITE => {
            let message = netlink_message(a0, a1);
            let proto = if a0 == 12 { "netfilter" } else { "route" };
            d.insert("protocol".into(), json!(proto));
            d.insert("message".into(), json!(message));
            d.insert("flags".into(), json!(a2));
            (
                name::NETLINK_WRITE,
                format!("{who} sent {message} to {proto} netlink"),
            )
        }
        kind::XTABLES_REPLACE => {
            d.insert("level".into(), json!(a0));
            d.insert("option".into(), json!(a1));
            (
                name::XTABLES_REPLACE,
                format!("{who} replaced a legacy x_tables table"),
            )
        }
        kind::MODULE_LOAD => {
            let module = text(&e.addr);
            d.insert("module".into(), json!(module));
            (
                name::MODULE_LOAD,
                format!("{who} loaded kernel module {module}"),
            )
        }
        other => (
            name::EVENTS_LOST,
            format!("{who}: unknown event kind {other}"),
        ),
    };
    RuntimeEvent {
        seq,
        time: clock.rfc3339(e.boot_ns),
        kind: kind.to_owned(),
        process: Process {
            pid: e.tgid,
            tid: e.pid,
            uid: e.uid,
            comm,
            exe: exe.filter(|p| !p.is_empty()),
            cgroup_id: e.cgroup_id,
        },
        netns: (e.netns != 0).then_some(e.netns),
        details: d,
        summary,
    }
}

/// The record of `lost` events the kernel could not queue.
pub fn lost(lost: u64, clock: &Clock, seq: u64) -> RuntimeEvent {
    let boot = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(0, |t| {
        t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
    });
    RuntimeEvent {
        seq,
        time: clock.rfc3339(boot),
        kind: name::EVENTS_LOST.to_owned(),
        process: Process::default(),
        netns: None,
        details: BTreeMap::from([("lost".to_owned(), json!(lost))]),
        summary: format!("{lost} events lost: the kernel ring buffer was full"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exec_slot_taken_over_by_another_process_names_nothing() {
        let mut slot = [0u8; execs::RECORD];
        assert_eq!(exec_slot_path(&slot, 0), None, "an empty slot");
        slot[..4].copy_from_slice(&4242u32.to_ne_bytes());
        slot[execs::PATH..execs::PATH + 12].copy_from_slice(b"/usr/sbin/ip");
        assert_eq!(exec_slot_path(&slot, 4242).as_deref(), Some("/usr/sbin/ip"));
        let other = 4242 + execs::SLOTS;
        assert_eq!(exec_slot_path(&slot, other), None);
        assert_eq!(exec_slot_path(&slot[..6], 4242), None, "a short slot");
    }

    #[test]
    fn events_read_like_sentences() {
        let clock = Clock {
            offset_ns: 1_700_000_000_000_000_000,
        };
        let mut e = Event::ZERO;
        e.kind = kind::LISTEN;
        e.tgid = 4242;
        e.comm[..4].copy_from_slice(b"sshd");
        e.args = [2, 22, 6, 0];
        e.addr[..4].copy_from_slice(&[10, 0, 0, 1]);
        e.netns = 4026531840;
        let r = decode(&e, Some("/usr/sbin/sshd".into()), &clock, 7);
        assert_eq!(r.kind, "listen");
        assert_eq!(r.summary, "pid 4242 (sshd) listens on 10.0.0.1 port 22");
        assert_eq!(r.details["port"], json!(22));
        assert_eq!(r.process.exe.as_deref(), Some("/usr/sbin/sshd"));
        assert_eq!(r.netns, Some(4026531840));
        assert!(r.time.starts_with("2023-11-14T"), "{}", r.time);

        e.kind = kind::NETLINK_WRITE;
        e.args = [0, 24, 0x605, 3];
        assert_eq!(
            decode(&e, None, &clock, 8).details["message"],
            json!("RTM_NEWROUTE")
        );
        e.args = [0, 19, 0, 3];
        assert_eq!(
            decode(&e, None, &clock, 8).details["message"],
            json!("RTM_SETLINK")
        );
        e.args = [12, 16, 0, 3];
        assert!(decode(&e, None, &clock, 9)
            .summary
            .contains("nftables transaction"));
        e.kind = kind::BPF_LINK;
        e.args = [28, 5, 37, 3];
        let r = decode(&e, None, &clock, 10);
        assert_eq!(r.kind, "bpf_link");
        assert!(r.summary.contains("BPF_LINK_CREATE"), "{}", r.summary);
    }
}
