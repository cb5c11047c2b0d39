//! Allocation-free digests for the replay hot path: a fixed 64-byte buffer instead of the
//! `Vec` that [`HashAlg::digest`] returns.

use crate::hash::HashAlg;

/// A digest of at most 64 bytes, on the stack.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digest {
    buf: [u8; 64],
    len: usize,
}

impl Digest {
    /// `len` bytes of `byte` (all-ones for a violation, zeros for a reset PCR).
    pub(crate) fn filled(alg: HashAlg, byte: u8) -> Self {
        Self {
            buf: [byte; 64],
            len: alg.len(),
        }
    }

    /// A copy of `bytes` (at most 64 of them).
    pub(crate) fn from_slice(bytes: &[u8]) -> Self {
        let mut d = Self {
            buf: [0; 64],
            len: bytes.len().min(64),
        };
        if let (Some(dst), Some(src)) = (d.buf.get_mut(..d.len), bytes.get(..d.len)) {
            dst.copy_from_slice(src);
        }
        d
    }
}

impl AsRef<[u8]> for Digest {
    fn as_ref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

fn run<D: sha1::Digest>(parts: &[&[u8]]) -> Digest {
    let mut hasher = D::new();
    for part in parts {
        hasher.update(part);
    }
    Digest::from_slice(&hasher.finalize())
}

/// `alg(parts[0] || parts[1] || ...)` without allocating.
pub(crate) fn fast_digest(alg: HashAlg, parts: &[&[u8]]) -> Digest {
    match alg {
        HashAlg::Sha1 => run::<sha1::Sha1>(parts),
        HashAlg::Sha256 => run::<sha2::Sha256>(parts),
        HashAlg::Sha384 => run::<sha2::Sha384>(parts),
        HashAlg::Sha512 => run::<sha2::Sha512>(parts),
        HashAlg::Sm3 => run::<sm3::Sm3>(parts),
    }
}
