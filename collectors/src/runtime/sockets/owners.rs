//! Who holds each socket: a scan of every process's open files (`/proc/PID/fd/*`, links of the
//! form `socket:[INODE]`). Process ids and socket inodes are global, so one scan serves every
//! namespace. Processes that exit or deny access during the scan are skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use super::model::Owner;
use super::{parse, SocketsError};

/// Socket inode → its owners → the pids behind each owner.
pub(crate) type OwnerMap = BTreeMap<u64, BTreeMap<Owner, BTreeSet<u32>>>;

/// The owners of the sockets in `wanted`, found below `proc_root` (`/proc`). Only an unreadable
/// `proc_root` is an error; a process that vanishes mid-scan is left out.
pub(crate) fn scan(proc_root: &Path, wanted: &BTreeSet<u64>) -> Result<OwnerMap, SocketsError> {
    let mut out = OwnerMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let entries = fs::read_dir(proc_root).map_err(|source| SocketsError::Proc {
        path: proc_root.to_owned(),
        source,
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let dir = entry.path();
        let inodes = socket_inodes(&dir.join("fd"), wanted);
        if inodes.is_empty() {
            continue;
        }
        let Some(owner) = owner(&dir) else { continue };
        for inode in inodes {
            out.entry(inode)
                .or_default()
                .entry(owner.clone())
                .or_default()
                .insert(pid);
        }
    }
    Ok(out)
}

/// The wanted socket inodes among a process's open files (none if it is gone).
fn socket_inodes(fd_dir: &Path, wanted: &BTreeSet<u64>) -> BTreeSet<u64> {
    let Ok(entries) = fs::read_dir(fd_dir) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|fd| fs::read_link(fd.path()).ok())
        .filter_map(|target| target.to_str().and_then(parse::socket_inode))
        .filter(|inode| wanted.contains(inode))
        .collect()
}

/// comm, exe and real uid of the process in `dir`; `None` if it is gone. An unreadable `exe`
/// (kernel threads, a process exiting) is `None` inside the owner.
fn owner(dir: &Path) -> Option<Owner> {
    let comm = fs::read_to_string(dir.join("comm")).ok()?;
    let uid = parse::status_uid(&fs::read_to_string(dir.join("status")).ok()?)?;
    let exe = fs::read_link(dir.join("exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    Some(Owner {
        comm: comm.strip_suffix('\n').unwrap_or(&comm).to_owned(),
        exe,
        uid,
    })
}
