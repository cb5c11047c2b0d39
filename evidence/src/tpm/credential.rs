//! `TPM2_MakeCredential` in software (TPM 2.0 Part 1 §24, Part 3 §12.6): the verifier encrypts a
//! secret to an EK so that only the TPM holding both that EK and the named AK can recover it with
//! `TPM2_ActivateCredential`. This proves the AK lives on the same TPM as the EK.

pub mod kdf;

use aes::{Aes128, Aes192, Aes256};
use cfb_mode::cipher::{AsyncStreamCipher as _, KeyIvInit as _};
use cfb_mode::Encryptor;
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use rand_core::CryptoRngCore;
use rsa::{BigUint, Oaep, RsaPublicKey};
use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};

use super::alg::alg_id;
use super::quote::p256_public_key;
use super::{EccCurve, HashAlg, PublicKey, SymDef, TpmPublic};

/// The label of the seed's asymmetric protection (OAEP label / KDFe `Use`), NUL included.
const IDENTITY: &[u8] = b"IDENTITY\0";
/// KDFa label of the symmetric key protecting the credential.
const STORAGE: &[u8] = b"STORAGE\0";
/// KDFa label of the outer HMAC key.
const INTEGRITY: &[u8] = b"INTEGRITY\0";

/// Why a credential could not be made for this EK and AK.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The EK is not a restricted decryption (storage) key.
    #[error("the EK is not a restricted decryption key")]
    NotAStorageKey,
    /// The EK's symmetric definition is not AES-128/192/256 in CFB mode.
    #[error("the EK's symmetric algorithm {symmetric:?} is not AES in CFB mode")]
    UnsupportedSymmetric {
        /// What the EK's public area says (`None`: `TPM_ALG_NULL`).
        symmetric: Option<SymDef>,
    },
    /// An ECC EK on a curve palisade cannot do ECDH on.
    #[error("ECC EKs on {0:?} are not supported (NIST P-256 is)")]
    UnsupportedCurve(EccCurve),
    /// The EK's key material is not a valid public key.
    #[error("the EK public key is invalid: {reason}")]
    InvalidEkKey {
        /// What is wrong.
        reason: &'static str,
    },
    /// The AK name is not `nameAlg || digest` for a hash palisade implements.
    #[error("the AK name ({len} bytes) is not a hash algorithm id followed by its digest")]
    BadAkName {
        /// Length of the name given.
        len: usize,
    },
    /// The credential is empty or longer than a digest of the EK's nameAlg (TPM2B_DIGEST).
    #[error("the credential is {size} bytes; it must be 1 to {max} bytes")]
    CredentialSize {
        /// Size given.
        size: usize,
        /// Largest the EK's TPM will accept.
        max: usize,
    },
    /// RSA-OAEP encryption of the seed failed.
    #[error("RSA-OAEP encryption of the seed failed")]
    Encrypt(#[source] rsa::Error),
    /// A derived key had a length the primitive rejected (cannot happen with valid inputs).
    #[error("{what} has an invalid length")]
    KeyLength {
        /// Which key.
        what: &'static str,
    },
}

