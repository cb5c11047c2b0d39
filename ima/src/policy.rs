//! Keylime-compatible IMA runtime policy: the policy model, its errors, and the entry points for
//! loading (`load`), evaluating (`eval`), reporting (`report`), creating (`create`) and writing
//! (`json`) Keylime runtime-policy format version 1.

use crate::hash::HashAlg;

mod create;
mod digest_map;
mod eval;
mod excludes;
mod json;
mod load;
mod report;

pub use create::CreateOptions;
pub use digest_map::DigestMap;
pub use eval::Outcome;
pub use excludes::{parse_excludes_list, Excludes, MAX_EXCLUDES, MAX_EXCLUDE_LEN};
pub use report::{Finding, PolicyReport, FINDINGS_LIMIT, SUMMARY_LIMIT};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_load;

/// The runtime-policy format version this crate reads and writes (Keylime's
/// `RUNTIME_POLICY_CURRENT_VERSION`).
pub const POLICY_VERSION: u64 = 1;

/// Keylime's `RUNTIME_POLICY_GENERATOR`: 0 unknown, 1 empty allowlist, 2 compatible allowlist,
/// 3 legacy allowlist (what `keylime-policy create runtime` writes).
pub const GENERATOR_LEGACY_ALLOWLIST: u64 = 3;
/// The largest generator value Keylime's schema accepts.
pub const GENERATOR_MAX: u64 = 3;

/// The path IMA logs for the boot aggregate (the first entry of every list).
pub const BOOT_AGGREGATE: &str = "boot_aggregate";

/// Why a runtime policy, allowlist or exclude list could not be loaded or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not JSON, or JSON that does not fit Keylime's runtime-policy schema (serde's message
    /// names the line and column).
    #[error("runtime policy: {0}")]
    Json(String),
    /// `meta.version` is not the one this crate reads.
    #[error("runtime policy format version {0} is not supported (only version 1; convert older policies with keylime_convert_runtime_policy)")]
    UnsupportedVersion(u64),
    /// A DSSE-signed policy (`{"payload": …}`): its signature must be checked and the payload
    /// unwrapped before loading.
    #[error("runtime policy is a DSSE envelope; verify and unwrap its payload first")]
    Signed,
    /// An exclude regex does not compile (or is too long / too complex).
    #[error("exclude {index} ({pattern:?}): {reason}")]
    BadExclude {
        index: usize,
        pattern: String,
        reason: String,
    },
    /// Too many excludes, or all of them together compile to too large a program.
    #[error("excludes: {0}")]
    ExcludesTooLarge(String),
    /// A line of a flat allowlist or exclude list (1-based) is malformed.
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
}

/// A Keylime runtime policy (format version 1), decoded and ready to evaluate entries against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimePolicy {
    /// `meta.version` (always [`POLICY_VERSION`] once loaded).
    pub version: u64,
    /// `meta.generator` (0..=3, see [`GENERATOR_LEGACY_ALLOWLIST`]).
    pub generator: u64,
    /// `meta.timestamp`, kept verbatim (Keylime writes Python's `str(datetime.now())`).
    pub timestamp: Option<String>,
    /// `release`.
    pub release: u64,
    /// `digests`: file path → accepted file digests.
    pub digests: DigestMap,
    /// `excludes`: path regexes, matched at the start of the path (Python `re.match`).
    pub excludes: Excludes,
    /// `keyrings`: keyring name → accepted digests of keys measured into it.
    pub keyrings: DigestMap,
    /// `ima.ignored_keyrings` (`*` ignores every keyring).
    pub ignored_keyrings: Vec<String>,
    /// `ima.log_hash_alg`: the template-hash algorithm of the ASCII list (sha1 in practice).
    pub log_hash_alg: HashAlg,
    /// `ima-buf`: buffer name → accepted buffer digests.
    pub ima_buf: DigestMap,
    /// `verification-keys`: Keylime's IMA keyring JSON (as a string), kept verbatim; file
    /// signatures are not verified here.
    pub verification_keys: String,
}

impl Default for RuntimePolicy {
    /// Keylime's `EMPTY_RUNTIME_POLICY` (generator 1).
    fn default() -> Self {
        Self {
            version: POLICY_VERSION,
            generator: 1,
            timestamp: None,
            release: 0,
            digests: DigestMap::new(),
            excludes: Excludes::default(),
            keyrings: DigestMap::new(),
            ignored_keyrings: Vec::new(),
            log_hash_alg: HashAlg::Sha1,
            ima_buf: DigestMap::new(),
            verification_keys: String::new(),
        }
    }
}

impl RuntimePolicy {
    /// True when `ima.ignored_keyrings` lists `name` or `*`.
    pub fn keyring_ignored(&self, name: &str) -> bool {
        self.ignored_keyrings.iter().any(|k| k == "*" || k == name)
    }

    /// Appends exclude regexes (e.g. from [`parse_excludes_list`]) and recompiles them.
    pub fn add_excludes(&mut self, patterns: Vec<String>) -> Result<(), PolicyError> {
        let mut all = self.excludes.patterns().to_vec();
        all.extend(patterns);
        self.excludes = Excludes::new(all)?;
        Ok(())
    }
}
