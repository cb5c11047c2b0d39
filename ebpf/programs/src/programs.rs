//! The tracepoints. Syscalls are traced at entry only (arguments, read from user memory while
//! they are still there): any `sys_exit_*` tracepoint makes the kernel run the exit hook on
//! every syscall of every process, which measurably slows fork/exec storms (BENCHMARKS.md), so
//! results are resolved by user space from the state it re-reads. Field offsets are those of
//! the stable tracepoint formats (`/sys/kernel/tracing/events/*/*/format`): syscall arguments
//! at 16 + 8·n.

use aya_ebpf::helpers::generated::{
    bpf_get_current_cgroup_id, bpf_get_current_task, bpf_ktime_get_boot_ns,
};
use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_probe_read_kernel,
    bpf_probe_read_kernel_str_bytes, bpf_probe_read_user, bpf_probe_read_user_buf,
};
use aya_ebpf::macros::{map, tracepoint};
use aya_ebpf::maps::{Array, PerCpuArray, RingBuf};
use aya_ebpf::programs::TracePointContext;
use aya_ebpf::EbpfContext as _;
use palisade_ebpf_common::{execs, fd_walk, kind, Event};

/// Bytes of the event ring buffer (a power of two, a multiple of the page size).
const RING_BYTES: u32 = 256 * 1024;

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

#[map(name = "DROPS")]
static DROPS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// The program each process last executed (`palisade_ebpf_common::execs`).
#[map(name = "EXECS")]
static EXECS: Array<[u8; execs::RECORD]> = Array::with_max_entries(execs::SLOTS, 0);

// Set by the loader before loading (see `palisade_ebpf_common::globals`).
#[unsafe(no_mangle)]
static TASK_NSPROXY: u32 = 0;
#[unsafe(no_mangle)]
static NSPROXY_NET_NS: u32 = 0;
#[unsafe(no_mangle)]
static NET_NS_INUM: u32 = 0;
#[unsafe(no_mangle)]
static SELF_TGID: u32 = 0;
/// Offsets from the current task to a descriptor's socket (`palisade_ebpf_common::fd_walk`).
#[unsafe(no_mangle)]
static FD_WALK: [u32; fd_walk::LEN] = [0; fd_walk::LEN];

// Numbers from the kernel's UAPI headers.
const AF_INET: i64 = 2;
const AF_INET6: i64 = 10;
const AF_NETLINK: i64 = 16;
const AF_PACKET: i64 = 17;
const SOCK_RAW: i64 = 3;
const SOCK_TYPE_MASK: i64 = 0xf;
const NETLINK_ROUTE: i64 = 0;
const NETLINK_NETFILTER: i64 = 12;
const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_ATTACH: i64 = 8;
const BPF_PROG_DETACH: i64 = 9;
const BPF_LINK_CREATE: i64 = 28;
const BPF_LINK_UPDATE: i64 = 29;
const BPF_LINK_DETACH: i64 = 34;
const TCP_LISTEN: i32 = 10;
const SOL_IP: i64 = 0;
const SOL_IPV6: i64 = 41;
const IPT_SO_SET_REPLACE: i64 = 64;
const ARPT_SO_SET_REPLACE: i64 = 96;
const EBT_SO_SET_ENTRIES: i64 = 128;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const RTM_BASE: u16 = 16;
const S_IFMT: u16 = 0o170_000;
const S_IFSOCK: u16 = 0o140_000;

/// Reads a global set by the loader (volatile: the compiler must not fold the zero).
fn global(g: &u32) -> u32 {
    // SAFETY: a valid, aligned reference to a static.
    unsafe { core::ptr::read_volatile(g) }
}

/// The inode of the current task's network namespace, 0 if the offsets are unknown.
fn netns_inode() -> u32 {
    let (a, b, c) = (
        global(&TASK_NSPROXY),
        global(&NSPROXY_NET_NS),
        global(&NET_NS_INUM),
    );
    if a == 0 || b == 0 {
        return 0;
    }
    // SAFETY: bpf_probe_read_kernel checks every address it reads; the offsets come from the
    // running kernel's BTF.
    unsafe {
        let task = bpf_get_current_task() as *const u8;
        let Ok(nsproxy) = bpf_probe_read_kernel(task.add(a as usize) as *const *const u8) else {
            return 0;
        };
        if nsproxy.is_null() {
            return 0;
        }
        let Ok(net) = bpf_probe_read_kernel(nsproxy.add(b as usize) as *const *const u8) else {
            return 0;
        };
        if net.is_null() {
            return 0;
        }
        bpf_probe_read_kernel(net.add(c as usize) as *const u32).unwrap_or(0)
    }
}

