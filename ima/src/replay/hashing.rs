//! Allocation-free digests for the replay hot path: an inline [`DigestBuf`] instead of the
//! `Vec` that [`HashAlg::digest`] returns.

use crate::hash::{DigestBuf, HashAlg};

fn run<D: sha1::Digest>(parts: &[&[u8]]) -> DigestBuf {
    let mut hasher = D::new();
    for part in parts {
        hasher.update(part);
    }
    DigestBuf::truncating(&hasher.finalize())
}

/// `alg(parts[0] || parts[1] || ...)` without allocating.
pub(crate) fn fast_digest(alg: HashAlg, parts: &[&[u8]]) -> DigestBuf {
    match alg {
        HashAlg::Sha1 => run::<sha1::Sha1>(parts),
        HashAlg::Sha256 => run::<sha2::Sha256>(parts),
        HashAlg::Sha384 => run::<sha2::Sha384>(parts),
        HashAlg::Sha512 => run::<sha2::Sha512>(parts),
        HashAlg::Sm3 => run::<sm3::Sm3>(parts),
    }
}
