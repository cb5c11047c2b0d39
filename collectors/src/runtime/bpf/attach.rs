//! Where programs are attached, found by asking each hook: the namespace's interfaces (XDP from
//! the link dump, classic tc filters from the filter dumps of the clsact qdisc, tcx and netkit
//! by `BPF_PROG_QUERY`), the namespace itself (flow dissector, sk_lookup), and every cgroup of
//! the v2 hierarchy. Each finding is `(program id, attachment without its program)`.

use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkXdp};
use netlink_packet_route::tc::{TcAttribute, TcFilterBpfOption, TcHandle, TcMessage, TcOption};
use netlink_packet_route::RouteNetlinkMessage;

use super::{names, sys, Attachment, BpfError};
use crate::network::dump::Dumper;
use crate::network::Scalar;

/// Deepest cgroup directory walked.
const MAX_CGROUP_DEPTH: usize = 32;
/// Most cgroups walked (a host with more is reported as far as this).
const MAX_CGROUPS: usize = 20_000;

type Found = Vec<(u32, Attachment)>;

fn attachment(hook: &str, target: &str, details: &[(&str, Scalar)]) -> Attachment {
    Attachment {
        hook: hook.to_owned(),
        target: target.to_owned(),
        details: details
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
        ..Attachment::default()
    }
}

fn query(target: u32, attach_type: u32) -> Result<Vec<u32>, BpfError> {
    sys::query(target, attach_type).map_err(BpfError::syscall("prog_query"))
}

/// Attachments of the calling thread's namespace (run inside it).
pub(super) fn namespace() -> Result<Found, BpfError> {
    let mut out = Found::new();
    let mut dumper = Dumper::open()?;
    let mut interrupted = false;
    let links = dumper.dump(
        "links",
        RouteNetlinkMessage::GetLink(LinkMessage::default()),
        &mut interrupted,
    )?;
    for msg in links {
        let RouteNetlinkMessage::NewLink(link) = msg else {
            continue;
        };
        let index = link.header.index;
        let name = link
            .attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap_or_else(|| format!("if{index}"));
        xdp(&link, &name, &mut out);
        tc_filters(&mut dumper, index, &name, &mut out)?;
        for (attach_type, hook, direction) in [
            (names::attach::TCX_INGRESS, "tcx", "ingress"),
            (names::attach::TCX_EGRESS, "tcx", "egress"),
            (54, "netkit", "primary"),
            (55, "netkit", "peer"),
        ] {
            for id in query(index, attach_type)? {
                let d = [("direction", Scalar::Text(direction.to_owned()))];
                out.push((id, attachment(hook, &name, &d)));
            }
        }
    }
    let ns = File::open("/proc/thread-self/ns/net").map_err(BpfError::syscall("open netns"))?;
    let fd = u32::try_from(ns.as_raw_fd()).unwrap_or(u32::MAX);
    for (attach_type, hook) in [
        (names::attach::FLOW_DISSECTOR, "flow_dissector"),
        (names::attach::SK_LOOKUP, "sk_lookup"),
    ] {
        for id in query(fd, attach_type)? {
            out.push((id, attachment(hook, "netns", &[])));
        }
    }
    Ok(out)
}

/// XDP programs of one link, by mode (`IFLA_XDP`: set by netlink or by a link alike).
fn xdp(link: &LinkMessage, name: &str, out: &mut Found) {
    for attr in &link.attributes {
        let LinkAttribute::Xdp(items) = attr else {
            continue;
        };
        let mut single = None;
        let mut any_mode = false;
        for item in items {
            let (mode, id) = match item {
                LinkXdp::ProgId(id) => {
                    single = Some(*id);
                    continue;
                }
                LinkXdp::DrvProgId(id) => ("driver", *id),
                LinkXdp::SkbProgId(id) => ("generic", *id),
                LinkXdp::HwProgId(id) => ("offload", *id),
                _ => continue,
            };
            any_mode = true;
            let d = [("mode", Scalar::Text(mode.to_owned()))];
            out.push((id, attachment("xdp", name, &d)));
        }
        if let (Some(id), false) = (single, any_mode) {
            let mode = items.iter().find_map(|i| match i {
                LinkXdp::Attached(m) => Some(format!("{m:?}").to_lowercase()),
                _ => None,
            });
            let mode = match mode.as_deref() {
                Some("driver") => "driver",
                Some("socketbuffer") => "generic",
                Some("hardware") => "offload",
                _ => "unknown",
            };
            let d = [("mode", Scalar::Text(mode.to_owned()))];
            out.push((id, attachment("xdp", name, &d)));
        }
    }
}

