//! Building a runtime policy from a measurement list, as `keylime-policy create runtime -m LOG`
//! does: every measured path with its digests (sorted, deduplicated; paths in first-seen order,
//! `boot_aggregate` included), optionally keyring and other `ima-buf` digests, and excludes.

use super::eval::is_key;
use super::{Excludes, PolicyError, RuntimePolicy, GENERATOR_LEGACY_ALLOWLIST};
use crate::hash::HashAlg;
use crate::list::{Entry, Event};

/// What to put in a created policy besides the file digests.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Exclude regexes (`--excludelist`), written sorted and deduplicated as Keylime does.
    pub excludes: Vec<String>,
    /// Record digests of keys measured into keyrings (`--keyrings`).
    pub keyrings: bool,
    /// Record digests of other `ima-buf` entries (`--ima-buf`).
    pub ima_buf: bool,
    /// `ima.ignored_keyrings` (`--ignored-keyrings`); their keys are not recorded.
    pub ignored_keyrings: Vec<String>,
    /// `ima.log_hash_alg` (Keylime writes sha1).
    pub log_hash_alg: HashAlg,
    /// `meta.timestamp` (Keylime writes the current local time; this crate has no clock).
    pub timestamp: Option<String>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self {
            excludes: Vec::new(),
            keyrings: false,
            ima_buf: false,
            ignored_keyrings: Vec::new(),
            log_hash_alg: HashAlg::Sha1,
            timestamp: None,
        }
    }
}

impl RuntimePolicy {
    /// A policy that allows every file entry of `entries` (meta generator 3). Measurement
    /// violations are skipped: their all-zero digest says nothing about the file.
    pub fn create<'a, I>(entries: I, options: &CreateOptions) -> Result<Self, PolicyError>
    where
        I: IntoIterator<Item = &'a Entry>,
    {
        let mut excludes = options.excludes.clone();
        excludes.sort();
        excludes.dedup();
        let mut ignored_keyrings = options.ignored_keyrings.clone();
        ignored_keyrings.sort();
        ignored_keyrings.dedup();
        let mut policy = Self {
            generator: GENERATOR_LEGACY_ALLOWLIST,
            timestamp: options.timestamp.clone(),
            excludes: Excludes::new(excludes)?,
            ignored_keyrings,
            log_hash_alg: options.log_hash_alg,
            ..Self::default()
        };
        for entry in entries {
            if entry.is_violation() {
                continue;
            }
            match &entry.event {
                Event::File { digest, path, .. } => {
                    policy.digests.insert(path, digest.bytes.to_vec())
                }
                Event::Buffer { digest, name, buf } => {
                    if is_key(buf) {
                        if options.keyrings && !policy.keyring_ignored(name) {
                            policy.keyrings.insert(name, digest.bytes.to_vec());
                        }
                    } else if options.ima_buf {
                        policy.ima_buf.insert(name, digest.bytes.to_vec());
                    }
                }
            }
        }
        policy.digests.sort_digests();
        policy.keyrings.sort_digests();
        policy.ima_buf.sort_digests();
        Ok(policy)
    }
}
