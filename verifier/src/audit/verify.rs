//! Offline re-check of an audit export, with the verifier stopped: every record's hash and
//! signature, each agent's chain (sequence, `prev` links, and that every attestation continued
//! from the state the previous one verified), and every quote: the evidence is re-run through
//! the same pure checks and, when the export carries the policy, the same policy, which must
//! reach exactly the outcome and reasons the record states.

use std::collections::BTreeMap;

use palisade_cluster_policy::{Limits, Policy};
use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::verify::{self, Checked, Expectations, VerifiedState};
use palisade_evidence::wire::{Document, Evidence};
use palisade_evidence::{Canonical, Reason, ReasonCode};
use serde::Serialize;
use serde_json::value::RawValue;

use super::key::{KeyError, PublicKey};
use super::{hash_hex, Check, Export, RecordBody, SignedRecord, EXPORT_FORMAT, GENESIS};
use crate::attest::{agent_mismatch, policy_reasons};
use crate::exposures::ExposureCache;
use crate::input::Subject;
use crate::store::Outcome;

/// An export that cannot be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a `palisade.audit/1` file.
    #[error("not a palisade audit export: format is {0:?}, expected {EXPORT_FORMAT:?}")]
    Format(String),
    /// The verifier key does not decode.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// One record that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The agent.
    pub agent: String,
    /// The record's position.
    pub seq: u64,
    /// What is wrong.
    pub problem: String,
}

/// What the re-check found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Agents in the export.
    pub agents: usize,
    /// Records checked.
    pub records: usize,
    /// Records whose quote and log were re-checked.
    pub quotes_rechecked: usize,
    /// Records whose policy was re-evaluated too.
    pub policies_rechecked: usize,
    /// Records that hold, but whose policy the export does not carry (not re-evaluated).
    pub policies_missing: usize,
    /// Records whose IMA / boot-log reasons were taken as stated: the export does not carry
    /// those logs, so they are not re-checked offline.
    pub host_log_reasons_taken: usize,
    /// Facts about the export that are not failures (a chain that starts after seq 1).
    pub notes: Vec<String>,
    /// Every record that does not hold.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether every record holds.
    pub fn holds(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Re-checks `export`.
pub fn verify(export: &Export) -> Result<Report, VerifyError> {
    if export.format != EXPORT_FORMAT {
        return Err(VerifyError::Format(export.format.clone()));
    }
    let key = PublicKey::from_hex(&export.verifier_key)?;
    let mut chains: BTreeMap<&str, Vec<&SignedRecord>> = BTreeMap::new();
    for record in &export.records {
        chains.entry(&record.agent).or_default().push(record);
    }
    let mut checker = Checker {
        export,
        key,
        policies: BTreeMap::new(),
        exposures: ExposureCache::default(),
        report: Report {
            agents: chains.len(),
            records: export.records.len(),
            ..Report::default()
        },
    };
    for (agent, mut records) in chains {
        records.sort_by_key(|r| r.seq);
        checker.chain(agent, &records);
    }
    Ok(checker.report)
}

struct Checker<'a> {
    export: &'a Export,
    key: PublicKey,
    policies: BTreeMap<String, Result<Policy, String>>,
    exposures: ExposureCache,
    report: Report,
}

/// The chain position a record must continue from.
struct Link {
    seq: u64,
    hash: String,
    /// The state the last judged record verified (`None`: not known from this export).
    state: Option<VerifiedState>,
}

