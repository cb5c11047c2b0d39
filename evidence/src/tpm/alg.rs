//! TPM algorithm identifiers (`TPM_ALG_ID`) and the hash algorithms palisade accepts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

/// `TPM_ALG_ID` values used by the parsers (TPM 2.0 Part 2 §6.3, TCG Algorithm Registry).
pub mod alg_id {
    /// `TPM_ALG_RSA`
    pub const RSA: u16 = 0x0001;
    /// `TPM_ALG_SHA1`
    pub const SHA1: u16 = 0x0004;
    /// `TPM_ALG_HMAC`
    pub const HMAC: u16 = 0x0005;
    /// `TPM_ALG_AES`
    pub const AES: u16 = 0x0006;
    /// `TPM_ALG_MGF1`
    pub const MGF1: u16 = 0x0007;
    /// `TPM_ALG_KEYEDHASH`
    pub const KEYEDHASH: u16 = 0x0008;
    /// `TPM_ALG_XOR`
    pub const XOR: u16 = 0x000A;
    /// `TPM_ALG_SHA256`
    pub const SHA256: u16 = 0x000B;
    /// `TPM_ALG_SHA384`
    pub const SHA384: u16 = 0x000C;
    /// `TPM_ALG_SHA512`
    pub const SHA512: u16 = 0x000D;
    /// `TPM_ALG_NULL`
    pub const NULL: u16 = 0x0010;
    /// `TPM_ALG_SM3_256`
    pub const SM3_256: u16 = 0x0012;
    /// `TPM_ALG_SM4`
    pub const SM4: u16 = 0x0013;
    /// `TPM_ALG_RSASSA` (PKCS#1 v1.5 signatures)
    pub const RSASSA: u16 = 0x0014;
    /// `TPM_ALG_RSAES` (PKCS#1 v1.5 encryption)
    pub const RSAES: u16 = 0x0015;
    /// `TPM_ALG_RSAPSS`
    pub const RSAPSS: u16 = 0x0016;
    /// `TPM_ALG_OAEP`
    pub const OAEP: u16 = 0x0017;
    /// `TPM_ALG_ECDSA`
    pub const ECDSA: u16 = 0x0018;
    /// `TPM_ALG_ECDH`
    pub const ECDH: u16 = 0x0019;
    /// `TPM_ALG_ECDAA`
    pub const ECDAA: u16 = 0x001A;
    /// `TPM_ALG_SM2`
    pub const SM2: u16 = 0x001B;
    /// `TPM_ALG_ECSCHNORR`
    pub const ECSCHNORR: u16 = 0x001C;
    /// `TPM_ALG_ECMQV`
    pub const ECMQV: u16 = 0x001D;
    /// `TPM_ALG_KDF1_SP800_56A`
    pub const KDF1_SP800_56A: u16 = 0x0020;
    /// `TPM_ALG_KDF2`
    pub const KDF2: u16 = 0x0021;
    /// `TPM_ALG_KDF1_SP800_108`
    pub const KDF1_SP800_108: u16 = 0x0022;
    /// `TPM_ALG_ECC`
    pub const ECC: u16 = 0x0023;
    /// `TPM_ALG_SYMCIPHER`
    pub const SYMCIPHER: u16 = 0x0025;
    /// `TPM_ALG_CAMELLIA`
    pub const CAMELLIA: u16 = 0x0026;
    /// `TPM_ALG_CFB`
    pub const CFB: u16 = 0x0043;
}

/// A TPM hash algorithm palisade can compute. Serialised as `"sha1"`, `"sha256"`, ….
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlg {
    /// `TPM_ALG_SHA1` (0x0004): readable in PCR banks, never accepted for signatures.
    Sha1,
    /// `TPM_ALG_SHA256` (0x000B).
    Sha256,
    /// `TPM_ALG_SHA384` (0x000C).
    Sha384,
    /// `TPM_ALG_SHA512` (0x000D).
    Sha512,
}

impl HashAlg {
    /// The algorithm for a `TPM_ALG_ID`, if it is a hash palisade implements.
    pub fn from_tpm(id: u16) -> Option<Self> {
        match id {
            alg_id::SHA1 => Some(Self::Sha1),
            alg_id::SHA256 => Some(Self::Sha256),
            alg_id::SHA384 => Some(Self::Sha384),
            alg_id::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The `TPM_ALG_ID`.
    pub fn tpm_id(self) -> u16 {
        match self {
            Self::Sha1 => alg_id::SHA1,
            Self::Sha256 => alg_id::SHA256,
            Self::Sha384 => alg_id::SHA384,
            Self::Sha512 => alg_id::SHA512,
        }
    }

    /// Digest size in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// The digest of `data`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        self.hash_parts(&[data])
    }

    /// The digest of the concatenation of `parts`, without building the concatenation.
    pub fn hash_parts(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            h.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<Sha1>(parts),
            Self::Sha256 => run::<Sha256>(parts),
            Self::Sha384 => run::<Sha384>(parts),
            Self::Sha512 => run::<Sha512>(parts),
        }
    }

    /// The lowercase name used in text (`"sha256"`), as tpm2-tools spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// Whether palisade accepts this hash for signatures and key names (SHA-256 or stronger).
    pub fn is_strong(self) -> bool {
        self != Self::Sha1
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not one of `sha1`, `sha256`, `sha384`, `sha512`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hash algorithm {name:?}: expected sha1, sha256, sha384 or sha512")]
pub struct UnknownHashAlg {
    /// The text that was given.
    pub name: String,
}

impl FromStr for HashAlg {
    type Err = UnknownHashAlg;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha384" => Ok(Self::Sha384),
            "sha512" => Ok(Self::Sha512),
            _ => Err(UnknownHashAlg { name: s.to_owned() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpm_ids_round_trip_and_digest_lengths_match_the_hashes() {
        for alg in [
            HashAlg::Sha1,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ] {
            assert_eq!(HashAlg::from_tpm(alg.tpm_id()), Some(alg));
            assert_eq!(alg.hash(b"abc").len(), alg.digest_len());
            assert_eq!(alg.as_str().parse::<HashAlg>().unwrap(), alg);
            assert_eq!(serde_json::to_string(&alg).unwrap(), format!("\"{alg}\""));
        }
        assert_eq!(HashAlg::from_tpm(0x0012), None, "SM3 is not implemented");
        assert_eq!(HashAlg::from_tpm(alg_id::NULL), None);
    }

    #[test]
    fn sha256_of_abc_is_the_fips_180_answer() {
        assert_eq!(
            hex::encode(HashAlg::Sha256.hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            HashAlg::Sha256.hash_parts(&[b"a", b"", b"bc"]),
            HashAlg::Sha256.hash(b"abc")
        );
    }
}
