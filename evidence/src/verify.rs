//! The pure checks of one attestation, in order: quote signature → nonce → PCR selection and
//! digest → TPM clock → dedicated-log replay → boot binding → document digests.
//!
//! The verifier adds what needs I/O or policy around this. A failed check is a [`Reason`];
//! checks after a failed link of the chain are skipped because nothing after it can be trusted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::Canonical;
use crate::digest::Sha256Digest;
use crate::log::{self, BootBinding, LogState, ReplayOutcome, BOOT_BINDING_NAME};
use crate::runtime::EventSlice;
use crate::tpm::{pcr_digest, verify_quote, Attest, ClockInfo, HashAlg, PcrSelection, TpmPublic};
use crate::verdict::{Reason, ReasonCode};
use crate::wire::Evidence;

/// What the verifier knows about a document from the verified log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredRef {
    /// Sequence number of the latest entry measuring it.
    pub seq: u64,
    /// Digest in that entry.
    pub digest: Sha256Digest,
}

/// The verifier's memory of an agent between attestations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifiedState {
    /// Replay checkpoint of the dedicated log (`None` before the first success).
    pub log: Option<LogState>,
    /// Clock info of the last verified quote.
    pub clock: Option<ClockInfo>,
    /// Latest verified measurement per `kind/name`.
    pub measured: BTreeMap<String, MeasuredRef>,
    /// Where the agent's runtime events continue (`run:next`); advisory, like the events.
    pub event_cursor: Option<String>,
    /// Replay checkpoint of the IMA measurement list (`None`: not verified yet this boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ima: Option<HostLogCheckpoint>,
    /// The verified UEFI boot log of this boot (`None`: not verified yet this boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot: Option<HostLogCheckpoint>,
}

/// Where the verification of a kernel- or firmware-written log stands: how many entries are
/// verified, the quoted PCR values they reproduce, and the verifier's summary of them (kept so
/// that later attestations judge only new entries, and policies see the whole log's findings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLogCheckpoint {
    /// Entries verified so far.
    pub entries: u64,
    /// The SHA-256-bank PCR values those entries reproduce.
    pub pcrs: BTreeMap<u8, Sha256Digest>,
    /// Hash of the policy the entries were judged by (a new policy re-judges from entry 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The verifier's summary of the whole log so far (the policy input's `ima` / `boot`).
    #[serde(default)]
    pub summary: serde_json::Value,
    /// What the verifier needs to continue judging (the IMA runtime-policy report so far).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub resume: serde_json::Value,
}

impl VerifiedState {
    /// The log offset to request next.
    pub fn log_offset(&self) -> u64 {
        self.log.map_or(0, |s| s.offset)
    }
}

/// What the verifier expects of this attestation.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The enrolled AK.
    pub ak: &'a TpmPublic,
    /// The nonce sent in this request.
    pub nonce: &'a [u8],
    /// PCRs requested (SHA-256 bank, ascending).
    pub pcrs: &'a [u8],
    /// The agent's dedicated PCR.
    pub dedicated_pcr: u8,
    /// The log offset requested.
    pub log_offset: u64,
    /// State after the previous successful attestation.
    pub previous: &'a VerifiedState,
}

/// Result of the pure checks.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per attestation, moved once; boxing buys nothing"
)]
pub enum Checked {
    /// Checks ran to a judgement.
    Judged(Judgement),
    /// The TPM was reset (reboot) since the last checkpoint: ask again from log offset 0.
    Rebooted {
        /// Clock info of the new boot.
        clock: ClockInfo,
    },
}

/// A document whose bytes hash to the digest the quoted log measured and are canonical. Its
/// parsed content is built only when first asked for: in a fleet's steady state the verdict is
/// remembered and nothing reads it.
#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    /// The canonical bytes and their digest.
    pub canonical: Canonical,
    value: std::sync::OnceLock<serde_json::Value>,
}