/// `TPM2_MakeCredential` done in software.
///
/// Returns `(credential_blob, encrypted_secret)`: the contents of the `TPM2B_ID_OBJECT` and of
/// the `TPM2B_ENCRYPTED_SECRET`, each WITHOUT its own u16 size prefix (what tss-esapi's
/// `IdObject::try_from(Vec<u8>)` and `EncryptedSecret::try_from(Vec<u8>)` take).
///
/// - RSA EK: a random seed of the EK nameAlg's digest size, RSA-OAEP encrypted with the nameAlg
///   and label `"IDENTITY\0"`.
/// - ECC P-256 EK: an ephemeral ECDH key; seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral x, EK x);
///   the encrypted secret is the marshalled `TPMS_ECC_POINT` of the ephemeral public key.
///
/// Then symKey = KDFa(nameAlg, seed, "STORAGE", AK name, ∅, EK symmetric key bits),
/// encIdentity = AES-CFB(symKey, IV = 0, TPM2B_DIGEST(credential)),
/// hmacKey = KDFa(nameAlg, seed, "INTEGRITY", ∅, ∅, digest bits),
/// blob = TPM2B_DIGEST(HMAC(hmacKey, encIdentity || AK name)) || encIdentity.
pub fn make_credential(
    ek: &TpmPublic,
    ak_name: &[u8],
    credential: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(Vec<u8>, Vec<u8>), CredentialError> {
    if !ek.is_storage_key() {
        return Err(CredentialError::NotAStorageKey);
    }
    let name_alg = ek.name_alg();
    let aes_bits = aes_key_bits(ek.symmetric())?;
    check_ak_name(ak_name)?;
    let max = name_alg.digest_len();
    if credential.is_empty() || credential.len() > max {
        return Err(CredentialError::CredentialSize {
            size: credential.len(),
            max,
        });
    }
    let (seed, encrypted_secret) = match ek.public_key() {
        PublicKey::Rsa {
            exponent, modulus, ..
        } => rsa_seed(name_alg, *exponent, modulus, rng)?,
        PublicKey::Ecc { curve, x, y, .. } => ecc_seed(name_alg, *curve, x, y, rng)?,
    };
    let blob = credential_blob(name_alg, aes_bits, &seed, ak_name, credential)?;
    Ok((blob, encrypted_secret))
}

/// The AES key size of a storage key's `AES-n-CFB` symmetric definition.
fn aes_key_bits(symmetric: Option<SymDef>) -> Result<u16, CredentialError> {
    match symmetric {
        Some(SymDef {
            algorithm: alg_id::AES,
            key_bits: bits @ (128 | 192 | 256),
            mode: alg_id::CFB,
        }) => Ok(bits),
        other => Err(CredentialError::UnsupportedSymmetric { symmetric: other }),
    }
}

/// A Name is `nameAlg (u16) || H_nameAlg(public area)`.
fn check_ak_name(name: &[u8]) -> Result<(), CredentialError> {
    let bad = || CredentialError::BadAkName { len: name.len() };
    let (alg, digest) = name.split_first_chunk::<2>().ok_or_else(bad)?;
    let alg = HashAlg::from_tpm(u16::from_be_bytes(*alg)).ok_or_else(bad)?;
    if digest.len() != alg.digest_len() {
        return Err(bad());
    }
    Ok(())
}

/// RSA EK: a random seed and its OAEP encryption.
fn rsa_seed(
    name_alg: HashAlg,
    exponent: u32,
    modulus: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(Vec<u8>, Vec<u8>), CredentialError> {
    let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(exponent)).map_err(
        |_| CredentialError::InvalidEkKey {
            reason: "RSA modulus or exponent rejected",
        },
    )?;
    let mut seed = vec![0u8; name_alg.digest_len()];
    rng.fill_bytes(&mut seed);
    // The label is "IDENTITY" with its terminating NUL, as the TPM's CryptSecretDecrypt uses it.
    let label = "IDENTITY\0";
    let padding = match name_alg {
        HashAlg::Sha1 => Oaep::new_with_label::<Sha1, _>(label),
        HashAlg::Sha256 => Oaep::new_with_label::<Sha256, _>(label),
        HashAlg::Sha384 => Oaep::new_with_label::<Sha384, _>(label),
        HashAlg::Sha512 => Oaep::new_with_label::<Sha512, _>(label),
    };
    let encrypted = key
        .encrypt(rng, padding, &seed)
        .map_err(CredentialError::Encrypt)?;
    Ok((seed, encrypted))
}

/// ECC EK: an ephemeral ECDH key; the seed comes from KDFe over the shared x coordinate.
fn ecc_seed(
    name_alg: HashAlg,
    curve: EccCurve,
    ek_x: &[u8],
    ek_y: &[u8],
    rng: &mut impl CryptoRngCore,
) -> Result<(Vec<u8>, Vec<u8>), CredentialError> {
    if curve != EccCurve::NistP256 {
        return Err(CredentialError::UnsupportedCurve(curve));
    }
    let ek = p256_public_key(ek_x, ek_y).ok_or(CredentialError::InvalidEkKey {
        reason: "ECC point is not on NIST P-256",
    })?;
    let ephemeral = p256::ecdh::EphemeralSecret::random(rng);
    let point = ephemeral.public_key().to_encoded_point(false);
    let (Some(qx), Some(qy)) = (point.x(), point.y()) else {
        return Err(CredentialError::InvalidEkKey {
            reason: "ephemeral point at infinity",
        });
    };
    let shared = ephemeral.diffie_hellman(&ek);
    let bits = u32::try_from(name_alg.digest_len() * 8).unwrap_or(u32::MAX);
    // PartyUInfo is the ephemeral x, PartyVInfo the EK's x exactly as in its public area.
    let seed = kdf::kdfe(
        name_alg,
        shared.raw_secret_bytes(),
        IDENTITY,
        qx,
        ek_x,
        bits,
    )?;
    let mut secret = Vec::with_capacity(4 + qx.len() + qy.len());
    for coordinate in [&qx[..], &qy[..]] {
        secret.extend_from_slice(&u16::try_from(coordinate.len()).unwrap_or(0).to_be_bytes());
        secret.extend_from_slice(coordinate);
    }
    Ok((seed, secret))
}

/// The `TPM2B_ID_OBJECT` contents for a given seed: deterministic, so tests can check it against
/// an independent implementation.
pub(crate) fn credential_blob(
    name_alg: HashAlg,
    aes_bits: u16,
    seed: &[u8],
    ak_name: &[u8],
    credential: &[u8],
) -> Result<Vec<u8>, CredentialError> {
    let sym_key = kdf::kdfa(name_alg, seed, STORAGE, ak_name, &[], u32::from(aes_bits))?;
    // encIdentity = CFB(symKey, IV = 0, TPM2B_DIGEST(credential)).
    let size = u16::try_from(credential.len()).map_err(|_| CredentialError::CredentialSize {
        size: credential.len(),
        max: 64,
    })?;
    let mut enc_identity = size.to_be_bytes().to_vec();
    enc_identity.extend_from_slice(credential);
    let iv = [0u8; 16];
    let bad_key = |_| CredentialError::KeyLength { what: "AES key" };
    match aes_bits {
        128 => Encryptor::<Aes128>::new_from_slices(&sym_key, &iv)
            .map_err(bad_key)?
            .encrypt(&mut enc_identity),
        192 => Encryptor::<Aes192>::new_from_slices(&sym_key, &iv)
            .map_err(bad_key)?
            .encrypt(&mut enc_identity),
        256 => Encryptor::<Aes256>::new_from_slices(&sym_key, &iv)
            .map_err(bad_key)?
            .encrypt(&mut enc_identity),
        _ => return Err(CredentialError::KeyLength { what: "AES key" }),
    }
    let hmac_bits = u32::try_from(name_alg.digest_len() * 8).unwrap_or(u32::MAX);
    let hmac_key = kdf::kdfa(name_alg, seed, INTEGRITY, &[], &[], hmac_bits)?;
    let outer_hmac = kdf::hmac(name_alg, &hmac_key, &[&enc_identity, ak_name])?;
    let mut blob = Vec::with_capacity(2 + outer_hmac.len() + enc_identity.len());
    blob.extend_from_slice(&u16::try_from(outer_hmac.len()).unwrap_or(0).to_be_bytes());
    blob.extend_from_slice(&outer_hmac);
    blob.extend_from_slice(&enc_identity);
    Ok(blob)
}

#[cfg(test)]
mod tests;
