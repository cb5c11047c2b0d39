//! Evidence shared by the palisade agent and verifier: canonical JSON, the dedicated-PCR event
//! log and its replay, TPM quote parsing and verification, and the wire types. No I/O.
#![forbid(unsafe_code)]

pub mod canonical;
pub mod digest;
pub mod log;
pub mod runtime;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod tpm;
pub mod verdict;
pub mod verify;
pub mod wire;

pub use canonical::{Canonical, CanonicalError};
pub use digest::Sha256Digest;
pub use verdict::{Reason, ReasonCode, Verdict};
