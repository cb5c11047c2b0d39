//! The `bpf(2)` commands the BPF inventory needs, and nothing else: walking program and link
//! ids, opening them, reading their info (with translated instructions and map ids), and
//! querying what is attached to a cgroup, an interface or a network namespace. This is the
//! crate's only `unsafe` code: each call passes a zeroed attribute buffer of the kernel's UAPI
//! layout and pointers to buffers that outlive the call.
#![allow(
    unsafe_code,
    reason = "bpf(2) has no safe wrapper that exposes these commands"
)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_PROG_GET_NEXT_ID: libc::c_long = 11;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_LINK_GET_FD_BY_ID: libc::c_long = 30;
const BPF_LINK_GET_NEXT_ID: libc::c_long = 31;

/// Size of the attribute buffer passed to every command (larger than every member used, and
/// zero past what the command reads, as the kernel requires).
const ATTR_SIZE: usize = 128;
/// `sizeof(struct bpf_prog_info)` in the UAPI this layout follows (kernel 6.x).
pub(crate) const PROG_INFO_SIZE: usize = 232;
/// `sizeof(struct bpf_link_info)` (kernel 6.x: 16 bytes of header and a 48-byte union).
pub(crate) const LINK_INFO_SIZE: usize = 64;
/// Most programs one query returns.
const MAX_QUERY: usize = 64;

/// An 8-byte aligned byte buffer (the UAPI structs are `aligned(8)`).
#[repr(C, align(8))]
struct Aligned<const N: usize>([u8; N]);

impl<const N: usize> Aligned<N> {
    fn zeroed() -> Self {
        Self([0; N])
    }

    fn put_u32(&mut self, at: usize, v: u32) {
        if let Some(s) = self.0.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    fn put_u64(&mut self, at: usize, v: u64) {
        if let Some(s) = self.0.get_mut(at..at + 8) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        self.0
            .get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_ne_bytes)
    }
}

fn bpf(cmd: libc::c_long, attr: &mut Aligned<ATTR_SIZE>) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a valid, writable, 8-byte aligned buffer of ATTR_SIZE bytes; every
    // pointer stored in it by the callers points to a live buffer of the length stored beside it.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.0.as_mut_ptr(), ATTR_SIZE) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The id after `start` of programs (`links = false`) or links; `None` at the end.
pub(crate) fn next_id(start: u32, links: bool) -> io::Result<Option<u32>> {
    let mut attr = Aligned::zeroed();
    attr.put_u32(0, start);
    let cmd = if links {
        BPF_LINK_GET_NEXT_ID
    } else {
        BPF_PROG_GET_NEXT_ID
    };
    match bpf(cmd, &mut attr) {
        Ok(_) => Ok(Some(attr.u32_at(4))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens the program (`links = false`) or link with `id`; `None` if it went away meanwhile.
pub(crate) fn open(id: u32, links: bool) -> io::Result<Option<OwnedFd>> {
    let mut attr = Aligned::zeroed();
    attr.put_u32(0, id);
    let cmd = if links {
        BPF_LINK_GET_FD_BY_ID
    } else {
        BPF_PROG_GET_FD_BY_ID
    };
    match bpf(cmd, &mut attr) {
        Ok(fd) => {
            let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
            // SAFETY: the kernel just returned this descriptor to us; nobody else owns it.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `bpf_obj_get_info_by_fd` into `info`, whose buffers the caller has described in it.
fn info_by_fd(fd: BorrowedFd<'_>, info: &mut [u8]) -> io::Result<()> {
    let mut attr = Aligned::zeroed();
    attr.put_u32(0, u32::try_from(fd.as_raw_fd()).unwrap_or(u32::MAX));
    attr.put_u32(4, u32::try_from(info.len()).unwrap_or(0));
    attr.put_u64(8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(drop)
}

/// A program's `struct bpf_prog_info`, its translated instructions and its map ids.
pub(crate) struct ProgInfo {
    /// The raw info (see `model` for the fields read from it).
    pub info: Vec<u8>,
    /// The translated instructions, as the kernel dumps them.
    pub xlated: Vec<u8>,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
}

/// A program's `struct bpf_prog_info` alone (no instructions, no map ids).
pub(crate) fn prog_info_head(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut info = Aligned::<PROG_INFO_SIZE>::zeroed();
    info_by_fd(fd, &mut info.0)?;
    Ok(info.0.to_vec())
}

/// Reads a program's info twice: once for the sizes, once with buffers of those sizes.
pub(crate) fn prog_info(fd: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    let mut first = Aligned::<PROG_INFO_SIZE>::zeroed();
    info_by_fd(fd, &mut first.0)?;
    let xlated_len = first.u32_at(20) as usize;
    let nr_maps = first.u32_at(52) as usize;
    let mut xlated = vec![0u8; xlated_len];
    let mut map_ids = vec![0u32; nr_maps];
    let mut second = Aligned::<PROG_INFO_SIZE>::zeroed();
    second.put_u32(20, u32::try_from(xlated.len()).unwrap_or(0));
    second.put_u64(32, xlated.as_mut_ptr() as u64);
    second.put_u32(52, u32::try_from(map_ids.len()).unwrap_or(0));
    second.put_u64(56, map_ids.as_mut_ptr() as u64);
    info_by_fd(fd, &mut second.0)?;
    // The kernel reports the full lengths; it filled at most what we offered.
    xlated.truncate((second.u32_at(20) as usize).min(xlated_len));
    map_ids.truncate((second.u32_at(52) as usize).min(nr_maps));
    Ok(ProgInfo {
        info: second.0.to_vec(),
        xlated,
        map_ids,
    })
}

/// A link's `struct bpf_link_info` (name buffers left empty).
pub(crate) fn link_info(fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
    let mut info = Aligned::<LINK_INFO_SIZE>::zeroed();
    info_by_fd(fd, &mut info.0)?;
    Ok(info.0.to_vec())
}

/// Programs attached to `target` (a cgroup or namespace fd, or an interface index for tcx)
/// with `attach_type`. An unsupported attach type or target answers with an empty list.
pub(crate) fn query(target: u32, attach_type: u32) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; MAX_QUERY];
    let mut attr = Aligned::zeroed();
    attr.put_u32(0, target);
    attr.put_u32(4, attach_type);
    attr.put_u64(16, ids.as_mut_ptr() as u64);
    attr.put_u32(24, MAX_QUERY as u32);
    match bpf(BPF_PROG_QUERY, &mut attr) {
        Ok(_) => {
            let n = (attr.u32_at(24) as usize).min(MAX_QUERY);
            Ok(ids.get(..n).map(<[u32]>::to_vec).unwrap_or_default())
        }
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOENT | libc::EOPNOTSUPP | libc::EBADF | libc::ENODEV)
            ) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}
