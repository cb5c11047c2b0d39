//! `TPMS_ATTEST` of a quote: the message a TPM signs in `TPM2_Quote`.

use serde::{Deserialize, Serialize};

use super::reader::Reader;
use super::{ParseError, PcrSelection};

/// `TPM_GENERATED_VALUE`: the magic a TPM puts at the start of every structure it signs, and
/// refuses to sign for callers.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// `TPM_ST_ATTEST_QUOTE`.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// Largest `TPM2B_NAME` (`sizeof(TPMU_NAME)`: a SHA-512 `TPMT_HA`).
const MAX_NAME: usize = 2 + 64;
/// Largest `TPM2B_DATA` (`sizeof(TPMT_HA)`).
const MAX_DATA: usize = 2 + 64;
/// Largest `TPM2B_DIGEST` (`sizeof(TPMU_HA)`).
const MAX_DIGEST: usize = 64;

/// `TPMS_CLOCK_INFO`: the TPM's clock and boot counters at the time of the quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered since it was last cleared.
    pub clock: u64,
    /// TPM resets (reboots) since the last clear.
    pub reset_count: u32,
    /// TPM restarts (resume from hibernation) since the last reset.
    pub restart_count: u32,
    /// Whether `clock` is known never to have run backwards (no power loss since it was saved).
    pub safe: bool,
}

/// A parsed `TPMS_ATTEST` of type `TPM_ST_ATTEST_QUOTE`.
///
/// Only [`super::verify_quote`] should produce one for a verifier: [`parse_attest`] alone checks
/// no signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attest {
    /// Name of the key that signed (TPM2B_NAME contents: the AK's qualified name).
    #[serde(with = "hex_bytes")]
    pub qualified_signer: Vec<u8>,
    /// The qualifying data passed to `TPM2_Quote`: the verifier's nonce.
    #[serde(with = "hex_bytes")]
    pub extra_data: Vec<u8>,
    /// Clock and boot counters.
    pub clock_info: ClockInfo,
    /// Vendor-specific firmware version (obfuscated by the TPM unless the key is in the
    /// endorsement or platform hierarchy).
    pub firmware_version: u64,
    /// The PCRs quoted.
    pub pcr_select: PcrSelection,
    /// Hash of the selected PCR values, with the signing scheme's hash.
    #[serde(with = "hex_bytes")]
    pub pcr_digest: Vec<u8>,
}

/// Parses a quote's `TPMS_ATTEST`: checks the magic and the type, rejects trailing bytes.
///
/// This checks no signature; use [`super::verify_quote`] on evidence.
pub fn parse_attest(bytes: &[u8]) -> Result<Attest, ParseError> {
    let mut r = Reader::new(bytes);
    let magic = r.u32("TPMS_ATTEST.magic")?;
    if magic != TPM_GENERATED_VALUE {
        return Err(ParseError::BadMagic(magic));
    }
    let kind = r.u16("TPMS_ATTEST.type")?;
    if kind != TPM_ST_ATTEST_QUOTE {
        return Err(ParseError::WrongType(kind));
    }
    let qualified_signer = r
        .tpm2b_max("TPMS_ATTEST.qualifiedSigner", MAX_NAME)?
        .to_vec();
    let extra_data = r.tpm2b_max("TPMS_ATTEST.extraData", MAX_DATA)?.to_vec();
    let clock = r.u64("TPMS_CLOCK_INFO.clock")?;
    let reset_count = r.u32("TPMS_CLOCK_INFO.resetCount")?;
    let restart_count = r.u32("TPMS_CLOCK_INFO.restartCount")?;
    let safe = match r.u8("TPMS_CLOCK_INFO.safe")? {
        0 => false,
        1 => true,
        value => {
            return Err(ParseError::NotABoolean {
                what: "TPMS_CLOCK_INFO.safe",
                value,
            })
        }
    };
    let firmware_version = r.u64("TPMS_ATTEST.firmwareVersion")?;
    let pcr_select = PcrSelection::read(&mut r)?;
    let pcr_digest = r
        .tpm2b_max("TPMS_QUOTE_INFO.pcrDigest", MAX_DIGEST)?
        .to_vec();
    r.finish("TPMS_ATTEST")?;
    Ok(Attest {
        qualified_signer,
        extra_data,
        clock_info: ClockInfo {
            clock,
            reset_count,
            restart_count,
            safe,
        },
        firmware_version,
        pcr_select,
        pcr_digest,
    })
}

#[cfg(any(test, feature = "test-util"))]
impl Attest {
    /// Marshals the quote back into a `TPMS_ATTEST`, to build test inputs (tests and the
    /// `test-util` software attesters only). Not public: a verifier checks signatures over the
    /// TPM's own bytes, never over a re-encoding.
    pub(crate) fn marshal(&self) -> Vec<u8> {
        fn tpm2b(out: &mut Vec<u8>, b: &[u8]) {
            out.extend_from_slice(&u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend_from_slice(b);
        }
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&TPM_GENERATED_VALUE.to_be_bytes());
        out.extend_from_slice(&TPM_ST_ATTEST_QUOTE.to_be_bytes());
        tpm2b(&mut out, &self.qualified_signer);
        tpm2b(&mut out, &self.extra_data);
        out.extend_from_slice(&self.clock_info.clock.to_be_bytes());
        out.extend_from_slice(&self.clock_info.reset_count.to_be_bytes());
        out.extend_from_slice(&self.clock_info.restart_count.to_be_bytes());
        out.push(u8::from(self.clock_info.safe));
        out.extend_from_slice(&self.firmware_version.to_be_bytes());
        out.extend_from_slice(&self.pcr_select.marshal());
        tpm2b(&mut out, &self.pcr_digest);
        out
    }
}

/// Serde helper: bytes as lowercase hex text.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
