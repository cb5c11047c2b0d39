//! The record palisade's eBPF programs write into their ring buffer, and the numbers in it,
//! shared by the kernel side (`palisade-ebpf-programs`) and user space (`palisade-ebpf`).
//!
//! Events are triggers and attribution, never the measured object: every event says who (pid,
//! thread, uid, command, cgroup, network namespace) did what kind of thing, and user space
//! re-reads the state it touched. The layout is `#[repr(C)]` and fixed: both sides are built
//! from this file, and user space checks the size of every record it reads.
#![no_std]
#![forbid(unsafe_code)]

/// What happened. Values are stable: they cross the kernel/user boundary.
pub mod kind {
    /// `bpf(BPF_PROG_LOAD)` was called. `args`: command, 0, program type. (Traced at entry:
    /// user space resolves the program from the kernel's load time and the caller's uid.)
    pub const BPF_PROG_LOAD: u32 = 1;
    /// `bpf(BPF_PROG_ATTACH | BPF_PROG_DETACH)` was called. `args`: command, 0, attach type,
    /// target fd.
    pub const BPF_ATTACH: u32 = 2;
    /// `bpf(BPF_LINK_CREATE | BPF_LINK_UPDATE | BPF_LINK_DETACH)` was called. `args`:
    /// command, 0, attach type, target fd or interface index.
    pub const BPF_LINK: u32 = 3;
    /// A TCP (or SCTP, MPTCP) socket started listening. `args`: family, port, protocol;
    /// `addr`: the bound address (IPv4 in the first four bytes).
    pub const LISTEN: u32 = 4;
    /// `bind(2)` of an IPv4/IPv6 socket to a non-zero port was called. `args`: family, port;
    /// `addr`: the address.
    pub const BIND: u32 = 5;
    /// `socket(AF_PACKET, …)` was called. `args`: family, type, protocol.
    pub const PACKET_SOCKET: u32 = 6;
    /// `socket(AF_INET | AF_INET6, SOCK_RAW, …)` was called. `args`: family, type, protocol.
    pub const RAW_SOCKET: u32 = 7;
    /// A message that changes state was sent on an `AF_NETLINK` socket of `NETLINK_ROUTE` or
    /// `NETLINK_NETFILTER`. `args`: netlink protocol, message type, message flags, fd.
    pub const NETLINK_WRITE: u32 = 8;
    /// `setsockopt` replaced a legacy x_tables table (`IPT_SO_SET_REPLACE` and its IPv6 and
    /// ARP twins). `args`: level, option, fd.
    pub const XTABLES_REPLACE: u32 = 9;
    /// A kernel module was loaded. `addr`: the first 16 bytes of its name.
    pub const MODULE_LOAD: u32 = 10;
    /// Largest kind.
    pub const MAX: u32 = MODULE_LOAD;
}

/// One event, as the programs write it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// One of [`kind`].
    pub kind: u32,
    /// Thread id (initial PID namespace).
    pub pid: u32,
    /// Process id (thread-group id).
    pub tgid: u32,
    /// Real user id.
    pub uid: u32,
    /// Inode number of the task's network namespace (0: unknown).
    pub netns: u32,
    /// Padding, zero.
    pub pad: u32,
    /// Id of the task's cgroup (v2).
    pub cgroup_id: u64,
    /// `CLOCK_BOOTTIME` nanoseconds when it happened (what the kernel records as a BPF
    /// program's load time, so the two can be matched).
    pub boot_ns: u64,
    /// The task's command name, NUL-padded.
    pub comm: [u8; 16],
    /// Kind-specific numbers (see [`kind`]).
    pub args: [i64; 4],
    /// Kind-specific bytes (see [`kind`]).
    pub addr: [u8; 16],
}

/// Size of [`Event`] in bytes.
pub const EVENT_SIZE: usize = core::mem::size_of::<Event>();

impl Event {
    /// An event with every field zero.
    pub const ZERO: Self = Self {
        kind: 0,
        pid: 0,
        tgid: 0,
        uid: 0,
        netns: 0,
        pad: 0,
        cgroup_id: 0,
        boot_ns: 0,
        comm: [0; 16],
        args: [0; 4],
        addr: [0; 16],
    };
}

impl Event {
    /// Reads an event from the bytes a program wrote (native byte order); `None` unless
    /// `bytes` is exactly one event.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != EVENT_SIZE {
            return None;
        }
        let u32_at = |at: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
        };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
        };
        let mut args = [0i64; 4];
        for (i, a) in args.iter_mut().enumerate() {
            *a = i64::from_ne_bytes(bytes.get(56 + 8 * i..64 + 8 * i)?.try_into().ok()?);
        }
        Some(Self {
            kind: u32_at(0)?,
            pid: u32_at(4)?,
            tgid: u32_at(8)?,
            uid: u32_at(12)?,
            netns: u32_at(16)?,
            pad: u32_at(20)?,
            cgroup_id: u64_at(24)?,
            boot_ns: u64_at(32)?,
            comm: bytes.get(40..56)?.try_into().ok()?,
            args,
            addr: bytes.get(88..104)?.try_into().ok()?,
        })
    }
}

