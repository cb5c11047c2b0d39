//! The eBPF monitor as an event source: a dedicated thread that waits on the ring buffer,
//! decodes each event, keeps it for the evidence and sends a trigger (with the writer) to every
//! measured object the event may have changed ([`route`]). BPF objects and sockets are re-read
//! once more a moment later: the kernel frees an unloaded program after a grace period, and it
//! reports a new listener (`inet_sock_set_state`) just before hashing it where `sock_diag` finds
//! it, so a read right after the event can miss it.

use std::os::unix::fs::MetadataExt as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use palisade_collectors::NetNs;
use palisade_ebpf::decode::{self, Clock};
use palisade_ebpf::{Monitor, Options};
use palisade_evidence::runtime::{kind, RuntimeEvent};
use tokio::sync::mpsc;

use super::{LoadResolver, OwnPrograms, CAUSE_EBPF, CAUSE_LOST};
use crate::events::EventLog;
use crate::triggers::Trigger;

/// Events read per wake-up.
const BATCH: usize = 1024;
/// How long the thread sleeps between checks that its receivers still exist.
const WAIT: Duration = Duration::from_millis(500);
/// When a BPF object or the sockets are read again after a change (programs are freed after a
/// grace period; a listener is visible only after its event).
const SETTLE: Duration = Duration::from_millis(300);

/// Which measured objects an event may have changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    /// The BPF inventory.
    pub bpf: bool,
    /// The sockets of the measured namespace.
    pub sockets: bool,
    /// Modules and sysctls.
    pub kernel: bool,
    /// The network configuration of the measured namespace.
    pub network: bool,
    /// The nftables ruleset of the measured namespace.
    pub nftables: bool,
}

/// Where an event goes. `ours`: it happened in the measured namespace (or its namespace is
/// unknown). BPF objects are global; sockets, routes and rulesets are per namespace.
pub fn route(event: &RuntimeEvent, ours: bool) -> Targets {
    let message = event
        .details
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    match event.kind.as_str() {
        kind::BPF_PROG_LOAD | kind::BPF_ATTACH | kind::BPF_LINK => Targets {
            bpf: true,
            ..Targets::default()
        },
        kind::LISTEN | kind::BIND | kind::PACKET_SOCKET | kind::RAW_SOCKET => Targets {
            sockets: ours,
            ..Targets::default()
        },
        // nfnetlink's own NEWGEN already names the committing process and the generation,
        // exactly; the eBPF event stays in the evidence only.
        kind::NETLINK_WRITE if message.starts_with("NFNL") || message.starts_with("nfnetlink") => {
            Targets::default()
        }
        // Links carry XDP programs, qdiscs and filters carry tc programs.
        kind::NETLINK_WRITE => Targets {
            network: ours,
            bpf: ours
                && ["LINK", "QDISC", "TFILTER", "TCLASS", "ACTION"]
                    .iter()
                    .any(|f| message.ends_with(f)),
            ..Targets::default()
        },
        kind::XTABLES_REPLACE => Targets {
            network: ours,
            ..Targets::default()
        },
        kind::MODULE_LOAD => Targets {
            kernel: true,
            bpf: true,
            ..Targets::default()
        },
        _ => Targets {
            bpf: true,
            sockets: true,
            kernel: true,
            network: true,
            nftables: true,
        },
    }
}

/// The triggers of every object the monitor feeds.
#[derive(Debug, Clone)]
pub struct Routes {
    /// `bpf`.
    pub bpf: mpsc::Sender<Trigger>,
    /// `sockets`.
    pub sockets: mpsc::Sender<Trigger>,
    /// `kernel`.
    pub kernel: mpsc::Sender<Trigger>,
    /// `network`, if measured.
    pub network: Option<mpsc::Sender<Trigger>>,
    /// `nftables`.
    pub nftables: mpsc::Sender<Trigger>,
    /// `event-loss`.
    pub loss: mpsc::Sender<Trigger>,
}

impl Routes {
    fn send(&self, targets: Targets, trigger: &Trigger) {
        let all = [
            (targets.bpf, Some(&self.bpf)),
            (targets.sockets, Some(&self.sockets)),
            (targets.kernel, Some(&self.kernel)),
            (targets.network, self.network.as_ref()),
            (targets.nftables, Some(&self.nftables)),
        ];
        for (on, tx) in all {
            if let (true, Some(tx)) = (on, tx) {
                // A full queue means a measurement is due anyway.
                let _ = tx.try_send(trigger.clone());
            }
        }
    }
}

