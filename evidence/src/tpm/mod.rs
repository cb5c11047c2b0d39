//! TPM 2.0 structures in pure Rust: quote (`TPMS_ATTEST`) parsing, AK/EK public areas, quote
//! signature and PCR-digest verification, and software `TPM2_MakeCredential`.
//!
//! Everything here parses attacker-controlled bytes: no function panics, allocations are bounded
//! by the u16/u8 sizes in the structures, and every parser rejects trailing bytes. Signatures are
//! always checked over the TPM's own bytes, never over a re-encoding ([`verify_quote`]).
//!
//! Structure names and field names follow TPM 2.0 Library Part 2 ("Structures").

mod alg;
mod attest;
pub mod credential;
mod error;
mod params;
mod pcr;
mod public;
mod quote;
mod reader;
mod signature;

pub use alg::{alg_id, HashAlg, UnknownHashAlg};
pub use attest::{parse_attest, Attest, ClockInfo, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE};
pub use credential::{make_credential, CredentialError};
pub use error::ParseError;
pub use params::{EccCurve, KdfScheme, KeyScheme, SymDef};
pub use pcr::{pcr_digest, PcrSelection, MAX_BANKS, MAX_SELECT_BYTES};
pub use public::{object_attr, KeyKind, PublicKey, TpmPublic};
pub use quote::{verify_quote, QuoteError, MIN_RSA_BITS};
pub use signature::{parse_signature, Signature, SignatureScheme, SignatureValue};

#[cfg(test)]
pub(crate) mod vectors;
