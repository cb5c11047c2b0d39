//! The agent's seam to the TPM: a small trait the rest of the agent is written against.
//!
//! [`esapi::EsapiTpm`] implements it with tss-esapi (a hardware TPM or swtpm through a TCTI);
//! unit tests of the logic around it use a software fake behind the same trait.

pub mod esapi;
#[cfg(any(test, feature = "test-util"))]
pub mod fake;

use serde::{Deserialize, Serialize};

/// Key algorithm for the EK and the AK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyAlg {
    /// EK: RSA-2048 (TCG default template); AK: RSA-2048, RSASSA-PKCS1-v1_5 with SHA-256.
    #[default]
    Rsa,
    /// EK: ECC NIST P-256 (TCG default template); AK: ECDSA P-256 with SHA-256.
    Ecc,
}

/// The public identity of this TPM: what the verifier enrols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpmIdentity {
    /// The EK public area, marshalled as a TPMT_PUBLIC.
    pub ek_public: Vec<u8>,
    /// The EK certificate (DER) from the TCG NV index, when the TPM carries one.
    pub ek_certificate: Option<Vec<u8>>,
    /// The AK public area, marshalled as a TPMT_PUBLIC.
    pub ak_public: Vec<u8>,
    /// The AK's TPM Name (nameAlg || H(TPMT_PUBLIC)).
    pub ak_name: Vec<u8>,
}

/// A quote exactly as the TPM produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteBlob {
    /// TPMS_ATTEST bytes as the TPM marshalled them (the signed message).
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE bytes.
    pub signature: Vec<u8>,
}

/// The TPM's clock and boot counters (TPMS_CLOCK_INFO).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpmClock {
    /// Milliseconds the TPM has been powered since its last clear.
    pub clock: u64,
    /// TPM resets (reboots) since the last clear.
    pub reset_count: u32,
    /// TPM restarts (resume from hibernation) since the last reset.
    pub restart_count: u32,
    /// Whether `clock` is known not to have gone backwards.
    pub safe: bool,
}

/// Failure of a TPM operation.
#[derive(Debug, thiserror::Error)]
pub enum TpmError {
    /// The TCTI string could not be parsed or the TPM could not be reached.
    #[error("cannot connect to the TPM through TCTI {tcti:?}: {source}")]
    Connect {
        /// The TCTI configuration string.
        tcti: String,
        /// What tss-esapi reported.
        #[source]
        source: tss_esapi::Error,
    },
    /// A TPM command failed.
    #[error("TPM command {command} failed: {source}")]
    Command {
        /// Which command (for the operator).
        command: &'static str,
        /// What tss-esapi reported.
        #[source]
        source: tss_esapi::Error,
    },
    /// The persisted AK could not be read, written or loaded.
    #[error("attestation key state at {path}: {reason}")]
    KeyState {
        /// The file involved.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An argument was outside what the TPM accepts (PCR index, nonce size, blob format).
    #[error("invalid TPM request: {0}")]
    InvalidRequest(String),
}

/// The operations the agent needs from a TPM. Every call blocks; callers run it off the async
/// workers (see `crate::tpm_actor`).
pub trait Tpm: Send + 'static {
    /// The EK and AK public parts (the AK is created on first use and persisted).
    fn identity(&mut self) -> Result<TpmIdentity, TpmError>;

    /// Reads PCRs of the SHA-256 bank, in the order given.
    fn read_pcrs(&mut self, pcrs: &[u8]) -> Result<Vec<[u8; 32]>, TpmError>;

    /// Extends one PCR of the SHA-256 bank with a digest.
    fn extend(&mut self, pcr: u8, digest: &[u8; 32]) -> Result<(), TpmError>;

    /// Quotes the given SHA-256-bank PCRs with the AK, `nonce` as qualifying data.
    fn quote(&mut self, nonce: &[u8], pcrs: &[u8]) -> Result<QuoteBlob, TpmError>;

    /// TPM2_ActivateCredential with the AK and EK: returns the secret the verifier sealed with
    /// MakeCredential. `credential_blob` is the TPM2B_ID_OBJECT buffer, `encrypted_secret` the
    /// TPM2B_ENCRYPTED_SECRET buffer (both without their size prefix).
    fn activate_credential(
        &mut self,
        credential_blob: &[u8],
        encrypted_secret: &[u8],
    ) -> Result<Vec<u8>, TpmError>;

    /// The TPM's clock and reset/restart counters.
    fn clock(&mut self) -> Result<TpmClock, TpmError>;
}
