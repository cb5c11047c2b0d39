//! Attestation results as EAR (IETF RATS "EAT Attestation Results", the Veraison profile) with
//! an AR4SI trustworthiness vector, signed as an ES256 JWT with the verifier's record key — so a
//! relying party that knows the key (`GET /v1/audit/key`) can check a result without trusting
//! the channel it came over. Served at `GET /v1/agents/{id}/results/{result}/ear`.
//!
//! The vector says only what palisade actually appraised: `instance-identity` (quote signed by
//! the enrolled AK, fresh), `configuration` (the measured firewall/network/runtime documents and
//! the policy over them), `hardware` (2 when the agent's EK certificate was verified against a
//! trusted manufacturer CA at enrolment, else 0), `executables` (99 when the IMA list or the UEFI
//! boot log does not reproduce its PCRs, 96 when an IMA-measured file is outside the runtime
//! policy; no affirming claim: a pass does not say whether the host runs IMA). `file-system`
//! stays 0 (no claim). The EAR of an agent's latest result also carries the current
//! cluster-policy findings naming it; a `deny` finding makes `configuration` contraindicated.

use base64::Engine as _;
use palisade_evidence::{Reason, ReasonCode};
use serde_json::{json, Map, Value};

use palisade_cluster_policy::{Enforcement, Finding};

use crate::audit::key::RecordKey;
use crate::store::{Outcome, ResultRecord};

/// The EAR profile.
pub const PROFILE: &str = "tag:github.com,2023:veraison/ear";
/// The JWT media type.
pub const MEDIA_TYPE: &str = "application/eat+jwt";

/// AR4SI claim values (draft-ietf-rats-ar4si) palisade emits.
mod claim {
    pub const NO_CLAIM: i8 = 0;
    pub const AFFIRMING: i8 = 2;
    pub const UNAVAILABLE_CONFIG: i8 = 36;
    pub const CONTRAINDICATED: i8 = 96;
    pub const UNRECOGNIZED: i8 = 97;
    pub const CRYPTO_FAILED: i8 = 99;
}

/// The trustworthiness vector, in AR4SI claim order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vector {
    /// `instance-identity`.
    pub instance: i8,
    /// `configuration`.
    pub configuration: i8,
    /// `executables`: IMA and the UEFI boot log (failures only).
    pub executables: i8,
    /// `hardware`: 2 (genuine) when the EK certificate chains to a trusted manufacturer CA.
    pub hardware: i8,
}

impl Vector {
    /// The vector a result's outcome and reasons support.
    pub fn of(outcome: Outcome, reasons: &[Reason]) -> Self {
        if outcome == Outcome::Error {
            return Self::default();
        }
        let mut v = Self {
            instance: claim::AFFIRMING,
            configuration: claim::AFFIRMING,
            hardware: claim::NO_CLAIM,
            executables: claim::NO_CLAIM,
        };
        for r in reasons {
            if r.code.is_host_log() {
                let executables = if r.code.is_host_log_integrity() {
                    claim::CRYPTO_FAILED
                } else {
                    claim::CONTRAINDICATED
                };
                v.executables = worse(v.executables, executables);
                continue;
            }
            let (instance, configuration) = match r.code {
                // Evidence in no form the enrolled agent would send: not recognised.
                ReasonCode::QuoteMalformed | ReasonCode::PcrSelection => {
                    (claim::UNRECOGNIZED, claim::NO_CLAIM)
                }
                ReasonCode::QuoteSignature
                | ReasonCode::NonceMismatch
                | ReasonCode::ClockRegressed => (claim::CRYPTO_FAILED, claim::NO_CLAIM),
                ReasonCode::PcrDigestMismatch
                | ReasonCode::LogMalformed
                | ReasonCode::LogReplayMismatch
                | ReasonCode::BootBinding
                | ReasonCode::DocumentDigestMismatch
                | ReasonCode::DocumentMissing
                | ReasonCode::DocumentUnmeasured
                | ReasonCode::DocumentMalformed => (claim::AFFIRMING, claim::CRYPTO_FAILED),
                ReasonCode::PolicyViolation => (claim::AFFIRMING, claim::CONTRAINDICATED),
                ReasonCode::PolicyUnevaluable => (claim::AFFIRMING, claim::UNAVAILABLE_CONFIG),
                // Judged above, on `executables`.
                ReasonCode::ImaLogMalformed
                | ReasonCode::ImaReplayMismatch
                | ReasonCode::ImaBootAggregate
                | ReasonCode::ImaPolicy
                | ReasonCode::BootLogMalformed
                | ReasonCode::BootLogReplayMismatch => (claim::AFFIRMING, claim::AFFIRMING),
            };
            v.instance = worse(v.instance, instance);
            v.configuration = worse(v.configuration, configuration);
        }
        v
    }