impl VerifiedDocument {
    /// A verified document; its content is parsed from `canonical` when first read.
    pub fn new(canonical: Canonical) -> Self {
        Self {
            canonical,
            value: std::sync::OnceLock::new(),
        }
    }

    /// The parsed content. Canonical bytes are always JSON (every constructor of [`Canonical`]
    /// proves or produces that), so the parse cannot fail; were that broken, the content reads
    /// as `null`, which no policy mistakes for a real document.
    pub fn value(&self) -> &serde_json::Value {
        self.value.get_or_init(|| {
            serde_json::from_slice(self.canonical.as_bytes()).unwrap_or_else(|e| {
                debug_assert!(false, "canonical bytes that do not parse: {e}");
                serde_json::Value::Null
            })
        })
    }
}

/// A judgement of the evidence chain.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// Failed checks (empty: the chain holds).
    pub reasons: Vec<Reason>,
    /// The new state to store; `None` if the chain failed (keep the old one).
    pub state: Option<VerifiedState>,
    /// Verified documents by `kind/name`.
    pub documents: BTreeMap<String, VerifiedDocument>,
    /// Clock info of the quote, when its signature verified.
    pub clock: Option<ClockInfo>,
}

/// Runs every pure check on `evidence`.
pub fn check(expect: &Expectations<'_>, evidence: &Evidence) -> Checked {
    let attest = match check_quote(expect, evidence) {
        Ok(attest) => attest,
        Err(reason) => return fail(reason, None),
    };
    let clock = attest.clock_info;
    let previous_clock = expect.previous.clock;
    if let Some(reason) = previous_clock.and_then(|prev| clock_regression(&prev, &clock)) {
        return fail(reason, Some(clock));
    }
    let rebooted = previous_clock.is_some_and(|prev| clock.reset_count > prev.reset_count);
    let start = match (rebooted, expect.previous.log) {
        (true, _) | (false, None) => LogState::GENESIS,
        (false, Some(state)) => state,
    };
    if start.offset != expect.log_offset || evidence.log.offset != start.offset {
        if rebooted {
            return Checked::Rebooted { clock };
        }
        let msg = format!(
            "log slice starts at {} but entries from {} were needed",
            evidence.log.offset, start.offset
        );
        return fail(Reason::new(ReasonCode::LogMalformed, msg), Some(clock));
    }
    let mut measured = if start.offset == 0 {
        BTreeMap::new()
    } else {
        expect.previous.measured.clone()
    };
    let state = match replay_log(expect, evidence, &start, &mut measured) {
        Ok(state) => state,
        Err(reason) => return fail(reason, Some(clock)),
    };
    let mut reasons = Vec::new();
    let documents = check_documents(evidence, &measured, &mut reasons);
    if let Some(reason) = check_boot_binding(&measured, &documents, &clock, expect) {
        reasons.push(reason);
    }
    let state = reasons.is_empty().then_some(VerifiedState {
        log: Some(state),
        clock: Some(clock),
        measured,
        event_cursor: evidence
            .events
            .as_ref()
            .map(EventSlice::cursor)
            .or_else(|| expect.previous.event_cursor.clone()),
        // Host logs are judged by the verifier after this; it carries their checkpoints over.
        ima: expect.previous.ima.clone(),
        boot: expect.previous.boot.clone(),
    });
    Checked::Judged(Judgement {
        reasons,
        state,
        documents,
        clock: Some(clock),
    })
}

fn fail(reason: Reason, clock: Option<ClockInfo>) -> Checked {
    Checked::Judged(Judgement {
        reasons: vec![reason],
        clock,
        ..Judgement::default()
    })
}

