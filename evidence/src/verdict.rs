//! Verdicts: a rejected attestation is a value with reasons, never an error.

use serde::{Deserialize, Serialize};

/// The outcome of judging one attestation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed.
    Pass,
    /// At least one check failed; every failed check is listed.
    Fail {
        /// Why, in the order the checks ran.
        reasons: Vec<Reason>,
    },
}

impl Verdict {
    /// Builds a verdict from collected reasons: none means pass.
    pub fn from_reasons(reasons: Vec<Reason>) -> Self {
        if reasons.is_empty() {
            Self::Pass
        } else {
            Self::Fail { reasons }
        }
    }

    /// Whether this is a pass.
    pub fn is_pass(&self) -> bool {
        matches!(self, Self::Pass)
    }

    /// The reasons of a failure (empty for a pass).
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Self::Pass => &[],
            Self::Fail { reasons } => reasons,
        }
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// Stable machine-readable code.
    pub code: ReasonCode,
    /// What an operator reads.
    pub message: String,
    /// Structured context (the offending rule, entry, values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl Reason {
    /// A reason without structured details.
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

/// Stable codes for failed checks, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// The quote or signature bytes are not valid TPM structures.
    QuoteMalformed,
    /// The quote's signature does not verify with the enrolled AK.
    QuoteSignature,
    /// The quote's qualifying data is not the nonce the verifier sent.
    NonceMismatch,
    /// The quote does not select the PCRs the verifier asked for.
    PcrSelection,
    /// The PCR values sent do not hash to the quoted PCR digest.
    PcrDigestMismatch,
    /// The TPM clock or reset/restart counters went backwards.
    ClockRegressed,
    /// The dedicated log is malformed (gaps, bad fields).
    LogMalformed,
    /// No prefix of the dedicated log reproduces the quoted PCR value.
    LogReplayMismatch,
    /// The log's boot binding does not belong to this TPM boot cycle.
    BootBinding,
    /// A document's SHA-256 differs from the digest in the replayed log.
    DocumentDigestMismatch,
    /// A measured document is missing from the evidence.
    DocumentMissing,
    /// The evidence carries a document no log entry measured.
    DocumentUnmeasured,
    /// A document is not canonical JSON.
    DocumentMalformed,
    /// The IMA measurement list is malformed, missing, or an entry's template hash is wrong.
    ImaLogMalformed,
    /// No prefix of the IMA measurement list reproduces the quoted PCR 10.
    ImaReplayMismatch,
    /// The IMA `boot_aggregate` does not match the quoted boot PCRs.
    ImaBootAggregate,
    /// An IMA-measured file or buffer is not allowed by the runtime policy.
    ImaPolicy,
    /// The UEFI boot event log is malformed or missing.
    BootLogMalformed,
    /// Replaying the UEFI boot event log does not reproduce the quoted PCRs 0-7.
    BootLogReplayMismatch,
    /// A policy found a violation.
    PolicyViolation,
    /// A policy could not be evaluated (error or limit): never counted as a pass.
    PolicyUnevaluable,
}

impl ReasonCode {
    /// Judged from a kernel- or firmware-written log (IMA, UEFI boot log) by the verifier,
    /// after the evidence chain: an offline audit takes these from the record.
    pub fn is_host_log(self) -> bool {
        matches!(
            self,
            Self::ImaLogMalformed
                | Self::ImaReplayMismatch
                | Self::ImaBootAggregate
                | Self::ImaPolicy
                | Self::BootLogMalformed
                | Self::BootLogReplayMismatch
        )
    }

    /// A host-log reason that shows the log cannot be trusted (not a policy finding): the
    /// verification state does not advance and no policy runs.
    pub fn is_host_log_integrity(self) -> bool {
        self.is_host_log() && self != Self::ImaPolicy
    }

    /// The stable string form (as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QuoteMalformed => "quote_malformed",
            Self::QuoteSignature => "quote_signature",
            Self::NonceMismatch => "nonce_mismatch",
            Self::PcrSelection => "pcr_selection",
            Self::PcrDigestMismatch => "pcr_digest_mismatch",
            Self::ClockRegressed => "clock_regressed",
            Self::LogMalformed => "log_malformed",
            Self::LogReplayMismatch => "log_replay_mismatch",
            Self::BootBinding => "boot_binding",
            Self::DocumentDigestMismatch => "document_digest_mismatch",
            Self::DocumentMissing => "document_missing",
            Self::DocumentUnmeasured => "document_unmeasured",
            Self::DocumentMalformed => "document_malformed",
            Self::ImaLogMalformed => "ima_log_malformed",
            Self::ImaReplayMismatch => "ima_replay_mismatch",
            Self::ImaBootAggregate => "ima_boot_aggregate",
            Self::ImaPolicy => "ima_policy",
            Self::BootLogMalformed => "boot_log_malformed",
            Self::BootLogReplayMismatch => "boot_log_replay_mismatch",
            Self::PolicyViolation => "policy_violation",
            Self::PolicyUnevaluable => "policy_unevaluable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_stable_strings() {
        for code in [
            ReasonCode::QuoteMalformed,
            ReasonCode::LogReplayMismatch,
            ReasonCode::PolicyUnevaluable,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }

    #[test]
    fn verdict_json_shape() {
        let v = Verdict::from_reasons(vec![Reason::new(ReasonCode::NonceMismatch, "stale")]);
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"verdict": "fail", "reasons": [{"code": "nonce_mismatch", "message": "stale"}]})
        );
        assert_eq!(
            serde_json::to_value(Verdict::Pass).unwrap(),
            serde_json::json!({"verdict": "pass"})
        );
    }
}