    /// `ear.status`: the worst tier among the claims (`none` when no claim is made).
    pub fn status(&self) -> &'static str {
        let worst = [
            self.instance,
            self.configuration,
            self.executables,
            self.hardware,
        ]
        .into_iter()
        .map(tier)
        .max()
        .unwrap_or(0);
        ["none", "affirming", "warning", "contraindicated"]
            .get(usize::from(worst))
            .copied()
            .unwrap_or("none")
    }

    fn to_json(self) -> Value {
        json!({
            "instance-identity": self.instance,
            "configuration": self.configuration,
            "executables": self.executables,
            "file-system": claim::NO_CLAIM,
            "hardware": self.hardware,
            "runtime-opaque": claim::NO_CLAIM,
            "storage-opaque": claim::NO_CLAIM,
            "sourced-data": claim::NO_CLAIM,
        })
    }
}

/// AR4SI tier: 0 none (−1…1), 1 affirming (2…31), 2 warning (32…95), 3 contraindicated (96…).
fn tier(value: i8) -> u8 {
    match value {
        i8::MIN..=1 => 0,
        2..=31 => 1,
        32..=95 => 2,
        _ => 3,
    }
}

/// The claim in the worse tier (the later one on a tie, so specific values win).
fn worse(a: i8, b: i8) -> i8 {
    if tier(b) >= tier(a) {
        b
    } else {
        a
    }
}

/// The EAR claims set for one stored result of an agent whose EK certificate was (or was not)
/// verified at enrolment; `cluster`: the cluster-policy findings naming the agent now (given
/// for its latest result only).
pub fn claims(result: &ResultRecord, ek_verified: bool, cluster: Option<&[Finding]>) -> Value {
    let mut vector = Vector::of(result.outcome, &result.reasons);
    if ek_verified && result.outcome != Outcome::Error {
        vector.hardware = claim::AFFIRMING;
    }
    let denied = cluster
        .into_iter()
        .flatten()
        .any(|f| f.enforcement == Enforcement::Deny);
    if denied && result.outcome != Outcome::Error {
        vector.configuration = worse(vector.configuration, claim::CONTRAINDICATED);
    }
    let iat =
        time::OffsetDateTime::parse(&result.at, &time::format_description::well_known::Rfc3339)
            .map_or(0, time::OffsetDateTime::unix_timestamp);
    let mut appraisal = Map::new();
    appraisal.insert("ear.status".into(), vector.status().into());
    if result.outcome != Outcome::Error {
        appraisal.insert("ear.trustworthiness-vector".into(), vector.to_json());
    }
    if let Some(p) = &result.policy {
        let id = format!("palisade:policy/{}@{}#sha256:{}", p.name, p.version, p.hash);
        appraisal.insert("ear.appraisal-policy-id".into(), id.into());
    }
    appraisal.insert("palisade.result".into(), result.id.into());
    appraisal.insert("palisade.outcome".into(), result.outcome.as_str().into());
    appraisal.insert("palisade.reasons".into(), json!(result.reasons));
    if let Some(error) = &result.error {
        appraisal.insert("palisade.error".into(), error.clone().into());
    }
    appraisal.insert("palisade.documents".into(), json!(result.documents));
    if let Some(findings) = cluster {
        appraisal.insert("palisade.cluster-findings".into(), json!(findings));
    }
    json!({
        "eat_profile": PROFILE,
        "iat": iat,
        "ear.verifier-id": {
            "developer": "https://github.com/palisade",
            "build": concat!("palisade-verifier ", env!("CARGO_PKG_VERSION")),
        },
        "submods": { result.agent_id.clone(): Value::Object(appraisal) },
    })
}

/// `claims` as a compact JWS (`ES256`, `kid` = the key's SEC1 point in hex).
pub fn jwt(claims: &Value, key: &RecordKey) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({ "alg": "ES256", "typ": "JWT", "kid": key.public_hex() });
    let signing_input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string())
    );
    let signature = hex::decode(key.sign(signing_input.as_bytes())).unwrap_or_default();
    format!("{signing_input}.{}", b64.encode(signature))
}

#[cfg(test)]
mod tests;
