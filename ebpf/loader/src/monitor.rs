//! The running monitor: palisade's programs loaded and attached to their tracepoints, the ring
//! buffer they write to, and the counter of events that did not fit. Dropping the monitor
//! detaches and unloads everything.

use std::os::fd::AsFd as _;
use std::time::Duration;

use aya::maps::{Array, MapData, PerCpuArray, RingBuf};
use aya::programs::TracePoint;
use aya::{Ebpf, EbpfLoader};
use palisade_ebpf_common::{execs, fd_walk, globals, maps, Event};

use crate::btf::Btf;

/// The tracepoints, as (program name, category, tracepoint). A missing tracepoint (a kernel
/// without modules has no `module:module_load`) is skipped and reported. No `sys_exit_*`: one
/// of those makes every syscall of every process pay for the exit hook.
const TRACEPOINTS: [(&str, &str, &str); 9] = [
    ("sys_enter_bpf", "syscalls", "sys_enter_bpf"),
    ("sys_enter_socket", "syscalls", "sys_enter_socket"),
    ("sys_enter_sendto", "syscalls", "sys_enter_sendto"),
    ("sys_enter_sendmsg", "syscalls", "sys_enter_sendmsg"),
    ("sys_enter_setsockopt", "syscalls", "sys_enter_setsockopt"),
    ("sys_enter_bind", "syscalls", "sys_enter_bind"),
    ("inet_sock_set_state", "sock", "inet_sock_set_state"),
    ("sched_process_exec", "sched", "sched_process_exec"),
    ("module_load", "module", "module_load"),
];

/// Failure to start the monitor.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The object could not be loaded (verifier rejection, no BPF support, no privilege).
    #[error("loading palisade's eBPF programs: {0}")]
    Load(#[source] Box<aya::EbpfError>),
    /// A program could not be loaded or attached.
    #[error("eBPF program {program}: {source}")]
    Program {
        /// The program.
        program: &'static str,
        /// Why.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// A map the programs define is missing or of the wrong type.
    #[error("eBPF map {map}: {detail}")]
    Map {
        /// The map.
        map: &'static str,
        /// Why.
        detail: String,
    },
    /// The kernel's run-time statistics could not be turned on.
    #[error("turning on BPF run-time statistics: {0}")]
    Stats(String),
}

/// How to start the monitor.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Ring buffer size in bytes (a power of two, at least a page); default 256 KiB. Tests
    /// make it small to force losses.
    pub ring_bytes: Option<u32>,
    /// Programs (by name, e.g. `sys_enter_sendto`) to load but leave unattached: for
    /// measuring what each one costs (`palisade-runtime-bench`), not for production.
    pub skip: Vec<String>,
}

/// What the monitor attached, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Tracepoints attached.
    pub attached: Vec<String>,
    /// Tracepoints this kernel does not have, with the error.
    pub skipped: Vec<(String, String)>,
    /// Whether events carry the network namespace (kernel BTF offsets found).
    pub netns: bool,
    /// Whether netlink sends are seen (kernel BTF offsets of the descriptor walk found).
    pub netlink_sends: bool,
}

/// One drained batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events in ring order, each with the program its process last executed (if seen).
    pub events: Vec<(Event, Option<String>)>,
    /// Events lost since the previous batch (ring buffer full).
    pub lost: u64,
}

/// palisade's eBPF programs, loaded and attached.
pub struct Monitor {
    ebpf: Ebpf,
    ring: RingBuf<MapData>,
    drops: PerCpuArray<MapData, u64>,
    execs: Array<MapData, [u8; execs::RECORD]>,
    lost_seen: u64,
    status: Status,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("status", &self.status)
            .finish()
    }
}