/// An event of `kind` attributed to the current task, or `None` for the loader itself.
fn event(kind: u32) -> Option<Event> {
    let pid_tgid = bpf_get_current_pid_tgid();
    let tgid = (pid_tgid >> 32) as u32;
    if tgid == global(&SELF_TGID) {
        return None;
    }
    let mut e = Event::ZERO;
    e.kind = kind;
    e.pid = pid_tgid as u32;
    e.tgid = tgid;
    e.uid = bpf_get_current_uid_gid() as u32;
    e.netns = netns_inode();
    // SAFETY: helpers without arguments.
    unsafe {
        e.cgroup_id = bpf_get_current_cgroup_id();
        e.boot_ns = bpf_ktime_get_boot_ns();
    }
    e.comm = bpf_get_current_comm().unwrap_or([0; 16]);
    Some(e)
}

/// Writes `e` into the ring buffer, or counts it as dropped.
fn emit(e: &Event) {
    if EVENTS.output::<Event>(e, 0).is_err() {
        if let Some(n) = DROPS.get_ptr_mut(0) {
            // SAFETY: a per-CPU slot: no other CPU writes it, and tracepoints do not nest on
            // one CPU for the same program.
            unsafe { *n += 1 };
        }
    }
}

/// Syscall argument `n` of a `sys_enter_*` tracepoint.
fn arg(ctx: &TracePointContext, n: usize) -> i64 {
    // SAFETY: syscall tracepoints carry six 8-byte arguments from offset 16.
    unsafe { ctx.read_at::<i64>(16 + 8 * n).unwrap_or(0) }
}

fn read_user<T>(addr: i64) -> Option<T> {
    // SAFETY: bpf_probe_read_user checks the address.
    unsafe { bpf_probe_read_user(addr as *const T).ok() }
}

#[tracepoint]
pub fn sys_enter_bpf(ctx: TracePointContext) -> u32 {
    let cmd = arg(&ctx, 0);
    let attr = arg(&ctx, 1);
    let kind = match cmd {
        BPF_PROG_LOAD => kind::BPF_PROG_LOAD,
        BPF_PROG_ATTACH | BPF_PROG_DETACH => kind::BPF_ATTACH,
        BPF_LINK_CREATE | BPF_LINK_UPDATE | BPF_LINK_DETACH => kind::BPF_LINK,
        _ => return 0,
    };
    let Some(mut e) = event(kind) else { return 0 };
    e.args[0] = cmd;
    // union bpf_attr: prog_load.prog_type at 0; prog_attach {target_fd, attach_bpf_fd,
    // attach_type}; link_create {prog_fd, target_fd|target_ifindex, attach_type}.
    let words: [u32; 3] = read_user(attr).unwrap_or([0; 3]);
    match kind {
        kind::BPF_PROG_LOAD => e.args[2] = i64::from(words[0]),
        kind::BPF_ATTACH => {
            e.args[2] = i64::from(words[2]);
            e.args[3] = i64::from(words[0]);
        }
        _ => {
            e.args[2] = i64::from(words[2]);
            e.args[3] = i64::from(words[1]);
        }
    }
    emit(&e);
    0
}

#[tracepoint]
pub fn sys_enter_socket(ctx: TracePointContext) -> u32 {
    let (family, ty, protocol) = (arg(&ctx, 0), arg(&ctx, 1), arg(&ctx, 2));
    let kind = match family {
        AF_PACKET => kind::PACKET_SOCKET,
        AF_INET | AF_INET6 if ty & SOCK_TYPE_MASK == SOCK_RAW => kind::RAW_SOCKET,
        _ => return 0,
    };
    let Some(mut e) = event(kind) else { return 0 };
    e.args = [family, ty, protocol, 0];
    emit(&e);
    0
}

/// Reads a kernel pointer at `base + offset`; null if it cannot be read.
fn kptr(base: *const u8, offset: u32) -> *const u8 {
    // SAFETY: bpf_probe_read_kernel checks the address.
    unsafe { bpf_probe_read_kernel(base.add(offset as usize) as *const *const u8) }
        .unwrap_or(core::ptr::null())
}

