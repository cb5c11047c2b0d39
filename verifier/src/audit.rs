//! Durable attestation records. Every result becomes a record in its agent's hash chain (`prev`
//! is the SHA-256 of the previous record's canonical body), signed by the verifier's key, and
//! carrying what an auditor needs to re-check the attestation offline: the AK, the request
//! (nonce, PCR selection, log offset), the verification state it continued from, the quote, the
//! PCR values, the log slice, the documents by digest and the labels the policy saw.
//! `palisade audit export` writes records with the documents and policies they name;
//! [`verify::verify`] re-checks such an export with the verifier stopped.

pub mod export;
pub mod key;
pub mod verify;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use palisade_cluster_policy::PolicyRef;
use palisade_evidence::digest::base64_bytes;
use palisade_evidence::verify::VerifiedState;
use palisade_evidence::wire::{Evidence, LogSlice, Quote};
use palisade_evidence::{Canonical, CanonicalError, Reason, Sha256Digest};
use serde::{Deserialize, Serialize};

use crate::store::Outcome;

/// Format of a record body.
pub const RECORD_FORMAT: &str = "palisade.record/1";
/// Format of an export file.
pub const EXPORT_FORMAT: &str = "palisade.audit/1";
/// `prev` of an agent's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A document the evidence carried, by reference: its bytes are stored once, by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRef {
    /// Entry kind.
    pub kind: String,
    /// Entry name.
    pub name: String,
    /// Sequence number of the log entry the agent says measured it.
    pub seq: u64,
    /// Hex SHA-256 of the bytes as received.
    pub digest: String,
}

/// What re-checking an attestation offline needs: the verifier's expectations and the evidence
/// (its runtime events left out: they are advisory and not bound by the quote).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// The enrolled AK (TPMT_PUBLIC).
    #[serde(with = "base64_bytes")]
    pub ak_public: Vec<u8>,
    /// The agent's dedicated PCR.
    pub dedicated_pcr: u8,
    /// The nonce the verifier sent.
    #[serde(with = "base64_bytes")]
    pub nonce: Vec<u8>,
    /// PCRs requested.
    pub pcrs: Vec<u8>,
    /// The log offset requested.
    pub log_offset: u64,
    /// The verification state this attestation continued from.
    pub previous: VerifiedState,
    /// The agent id the evidence named.
    pub evidence_agent: String,
    /// The quote.
    pub quote: Quote,
    /// SHA-256-bank values of the quoted PCRs.
    pub pcr_values: BTreeMap<u8, Sha256Digest>,
    /// The log slice.
    pub log: LogSlice,
    /// The documents the evidence carried.
    pub documents: Vec<DocumentRef>,
}

impl Check {
    /// The evidence part of `evidence` as a check, and the documents' bytes by digest.
    pub fn of(expected: Expected<'_>, evidence: &Evidence) -> (Self, BTreeMap<String, Vec<u8>>) {
        let mut contents = BTreeMap::new();
        let documents = evidence
            .documents
            .iter()
            .map(|d| {
                let bytes = d.content.get().as_bytes();
                let digest = Sha256Digest::of(bytes).to_string();
                contents.insert(digest.clone(), bytes.to_vec());
                DocumentRef {
                    kind: d.kind.clone(),
                    name: d.name.clone(),
                    seq: d.seq,
                    digest,
                }
            })
            .collect();
        let check = Self {
            ak_public: expected.ak_public.to_vec(),
            dedicated_pcr: expected.dedicated_pcr,
            nonce: expected.nonce.to_vec(),
            pcrs: expected.pcrs.to_vec(),
            log_offset: expected.log_offset,
            previous: expected.previous.clone(),
            evidence_agent: evidence.agent_id.clone(),
            quote: evidence.quote.clone(),
            pcr_values: evidence.pcrs.clone(),
            log: evidence.log.clone(),
            documents,
        };
        (check, contents)
    }
}

/// The verifier's side of a [`Check`].
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The enrolled AK.
    pub ak_public: &'a [u8],
    /// The dedicated PCR.
    pub dedicated_pcr: u8,
    /// The nonce sent.
    pub nonce: &'a [u8],
    /// PCRs requested.
    pub pcrs: &'a [u8],
    /// Log offset requested.
    pub log_offset: u64,
    /// The state the attestation continued from.
    pub previous: &'a VerifiedState,
}

/// The signed body of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordBody {
    /// [`RECORD_FORMAT`].
    pub format: String,
    /// The agent.
    pub agent: String,
    /// Position in the agent's chain, from 1.
    pub seq: u64,
    /// Hex SHA-256 of the previous record's body ([`GENESIS`] for the first).
    pub prev: String,
    /// The result row this record seals.
    pub result_id: i64,
    /// When the verifier judged (RFC 3339).
    pub at: String,
    /// `pass`, `fail` or `error`.
    pub outcome: Outcome,
    /// Why it failed.
    pub reasons: Vec<Reason>,
    /// Why it could not be judged.
    pub error: Option<String>,
    /// The policy applied (name, version, hash).
    pub policy: Option<PolicyRef>,
    /// The agent's labels, as the policy saw them.
    pub labels: BTreeMap<String, String>,
    /// Document key → digest of every verified document.
    pub documents: BTreeMap<String, String>,
    /// Expectations and evidence, when evidence was received and parsed.
    pub check: Option<Check>,
}

impl RecordBody {
    /// The canonical (RFC 8785) text that is hashed and signed.
    pub fn canonical(&self) -> Result<Canonical, CanonicalError> {
        Canonical::from_serialize(self)
    }
}

/// A stored record: the canonical body, its hash and the verifier's signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRecord {
    /// The agent.
    pub agent: String,
    /// Position in the agent's chain.
    pub seq: u64,
    /// The canonical body, verbatim (hash and verify these bytes, never a re-encoding).
    pub body: String,
    /// Hex SHA-256 of `body`.
    pub hash: String,
    /// ECDSA P-256 / SHA-256 signature over `body`, fixed-size `r‖s`, hex.
    pub signature: String,
}

/// The Rego modules of a stored policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySource {
    /// Name, version and hash.
    pub reference: PolicyRef,
    /// (path, source) of every module.
    pub modules: Vec<(String, String)>,
}

/// An export: records, the documents and policies they name, the verifier's public key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Export {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// When it was written (RFC 3339).
    pub exported_at: String,
    /// The verifier's record-signing key (SEC1 uncompressed point, hex).
    pub verifier_key: String,
    /// Records, per agent in chain order.
    pub records: Vec<SignedRecord>,
    /// Document bytes (UTF-8 canonical JSON) by digest.
    pub documents: BTreeMap<String, String>,
    /// Policies by hash.
    pub policies: BTreeMap<String, PolicySource>,
}

/// Hex SHA-256 of `bytes`.
pub fn hash_hex(bytes: &[u8]) -> String {
    Sha256Digest::of(bytes).to_string()
}

/// Seals `body` (whose `seq` and `prev` the caller has set from the chain's head) with `key`.
pub fn seal(body: &RecordBody, key: &key::RecordKey) -> Result<SignedRecord, CanonicalError> {
    let canonical = body.canonical()?;
    let text = canonical.as_str().to_owned();
    Ok(SignedRecord {
        agent: body.agent.clone(),
        seq: body.seq,
        hash: hash_hex(text.as_bytes()),
        signature: key.sign(text.as_bytes()),
        body: text,
    })
}