/// Where tracepoints are looked up (aya reads their ids from tracefs).
const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs if this mount namespace has none (`ip netns exec` gives its process a fresh
/// sysfs without it). Best effort: if it fails, attaching reports the missing tracepoints.
fn ensure_tracefs() {
    let present = |dir: &str| std::path::Path::new(dir).join("events").is_dir();
    if present(TRACEFS) || present("/sys/kernel/debug/tracing") {
        return;
    }
    let mounted = nix::mount::mount(
        Some("tracefs"),
        TRACEFS,
        Some("tracefs"),
        nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC,
        None::<&str>,
    );
    match mounted {
        Ok(()) => tracing::info!(
            path = TRACEFS,
            "mounted tracefs (this mount namespace had none)"
        ),
        Err(error) => tracing::warn!(%error, path = TRACEFS, "no tracefs, and mounting it failed"),
    }
}

/// Kernel struct offsets the programs follow.
#[derive(Debug, Default)]
struct Offsets {
    /// Task to network-namespace inode; zeros disable the walk.
    netns: (u32, u32, u32),
    /// Task to a descriptor's socket (`fd_walk`); zeros disable the walk.
    fd_walk: [u32; fd_walk::LEN],
}

/// The offsets from the running kernel's BTF, or zeros (walks disabled, with a warning).
fn offsets() -> Offsets {
    let btf = match Btf::from_sys_fs() {
        Ok(btf) => btf,
        Err(error) => {
            tracing::warn!(%error, "no kernel BTF: events will not name their network namespace, netlink sends are not seen");
            return Offsets::default();
        }
    };
    let netns = (|| {
        Ok::<_, crate::btf::BtfError>((
            btf.member_offset("task_struct", &["nsproxy"])?,
            btf.member_offset("nsproxy", &["net_ns"])?,
            btf.member_offset("net", &["ns", "inum"])?,
        ))
    })()
    .unwrap_or_else(|error| {
        tracing::warn!(%error, "kernel BTF: events will not name their network namespace");
        (0, 0, 0)
    });
    let walk: [(usize, &str, &[&str]); fd_walk::LEN] = [
        (fd_walk::TASK_FILES, "task_struct", &["files"]),
        (fd_walk::FILES_FDT, "files_struct", &["fdt"]),
        (fd_walk::FDT_MAX_FDS, "fdtable", &["max_fds"]),
        (fd_walk::FDT_FD, "fdtable", &["fd"]),
        (fd_walk::FILE_INODE, "file", &["f_inode"]),
        (fd_walk::INODE_MODE, "inode", &["i_mode"]),
        (fd_walk::FILE_PRIVATE, "file", &["private_data"]),
        (fd_walk::SOCKET_SK, "socket", &["sk"]),
        (fd_walk::SOCK_FAMILY, "sock", &["__sk_common", "skc_family"]),
        (fd_walk::SOCK_PROTOCOL, "sock", &["sk_protocol"]),
    ];
    let mut offsets = [0u32; fd_walk::LEN];
    for (index, structure, path) in walk {
        match btf.member_offset(structure, path) {
            Ok(offset) => {
                if let Some(slot) = offsets.get_mut(index) {
                    *slot = offset;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "kernel BTF: netlink sends are not seen");
                return Offsets {
                    netns,
                    ..Offsets::default()
                };
            }
        }
    }
    Offsets {
        netns,
        fd_walk: offsets,
    }
}

fn take<T>(ebpf: &mut Ebpf, map: &'static str) -> Result<T, MonitorError>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let m = ebpf.take_map(map).ok_or(MonitorError::Map {
        map,
        detail: "missing from the object".into(),
    })?;
    T::try_from(m).map_err(|e| MonitorError::Map {
        map,
        detail: e.to_string(),
    })
}

