//! `TPMT_PUBLIC`: the public area of a TPM key (an AK or an EK), its Name and its key material.

use serde::{Deserialize, Serialize};

use super::alg::alg_id;
use super::params::{read_hash, KdfScheme, SchemeFor};
use super::reader::Reader;
use super::{EccCurve, HashAlg, KeyScheme, ParseError, SymDef};

/// `TPMA_OBJECT` bits (TPM 2.0 Part 2 §8.3).
pub mod object_attr {
    /// The object cannot be duplicated off this TPM.
    pub const FIXED_TPM: u32 = 1 << 1;
    /// Saved contexts of the object cannot be loaded after a TPM reset.
    pub const ST_CLEAR: u32 = 1 << 2;
    /// The parent cannot change.
    pub const FIXED_PARENT: u32 = 1 << 4;
    /// The TPM generated the secret part itself.
    pub const SENSITIVE_DATA_ORIGIN: u32 = 1 << 5;
    /// User role may authorise with the auth value.
    pub const USER_WITH_AUTH: u32 = 1 << 6;
    /// Admin role needs a policy session.
    pub const ADMIN_WITH_POLICY: u32 = 1 << 7;
    /// Not subject to dictionary-attack protection.
    pub const NO_DA: u32 = 1 << 10;
    /// Duplication needs an inner wrapper.
    pub const ENCRYPTED_DUPLICATION: u32 = 1 << 11;
    /// The key only signs TPM-generated data / only decrypts TPM-formatted data.
    pub const RESTRICTED: u32 = 1 << 16;
    /// A decryption (or storage, when restricted) key.
    pub const DECRYPT: u32 = 1 << 17;
    /// A signing key.
    pub const SIGN_ENCRYPT: u32 = 1 << 18;
}

/// What a restricted signing key (an AK) must have set.
const AK_REQUIRED: u32 = object_attr::RESTRICTED
    | object_attr::SIGN_ENCRYPT
    | object_attr::FIXED_TPM
    | object_attr::FIXED_PARENT
    | object_attr::SENSITIVE_DATA_ORIGIN;

/// The key type and size, for display and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum KeyKind {
    /// An RSA key of `bits` modulus bits.
    Rsa {
        /// Modulus size.
        bits: u16,
    },
    /// An ECC key on `curve`.
    Ecc {
        /// The curve.
        curve: EccCurve,
    },
}

/// Public key material (`TPMU_PUBLIC_ID`) with the parameters that belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// `TPM_ALG_RSA`.
    Rsa {
        /// Modulus size in bits.
        bits: u16,
        /// Public exponent (the TPM's 0 already replaced by 65537).
        exponent: u32,
        /// Big-endian modulus, exactly `bits / 8` bytes.
        modulus: Vec<u8>,
    },
    /// `TPM_ALG_ECC`.
    Ecc {
        /// The curve.
        curve: EccCurve,
        /// `TPMS_ECC_PARMS.kdf`, if not NULL.
        kdf: Option<KdfScheme>,
        /// Big-endian x coordinate as the TPM sent it (at most the coordinate size).
        x: Vec<u8>,
        /// Big-endian y coordinate as the TPM sent it.
        y: Vec<u8>,
    },
}

/// A parsed `TPMT_PUBLIC` of an RSA or ECC key. Keeps the exact bytes it was parsed from: the
/// Name and the fingerprint are computed over them, never over a re-encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmPublic {
    bytes: Vec<u8>,
    name_alg: HashAlg,
    attributes: u32,
    auth_policy: Vec<u8>,
    symmetric: Option<SymDef>,
    scheme: KeyScheme,
    key: PublicKey,
}

impl TpmPublic {
    /// Parses `TPMT_PUBLIC` bytes (no size prefix), as tss-esapi's `Public::marshall()` gives and
    /// `tpm2_readpublic -f tpmt` writes. Rejects trailing bytes.
    pub fn parse(tpmt_public: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(tpmt_public);
        let public = Self::read(&mut r, tpmt_public)?;
        r.finish("TPMT_PUBLIC")?;
        Ok(public)
    }

    /// Parses a `TPM2B_PUBLIC` (u16 size, then the `TPMT_PUBLIC`), as `tpm2_createak -u` and
    /// `tpm2_createek -u` write. The size must cover the structure exactly.
    pub fn parse_tpm2b(tpm2b_public: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(tpm2b_public);
        let inner = r.tpm2b("TPM2B_PUBLIC")?;
        r.finish("TPM2B_PUBLIC")?;
        Self::parse(inner)
    }

    fn read(r: &mut Reader<'_>, all: &[u8]) -> Result<Self, ParseError> {
        let kind = r.u16("TPMT_PUBLIC.type")?;
        if kind != alg_id::RSA && kind != alg_id::ECC {
            return Err(ParseError::UnsupportedAlgorithm {
                what: "TPMT_PUBLIC.type",
                id: kind,
            });
        }
        let name_alg = read_hash(r, "TPMT_PUBLIC.nameAlg")?;
        let attributes = r.u32("TPMT_PUBLIC.objectAttributes")?;
        let auth_policy = r.tpm2b("TPMT_PUBLIC.authPolicy")?.to_vec();
        if !auth_policy.is_empty() && auth_policy.len() != name_alg.digest_len() {
            return Err(ParseError::WrongSize {
                what: "TPMT_PUBLIC.authPolicy",
                expected: name_alg.digest_len(),
                actual: auth_policy.len(),
            });
        }
        let symmetric = SymDef::read(r)?;
        let (scheme, key) = if kind == alg_id::RSA {
            Self::read_rsa(r)?
        } else {
            Self::read_ecc(r)?
        };
        // The parser consumed `all.len() - remaining` bytes; keep exactly those.
        let used = all.len().saturating_sub(r.remaining());
        let bytes = all.get(..used).unwrap_or(all).to_vec();
        Ok(Self {
            bytes,
            name_alg,
            attributes,
            auth_policy,
            symmetric,
            scheme,
            key,
        })
    }