/// Signature, nonce, PCR selection, PCR digest.
fn check_quote(expect: &Expectations<'_>, evidence: &Evidence) -> Result<Attest, Reason> {
    let attest = verify_quote(expect.ak, &evidence.quote.attest, &evidence.quote.signature)
        .map_err(|e| Reason::new(ReasonCode::QuoteSignature, format!("quote rejected: {e}")))?;
    if attest.extra_data != expect.nonce {
        return Err(Reason::new(
            ReasonCode::NonceMismatch,
            format!(
                "quote qualifying data {} is not the nonce {} sent: stale or replayed quote",
                hex::encode(&attest.extra_data),
                hex::encode(expect.nonce)
            ),
        ));
    }
    if attest.pcr_select != PcrSelection::sha256(expect.pcrs) {
        return Err(Reason::new(
            ReasonCode::PcrSelection,
            format!(
                "quote selects {:?}, sha256:{:?} was requested",
                attest.pcr_select, expect.pcrs
            ),
        ));
    }
    let sent: Vec<u8> = evidence.pcrs.keys().copied().collect();
    if sent != expect.pcrs {
        return Err(Reason::new(
            ReasonCode::PcrSelection,
            format!(
                "evidence carries PCRs {sent:?}, {:?} were quoted",
                expect.pcrs
            ),
        ));
    }
    let values: Vec<&[u8]> = evidence
        .pcrs
        .values()
        .map(|d| d.as_bytes().as_slice())
        .collect();
    if pcr_digest(HashAlg::Sha256, &values) != attest.pcr_digest {
        return Err(Reason::new(
            ReasonCode::PcrDigestMismatch,
            "PCR values sent do not hash to the quoted PCR digest",
        ));
    }
    Ok(attest)
}

/// `Some` if the TPM's counters moved backwards since the last quote.
pub fn clock_regression(prev: &ClockInfo, now: &ClockInfo) -> Option<Reason> {
    let regressed = now.reset_count < prev.reset_count
        || (now.reset_count == prev.reset_count && now.restart_count < prev.restart_count)
        || (now.reset_count == prev.reset_count
            && now.restart_count == prev.restart_count
            && now.clock < prev.clock);
    regressed.then(|| {
        Reason::new(
            ReasonCode::ClockRegressed,
            format!(
                "TPM clock went backwards: reset/restart/clock {}/{}/{} after {}/{}/{}",
                now.reset_count,
                now.restart_count,
                now.clock,
                prev.reset_count,
                prev.restart_count,
                prev.clock
            ),
        )
    })
}

fn replay_log(
    expect: &Expectations<'_>,
    evidence: &Evidence,
    start: &LogState,
    measured: &mut BTreeMap<String, MeasuredRef>,
) -> Result<LogState, Reason> {
    if evidence.log.pcr != expect.dedicated_pcr {
        return Err(Reason::new(
            ReasonCode::LogMalformed,
            format!(
                "log is for PCR {}, agent enrolled with PCR {}",
                evidence.log.pcr, expect.dedicated_pcr
            ),
        ));
    }
    let quoted = evidence.pcrs.get(&expect.dedicated_pcr).ok_or_else(|| {
        Reason::new(
            ReasonCode::PcrSelection,
            format!("dedicated PCR {} not quoted", expect.dedicated_pcr),
        )
    })?;
    let outcome = log::replay(start, &evidence.log.entries, quoted)
        .map_err(|e| Reason::new(ReasonCode::LogMalformed, e.to_string()))?;
    match outcome {
        ReplayOutcome::Matched { covered, state } => {
            for entry in evidence.log.entries.iter().take(covered) {
                measured.insert(
                    doc_key(&entry.kind, &entry.name),
                    MeasuredRef { seq: entry.seq, digest: entry.digest },
                );
            }
            Ok(state)
        }
        ReplayOutcome::Mismatch { replayed } => Err(Reason::new(
            ReasonCode::LogReplayMismatch,
            format!(
                "log replay mismatch: PCR {} is {quoted} but no prefix of the log from entry {} \
                 reproduces it (full replay gives {replayed}); the PCR was extended outside the agent",
                expect.dedicated_pcr, start.offset
            ),
        )),
    }
}