impl Monitor {
    /// Loads and attaches the programs.
    pub fn start(options: &Options) -> Result<Self, MonitorError> {
        ensure_tracefs();
        let offsets = offsets();
        let (nsproxy, net_ns, inum) = offsets.netns;
        let tgid = std::process::id();
        let mut loader = EbpfLoader::new();
        loader
            .override_global(globals::TASK_NSPROXY, &nsproxy, true)
            .override_global(globals::NSPROXY_NET_NS, &net_ns, true)
            .override_global(globals::NET_NS_INUM, &inum, true)
            .override_global(globals::SELF_TGID, &tgid, true)
            .override_global(globals::FD_WALK, &offsets.fd_walk, true);
        if let Some(bytes) = options.ring_bytes {
            loader.map_max_entries(maps::EVENTS, bytes);
        }
        let mut ebpf = loader
            .load(crate::PROGRAMS)
            .map_err(|e| MonitorError::Load(Box::new(e)))?;
        let mut status = Status {
            netns: nsproxy != 0,
            netlink_sends: offsets.fd_walk[fd_walk::TASK_FILES] != 0,
            ..Status::default()
        };
        for (program, category, name) in TRACEPOINTS {
            let tp: &mut TracePoint = ebpf
                .program_mut(program)
                .ok_or_else(|| MonitorError::Map {
                    map: program,
                    detail: "program missing from the object".into(),
                })?
                .try_into()
                .map_err(|e| MonitorError::Program {
                    program,
                    source: Box::new(e),
                })?;
            tp.load().map_err(|e| MonitorError::Program {
                program,
                source: Box::new(e),
            })?;
            if options.skip.iter().any(|p| p == program) {
                status
                    .skipped
                    .push((format!("{category}:{name}"), "left out by request".into()));
                continue;
            }
            match tp.attach(category, name) {
                Ok(_) => status.attached.push(format!("{category}:{name}")),
                Err(e) => status
                    .skipped
                    .push((format!("{category}:{name}"), e.to_string())),
            }
        }
        let ring = take(&mut ebpf, maps::EVENTS)?;
        let drops = take(&mut ebpf, maps::DROPS)?;
        let execs = take(&mut ebpf, maps::EXECS)?;
        Ok(Self {
            ebpf,
            ring,
            drops,
            execs,
            lost_seen: 0,
            status,
        })
    }

    /// What is attached.
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Ids of the loaded programs (palisade's own, for the inventory to mark).
    pub fn program_ids(&self) -> Vec<u32> {
        self.ebpf
            .programs()
            .filter_map(|(_, p)| p.info().ok().map(|i| i.id()))
            .collect()
    }

    /// What each loaded program has cost the kernel: `(name, runs, total run time)`. The kernel
    /// counts only while run-time statistics are on (see [`RunTimeStats`]); otherwise both are 0.
    pub fn program_costs(&self) -> Vec<(String, u64, Duration)> {
        self.ebpf
            .programs()
            .filter_map(|(name, p)| {
                let info = p.info().ok()?;
                Some((name.to_owned(), info.run_count(), info.run_time()))
            })
            .collect()
    }

    /// Waits until events are ready or `timeout` passes; true if ready.
    pub fn wait(&self, timeout: Duration) -> std::io::Result<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.ring.as_fd(), PollFlags::POLLIN)];
        let n = poll(&mut fds, PollTimeout::from(ms)).map_err(std::io::Error::from)?;
        Ok(n > 0)
    }

    /// The path process `tgid` last executed, if its exec-table slot is still its own.
    fn exe(&self, tgid: u32) -> Option<String> {
        let slot = self.execs.get(&(tgid % execs::SLOTS), 0).ok()?;
        crate::decode::exec_slot_path(&slot, tgid)
    }

    /// Takes up to `max` events from the ring buffer, and the count of events lost since the
    /// previous call.
    pub fn drain(&mut self, max: usize) -> Batch {
        let mut batch = Batch::default();
        while batch.events.len() < max {
            let Some(item) = self.ring.next() else { break };
            if let Some(e) = Event::from_bytes(&item) {
                batch.events.push((e, None));
            }
        }
        for (e, exe) in &mut batch.events {
            *exe = self.exe(e.tgid);
        }
        let total: u64 = self
            .drops
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(self.lost_seen);
        batch.lost = total.saturating_sub(self.lost_seen);
        self.lost_seen = total.max(self.lost_seen);
        batch
    }
}

/// The kernel's per-program run-time accounting (`BPF_ENABLE_STATS`), on while this is held.
/// It costs two clock reads per program run, so only benchmarks turn it on.
#[derive(Debug)]
pub struct RunTimeStats(#[allow(dead_code, reason = "held for its effect")] std::os::fd::OwnedFd);

impl RunTimeStats {
    /// Turns the accounting on until the value is dropped.
    pub fn enable() -> Result<Self, MonitorError> {
        aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .map(Self)
            .map_err(|e| MonitorError::Stats(e.to_string()))
    }
}