    fn read_rsa(r: &mut Reader<'_>) -> Result<(KeyScheme, PublicKey), ParseError> {
        let scheme = KeyScheme::read(r, SchemeFor::Rsa)?;
        let bits = r.u16("TPMS_RSA_PARMS.keyBits")?;
        if !matches!(bits, 1024 | 2048 | 3072 | 4096) {
            return Err(ParseError::RsaKeyBits(bits));
        }
        let exponent = match r.u32("TPMS_RSA_PARMS.exponent")? {
            0 => 65537,
            e => e,
        };
        let modulus = r.tpm2b("TPM2B_PUBLIC_KEY_RSA")?.to_vec();
        let expected = usize::from(bits / 8);
        if modulus.len() != expected {
            return Err(ParseError::WrongSize {
                what: "RSA modulus",
                expected,
                actual: modulus.len(),
            });
        }
        Ok((
            scheme,
            PublicKey::Rsa {
                bits,
                exponent,
                modulus,
            },
        ))
    }

    fn read_ecc(r: &mut Reader<'_>) -> Result<(KeyScheme, PublicKey), ParseError> {
        let scheme = KeyScheme::read(r, SchemeFor::Ecc)?;
        let id = r.u16("TPMS_ECC_PARMS.curveID")?;
        let curve = EccCurve::from_tpm(id).ok_or(ParseError::UnsupportedAlgorithm {
            what: "ECC curve",
            id,
        })?;
        let kdf = KdfScheme::read(r)?;
        let max = curve.coordinate_len();
        let x = r.tpm2b_max("TPMS_ECC_POINT.x", max)?.to_vec();
        let y = r.tpm2b_max("TPMS_ECC_POINT.y", max)?.to_vec();
        Ok((scheme, PublicKey::Ecc { curve, kdf, x, y }))
    }

    /// The TPM Name: `nameAlg` (u16 big-endian) followed by `H_nameAlg(TPMT_PUBLIC)`.
    pub fn name(&self) -> Vec<u8> {
        let mut name = self.name_alg.tpm_id().to_be_bytes().to_vec();
        name.extend_from_slice(&self.name_alg.hash(&self.bytes));
        name
    }

    /// The hash the Name is computed with.
    pub fn name_alg(&self) -> HashAlg {
        self.name_alg
    }

    /// `TPMA_OBJECT` (see [`object_attr`]).
    pub fn object_attributes(&self) -> u32 {
        self.attributes
    }

    /// The policy digest that authorises admin (or all) use; empty for none.
    pub fn auth_policy(&self) -> &[u8] {
        &self.auth_policy
    }

    /// The symmetric cipher of a storage key; `None` for `TPM_ALG_NULL`.
    pub fn symmetric(&self) -> Option<SymDef> {
        self.symmetric
    }

    /// The scheme fixed in the public area.
    pub fn scheme(&self) -> KeyScheme {
        self.scheme
    }

    /// The key material.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// A key that can sign only TPM-generated data and never leaves this TPM (an AK): restricted,
    /// sign, fixedTPM, fixedParent and sensitiveDataOrigin set; decrypt clear.
    pub fn is_restricted_signing_key(&self) -> bool {
        self.attributes & AK_REQUIRED == AK_REQUIRED && self.attributes & object_attr::DECRYPT == 0
    }

    /// A restricted decryption key (a storage key, such as an EK): restricted and decrypt set,
    /// sign clear.
    pub fn is_storage_key(&self) -> bool {
        let want = object_attr::RESTRICTED | object_attr::DECRYPT;
        self.attributes & want == want && self.attributes & object_attr::SIGN_ENCRYPT == 0
    }

    /// Key type and size.
    pub fn kind(&self) -> KeyKind {
        match &self.key {
            PublicKey::Rsa { bits, .. } => KeyKind::Rsa { bits: *bits },
            PublicKey::Ecc { curve, .. } => KeyKind::Ecc { curve: *curve },
        }
    }

    /// Lowercase hex SHA-256 of the `TPMT_PUBLIC` bytes: a stable identity for logs and storage.
    pub fn fingerprint(&self) -> String {
        hex::encode(HashAlg::Sha256.hash(&self.bytes))
    }

    /// The `TPMT_PUBLIC` bytes exactly as parsed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The `TPM2B_PUBLIC` form (u16 size prefix), as tpm2-tools reads it.
    pub fn to_tpm2b(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.bytes.len());
        // Parsing bounds every field (policy <= 64 bytes, modulus <= 512, coordinates <= 66):
        // a TPMT_PUBLIC is well under 1 kB, so the size always fits.
        out.extend_from_slice(
            &u16::try_from(self.bytes.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.bytes);
        out
    }
}

#[cfg(test)]
mod tests;
