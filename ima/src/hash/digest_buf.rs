//! A digest of at most 64 bytes kept inline: what entries hold for file and template digests,
//! and what the replay hot path computes, so that neither allocates per entry.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// The most bytes a [`DigestBuf`] holds: a SHA-512 digest.
pub const MAX_DIGEST_LEN: usize = 64;

/// A digest (or any byte string of at most [`MAX_DIGEST_LEN`] bytes), inline. Dereferences to
/// its bytes; compares, hashes and prints (hex) as them.
#[derive(Clone, Copy)]
pub struct DigestBuf {
    len: u8,
    buf: [u8; MAX_DIGEST_LEN],
}

/// More than [`MAX_DIGEST_LEN`] bytes were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} bytes is longer than any supported digest ({MAX_DIGEST_LEN})")]
pub struct DigestTooLong(pub usize);

impl DigestBuf {
    /// A copy of `bytes`, if they fit.
    pub fn new(bytes: &[u8]) -> Result<Self, DigestTooLong> {
        let mut d = Self {
            len: u8::try_from(bytes.len())
                .ok()
                .filter(|n| usize::from(*n) <= MAX_DIGEST_LEN)
                .ok_or(DigestTooLong(bytes.len()))?,
            buf: [0; MAX_DIGEST_LEN],
        };
        if let Some(dst) = d.buf.get_mut(..bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        Ok(d)
    }

    /// The first [`MAX_DIGEST_LEN`] bytes of `bytes` (a hash function's output always fits).
    pub(crate) fn truncating(bytes: &[u8]) -> Self {
        let n = bytes.len().min(MAX_DIGEST_LEN);
        Self::new(bytes.get(..n).unwrap_or_default()).unwrap_or(Self::filled(0, 0))
    }

    /// `len` (at most [`MAX_DIGEST_LEN`]) bytes of `byte`: all ones for a measurement
    /// violation, zeros for a reset PCR.
    pub fn filled(len: usize, byte: u8) -> Self {
        let len = len.min(MAX_DIGEST_LEN);
        Self {
            len: u8::try_from(len).unwrap_or(u8::MAX),
            buf: [byte; MAX_DIGEST_LEN],
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }
}

impl Deref for DigestBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl DerefMut for DigestBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.buf
            .get_mut(..usize::from(self.len))
            .unwrap_or_default()
    }
}

impl AsRef<[u8]> for DigestBuf {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for DigestBuf {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for DigestBuf {}

impl PartialEq<[u8]> for DigestBuf {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<u8>> for DigestBuf {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<const N: usize> PartialEq<[u8; N]> for DigestBuf {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::hash::Hash for DigestBuf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for DigestBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_buf_holds_up_to_64_bytes_and_compares_as_its_bytes() {
        let d = DigestBuf::new(&[7; 32]).unwrap();
        assert_eq!(d.len(), 32);
        assert_eq!(d, [7u8; 32]);
        assert_eq!(d, vec![7u8; 32]);
        assert_ne!(d, DigestBuf::new(&[7; 20]).unwrap());
        assert!(DigestBuf::new(&[0; 64]).is_ok());
        assert_eq!(DigestBuf::new(&[0; 65]), Err(DigestTooLong(65)));
        assert_eq!(DigestBuf::new(&[0; 300]), Err(DigestTooLong(300)));
        assert_eq!(DigestBuf::filled(20, 0xff).as_slice(), [0xff; 20]);
        assert_eq!(format!("{:?}", DigestBuf::new(&[0xab, 1]).unwrap()), "ab01");
    }
}
