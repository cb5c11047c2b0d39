//! The TPM key derivation functions: KDFa (SP 800-108 counter mode with HMAC) and KDFe
//! (SP 800-56A concatenation KDF), as TPM 2.0 Part 1 §11.4.10 defines them.

use hmac::digest::core_api::BlockSizeUser;
use hmac::{Mac as _, SimpleHmac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::CredentialError;
use crate::tpm::HashAlg;

/// Largest derivation palisade asks for, in bits (a SHA-512 seed or an AES-256 key is far less).
const MAX_BITS: u32 = 8 * 1024;

/// `HMAC_hash(key, parts[0] || parts[1] || …)`.
pub fn hmac(hash: HashAlg, key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>, CredentialError> {
    fn run<D: Digest + BlockSizeUser>(
        key: &[u8],
        parts: &[&[u8]],
    ) -> Result<Vec<u8>, CredentialError> {
        let mut mac = <SimpleHmac<D> as hmac::Mac>::new_from_slice(key)
            .map_err(|_| CredentialError::KeyLength { what: "HMAC key" })?;
        for p in parts {
            mac.update(p);
        }
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match hash {
        HashAlg::Sha1 => run::<Sha1>(key, parts),
        HashAlg::Sha256 => run::<Sha256>(key, parts),
        HashAlg::Sha384 => run::<Sha384>(key, parts),
        HashAlg::Sha512 => run::<Sha512>(key, parts),
    }
}

/// The label as the TPM feeds it: the bytes given, plus a terminating 0 unless they already end
/// with one (so `b"STORAGE"` and `b"STORAGE\0"` derive the same key, as in the reference code).
fn label_suffix(label: &[u8]) -> &'static [u8] {
    if label.last() == Some(&0) {
        &[]
    } else {
        &[0]
    }
}

/// Clears the unused high bits of the first byte when `bits` is not a multiple of 8 (the TPM
/// reference implementation's convention), and truncates to `ceil(bits / 8)` bytes.
fn finish(mut stream: Vec<u8>, bits: u32) -> Vec<u8> {
    let bytes = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    stream.truncate(bytes);
    if !bits.is_multiple_of(8) {
        if let Some(first) = stream.first_mut() {
            *first &= (1u8 << (bits % 8)) - 1;
        }
    }
    stream
}

fn check_bits(bits: u32) -> Result<(), CredentialError> {
    if bits == 0 || bits > MAX_BITS {
        return Err(CredentialError::KeyLength {
            what: "KDF output size",
        });
    }
    Ok(())
}

/// KDFa: `HMAC_hash(key, [i]_32 || label || 0x00 || contextU || contextV || [bits]_32)` for
/// `i = 1, 2, …`, concatenated and cut to `bits`.
pub fn kdfa(
    hash: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
) -> Result<Vec<u8>, CredentialError> {
    check_bits(bits)?;
    let want = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    let mut stream = Vec::with_capacity(want + hash.digest_len());
    let mut counter: u32 = 1;
    while stream.len() < want {
        let block = hmac(
            hash,
            key,
            &[
                &counter.to_be_bytes(),
                label,
                label_suffix(label),
                context_u,
                context_v,
                &bits.to_be_bytes(),
            ],
        )?;
        stream.extend_from_slice(&block);
        counter = counter.saturating_add(1);
    }
    Ok(finish(stream, bits))
}

/// KDFe: `H_hash([i]_32 || Z || label || 0x00 || partyUInfo || partyVInfo)` for `i = 1, 2, …`,
/// concatenated and cut to `bits`.
pub fn kdfe(
    hash: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u_info: &[u8],
    party_v_info: &[u8],
    bits: u32,
) -> Result<Vec<u8>, CredentialError> {
    check_bits(bits)?;
    let want = usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX);
    let mut stream = Vec::with_capacity(want + hash.digest_len());
    let mut counter: u32 = 1;
    while stream.len() < want {
        let block = hash.hash_parts(&[
            &counter.to_be_bytes(),
            z,
            label,
            label_suffix(label),
            party_u_info,
            party_v_info,
        ]);
        stream.extend_from_slice(&block);
        counter = counter.saturating_add(1);
    }
    Ok(finish(stream, bits))
}