impl Checker<'_> {
    fn chain(&mut self, agent: &str, records: &[&SignedRecord]) {
        let mut link: Option<Link> = None;
        for record in records {
            let problem = |problem: String| Problem {
                agent: agent.to_owned(),
                seq: record.seq,
                problem,
            };
            let body = match self.sealed(record) {
                Ok(body) => body,
                Err(e) => {
                    self.report.problems.push(problem(e));
                    link = None;
                    continue;
                }
            };
            if let Err(e) = self.linked(agent, &body, link.as_ref()) {
                self.report.problems.push(problem(e));
            }
            let mut state = link.and_then(|l| l.state);
            if let Some(check) = &body.check {
                match self.recheck(&body, check, state.as_ref()) {
                    Ok(new_state) => state = new_state.or(state),
                    Err(e) => self.report.problems.push(problem(e)),
                }
            }
            link = Some(Link {
                seq: body.seq,
                hash: record.hash.clone(),
                state,
            });
        }
    }

    /// Hash, signature and canonical form of one record; its parsed body.
    fn sealed(&self, record: &SignedRecord) -> Result<RecordBody, String> {
        if hash_hex(record.body.as_bytes()) != record.hash {
            return Err("body does not hash to the record's hash".into());
        }
        if !self.key.verifies(record.body.as_bytes(), &record.signature) {
            return Err("signature does not verify with the verifier's key".into());
        }
        let body: RecordBody =
            serde_json::from_str(&record.body).map_err(|e| format!("body does not parse: {e}"))?;
        let canonical = body.canonical().map_err(|e| e.to_string())?;
        if canonical.as_str() != record.body {
            return Err("body is not in canonical form".into());
        }
        if body.agent != record.agent || body.seq != record.seq {
            return Err(format!(
                "body is record {}#{}, not {}#{}",
                body.agent, body.seq, record.agent, record.seq
            ));
        }
        Ok(body)
    }

    /// The body continues the chain at `link`.
    fn linked(
        &mut self,
        agent: &str,
        body: &RecordBody,
        link: Option<&Link>,
    ) -> Result<(), String> {
        match link {
            None if body.seq == 1 && body.prev != GENESIS => {
                Err("first record does not start from the genesis hash".into())
            }
            None if body.seq == 1 => Ok(()),
            None => {
                self.report.notes.push(format!(
                    "{agent}: chain starts at record {} (earlier records are not in this export)",
                    body.seq
                ));
                Ok(())
            }
            Some(link) if body.seq != link.seq + 1 => Err(format!(
                "records {} to {} are missing",
                link.seq + 1,
                body.seq - 1
            )),
            Some(link) if body.prev != link.hash => {
                Err("prev does not match the previous record's hash".into())
            }
            Some(_) => Ok(()),
        }
    }

    /// Re-runs the checks (and the policy, if carried) on the record's evidence. The new state
    /// the evidence verified, if any.
    fn recheck(
        &mut self,
        body: &RecordBody,
        check: &Check,
        state: Option<&VerifiedState>,
    ) -> Result<Option<VerifiedState>, String> {
        if body.reasons.iter().any(|r| r.code.is_host_log()) {
            self.report.host_log_reasons_taken += 1;
        }
        if let Some(expected) = state {
            if !continues(expected, &check.previous) {
                return Err(
                    "attestation did not continue from the state the previous record verified"
                        .into(),
                );
            }
        }
        let ak = TpmPublic::parse(&check.ak_public).map_err(|e| format!("AK: {e}"))?;
        let evidence = self.evidence(check)?;
        let expect = Expectations {
            ak: &ak,
            nonce: &check.nonce,
            pcrs: &check.pcrs,
            dedicated_pcr: check.dedicated_pcr,
            log_offset: check.log_offset,
            previous: &check.previous,
        };
        self.report.quotes_rechecked += 1;
        let (outcome, reasons, new_state) =
            if let Some(reason) = agent_mismatch(&evidence, &body.agent) {
                (Outcome::Fail, vec![reason], None)
            } else {
                match verify::check(&expect, &evidence) {
                    Checked::Rebooted { .. } => {
                        return Err(
                            "the quote shows a TPM reset the record does not account for".into(),
                        )
                    }
                    Checked::Judged(j) if !j.reasons.is_empty() => (Outcome::Fail, j.reasons, None),
                    Checked::Judged(_) if host_log_integrity(body) => {
                        // The record's IMA / boot-log verdict is taken as stated (not exported).
                        (Outcome::Fail, host_log_reasons(body), None)
                    }
                    Checked::Judged(j) => {
                        let Some(policy_reasons) = self.policy(body, &j) else {
                            self.report.policies_missing += 1;
                            return if body
                                .reasons
                                .iter()
                                .all(|r| is_policy(r.code) || r.code.is_host_log())
                            {
                                Ok(j.state)
                            } else {
                                Err(format!(
                                    "re-check finds the evidence sound; the record says {}",
                                    said(body)
                                ))
                            };
                        };
                        let mut reasons = host_log_reasons(body);
                        reasons.extend(policy_reasons);
                        let outcome = if reasons.is_empty() {
                            Outcome::Pass
                        } else {
                            Outcome::Fail
                        };
                        (outcome, reasons, j.state)
                    }
                }
            };
        if outcome != body.outcome || !same(&reasons, &body.reasons) {
            return Err(format!(
                "re-check gives {} ({}); the record says {}",
                outcome.as_str(),
                list(&reasons),
                said(body)
            ));
        }
        Ok(new_state)
    }

    /// The evidence the check carried, with its documents from the export.
    fn evidence(&self, check: &Check) -> Result<Evidence, String> {
        let mut documents = Vec::with_capacity(check.documents.len());
        for d in &check.documents {
            let text = self
                .export
                .documents
                .get(&d.digest)
                .ok_or_else(|| format!("document {} is not in the export", d.digest))?;
            if hash_hex(text.as_bytes()) != d.digest {
                return Err(format!("document {} does not hash to its digest", d.digest));
            }
            let content = RawValue::from_string(text.clone())
                .map_err(|e| format!("document {} is not JSON: {e}", d.digest))?;
            documents.push(Document {
                kind: d.kind.clone(),
                name: d.name.clone(),
                seq: d.seq,
                content,
            });
        }
        Ok(Evidence {
            agent_id: check.evidence_agent.clone(),
            quote: check.quote.clone(),
            pcrs: check.pcr_values.clone(),
            log: check.log.clone(),
            documents,
            events: None,
            ima: None,
            boot_log: None,
        })
    }

    /// The policy's reasons for a sound judgement, or `None` if the export lacks the policy.
    fn policy(&mut self, body: &RecordBody, judgement: &verify::Judgement) -> Option<Vec<Reason>> {
        let reference = body.policy.as_ref()?;
        let source = self.export.policies.get(&reference.hash)?;
        let policy = self
            .policies
            .entry(reference.hash.clone())
            .or_insert_with(|| {
                Policy::load(
                    &source.reference.name,
                    source.reference.version,
                    source.modules.clone(),
                    Limits::default(),
                )
                .map_err(|e| e.to_string())
            });
        let reasons = match policy {
            Ok(p) if p.reference().hash == reference.hash => {
                let subject = Subject {
                    id: &body.agent,
                    labels: &body.labels,
                    pcr: body.check.as_ref().map_or(0, |c| c.dedicated_pcr),
                };
                policy_reasons(p, subject, judgement, &self.exposures)
            }
            Ok(_) => vec![Reason::new(
                ReasonCode::PolicyUnevaluable,
                "the exported policy's modules do not hash to the record's policy hash",
            )],
            Err(e) => vec![Reason::new(ReasonCode::PolicyUnevaluable, e.clone())],
        };
        self.report.policies_rechecked += 1;
        Some(reasons)
    }
}