/// The netlink protocol of descriptor `fd` of the current process if it is an `AF_NETLINK`
/// socket: `task->files->fdt->fd[fd]`, a socket if its inode says so, then
/// `file->private_data` (the `struct socket`) `->sk`. `None` when offsets are unknown.
fn netlink_protocol(fd: i64) -> Option<i64> {
    // SAFETY: a valid, aligned reference to a static.
    let w = unsafe { core::ptr::read_volatile(&FD_WALK) };
    if w[fd_walk::TASK_FILES] == 0 || fd < 0 {
        return None;
    }
    // SAFETY: a helper without arguments.
    let task = unsafe { bpf_get_current_task() } as *const u8;
    let fdt = kptr(kptr(task, w[fd_walk::TASK_FILES]), w[fd_walk::FILES_FDT]);
    if fdt.is_null() {
        return None;
    }
    // SAFETY: checked reads, as in `kptr`.
    let max = unsafe {
        bpf_probe_read_kernel(fdt.add(w[fd_walk::FDT_MAX_FDS] as usize) as *const u32).ok()?
    };
    if fd >= i64::from(max) {
        return None;
    }
    let file = kptr(kptr(fdt, w[fd_walk::FDT_FD]), (fd as u32).wrapping_mul(8));
    let inode = kptr(file, w[fd_walk::FILE_INODE]);
    if inode.is_null() {
        return None;
    }
    // SAFETY: checked reads.
    let mode = unsafe {
        bpf_probe_read_kernel(inode.add(w[fd_walk::INODE_MODE] as usize) as *const u16).ok()?
    };
    if mode & S_IFMT != S_IFSOCK {
        return None;
    }
    let sk = kptr(kptr(file, w[fd_walk::FILE_PRIVATE]), w[fd_walk::SOCKET_SK]);
    if sk.is_null() {
        return None;
    }
    // SAFETY: checked reads.
    let (family, protocol) = unsafe {
        (
            bpf_probe_read_kernel(sk.add(w[fd_walk::SOCK_FAMILY] as usize) as *const u16).ok()?,
            bpf_probe_read_kernel(sk.add(w[fd_walk::SOCK_PROTOCOL] as usize) as *const u16).ok()?,
        )
    };
    (i64::from(family) == AF_NETLINK).then_some(i64::from(protocol))
}

/// A netlink message sent on a `NETLINK_ROUTE` or `NETLINK_NETFILTER` socket: reported when it
/// changes state.
fn netlink_send(fd: i64, header: i64) {
    let Some(protocol) = netlink_protocol(fd) else {
        return;
    };
    if protocol != NETLINK_ROUTE && protocol != NETLINK_NETFILTER {
        return;
    }
    // struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }
    let mut h = [0u8; 8];
    // SAFETY: bpf_probe_read_user_buf checks the address.
    if unsafe { bpf_probe_read_user_buf(header as *const u8, &mut h) }.is_err() {
        return;
    }
    let ty = u16::from_ne_bytes([h[4], h[5]]);
    let flags = u16::from_ne_bytes([h[6], h[7]]);
    let writes = match protocol {
        // nftables (and iptables-nft) changes come in batches; listings do not.
        NETLINK_NETFILTER => ty == NFNL_MSG_BATCH_BEGIN,
        // RTM_NEW*, RTM_DEL*, RTM_SET*: every family's type but the third (RTM_GET*).
        _ => ty >= RTM_BASE && (ty - RTM_BASE) % 4 != 2,
    };
    if !writes {
        return;
    }
    if let Some(mut e) = event(kind::NETLINK_WRITE) {
        e.args = [protocol, i64::from(ty), i64::from(flags), fd];
        emit(&e);
    }
}

#[tracepoint]
pub fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    netlink_send(arg(&ctx, 0), arg(&ctx, 1));
    0
}

#[tracepoint]
pub fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    let fd = arg(&ctx, 0);
    // struct user_msghdr { void *name; int namelen; struct iovec *iov; ... }
    let Some(iov) = read_user::<i64>(arg(&ctx, 1) + 16) else {
        return 0;
    };
    // struct iovec { void *base; size_t len; }
    let Some(base) = read_user::<i64>(iov) else {
        return 0;
    };
    netlink_send(fd, base);
    0
}

