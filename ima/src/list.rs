//! IMA measurement-list entries and their parsers: the kernel's ASCII list
//! (`ascii_runtime_measurements`) and binary list (`binary_runtime_measurements[_<alg>]`).

use serde::Serialize;

use crate::hash::{DigestBuf, HashAlg};

mod ascii;
mod binary;
mod encode;
mod fields;

pub use ascii::{parse_ascii, parse_ascii_bank, AsciiEntries};
pub use binary::{parse_binary, MAX_TEMPLATE_DATA, MAX_TEMPLATE_NAME};
pub use encode::{to_ascii, to_binary};
pub use fields::Template;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_malformed;
#[cfg(test)]
pub(crate) mod tests_prop;

/// A file (or buffer) digest as IMA logs it: algorithm and bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileDigest {
    pub alg: HashAlg,
    #[serde(with = "hex::serde")]
    pub bytes: DigestBuf,
}

impl FileDigest {
    /// `alg`'s digest of `parts`, concatenated.
    pub fn of(alg: HashAlg, parts: &[&[u8]]) -> Self {
        Self {
            alg,
            bytes: alg.digest_buf(parts),
        }
    }
}

/// What an entry measured, decoded from its template data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    /// A file: templates `ima` (sha1 digest, name padded in the hash), `ima-ng`, `ima-sig`,
    /// `ima-modsig`.
    File {
        digest: FileDigest,
        path: String,
        /// `ima-sig` / `ima-modsig`: the file's `security.ima` signature, when present.
        #[serde(skip_serializing_if = "Option::is_none", with = "opt_hex")]
        signature: Option<Vec<u8>>,
        /// `ima-modsig`: the appended signature's digest and the signature itself, when present.
        #[serde(skip_serializing_if = "Option::is_none")]
        modsig: Option<Modsig>,
    },
    /// `ima-buf`: a measured buffer (keys, kexec command line, dm/SELinux state), by name.
    Buffer {
        digest: FileDigest,
        name: String,
        #[serde(with = "hex::serde")]
        buf: Vec<u8>,
    },
}

/// An appended (module-style) signature logged by the `ima-modsig` template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Modsig {
    pub digest: FileDigest,
    #[serde(with = "hex::serde")]
    pub signature: Vec<u8>,
}

/// One measurement-list entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The PCR the kernel extended (10 unless `ima_pcr=` or a policy rule says otherwise).
    pub pcr: u32,
    /// The template hash as logged: SHA-1 in the ASCII list and `binary_runtime_measurements`,
    /// the bank's algorithm in `binary_runtime_measurements_<alg>`. All zeros marks a
    /// measurement violation (ToMToU / open-writers), which extends as all ones.
    #[serde(with = "hex::serde")]
    pub template_hash: DigestBuf,
    /// The template (`ima`, `ima-ng`, `ima-sig`, `ima-buf`, `ima-modsig`); serialized by name.
    pub template: Template,
    /// The template data exactly as the kernel hashed it.
    #[serde(skip)]
    pub data: Vec<u8>,
    pub event: Event,
}

impl Entry {
    /// An entry with nothing in it (PCR 0, no hash, no data, an empty `ima-ng` file event), to
    /// parse into with [`AsciiEntries::next_into`].
    pub fn blank() -> Self {
        Self {
            pcr: 0,
            template_hash: DigestBuf::filled(0, 0),
            template: Template::ImaNg,
            data: Vec::new(),
            event: Event::File {
                digest: FileDigest {
                    alg: HashAlg::Sha1,
                    bytes: DigestBuf::filled(0, 0),
                },
                path: String::new(),
                signature: None,
                modsig: None,
            },
        }
    }

    /// True when the logged template hash is all zeros: a measurement violation.
    pub fn is_violation(&self) -> bool {
        self.template_hash.iter().all(|b| *b == 0)
    }

    /// The measured path or buffer name.
    pub fn name(&self) -> &str {
        match &self.event {
            Event::File { path, .. } => path,
            Event::Buffer { name, .. } => name,
        }
    }

    /// The measured file or buffer digest.
    pub fn digest(&self) -> &FileDigest {
        match &self.event {
            Event::File { digest, .. } | Event::Buffer { digest, .. } => digest,
        }
    }

    /// True when the logged template hash equals `alg(data)`, or the entry is a violation
    /// (all-zero hash, exempt). `alg` is the list's template-hash algorithm: SHA-1 for the ASCII
    /// list and `binary_runtime_measurements`, the bank's for `..._<alg>` lists.
    pub fn template_hash_ok(&self, alg: HashAlg) -> bool {
        if self.template_hash.len() != alg.len() {
            return false;
        }
        self.is_violation() || alg.digest_buf(&[&self.data]) == self.template_hash
    }
}

/// Checks every entry's template hash ([`Entry::template_hash_ok`]); the error names the first
/// bad entry, 1-based within `entries`.
pub fn verify_template_hashes(entries: &[Entry], alg: HashAlg) -> Result<(), ListError> {
    for (i, entry) in entries.iter().enumerate() {
        if !entry.template_hash_ok(alg) {
            return Err(ListError::Malformed {
                entry: i as u64 + 1,
                reason: format!("template hash does not match {alg} of the template data"),
            });
        }
    }
    Ok(())
}

/// Why a measurement list could not be parsed. `line`/`entry` are 1-based positions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("entry {entry}: {reason}")]
    Malformed { entry: u64, reason: String },
}

impl ListError {
    pub(crate) fn at(entry: u64, reason: impl Into<String>) -> Self {
        Self::Malformed {
            entry,
            reason: reason.into(),
        }
    }
}

mod opt_hex {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(bytes) => s.serialize_str(&hex::encode(bytes)),
            None => s.serialize_none(),
        }
    }
}
