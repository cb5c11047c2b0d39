//! The dedicated-PCR event log: entries, their extend values, append, and replay with the
//! prefix rule.
//!
//! Each entry binds one measured document: `extend value = SHA-256(header)` where the header is a
//! fixed binary encoding of (kind, name, content digest, sequence number) — see [`LogEntry::header`].
//! The PCR after entry *i* is `SHA-256(PCR_{i-1} || extend_value_i)`, starting from all zeros.
//!
//! An entry's [`Annotations`] (time, cause, writer) are advisory: they help an operator read an
//! alert but are not bound into the PCR, so nothing is decided on them.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;

/// First 16 bytes of every entry header; versions the header layout.
pub const HEADER_MAGIC: &[u8; 16] = b"palisade-log-v1\0";

/// Longest accepted entry kind, in bytes.
pub const MAX_KIND_LEN: usize = 64;
/// Longest accepted entry name, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Entry kinds palisade writes today.
pub mod kind {
    /// The first entry of every log: binds the log to one TPM boot cycle.
    pub const BOOT: &str = "boot";
    /// A canonical nftables ruleset of one network namespace.
    pub const NFTABLES: &str = "nftables";
    /// A canonical network configuration (`palisade.network/1`: links, addresses, routes,
    /// rules, forwarding sysctls) of one network namespace.
    pub const NETWORK: &str = "network";
    /// The BPF inventory (`palisade.bpf/1`: loaded programs and their attachments) seen from
    /// one network namespace.
    pub const BPF: &str = "bpf";
    /// Listening, raw and packet sockets (`palisade.sockets/1`) of one network namespace.
    pub const SOCKETS: &str = "sockets";
    /// Kernel modules and security sysctls (`palisade.kernel/1`), name `host`.
    pub const KERNEL: &str = "kernel";
    /// Runtime events lost before the agent read them (`palisade.event-loss/1`, name `ebpf`):
    /// the count since the agent started, measured whenever it grows.
    pub const EVENT_LOSS: &str = "event-loss";
}

/// The name of the boot-binding entry (kind [`kind::BOOT`]).
pub const BOOT_BINDING_NAME: &str = "binding";

/// Content of the first log entry: ties the log to one TPM boot cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootBinding {
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// The TPM reset count when the log started; equals the quote's until the next reboot.
    pub tpm_reset_count: u32,
    /// The PCR this log extends.
    pub pcr: u8,
    /// The agent that wrote the log.
    pub agent_id: String,
}

/// Why an entry or a log is not acceptable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    /// The kind is empty, too long or has characters other than `[a-z0-9._-]`.
    #[error("entry {seq}: kind {kind:?} must be 1-{MAX_KIND_LEN} characters of [a-z0-9._-]")]
    BadKind {
        /// Sequence number of the entry.
        seq: u64,
        /// The offending kind.
        kind: String,
    },
    /// The name is empty, too long or contains control characters.
    #[error("entry {seq}: name must be 1-{MAX_NAME_LEN} bytes without control characters")]
    BadName {
        /// Sequence number of the entry.
        seq: u64,
    },
    /// Entries must be numbered consecutively from the requested offset.
    #[error("entry sequence gap: expected seq {expected}, found {found}")]
    SequenceGap {
        /// The sequence number that should come next.
        expected: u64,
        /// The one that did.
        found: u64,
    },
}

/// Advisory context of a measurement (not bound by the PCR).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotations {
    /// When the agent measured (RFC 3339, agent clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// What caused the measurement: `startup`, `poll` (the periodic fallback), `nfnetlink` (an
    /// nftables commit), `overrun` (change events were lost: something changed, the writer is
    /// unknown), or a later event source's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The nftables ruleset generation the change events announced last before this
    /// measurement; the measured state is at least this generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
    /// The process that committed the last change before this measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<Writer>,
    /// Other processes that committed changes folded into the same measurement (a burst),
    /// oldest first, without duplicates and without [`Annotations::writer`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_writers: Vec<Writer>,
}

/// A process that changed measured state, as the kernel reported it. Advisory: the pid may have
/// been reused and the name is chosen by the process itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Writer {
    /// Process id (initial PID namespace).
    pub pid: u32,
    /// Process name (`comm`).
    pub comm: String,
}

impl Annotations {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// One measurement in the dedicated log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// What was measured (see [`kind`]).
    pub kind: String,
    /// Which instance of the kind (e.g. the namespace a ruleset was read from).
    pub name: String,
    /// SHA-256 of the document's canonical bytes.
    pub digest: Sha256Digest,
    /// Advisory context; not bound by the PCR.
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

impl LogEntry {
    /// Checks kind and name against the header's limits.
    pub fn validate(&self) -> Result<(), LogError> {
        let kind_ok = !self.kind.is_empty()
            && self.kind.len() <= MAX_KIND_LEN
            && self
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !kind_ok {
            return Err(LogError::BadKind {
                seq: self.seq,
                kind: self.kind.clone(),
            });
        }
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && !self.name.chars().any(char::is_control);
        if !name_ok {
            return Err(LogError::BadName { seq: self.seq });
        }
        Ok(())
    }

    /// The fixed binary header whose SHA-256 is extended into the PCR:
    ///
    /// ```text
    /// magic "palisade-log-v1\0" (16) | u16 BE kind length | kind | u16 BE name length | name
    ///   | content digest (32) | u64 BE sequence number
    /// ```
    ///
    /// Lengths are bounded by [`LogEntry::validate`]; an unvalidated over-long field is truncated
    /// at `u16::MAX`, which can only make replay fail, never succeed wrongly.
    pub fn header(&self) -> Vec<u8> {
        let kind = self.kind.as_bytes();
        let name = self.name.as_bytes();
        let mut h = Vec::with_capacity(16 + 4 + kind.len() + name.len() + 32 + 8);
        h.extend_from_slice(HEADER_MAGIC);
        push_field(&mut h, kind);
        push_field(&mut h, name);
        h.extend_from_slice(self.digest.as_bytes());
        h.extend_from_slice(&self.seq.to_be_bytes());
        h
    }