#[tracepoint]
pub fn sys_enter_setsockopt(ctx: TracePointContext) -> u32 {
    let (fd, level, opt) = (arg(&ctx, 0), arg(&ctx, 1), arg(&ctx, 2));
    let replace = match level {
        SOL_IP => matches!(
            opt,
            IPT_SO_SET_REPLACE | ARPT_SO_SET_REPLACE | EBT_SO_SET_ENTRIES
        ),
        SOL_IPV6 => opt == IPT_SO_SET_REPLACE,
        _ => false,
    };
    if replace {
        if let Some(mut e) = event(kind::XTABLES_REPLACE) {
            e.args = [level, opt, fd, 0];
            emit(&e);
        }
    }
    0
}

#[tracepoint]
pub fn sys_enter_bind(ctx: TracePointContext) -> u32 {
    let addr = arg(&ctx, 1);
    // struct sockaddr_in { u16 family; be16 port; u8 addr[4]; } / sockaddr_in6 { u16 family;
    // be16 port; u32 flowinfo; u8 addr[16]; }
    let Some(head) = read_user::<[u8; 4]>(addr) else {
        return 0;
    };
    let family = i64::from(u16::from_ne_bytes([head[0], head[1]]));
    let port = i64::from(u16::from_be_bytes([head[2], head[3]]));
    if port == 0 || !(family == AF_INET || family == AF_INET6) {
        return 0;
    }
    let Some(mut e) = event(kind::BIND) else {
        return 0;
    };
    e.args = [family, port, 0, 0];
    if family == AF_INET {
        if let Some(a) = read_user::<[u8; 4]>(addr + 4) {
            e.addr[..4].copy_from_slice(&a);
        }
    } else if let Some(a) = read_user::<[u8; 16]>(addr + 8) {
        e.addr = a;
    }
    emit(&e);
    0
}

#[tracepoint]
pub fn inet_sock_set_state(ctx: TracePointContext) -> u32 {
    // SAFETY: offsets of the sock:inet_sock_set_state format.
    let (newstate, port, family, protocol) = unsafe {
        (
            ctx.read_at::<i32>(20).unwrap_or(0),
            ctx.read_at::<u16>(24).unwrap_or(0),
            ctx.read_at::<u16>(28).unwrap_or(0),
            ctx.read_at::<u16>(30).unwrap_or(0),
        )
    };
    if newstate != TCP_LISTEN {
        return 0;
    }
    let Some(mut e) = event(kind::LISTEN) else {
        return 0;
    };
    e.args = [i64::from(family), i64::from(port), i64::from(protocol), 0];
    // SAFETY: saddr[4] at 32, saddr_v6[16] at 40.
    unsafe {
        if i64::from(family) == AF_INET {
            e.addr[..4].copy_from_slice(&ctx.read_at::<[u8; 4]>(32).unwrap_or([0; 4]));
        } else {
            e.addr = ctx.read_at::<[u8; 16]>(40).unwrap_or([0; 16]);
        }
    }
    emit(&e);
    0
}

#[tracepoint]
pub fn sched_process_exec(ctx: TracePointContext) -> u32 {
    // `__data_loc char[] filename` at 8: the low 16 bits are the offset of the string.
    // SAFETY: offsets of the sched:sched_process_exec format.
    let loc = unsafe { ctx.read_at::<u32>(8).unwrap_or(0) };
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    let Some(slot) = EXECS.get_ptr_mut(tgid % execs::SLOTS) else {
        return 0;
    };
    // SAFETY: `slot` points at one value of the array map; bpf_probe_read_kernel_str_bytes
    // checks the source address, and the string lives in the tracepoint record.
    unsafe {
        let slot = &mut *slot;
        let (head, path) = slot.split_at_mut(execs::PATH);
        head[..4].copy_from_slice(&tgid.to_ne_bytes());
        let src = (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize);
        if bpf_probe_read_kernel_str_bytes(src, path).is_err() {
            path[0] = 0;
        }
    }
    0
}

#[tracepoint]
pub fn module_load(ctx: TracePointContext) -> u32 {
    let Some(mut e) = event(kind::MODULE_LOAD) else {
        return 0;
    };
    // `__data_loc char[] name` at 12 (module:module_load).
    // SAFETY: offsets of the module:module_load format; the read is checked.
    unsafe {
        let loc = ctx.read_at::<u32>(12).unwrap_or(0);
        let src = (ctx.as_ptr() as *const u8).add((loc & 0xffff) as usize);
        let _ = bpf_probe_read_kernel_str_bytes(src, &mut e.addr);
    }
    emit(&e);
    0
}
