//! The BPF inventory (`palisade.bpf/1`): every loaded program, and every place a program is
//! attached that can see or change a packet of the namespace — XDP, tc filters, tcx and netkit
//! on its interfaces, its flow dissector and sk_lookup hooks, cgroups, netfilter links — plus
//! the kernel-wide hooks (tracing, perf events) links reveal.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use palisade_collectors::{runtime::bpf, NetNs};
//! let inventory = bpf::read(&NetNs::Current, &Default::default())?;
//! for a in inventory.foreign_attachments() {
//!     println!("{} on {}: {} ({})", a.hook, a.target, a.program.name, a.program.tag);
//! }
//! # Ok(()) }
//! ```

mod attach;
mod model;
mod names;
mod sys;
mod xlated;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::os::fd::AsFd as _;

pub use model::{
    Attachment, BpfInventory, Observed, Program, ProgramRef, FLAG_CGROUP, FLAG_DANGLING,
    FLAG_NETFILTER, FLAG_NETNS, FLAG_TC, FLAG_UNREADABLE, FLAG_XDP, FORMAT,
};

use crate::netns::{NetNs, NetNsError};
use crate::network::{NetworkError, Scalar};

/// Failure to read the BPF inventory.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    /// A `bpf(2)` command failed (other than for an object that went away meanwhile).
    #[error("bpf({what}): {source}")]
    Syscall {
        /// The command.
        what: &'static str,
        /// The OS error (`EPERM`: the reader needs CAP_SYS_ADMIN or CAP_BPF).
        #[source]
        source: std::io::Error,
    },
    /// The namespace could not be entered.
    #[error(transparent)]
    NetNs(#[from] NetNsError),
    /// The namespace's interfaces or tc filters could not be dumped.
    #[error(transparent)]
    Netlink(#[from] NetworkError),
    /// The cgroup hierarchy could not be walked.
    #[error("cgroup {path}: {source}")]
    Cgroup {
        /// The directory.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl BpfError {
    fn syscall(what: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Syscall { what, source }
    }
}

/// Reads the inventory of `netns`; `own` are the ids of palisade's own programs (marked so).
pub fn read(netns: &NetNs, own: &BTreeSet<u32>) -> Result<BpfInventory, BpfError> {
    let mut inv = BpfInventory::default();
    read_programs(&mut inv, own)?;
    let mut pending = read_links()?;
    pending.extend(netns.run(attach::namespace)??);
    pending.extend(attach::cgroups()?);
    for (id, mut a) in pending {
        match inv.observed.programs.get(&id) {
            Some(p) => a.program = p.clone(),
            None => {
                // Unloaded between the program walk and now; the next read settles it.
                inv.flags.insert(FLAG_DANGLING.to_owned());
                a.program.prog_type = format!("unknown program {id}");
            }
        }
        inv.attachments.push(a);
    }
    inv.normalize();
    Ok(inv)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

/// Calls `f` with the id and an open descriptor of every loaded program (programs unloaded
/// meanwhile are skipped).
fn each_program(
    mut f: impl FnMut(u32, std::os::fd::BorrowedFd<'_>) -> Result<(), BpfError>,
) -> Result<(), BpfError> {
    let mut id = 0;
    while let Some(next) = sys::next_id(id, false).map_err(BpfError::syscall("prog_get_next_id"))? {
        id = next;
        if let Some(fd) = sys::open(id, false).map_err(BpfError::syscall("prog_get_fd_by_id"))? {
            f(id, fd.as_fd())?;
        }
    }
    Ok(())
}

/// Every loaded program, by walking program ids.
fn read_programs(inv: &mut BpfInventory, own: &BTreeSet<u32>) -> Result<(), BpfError> {
    each_program(|id, fd| {
        let info = sys::prog_info(fd).map_err(BpfError::syscall("obj_get_info_by_fd"))?;
        let program = program_ref(&info);
        let i = &info.info;
        let uid = u32_at(i, 48);
        inv.observed.loads.insert(id, (u64_at(i, 40), uid));
        inv.observed.programs.insert(id, program.clone());
        inv.programs.push(Program {
            program,
            uid,
            gpl: u32_at(i, 84) & 1 == 1,
            xlated_bytes: u32::try_from(info.xlated.len()).unwrap_or(u32::MAX),
            maps: u32::try_from(info.map_ids.len()).unwrap_or(u32::MAX),
            palisade: own.contains(&id),
            count: 1,
        });
        Ok(())
    })
}

/// A program's identity from its info.
fn program_ref(info: &sys::ProgInfo) -> ProgramRef {
    let i = &info.info;
    let name_bytes = i.get(64..80).unwrap_or_default();
    let name_len = name_bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name_bytes.len());
    ProgramRef {
        prog_type: names::prog_type(u32_at(i, 0)),
        name: String::from_utf8_lossy(name_bytes.get(..name_len).unwrap_or_default()).into_owned(),
        tag: hex::encode(i.get(8..16).unwrap_or_default()),
        digest: if info.xlated.is_empty() {
            String::new()
        } else {
            xlated::digest(&info.xlated)
        },
    }
}

/// When and by whom a loaded program was loaded, from the kernel's stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Program id.
    pub id: u32,
    /// `BPF_PROG_TYPE_*` number.
    pub prog_type: u32,
    /// `CLOCK_BOOTTIME` ns, stamped after verification.
    pub load_time: u64,
    /// The loading process's uid.
    pub uid: u32,
}

/// The load stamp of every loaded program (cheap: no instructions are read).
pub fn loads() -> Result<Vec<Load>, BpfError> {
    let mut out = Vec::new();
    each_program(|id, fd| {
        let head = sys::prog_info_head(fd).map_err(BpfError::syscall("obj_get_info_by_fd"))?;
        out.push(Load {
            id,
            prog_type: u32_at(&head, 0),
            load_time: u64_at(&head, 40),
            uid: u32_at(&head, 48),
        });
        Ok(())
    })?;
    Ok(out)
}

/// The identity of program `id`; `None` if it is gone.
pub fn program(id: u32) -> Result<Option<ProgramRef>, BpfError> {
    let Some(fd) = sys::open(id, false).map_err(BpfError::syscall("prog_get_fd_by_id"))? else {
        return Ok(None);
    };
    let info = sys::prog_info(fd.as_fd()).map_err(BpfError::syscall("obj_get_info_by_fd"))?;
    Ok(Some(program_ref(&info)))
}

/// Attachments only links reveal: netfilter hooks and the kernel-wide ones. Links to
/// interfaces, namespaces and cgroups are found by querying those (which also finds
/// attachments made without a link).
fn read_links() -> Result<Vec<(u32, Attachment)>, BpfError> {
    let mut out = Vec::new();
    let mut id = 0;
    while let Some(next) = sys::next_id(id, true).map_err(BpfError::syscall("link_get_next_id"))? {
        id = next;
        let Some(fd) = sys::open(id, true).map_err(BpfError::syscall("link_get_fd_by_id"))? else {
            continue;
        };
        let info = sys::link_info(fd.as_fd()).map_err(BpfError::syscall("obj_get_info_by_fd"))?;
        let link_type = names::link_type(u32_at(&info, 0));
        let prog = u32_at(&info, 8);
        let mut a = Attachment {
            hook: link_type.clone(),
            target: "kernel".to_owned(),
            ..Attachment::default()
        };
        match link_type.as_str() {
            "cgroup" | "xdp" | "tcx" | "netkit" | "netns" => continue,
            "netfilter" => {
                let (family, hook) = names::netfilter(u32_at(&info, 16), u32_at(&info, 20));
                let priority = u32_at(&info, 24) as i32;
                a.details.insert("family".into(), Scalar::Text(family));
                a.details.insert("hook".into(), Scalar::Text(hook));
                a.details
                    .insert("priority".into(), Scalar::Int(i64::from(priority)));
            }
            "tracing" => {
                let t = names::attach_type(u32_at(&info, 16));
                a.details.insert("attach_type".into(), Scalar::Text(t));
            }
            _ => {}
        }
        out.push((prog, a));
    }
    Ok(out)
}
