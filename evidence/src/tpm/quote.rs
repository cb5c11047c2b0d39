//! Quote verification: the AK's signature over the TPM's own `TPMS_ATTEST` bytes, then the parse.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::elliptic_curve::sec1::{FromEncodedPoint as _, ToEncodedPoint as _};
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};

use super::{
    parse_attest, parse_signature, Attest, EccCurve, HashAlg, KeyKind, KeyScheme, ParseError,
    PublicKey, SignatureScheme, SignatureValue, TpmPublic,
};

/// Smallest RSA AK palisade accepts.
pub const MIN_RSA_BITS: u16 = 2048;

/// Why a quote was not accepted as genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    /// The attestation, signature or key bytes do not parse.
    #[error("malformed quote: {0}")]
    Parse(#[from] ParseError),
    /// The signature does not verify over the attestation bytes with this AK.
    #[error("the quote signature does not verify with this AK")]
    BadSignature,
    /// The signature algorithm cannot come from a key of this type.
    #[error("a {signature:?} signature cannot come from a {key:?} key")]
    SchemeMismatch {
        /// The AK's type.
        key: KeyKind,
        /// The signature's algorithm.
        signature: SignatureScheme,
    },
    /// The AK's public area fixes a scheme and the signature used another.
    #[error("the AK is fixed to {key:?}, the signature is {signature:?} with {hash}")]
    KeySchemeMismatch {
        /// The scheme in the AK's public area.
        key: KeyScheme,
        /// The signature's algorithm.
        signature: SignatureScheme,
        /// The signature's hash.
        hash: HashAlg,
    },
    /// The signature uses a hash weaker than SHA-256.
    #[error("the quote is signed with {0}, weaker than sha256")]
    WeakHash(HashAlg),
    /// The AK is not a restricted signing key, so it could have signed a forged `TPMS_ATTEST`.
    #[error("the AK is not a restricted signing key fixed to its TPM")]
    NotASigningKey,
    /// The RSA AK is smaller than [`MIN_RSA_BITS`].
    #[error("the RSA AK has {bits} bits, fewer than 2048")]
    WeakKey {
        /// Modulus size.
        bits: u16,
    },
    /// An ECC AK on a curve palisade cannot verify.
    #[error("ECC AKs on {0:?} are not supported (NIST P-256 is)")]
    UnsupportedCurve(EccCurve),
    /// The AK's key material is not a valid public key (bad modulus, point not on the curve).
    #[error("the AK public key is invalid: {reason}")]
    InvalidKey {
        /// What is wrong.
        reason: &'static str,
    },
}

/// Verifies `signature` (a `TPMT_SIGNATURE`) over the exact `attest` bytes (a `TPMS_ATTEST`) with
/// `ak`, then parses those same bytes. Never re-encodes.
///
/// Rejects an AK that is not a restricted signing key, a signature scheme that does not fit the
/// key (or the scheme fixed in its public area), hashes weaker than SHA-256, RSA keys under 2048
/// bits, a bad signature, and trailing bytes in either structure.
pub fn verify_quote(ak: &TpmPublic, attest: &[u8], signature: &[u8]) -> Result<Attest, QuoteError> {
    if !ak.is_restricted_signing_key() {
        return Err(QuoteError::NotASigningKey);
    }
    let sig = parse_signature(signature)?;
    let (scheme, hash) = (sig.scheme(), sig.hash());
    if !hash.is_strong() {
        return Err(QuoteError::WeakHash(hash));
    }
    let fits_key = match ak.kind() {
        KeyKind::Rsa { .. } => matches!(scheme, SignatureScheme::RsaSsa | SignatureScheme::RsaPss),
        KeyKind::Ecc { .. } => scheme == SignatureScheme::Ecdsa,
    };
    if !fits_key {
        return Err(QuoteError::SchemeMismatch {
            key: ak.kind(),
            signature: scheme,
        });
    }
    let fixed = match ak.scheme() {
        KeyScheme::Null => None,
        KeyScheme::RsaSsa(h) => Some((SignatureScheme::RsaSsa, h)),
        KeyScheme::RsaPss(h) => Some((SignatureScheme::RsaPss, h)),
        KeyScheme::Ecdsa(h) => Some((SignatureScheme::Ecdsa, h)),
        // A restricted signing key fixed to any other scheme cannot produce RSASSA/PSS/ECDSA.
        other => {
            return Err(QuoteError::KeySchemeMismatch {
                key: other,
                signature: scheme,
                hash,
            })
        }
    };
    if fixed.is_some_and(|f| f != (scheme, hash)) {
        return Err(QuoteError::KeySchemeMismatch {
            key: ak.scheme(),
            signature: scheme,
            hash,
        });
    }

    let digest = hash.hash(attest);
    match (ak.public_key(), sig.value()) {
        (
            PublicKey::Rsa {
                bits,
                exponent,
                modulus,
            },
            SignatureValue::Rsa(value),
        ) => {
            verify_rsa(*bits, *exponent, modulus, scheme, hash, &digest, value)?;
        }
        (PublicKey::Ecc { curve, x, y, .. }, SignatureValue::Ecc { r, s }) => {
            verify_ecdsa(
                *curve,
                x,
                y,
                Signed {
                    hash,
                    attest,
                    digest: &digest,
                },
                r,
                s,
            )?;
        }
        _ => {
            return Err(QuoteError::SchemeMismatch {
                key: ak.kind(),
                signature: scheme,
            })
        }
    }

    let parsed = parse_attest(attest)?;
    if parsed.pcr_digest.len() != hash.digest_len() {
        return Err(ParseError::WrongSize {
            what: "TPMS_QUOTE_INFO.pcrDigest",
            expected: hash.digest_len(),
            actual: parsed.pcr_digest.len(),
        }
        .into());
    }
    Ok(parsed)
}

