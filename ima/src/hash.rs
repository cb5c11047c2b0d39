//! The hash algorithms IMA and the TCG event log use, by name and by TPM algorithm id.

use std::fmt;

use serde::{Deserialize, Serialize};

mod digest_buf;

pub use digest_buf::{DigestBuf, DigestTooLong, MAX_DIGEST_LEN};

/// A hash algorithm IMA file digests or PCR banks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Sm3,
}

/// A hash algorithm name or TPM algorithm id this crate does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {0:?}")]
pub struct UnknownAlg(pub String);

impl HashAlg {
    /// Every algorithm, in TPM algorithm-id order.
    pub const ALL: [HashAlg; 5] = [
        Self::Sha1,
        Self::Sha256,
        Self::Sha384,
        Self::Sha512,
        Self::Sm3,
    ];

    /// The name IMA writes before a file digest (`sha256:`), and `/sys/class/tpm` bank names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
            Self::Sm3 => "sm3",
        }
    }

    /// Parses an IMA / kernel hash name (`sm3-256` is the kernel's name for SM3).
    pub fn from_name(name: &str) -> Result<Self, UnknownAlg> {
        match name {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            "sm3" | "sm3-256" | "sm3_256" => Ok(Self::Sm3),
            other => Err(UnknownAlg(other.to_owned())),
        }
    }

    /// The TPM 2.0 algorithm id (TPM_ALG_ID).
    pub fn tpm_id(self) -> u16 {
        match self {
            Self::Sha1 => 0x0004,
            Self::Sha256 => 0x000b,
            Self::Sha384 => 0x000c,
            Self::Sha512 => 0x000d,
            Self::Sm3 => 0x0012,
        }
    }

    /// The algorithm with this TPM 2.0 algorithm id.
    pub fn from_tpm_id(id: u16) -> Result<Self, UnknownAlg> {
        Self::ALL
            .into_iter()
            .find(|alg| alg.tpm_id() == id)
            .ok_or_else(|| UnknownAlg(format!("0x{id:04x}")))
    }

    /// Digest length in bytes.
    #[expect(
        clippy::len_without_is_empty,
        reason = "an algorithm's digest length, not a collection"
    )]
    pub fn len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 | Self::Sm3 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes `parts` in order as one message, into an inline buffer (no allocation).
    pub fn digest_buf(self, parts: &[&[u8]]) -> DigestBuf {
        crate::replay::fast_digest(self, parts)
    }

    /// Hashes `parts` in order as one message.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        self.digest_buf(parts).to_vec()
    }

    /// TPM extend: `new = H(old || measurement)`, in place.
    pub fn extend(self, pcr: &mut Vec<u8>, measurement: &[u8]) {
        *pcr = self.digest(&[pcr, measurement]);
    }

    /// The all-zero value a PCR starts from.
    pub fn zero(self) -> Vec<u8> {
        vec![0; self.len()]
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for HashAlg {
    type Err = UnknownAlg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_tpm_ids_round_trip() {
        for alg in HashAlg::ALL {
            assert_eq!(HashAlg::from_name(alg.name()).unwrap(), alg);
            assert_eq!(HashAlg::from_tpm_id(alg.tpm_id()).unwrap(), alg);
            assert_eq!(alg.digest(&[b"x"]).len(), alg.len());
        }
        assert!(HashAlg::from_name("md5").is_err());
        assert!(HashAlg::from_tpm_id(0x0005).is_err());
    }

    #[test]
    fn digest_of_parts_is_digest_of_concatenation() {
        for alg in HashAlg::ALL {
            assert_eq!(alg.digest(&[b"ab", b"c"]), alg.digest(&[b"abc"]));
        }
        // SM3("abc"), GB/T 32905-2016 example 1.
        assert_eq!(
            hex::encode(HashAlg::Sm3.digest(&[b"abc"])),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }
}
