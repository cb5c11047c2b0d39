//! A bounds-checked big-endian cursor over attacker-supplied TPM structures.
//!
//! Every read names what it was reading, so a short buffer becomes a [`ParseError::Truncated`]
//! that says where it ran out. Nothing here can panic or allocate more than the input holds.

use super::ParseError;

/// Reads TPM marshalled values (big-endian integers, `TPM2B_*` size-prefixed buffers) from a slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A cursor at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// Takes the next `n` bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ParseError> {
        if n > self.rest.len() {
            return Err(ParseError::Truncated {
                what,
                needed: n,
                available: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Takes exactly `N` bytes as an array.
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ParseError> {
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes).map_err(|_| ParseError::Truncated {
            what,
            needed: N,
            available: bytes.len(),
        })
    }

    /// A `BYTE` / `UINT8`.
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ParseError> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `UINT16`.
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, ParseError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `UINT32`.
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, ParseError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A big-endian `UINT64`.
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, ParseError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// A `TPM2B_*`: a `UINT16` size followed by that many bytes.
    pub(crate) fn tpm2b(&mut self, what: &'static str) -> Result<&'a [u8], ParseError> {
        let size = self.u16(what)?;
        self.take(usize::from(size), what)
    }

    /// A `TPM2B_*` whose size may not exceed `max` (the array size of the TPM structure).
    pub(crate) fn tpm2b_max(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], ParseError> {
        let size = usize::from(self.u16(what)?);
        if size > max {
            return Err(ParseError::TooLarge { what, size, max });
        }
        self.take(size, what)
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), ParseError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ParseError::TrailingBytes {
                what,
                count: self.rest.len(),
            })
        }
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_and_reports_where_it_ran_out() {
        let mut r = Reader::new(&[0x01, 0x02, 0x00, 0x02, 0xaa, 0xbb, 0xcc]);
        assert_eq!(r.u16("a").unwrap(), 0x0102);
        assert_eq!(r.tpm2b("b").unwrap(), &[0xaa, 0xbb]);
        assert_eq!(r.remaining(), 1);
        assert_eq!(
            r.clone().u32("c"),
            Err(ParseError::Truncated {
                what: "c",
                needed: 4,
                available: 1
            })
        );
        assert_eq!(
            r.clone().finish("d"),
            Err(ParseError::TrailingBytes {
                what: "d",
                count: 1
            })
        );
        assert_eq!(r.u8("e").unwrap(), 0xcc);
        assert_eq!(r.finish("f"), Ok(()));
    }

    #[test]
    fn a_tpm2b_longer_than_the_input_is_truncated_not_a_panic() {
        let mut r = Reader::new(&[0xff, 0xff, 0x00]);
        assert_eq!(
            r.tpm2b("x"),
            Err(ParseError::Truncated {
                what: "x",
                needed: 0xffff,
                available: 1
            })
        );
    }

    #[test]
    fn tpm2b_max_rejects_oversized_buffers() {
        let mut r = Reader::new(&[0x00, 0x03, 1, 2, 3]);
        assert_eq!(
            r.tpm2b_max("n", 2),
            Err(ParseError::TooLarge {
                what: "n",
                size: 3,
                max: 2
            })
        );
    }
}