    /// SHA-256 of the header: what is extended into the PCR.
    pub fn extend_value(&self) -> Sha256Digest {
        Sha256Digest::of(&self.header())
    }
}

fn push_field(h: &mut Vec<u8>, field: &[u8]) {
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(field.get(..usize::from(len)).unwrap_or(field));
}

/// A replay checkpoint: how many entries have been consumed and the PCR value after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogState {
    /// Number of entries replayed (= the sequence number of the next entry).
    pub offset: u64,
    /// The PCR value after those entries.
    pub pcr: Sha256Digest,
}

impl LogState {
    /// The state before the first entry: offset 0, PCR all zeros.
    pub const GENESIS: Self = Self {
        offset: 0,
        pcr: Sha256Digest::ZERO,
    };

    /// The state after applying one more entry (no checks).
    pub fn apply(&self, entry: &LogEntry) -> Self {
        Self {
            offset: self.offset.saturating_add(1),
            pcr: self.pcr.extend(&entry.extend_value()),
        }
    }
}

/// Outcome of replaying entries against a quoted PCR value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// The quoted value equals the PCR after the first `covered` entries of the slice. Entries
    /// beyond them were appended after the quote (log read and quote are not atomic) and remain
    /// unverified until a later quote covers them.
    Matched {
        /// How many of the given entries the quote covers.
        covered: usize,
        /// The checkpoint after those entries.
        state: LogState,
    },
    /// No prefix of the log reproduces the quoted value.
    Mismatch {
        /// The PCR value after replaying every given entry.
        replayed: Sha256Digest,
    },
}

/// Replays `entries` (which must continue `start`) and finds the prefix whose PCR value equals
/// `quoted`. The empty prefix counts: a quote taken before any new entry matches `start`.
pub fn replay(
    start: &LogState,
    entries: &[LogEntry],
    quoted: &Sha256Digest,
) -> Result<ReplayOutcome, LogError> {
    let mut state = *start;
    if state.pcr == *quoted {
        check_entries(start.offset, entries)?;
        return Ok(ReplayOutcome::Matched { covered: 0, state });
    }
    for (i, entry) in entries.iter().enumerate() {
        check_entry(state.offset, entry)?;
        state = state.apply(entry);
        if state.pcr == *quoted {
            check_entries(state.offset, entries.get(i + 1..).unwrap_or_default())?;
            return Ok(ReplayOutcome::Matched {
                covered: i + 1,
                state,
            });
        }
    }
    Ok(ReplayOutcome::Mismatch {
        replayed: state.pcr,
    })
}

fn check_entry(expected: u64, entry: &LogEntry) -> Result<(), LogError> {
    if entry.seq != expected {
        return Err(LogError::SequenceGap {
            expected,
            found: entry.seq,
        });
    }
    entry.validate()
}

fn check_entries(mut expected: u64, entries: &[LogEntry]) -> Result<(), LogError> {
    for entry in entries {
        check_entry(expected, entry)?;
        expected = expected.saturating_add(1);
    }
    Ok(())
}

/// An append-only log with its running PCR value (the agent's view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventLog {
    entries: Vec<LogEntry>,
    pcr: Sha256Digest,
}

impl EventLog {
    /// An empty log whose PCR starts at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a log from stored entries, checking their numbering and fields.
    pub fn from_entries(entries: Vec<LogEntry>) -> Result<Self, LogError> {
        check_entries(0, &entries)?;
        let pcr = entries
            .iter()
            .fold(Sha256Digest::ZERO, |pcr, e| pcr.extend(&e.extend_value()));
        Ok(Self { entries, pcr })
    }

    /// Builds the next entry (not yet appended): callers persist and extend, then [`Self::push`].
    pub fn next_entry(
        &self,
        kind: &str,
        name: &str,
        digest: Sha256Digest,
        annotations: Annotations,
    ) -> Result<LogEntry, LogError> {
        let entry = LogEntry {
            seq: self.entries.len() as u64,
            kind: kind.to_owned(),
            name: name.to_owned(),
            digest,
            annotations,
        };
        entry.validate()?;
        Ok(entry)
    }

    /// Appends an entry built by [`Self::next_entry`].
    pub fn push(&mut self, entry: LogEntry) -> Result<(), LogError> {
        check_entry(self.entries.len() as u64, &entry)?;
        self.pcr = self.pcr.extend(&entry.extend_value());
        self.entries.push(entry);
        Ok(())
    }

    /// Drops the last entry (one that was persisted but never extended, found at recovery).
    pub fn pop(&mut self) -> Option<LogEntry> {
        let last = self.entries.pop();
        self.pcr = self
            .entries
            .iter()
            .fold(Sha256Digest::ZERO, |p, e| p.extend(&e.extend_value()));
        last
    }

    /// The PCR value this log predicts.
    pub fn pcr(&self) -> Sha256Digest {
        self.pcr
    }

    /// All entries.
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Entries from `offset` on (empty past the end).
    pub fn since(&self, offset: u64) -> &[LogEntry] {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        self.entries.get(start..).unwrap_or_default()
    }

    /// The latest entry of a given kind and name.
    pub fn latest(&self, kind: &str, name: &str) -> Option<&LogEntry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.kind == kind && e.name == name)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
