//! Evaluating measurement-list entries against a runtime policy, as Keylime's
//! `_validate_ima_ng`, `_validate_ima_sig` and `_validate_ima_buf` do: one hash-map lookup of the
//! path and a comparison of digest bytes per entry, no allocation unless the entry fails.

use serde::Serialize;

use super::{PolicyReport, RuntimePolicy, BOOT_AGGREGATE};
use crate::list::{Entry, Event};

/// What the policy says about one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The path (name) is listed with this digest.
    Allowed,
    /// An exclude regex matches the path (name) at its start.
    Excluded,
    /// A key measured into a keyring that `ima.ignored_keyrings` lists (or `*`).
    Ignored,
    /// The path (name) is not listed (Keylime: `not_in_allowlist`).
    Unknown,
    /// The path (name) is listed but not with this digest (Keylime: `runtime_policy_hash`).
    Mismatch,
    /// The `boot_aggregate` entry: the verifier checks it against the boot PCRs, not here.
    /// `listed` says whether the policy's `digests["boot_aggregate"]` has this digest (`None`
    /// when the policy has no `boot_aggregate` entry).
    BootAggregate { listed: Option<bool> },
    /// A measurement violation (all-zero template hash, ToMToU / open-writers). Keylime skips the
    /// policy for these and raises a `tomtou` event; whether that fails is the caller's choice.
    Violation,
}

impl RuntimePolicy {
    /// Classifies one entry.
    pub fn check(&self, entry: &Entry) -> Outcome {
        if entry.is_violation() {
            return Outcome::Violation;
        }
        match &entry.event {
            Event::File { digest, path, .. } => {
                if path == BOOT_AGGREGATE {
                    let listed = self.digests.check(BOOT_AGGREGATE, &digest.bytes);
                    return Outcome::BootAggregate { listed };
                }
                if self.excludes.is_excluded(path) {
                    return Outcome::Excluded;
                }
                lookup(&self.digests, path, &digest.bytes)
            }
            Event::Buffer { digest, name, buf } => {
                if is_key(buf) {
                    if self.keyring_ignored(name) {
                        return Outcome::Ignored;
                    }
                    if self.excludes.is_excluded(name) {
                        return Outcome::Excluded;
                    }
                    return lookup(&self.keyrings, name, &digest.bytes);
                }
                if self.excludes.is_excluded(name) {
                    return Outcome::Excluded;
                }
                lookup(&self.ima_buf, name, &digest.bytes)
            }
        }
    }

    /// Evaluates `entries`, the first of which is entry number `first_number` (1-based) of the
    /// whole list, into a new report.
    pub fn evaluate<'a, I>(&self, entries: I, first_number: u64) -> PolicyReport
    where
        I: IntoIterator<Item = &'a Entry>,
    {
        let mut report = PolicyReport::default();
        self.evaluate_into(&mut report, entries, first_number);
        report
    }

    /// Evaluates `entries` (numbered from `first_number`, 1-based) into an existing report, for
    /// incremental attestation.
    pub fn evaluate_into<'a, I>(&self, report: &mut PolicyReport, entries: I, first_number: u64)
    where
        I: IntoIterator<Item = &'a Entry>,
    {
        for (i, entry) in entries.into_iter().enumerate() {
            let number = first_number.saturating_add(i as u64);
            report.record(number, entry, self.check(entry));
        }
    }
}

#[inline]
fn lookup(map: &super::DigestMap, name: &str, digest: &[u8]) -> Outcome {
    match map.check(name, digest) {
        None => Outcome::Unknown,
        Some(true) => Outcome::Allowed,
        Some(false) => Outcome::Mismatch,
    }
}

/// Whether an `ima-buf` buffer holds a key, the way Keylime tells keyring measurements from other
/// buffers (it tries to load an X.509 certificate or key): here, a DER SEQUENCE spanning the whole
/// buffer whose first element is again a SEQUENCE (certificate, SubjectPublicKeyInfo), or PEM.
pub(crate) fn is_key(buf: &[u8]) -> bool {
    if buf.starts_with(b"-----BEGIN ") {
        return true;
    }
    let (Some(&0x30), Some(&first_len)) = (buf.first(), buf.get(1)) else {
        return false;
    };
    let (header, len) = if first_len < 0x80 {
        (2usize, usize::from(first_len))
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return false;
        }
        let Some(len_bytes) = buf.get(2..2 + n) else {
            return false;
        };
        (
            2 + n,
            len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
        )
    };
    header.checked_add(len) == Some(buf.len()) && len >= 16 && buf.get(header) == Some(&0x30)
}