fn verify_rsa(
    bits: u16,
    exponent: u32,
    modulus: &[u8],
    scheme: SignatureScheme,
    hash: HashAlg,
    digest: &[u8],
    value: &[u8],
) -> Result<(), QuoteError> {
    if bits < MIN_RSA_BITS {
        return Err(QuoteError::WeakKey { bits });
    }
    let key = RsaPublicKey::new(BigUint::from_bytes_be(modulus), BigUint::from(exponent)).map_err(
        |_| QuoteError::InvalidKey {
            reason: "RSA modulus or exponent rejected",
        },
    )?;
    let ok = match scheme {
        SignatureScheme::RsaSsa => {
            let padding = match hash {
                HashAlg::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                HashAlg::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                HashAlg::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
                HashAlg::Sha1 => return Err(QuoteError::WeakHash(hash)),
            };
            key.verify(padding, digest, value).is_ok()
        }
        SignatureScheme::RsaPss => {
            // TPMs use a salt as long as the digest (FIPS 186-4); some use the longest that
            // fits. Accept either: both are valid RSASSA-PSS with this key and hash.
            let em_len = usize::from(bits).saturating_sub(1).div_ceil(8);
            let max_salt = em_len.saturating_sub(hash.digest_len() + 2);
            [hash.digest_len(), max_salt].into_iter().any(|salt| {
                let pss = match hash {
                    HashAlg::Sha256 => Pss::new_with_salt::<Sha256>(salt),
                    HashAlg::Sha384 => Pss::new_with_salt::<Sha384>(salt),
                    HashAlg::Sha512 => Pss::new_with_salt::<Sha512>(salt),
                    HashAlg::Sha1 => return false,
                };
                key.verify(pss, digest, value).is_ok()
            })
        }
        SignatureScheme::Ecdsa => false,
    };
    if ok {
        Ok(())
    } else {
        Err(QuoteError::BadSignature)
    }
}

/// What a quote signature signs: the attestation bytes and their digest under the scheme's hash.
struct Signed<'a> {
    hash: HashAlg,
    attest: &'a [u8],
    digest: &'a [u8],
}

fn verify_ecdsa(
    curve: EccCurve,
    x: &[u8],
    y: &[u8],
    signed: Signed<'_>,
    r: &[u8],
    s: &[u8],
) -> Result<(), QuoteError> {
    if curve != EccCurve::NistP256 {
        return Err(QuoteError::UnsupportedCurve(curve));
    }
    let key = p256_public_key(x, y).ok_or(QuoteError::InvalidKey {
        reason: "ECC point is not on NIST P-256",
    })?;
    let (r, s) = match (left_pad::<32>(r), left_pad::<32>(s)) {
        (Some(r), Some(s)) => (r, s),
        _ => return Err(QuoteError::BadSignature),
    };
    if signed.hash == HashAlg::Sha256 {
        // The common AK scheme: ring's P-256 (assembly, ~3× faster than the `p256` crate on the
        // verifier's hot path; BENCHMARKS.md). It hashes the attestation itself.
        let point = key.to_encoded_point(false);
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&r);
        rs[32..].copy_from_slice(&s);
        return ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            point.as_bytes(),
        )
        .verify(signed.attest, &rs)
        .map_err(|_| QuoteError::BadSignature);
    }
    let key = p256::ecdsa::VerifyingKey::from(key);
    let sig = p256::ecdsa::Signature::from_scalars(r, s).map_err(|_| QuoteError::BadSignature)?;
    key.verify_prehash(signed.digest, &sig)
        .map_err(|_| QuoteError::BadSignature)
}

/// A P-256 public key from big-endian coordinates of at most 32 bytes each.
pub(crate) fn p256_public_key(x: &[u8], y: &[u8]) -> Option<p256::PublicKey> {
    let x = left_pad::<32>(x)?;
    let y = left_pad::<32>(y)?;
    let point = p256::EncodedPoint::from_affine_coordinates(&x.into(), &y.into(), false);
    Option::from(p256::PublicKey::from_encoded_point(&point))
}

/// `bytes` left-padded with zeros to `N` bytes; `None` if longer (leading zeros are not
/// stripped: the TPM never sends an over-long scalar).
pub(crate) fn left_pad<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    let pad = N.checked_sub(bytes.len())?;
    let mut out = [0u8; N];
    out.get_mut(pad..)?.copy_from_slice(bytes);
    Some(out)
}

#[cfg(test)]
mod tests;