/// BPF classifiers on the clsact qdisc's ingress and egress hooks of one link.
fn tc_filters(
    dumper: &mut Dumper,
    index: u32,
    name: &str,
    out: &mut Found,
) -> Result<(), BpfError> {
    for (minor, direction) in [
        (TcHandle::MIN_INGRESS, "ingress"),
        (TcHandle::MIN_EGRESS, "egress"),
    ] {
        let mut req = TcMessage::default();
        req.header.index = i32::try_from(index).unwrap_or(0);
        req.header.parent = TcHandle {
            major: u16::MAX,
            minor,
        };
        let mut interrupted = false;
        let filters = match dumper.dump(
            "tc filters",
            RouteNetlinkMessage::GetTrafficFilter(req),
            &mut interrupted,
        ) {
            Ok(f) => f,
            // No clsact qdisc on this link: nothing attached there.
            Err(crate::network::NetworkError::Kernel { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        for msg in filters {
            let RouteNetlinkMessage::NewTrafficFilter(f) = msg else {
                continue;
            };
            let mut id = None;
            let mut direct_action = false;
            for attr in &f.attributes {
                let TcAttribute::Options(opts) = attr else {
                    continue;
                };
                for o in opts {
                    match o {
                        TcOption::Bpf(TcFilterBpfOption::ProgId(p)) => id = Some(*p),
                        TcOption::Bpf(TcFilterBpfOption::Flags(fl)) => {
                            direct_action = fl.bits() & 1 == 1;
                        }
                        _ => {}
                    }
                }
            }
            let Some(id) = id else { continue };
            let d = [
                ("direction", Scalar::Text(direction.to_owned())),
                ("priority", Scalar::from((f.header.info >> 16) as u16)),
                ("direct_action", Scalar::Bool(direct_action)),
            ];
            out.push((id, attachment("tc", name, &d)));
        }
    }
    Ok(())
}

/// The cgroup v2 mount point (`/sys/fs/cgroup` on systemd hosts).
fn cgroup_root() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let (_, dir, ty) = (f.next()?, f.next()?, f.next()?);
        (ty == "cgroup2").then(|| PathBuf::from(dir))
    })
}

/// Programs attached directly to any cgroup, named by the cgroup's path under the root.
pub(super) fn cgroups() -> Result<Found, BpfError> {
    let mut out = Found::new();
    let Some(root) = cgroup_root() else {
        return Ok(out);
    };
    let mut stack = vec![(root.clone(), 0usize)];
    let mut seen = 0;
    while let Some((dir, depth)) = stack.pop() {
        seen += 1;
        if seen > MAX_CGROUPS {
            break;
        }
        let Ok(handle) = File::open(&dir) else {
            continue; // removed meanwhile
        };
        let fd = u32::try_from(handle.as_raw_fd()).unwrap_or(u32::MAX);
        let path = cgroup_path(&root, &dir);
        for attach_type in names::cgroup_attach_types() {
            for id in query(fd, attach_type)? {
                let d = [("attach_type", Scalar::Text(names::attach_type(attach_type)))];
                out.push((id, attachment("cgroup", &path, &d)));
            }
        }
        if depth >= MAX_CGROUP_DEPTH {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(BpfError::Cgroup { path, source }),
        };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    Ok(out)
}

fn cgroup_path(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => "/".to_owned(),
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => dir.display().to_string(),
    }
}
