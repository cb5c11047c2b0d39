//! The algorithm parameters inside a `TPMT_PUBLIC`: symmetric definition, key schemes, KDF, curve.

use serde::{Deserialize, Serialize};

use super::alg::alg_id;
use super::reader::Reader;
use super::{HashAlg, ParseError};

/// A NIST curve a TPM ECC key can be on (`TPM_ECC_CURVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EccCurve {
    /// `TPM_ECC_NIST_P256` (0x0003).
    NistP256,
    /// `TPM_ECC_NIST_P384` (0x0004).
    NistP384,
    /// `TPM_ECC_NIST_P521` (0x0005).
    NistP521,
}

impl EccCurve {
    /// The curve for a `TPM_ECC_CURVE` value.
    pub fn from_tpm(id: u16) -> Option<Self> {
        match id {
            0x0003 => Some(Self::NistP256),
            0x0004 => Some(Self::NistP384),
            0x0005 => Some(Self::NistP521),
            _ => None,
        }
    }

    /// The `TPM_ECC_CURVE` value.
    pub fn tpm_id(self) -> u16 {
        match self {
            Self::NistP256 => 0x0003,
            Self::NistP384 => 0x0004,
            Self::NistP521 => 0x0005,
        }
    }

    /// Bytes in a coordinate (and in a scalar).
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::NistP256 => 32,
            Self::NistP384 => 48,
            Self::NistP521 => 66,
        }
    }
}

/// `TPMT_SYM_DEF_OBJECT` when not `TPM_ALG_NULL`: the symmetric cipher of a storage key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymDef {
    /// `TPM_ALG_AES`, `TPM_ALG_SM4` or `TPM_ALG_CAMELLIA`.
    pub algorithm: u16,
    /// Key size in bits.
    pub key_bits: u16,
    /// Block mode (`TPM_ALG_CFB` for storage keys).
    pub mode: u16,
}

impl SymDef {
    /// Reads a `TPMT_SYM_DEF_OBJECT`; `None` for `TPM_ALG_NULL`.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Option<Self>, ParseError> {
        let algorithm = r.u16("TPMT_SYM_DEF_OBJECT.algorithm")?;
        match algorithm {
            alg_id::NULL => Ok(None),
            alg_id::AES | alg_id::SM4 | alg_id::CAMELLIA => {
                let key_bits = r.u16("TPMT_SYM_DEF_OBJECT.keyBits")?;
                let mode = r.u16("TPMT_SYM_DEF_OBJECT.mode")?;
                Ok(Some(Self {
                    algorithm,
                    key_bits,
                    mode,
                }))
            }
            id => Err(ParseError::UnsupportedAlgorithm {
                what: "symmetric",
                id,
            }),
        }
    }
}

/// The signing or decryption scheme fixed in a key's public area (`TPMT_RSA_SCHEME` /
/// `TPMT_ECC_SCHEME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScheme {
    /// `TPM_ALG_NULL`: the caller picks a scheme per operation (unrestricted keys only).
    Null,
    /// RSASSA-PKCS1-v1_5 signatures.
    RsaSsa(HashAlg),
    /// RSASSA-PSS signatures.
    RsaPss(HashAlg),
    /// RSAES-PKCS1-v1_5 encryption.
    RsaEs,
    /// RSAES-OAEP encryption.
    Oaep(HashAlg),
    /// ECDSA signatures.
    Ecdsa(HashAlg),
    /// ECDH key exchange.
    Ecdh(HashAlg),
    /// ECDAA signatures (with the commit counter).
    Ecdaa {
        /// The hash.
        hash: HashAlg,
        /// The commit count.
        count: u16,
    },
    /// SM2 signatures.
    Sm2(HashAlg),
    /// EC-Schnorr signatures.
    EcSchnorr(HashAlg),
    /// ECMQV key exchange.
    EcMqv(HashAlg),
}

/// Which key type a scheme is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemeFor {
    Rsa,
    Ecc,
}

impl KeyScheme {
    /// Reads a `TPMT_RSA_SCHEME` or `TPMT_ECC_SCHEME`, rejecting schemes of the other key type.
    pub(crate) fn read(r: &mut Reader<'_>, kind: SchemeFor) -> Result<Self, ParseError> {
        let what = match kind {
            SchemeFor::Rsa => "TPMT_RSA_SCHEME.scheme",
            SchemeFor::Ecc => "TPMT_ECC_SCHEME.scheme",
        };
        let id = r.u16(what)?;
        let mut hash = || read_hash(r, "scheme hashAlg");
        let scheme = match (kind, id) {
            (_, alg_id::NULL) => Self::Null,
            (SchemeFor::Rsa, alg_id::RSASSA) => Self::RsaSsa(hash()?),
            (SchemeFor::Rsa, alg_id::RSAPSS) => Self::RsaPss(hash()?),
            (SchemeFor::Rsa, alg_id::RSAES) => Self::RsaEs,
            (SchemeFor::Rsa, alg_id::OAEP) => Self::Oaep(hash()?),
            (SchemeFor::Ecc, alg_id::ECDSA) => Self::Ecdsa(hash()?),
            (SchemeFor::Ecc, alg_id::ECDH) => Self::Ecdh(hash()?),
            (SchemeFor::Ecc, alg_id::SM2) => Self::Sm2(hash()?),
            (SchemeFor::Ecc, alg_id::ECSCHNORR) => Self::EcSchnorr(hash()?),
            (SchemeFor::Ecc, alg_id::ECMQV) => Self::EcMqv(hash()?),
            (SchemeFor::Ecc, alg_id::ECDAA) => {
                let hash = hash()?;
                let count = r.u16("TPMS_SCHEME_ECDAA.count")?;
                Self::Ecdaa { hash, count }
            }
            (_, id) => return Err(ParseError::UnsupportedAlgorithm { what, id }),
        };
        Ok(scheme)
    }
}

/// `TPMT_KDF_SCHEME` when not `TPM_ALG_NULL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfScheme {
    /// `TPM_ALG_MGF1`, `TPM_ALG_KDF1_SP800_56A`, `TPM_ALG_KDF2` or `TPM_ALG_KDF1_SP800_108`.
    pub algorithm: u16,
    /// The hash it runs on.
    pub hash: HashAlg,
}

impl KdfScheme {
    /// Reads a `TPMT_KDF_SCHEME`; `None` for `TPM_ALG_NULL`.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Option<Self>, ParseError> {
        let algorithm = r.u16("TPMT_KDF_SCHEME.scheme")?;
        match algorithm {
            alg_id::NULL => Ok(None),
            alg_id::MGF1 | alg_id::KDF1_SP800_56A | alg_id::KDF2 | alg_id::KDF1_SP800_108 => {
                Ok(Some(Self {
                    algorithm,
                    hash: read_hash(r, "TPMT_KDF_SCHEME.hashAlg")?,
                }))
            }
            id => Err(ParseError::UnsupportedAlgorithm {
                what: "TPMT_KDF_SCHEME.scheme",
                id,
            }),
        }
    }
}

/// Reads a `TPMI_ALG_HASH` that must be one palisade implements.
pub(crate) fn read_hash(r: &mut Reader<'_>, what: &'static str) -> Result<HashAlg, ParseError> {
    let id = r.u16(what)?;
    HashAlg::from_tpm(id).ok_or(ParseError::UnsupportedAlgorithm { what, id })
}