/// The inode of a namespace file, to tell its events from others'.
fn netns_inode(netns: &NetNs) -> Option<u64> {
    let path = match netns {
        NetNs::Current => std::path::PathBuf::from("/proc/self/ns/net"),
        NetNs::Path(p) => p.clone(),
    };
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Starts the monitor (now, so that the caller's first measurements miss nothing) and its
/// thread. On failure the agent goes on without events (the poll remains) and the evidence
/// says so.
pub fn spawn_monitor(
    netns: &NetNs,
    ring_bytes: u32,
    routes: Routes,
    events: Arc<EventLog>,
    own: OwnPrograms,
    lost_total: Arc<AtomicU64>,
) -> Result<(), String> {
    let options = Options {
        ring_bytes: Some(ring_bytes),
        ..Options::default()
    };
    let monitor = Monitor::start(&options).map_err(|e| e.to_string())?;
    if let Ok(mut o) = own.write() {
        *o = monitor.program_ids().into_iter().collect();
    }
    for (tp, why) in &monitor.status().skipped {
        tracing::info!(tracepoint = %tp, %why, "tracepoint not available on this kernel");
    }
    tracing::info!(
        attached = monitor.status().attached.len(),
        netns_attribution = monitor.status().netns,
        netlink_sends = monitor.status().netlink_sends,
        "eBPF monitor running"
    );
    let ours = netns_inode(netns);
    let handle = tokio::runtime::Handle::current();
    thread::Builder::new()
        .name("ebpf-events".to_owned())
        .spawn(move || run(monitor, ours, &routes, &events, &lost_total, &handle))
        .map_err(|e| format!("cannot start the eBPF event thread: {e}"))?;
    Ok(())
}

fn run(
    mut monitor: Monitor,
    ours: Option<u64>,
    routes: &Routes,
    events: &EventLog,
    lost_total: &AtomicU64,
    handle: &tokio::runtime::Handle,
) {
    let clock = Clock::now();
    let mut loads = LoadResolver::default();
    events.set_monitor(Ok(()));
    loop {
        if routes.bpf.is_closed() {
            return;
        }
        match monitor.wait(WAIT) {
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "eBPF ring buffer wait failed; stopping the monitor");
                events.set_monitor(Err(format!("ring buffer wait failed: {error}")));
                return;
            }
        }
        let batch = monitor.drain(BATCH);
        let mut settle = Targets::default();
        // Decoded before the log's lock is taken: resolving loads may wait for the kernel.
        for mut e in loads.decode(&batch.events, &clock, || 0) {
            e.seq = events.push(|seq| {
                let mut stored = e.clone();
                stored.seq = seq;
                stored
            });
            let is_ours = match (ours, e.netns) {
                (Some(a), Some(b)) => a == u64::from(b),
                _ => true,
            };
            let targets = route(&e, is_ours);
            settle.bpf |= targets.bpf;
            settle.sockets |= targets.sockets;
            let trigger =
                Trigger::change(CAUSE_EBPF).with_writer(e.process.pid, e.process.comm.clone());
            routes.send(targets, &trigger);
        }
        if batch.lost > 0 {
            lost_total.fetch_add(batch.lost, Ordering::Relaxed);
            events.push(|seq| decode::lost(batch.lost, &clock, seq));
            let all = route(&decode::lost(0, &clock, 0), true);
            routes.send(all, &Trigger::lost(CAUSE_LOST));
            let _ = routes.loss.try_send(Trigger::lost(CAUSE_LOST));
            // A lost event may have been either kind.
            settle.bpf = true;
            settle.sockets = true;
        }
        if settle != Targets::default() {
            let routes = routes.clone();
            handle.spawn(async move {
                tokio::time::sleep(SETTLE).await;
                routes.send(settle, &Trigger::change(CAUSE_EBPF));
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, message: Option<&str>) -> RuntimeEvent {
        RuntimeEvent {
            seq: 0,
            time: String::new(),
            kind: kind.into(),
            process: Default::default(),
            netns: None,
            details: message
                .map(|m| [("message".to_owned(), serde_json::json!(m))].into())
                .unwrap_or_default(),
            summary: String::new(),
        }
    }

    #[test]
    fn events_reach_the_objects_they_may_change() {
        let bpf = route(&event(kind::BPF_LINK, None), false);
        assert!(bpf.bpf && !bpf.sockets && !bpf.network);
        assert!(route(&event(kind::LISTEN, None), true).sockets);
        assert!(!route(&event(kind::LISTEN, None), false).sockets);
        let xdp = route(&event(kind::NETLINK_WRITE, Some("RTM_SETLINK")), true);
        assert!(xdp.network && xdp.bpf && !xdp.nftables);
        let routeadd = route(&event(kind::NETLINK_WRITE, Some("RTM_NEWROUTE")), true);
        assert!(routeadd.network && !routeadd.bpf);
        let nft = route(
            &event(
                kind::NETLINK_WRITE,
                Some("NFNL_MSG_BATCH_BEGIN (nftables transaction)"),
            ),
            true,
        );
        // nfnetlink's NEWGEN names the writer already: no second trigger.
        assert_eq!(nft, Targets::default());
        assert!(route(&event(kind::XTABLES_REPLACE, None), true).network);
        let lost = route(&event(kind::EVENTS_LOST, None), false);
        assert!(lost.bpf && lost.sockets && lost.kernel && lost.network && lost.nftables);
    }
}
