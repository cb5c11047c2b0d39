//! [`ParseError`]: why bytes claimed to be a TPM structure were rejected.

use super::HashAlg;

/// TPM bytes that do not parse as the structure expected. Every variant names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The input ended inside a field.
    #[error("truncated {what}: needed {needed} bytes, {available} available")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// Bytes follow the end of the structure: the structure is not what was signed or sent.
    #[error("{count} trailing bytes after {what}")]
    TrailingBytes {
        /// The structure that ended early.
        what: &'static str,
        /// How many bytes were left over.
        count: usize,
    },
    /// A `TPMS_ATTEST` whose magic is not `TPM_GENERATED_VALUE` (0xff544347): not made by a TPM.
    #[error(
        "magic {0:#010x} is not TPM_GENERATED_VALUE 0xff544347: not a TPM-generated attestation"
    )]
    BadMagic(u32),
    /// A `TPMS_ATTEST` that is not a quote (`TPM_ST_ATTEST_QUOTE`, 0x8018).
    #[error("attestation type {0:#06x} is not TPM_ST_ATTEST_QUOTE 0x8018")]
    WrongType(u16),
    /// An algorithm identifier this parser does not implement in that position.
    #[error("unsupported {what} algorithm {id:#06x}")]
    UnsupportedAlgorithm {
        /// The field holding the identifier.
        what: &'static str,
        /// The `TPM_ALG_ID` / `TPM_ECC_CURVE` value.
        id: u16,
    },
    /// A size or count above what the TPM structure allows.
    #[error("{what} of {size} exceeds the maximum {max}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The size or count found.
        size: usize,
        /// The largest allowed.
        max: usize,
    },
    /// A buffer whose length does not fit the algorithm it belongs to.
    #[error("{what} is {actual} bytes, expected {expected}")]
    WrongSize {
        /// The field.
        what: &'static str,
        /// The length the algorithm implies.
        expected: usize,
        /// The length found.
        actual: usize,
    },
    /// A `TPMI_YES_NO` that is neither 0 nor 1.
    #[error("{what} is {value}, not a TPMI_YES_NO (0 or 1)")]
    NotABoolean {
        /// The field.
        what: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A PCR selection that names the same bank twice.
    #[error("PCR selection names the {0} bank twice")]
    DuplicateBank(HashAlg),
    /// An RSA key size palisade does not accept.
    #[error("RSA key size {0} bits is not one of 1024, 2048, 3072, 4096")]
    RsaKeyBits(u16),
}