/// Names of the global variables the loader sets before loading: byte offsets of the kernel
/// structure members the programs follow from the current task to its network namespace's
/// inode number (`task_struct.nsproxy → nsproxy.net_ns → net.ns.inum`), read from the running
/// kernel's BTF. Zero disables the walk (the event then says netns 0).
pub mod globals {
    /// `offsetof(struct task_struct, nsproxy)`.
    pub const TASK_NSPROXY: &str = "TASK_NSPROXY";
    /// `offsetof(struct nsproxy, net_ns)`.
    pub const NSPROXY_NET_NS: &str = "NSPROXY_NET_NS";
    /// `offsetof(struct net, ns) + offsetof(struct ns_common, inum)`.
    pub const NET_NS_INUM: &str = "NET_NS_INUM";
    /// The loader's own process id: events it causes itself are not reported.
    pub const SELF_TGID: &str = "SELF_TGID";
    /// `[u32; fd_walk::LEN]`: see [`super::fd_walk`].
    pub const FD_WALK: &str = "FD_WALK";
}

/// Indexes into the `FD_WALK` global: byte offsets (from the running kernel's BTF) the programs
/// follow from the current task to the socket behind a descriptor, to tell whether a send goes
/// to a netlink socket without tracing socket creation. Zero at `TASK_FILES` disables the walk.
pub mod fd_walk {
    /// `offsetof(struct task_struct, files)`.
    pub const TASK_FILES: usize = 0;
    /// `offsetof(struct files_struct, fdt)`.
    pub const FILES_FDT: usize = 1;
    /// `offsetof(struct fdtable, max_fds)`.
    pub const FDT_MAX_FDS: usize = 2;
    /// `offsetof(struct fdtable, fd)`.
    pub const FDT_FD: usize = 3;
    /// `offsetof(struct file, f_inode)`.
    pub const FILE_INODE: usize = 4;
    /// `offsetof(struct inode, i_mode)`.
    pub const INODE_MODE: usize = 5;
    /// `offsetof(struct file, private_data)` (a socket file's `struct socket`).
    pub const FILE_PRIVATE: usize = 6;
    /// `offsetof(struct socket, sk)`.
    pub const SOCKET_SK: usize = 7;
    /// `offsetof(struct sock, __sk_common.skc_family)`.
    pub const SOCK_FAMILY: usize = 8;
    /// `offsetof(struct sock, sk_protocol)`.
    pub const SOCK_PROTOCOL: usize = 9;
    /// Number of offsets.
    pub const LEN: usize = 10;
}

/// The exec table: the path each process last executed, for attribution. A direct-mapped
/// array (slot = tgid mod [`execs::SLOTS`]): an update is two stores, where an LRU hash insert
/// on a full map costs about a microsecond per exec (BENCHMARKS.md). A slot holds the tgid
/// (native-endian `u32` at 0), then the NUL-terminated path at [`execs::PATH`]; a reader takes
/// the path only when the stored tgid is the one it asked for.
pub mod execs {
    /// Slots (a newer process whose tgid has the same residue takes the slot over).
    pub const SLOTS: u32 = 8192;
    /// Offset of the path in a slot.
    pub const PATH: usize = 8;
    /// Bytes of a slot.
    pub const RECORD: usize = PATH + 64;
}

/// Names of the maps the loader reads.
pub mod maps {
    /// The ring buffer of [`super::Event`]s.
    pub const EVENTS: &str = "EVENTS";
    /// Per-CPU count of events that did not fit in the ring buffer (index 0).
    pub const DROPS: &str = "DROPS";
    /// The exec table ([`super::execs`]).
    pub const EXECS: &str = "EXECS";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_is_fixed() {
        assert_eq!(EVENT_SIZE, 104);
        assert_eq!(core::mem::align_of::<Event>(), 8);
        assert_eq!(core::mem::offset_of!(Event, cgroup_id), 24);
        assert_eq!(core::mem::offset_of!(Event, comm), 40);
        assert_eq!(core::mem::offset_of!(Event, args), 56);
        assert_eq!(core::mem::offset_of!(Event, addr), 88);
    }

    #[test]
    fn bytes_round_trip_and_wrong_sizes_are_refused() {
        let mut e = Event::ZERO;
        e.kind = kind::LISTEN;
        e.tgid = 4242;
        e.cgroup_id = 7;
        e.comm[..2].copy_from_slice(b"ip");
        e.args = [2, 22, 6, -1];
        e.addr[0] = 10;
        let mut bytes = [0u8; EVENT_SIZE];
        bytes[0..4].copy_from_slice(&e.kind.to_ne_bytes());
        bytes[8..12].copy_from_slice(&e.tgid.to_ne_bytes());
        bytes[24..32].copy_from_slice(&e.cgroup_id.to_ne_bytes());
        bytes[40..42].copy_from_slice(b"ip");
        for (i, a) in e.args.iter().enumerate() {
            bytes[56 + 8 * i..64 + 8 * i].copy_from_slice(&a.to_ne_bytes());
        }
        bytes[88] = 10;
        assert_eq!(Event::from_bytes(&bytes), Some(e));
        assert_eq!(Event::from_bytes(&bytes[..EVENT_SIZE - 1]), None);
        assert_eq!(Event::from_bytes(&[0; EVENT_SIZE + 8]), None);
    }
}
