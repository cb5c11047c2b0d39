//! The BPF inventory document (`palisade.bpf/1`): loaded programs by identity, and where they
//! are attached. Program and link ids are runtime identities (new at every load) and never part
//! of the document; a program is named by type, name, tag and translated-instruction digest,
//! and an attachment by its hook, target and that identity. Rules: `docs/canonical-runtime.md`.

use std::collections::{BTreeMap, BTreeSet};

use palisade_evidence::{Canonical, CanonicalError};
use serde::{Deserialize, Serialize};

use crate::network::Scalar;

/// The document format this module writes.
pub const FORMAT: &str = "palisade.bpf/1";

/// Flag: a program is attached to XDP on some interface of the namespace.
pub const FLAG_XDP: &str = "xdp_attached";
/// Flag: a tc (classic filter), tcx or netkit program is attached in the namespace.
pub const FLAG_TC: &str = "tc_attached";
/// Flag: a program is attached to a cgroup.
pub const FLAG_CGROUP: &str = "cgroup_attached";
/// Flag: a netfilter BPF program is attached (in some namespace: the kernel does not say
/// which).
pub const FLAG_NETFILTER: &str = "netfilter_attached";
/// Flag: a flow dissector or sk_lookup program is attached to the namespace.
pub const FLAG_NETNS: &str = "netns_attached";
/// Flag: some program's info or instructions could not be read (its digest is empty).
pub const FLAG_UNREADABLE: &str = "unreadable_programs";
/// Flag: an attachment names a program that was unloaded meanwhile (a race with the reader).
pub const FLAG_DANGLING: &str = "dangling_attachments";

/// What identifies a program across loads.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProgramRef {
    /// Program type (`xdp`, `sched_cls`, `cgroup_skb`, `tracepoint`, …).
    #[serde(rename = "type")]
    pub prog_type: String,
    /// The name the loader gave it (at most 15 bytes, as the kernel keeps it).
    pub name: String,
    /// The kernel's tag: a hash of the instructions as loaded, hex.
    pub tag: String,
    /// SHA-256 of the translated instructions with map ids and kernel addresses zeroed, hex
    /// (empty when they could not be read).
    pub digest: String,
}

/// Loaded programs with the same identity and properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Program {
    /// Identity.
    #[serde(flatten)]
    pub program: ProgramRef,
    /// User id that loaded it.
    pub uid: u32,
    /// Declared a GPL-compatible licence.
    pub gpl: bool,
    /// Size of the translated instructions in bytes.
    pub xlated_bytes: u32,
    /// Number of maps it uses.
    pub maps: u32,
    /// One of palisade's own programs.
    pub palisade: bool,
    /// How many loaded programs these are.
    pub count: u32,
}

/// A program attached to a hook.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Attachment {
    /// `xdp`, `tc`, `tcx`, `netkit`, `cgroup`, `netfilter`, `flow_dissector`, `sk_lookup`, or a
    /// link type for hooks outside the network stack (`perf_event`, `tracing`, …).
    pub hook: String,
    /// What it is attached to: an interface name, a cgroup path, `netns`, or `kernel`.
    pub target: String,
    /// Hook-specific details (`mode`, `direction`, `priority`, `attach_type`, `family`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub details: BTreeMap<String, Scalar>,
    /// The program.
    pub program: ProgramRef,
}

/// Runtime identities, kept for attribution and never serialised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Program id → identity, for every program read.
    pub programs: BTreeMap<u32, ProgramRef>,
    /// Program id → load time (`CLOCK_BOOTTIME` ns) and loading uid, as read (load events are
    /// matched against a fresh [`super::loads`] instead).
    pub loads: BTreeMap<u32, (u64, u32)>,
}

/// The BPF inventory of one network namespace (programs are global; attachments are those
/// of the namespace, of cgroups, and of global kernel hooks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpfInventory {
    /// [`FORMAT`].
    pub format: String,
    /// Loaded programs, sorted.
    pub programs: Vec<Program>,
    /// Attachments, sorted.
    pub attachments: Vec<Attachment>,
    /// Summary flags (`FLAG_*`), sorted.
    pub flags: BTreeSet<String>,
    /// Runtime identities (ids), not part of the document.
    #[serde(skip)]
    pub observed: Observed,
}

impl BpfInventory {
    /// Sorts, aggregates identical programs and derives the flags.
    pub fn normalize(&mut self) {
        let mut counts: BTreeMap<Program, u32> = BTreeMap::new();
        for mut p in self.programs.drain(..) {
            let n = p.count.max(1);
            p.count = 0;
            *counts.entry(p).or_default() += n;
        }
        self.programs = counts
            .into_iter()
            .map(|(mut p, n)| {
                p.count = n;
                p
            })
            .collect();
        self.attachments.sort();
        self.attachments.dedup();
        for a in &self.attachments {
            let flag = match a.hook.as_str() {
                "xdp" => FLAG_XDP,
                "tc" | "tcx" | "netkit" => FLAG_TC,
                "cgroup" => FLAG_CGROUP,
                "netfilter" => FLAG_NETFILTER,
                "flow_dissector" | "sk_lookup" => FLAG_NETNS,
                _ => continue,
            };
            self.flags.insert(flag.to_owned());
        }
        if self.programs.iter().any(|p| p.program.digest.is_empty()) {
            self.flags.insert(FLAG_UNREADABLE.to_owned());
        }
        self.format = FORMAT.to_owned();
    }

    /// The canonical document (RFC 8785) and its digest.
    pub fn canonical(&self) -> Result<Canonical, CanonicalError> {
        let mut doc = self.clone();
        doc.normalize();
        Canonical::from_serialize(&doc)
    }

    /// Attachments of programs that are not palisade's own.
    pub fn foreign_attachments(&self) -> impl Iterator<Item = &Attachment> {
        let own: BTreeSet<&ProgramRef> = self
            .programs
            .iter()
            .filter(|p| p.palisade)
            .map(|p| &p.program)
            .collect();
        self.attachments
            .iter()
            .filter(move |a| !own.contains(&a.program))
    }
}