/// `next` is `previous`, or what the verifier starts from after a TPM reset (same clock, no
/// log); runtime-event cursors are advisory and host-log checkpoints are not re-checked
/// offline (the export does not carry those logs), so neither is compared.
fn continues(previous: &VerifiedState, next: &VerifiedState) -> bool {
    let chain = |s: &VerifiedState| VerifiedState {
        event_cursor: None,
        ima: None,
        boot: None,
        ..s.clone()
    };
    let reset = VerifiedState {
        log: None,
        clock: previous.clock,
        measured: BTreeMap::new(),
        event_cursor: None,
        ima: None,
        boot: None,
    };
    let next = chain(next);
    next == chain(previous) || next == reset
}

/// The record's IMA and boot-log reasons, in its order (they come before the policy's).
fn host_log_reasons(body: &RecordBody) -> Vec<Reason> {
    let host = body.reasons.iter().filter(|r| r.code.is_host_log());
    host.cloned().collect()
}

/// The record says a host log did not reproduce its PCRs (no policy ran).
fn host_log_integrity(body: &RecordBody) -> bool {
    body.reasons.iter().any(|r| r.code.is_host_log_integrity())
}

fn is_policy(code: ReasonCode) -> bool {
    matches!(
        code,
        ReasonCode::PolicyViolation | ReasonCode::PolicyUnevaluable
    )
}

/// Equal in canonical form (numbers in details compare by value).
fn same(a: &[Reason], b: &[Reason]) -> bool {
    let canonical = |r: &[Reason]| Canonical::from_serialize(r).map(Canonical::into_bytes).ok();
    canonical(a).is_some() && canonical(a) == canonical(b)
}

fn list(reasons: &[Reason]) -> String {
    if reasons.is_empty() {
        return "no reasons".into();
    }
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn said(body: &RecordBody) -> String {
    format!("{} ({})", body.outcome.as_str(), list(&body.reasons))
}