/// The `kind/name` key documents and measurements are indexed by.
pub fn doc_key(kind: &str, name: &str) -> String {
    format!("{kind}/{name}")
}

fn check_documents(
    evidence: &Evidence,
    measured: &BTreeMap<String, MeasuredRef>,
    reasons: &mut Vec<Reason>,
) -> BTreeMap<String, VerifiedDocument> {
    let mut verified = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for doc in &evidence.documents {
        let key = doc_key(&doc.kind, &doc.name);
        if !seen.insert(key.clone()) {
            reasons.push(Reason::new(
                ReasonCode::DocumentMalformed,
                format!("document {key} sent twice"),
            ));
            continue;
        }
        let Some(m) = measured.get(&key) else {
            reasons.push(Reason::new(
                ReasonCode::DocumentUnmeasured,
                format!("document {key} has no measurement in the quoted log"),
            ));
            continue;
        };
        match check_document(&key, m, doc.seq, doc.content.get().as_bytes()) {
            Ok(value) => {
                verified.insert(key, value);
            }
            Err(reason) => reasons.push(reason),
        }
    }
    for key in measured.keys().filter(|k| !seen.contains(*k)) {
        reasons.push(Reason::new(
            ReasonCode::DocumentMissing,
            format!("document {key} is measured in the log but missing from the evidence"),
        ));
    }
    verified
}

fn check_document(
    key: &str,
    m: &MeasuredRef,
    seq: u64,
    bytes: &[u8],
) -> Result<VerifiedDocument, Reason> {
    if seq != m.seq {
        return Err(Reason::new(
            ReasonCode::DocumentDigestMismatch,
            format!(
                "document {key} is for log entry {seq}, the quoted log's latest is entry {}",
                m.seq
            ),
        ));
    }
    let actual = Sha256Digest::of(bytes);
    if actual != m.digest {
        return Err(Reason::new(
            ReasonCode::DocumentDigestMismatch,
            format!(
                "document {key} hashes to {actual}, log entry {seq} measured {}: edited after measurement",
                m.digest
            ),
        ));
    }
    Canonical::check_digested(bytes, actual)
        .map(VerifiedDocument::new)
        .map_err(|e| {
            Reason::new(
                ReasonCode::DocumentMalformed,
                format!("document {key}: {e}"),
            )
        })
}

fn check_boot_binding(
    measured: &BTreeMap<String, MeasuredRef>,
    documents: &BTreeMap<String, VerifiedDocument>,
    clock: &ClockInfo,
    expect: &Expectations<'_>,
) -> Option<Reason> {
    let key = doc_key(log::kind::BOOT, BOOT_BINDING_NAME);
    let bad = |msg: String| Some(Reason::new(ReasonCode::BootBinding, msg));
    match measured.get(&key) {
        Some(m) if m.seq == 0 => {}
        Some(m) => return bad(format!("boot binding is entry {}, must be entry 0", m.seq)),
        None => return bad("log does not start with a boot binding".to_owned()),
    }
    let binding: BootBinding = match documents
        .get(&key)
        .map(|d| serde_json::from_slice(d.canonical.as_bytes()))
    {
        Some(Ok(b)) => b,
        Some(Err(e)) => return bad(format!("boot binding document is malformed: {e}")),
        None => return None, // already reported as a document failure
    };
    if binding.tpm_reset_count != clock.reset_count {
        return bad(format!(
            "log was started at TPM reset count {}, the quote is from reset count {}: log of another boot",
            binding.tpm_reset_count, clock.reset_count
        ));
    }
    if binding.pcr != expect.dedicated_pcr {
        return bad(format!(
            "boot binding names PCR {}, expected {}",
            binding.pcr, expect.dedicated_pcr
        ));
    }
    None
}

#[cfg(test)]
mod tests;
