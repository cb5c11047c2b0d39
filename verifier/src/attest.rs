//! One attestation, as one readable sequence:
//! fetch evidence → quote signature → nonce → PCR selection and digest → TPM clock → dedicated-log
//! replay → boot binding → document digests → policy → stored result.
//!
//! A judged failure is a `fail` with reasons; a failure to judge (agent unreachable, timeout) is
//! an `error` — never a pass and never counted as tampering.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use palisade_cluster_policy::{Policy, PolicyRef};
use palisade_evidence::log::Writer;
use palisade_evidence::runtime::EventSlice;
use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::verify::doc_key;
use palisade_evidence::verify::{
    self, Checked, Expectations, Judgement, VerifiedDocument, VerifiedState,
};
use palisade_evidence::wire::{Evidence, QuoteRequest};
use palisade_evidence::{Reason, ReasonCode};
use rand::RngCore as _;

use crate::agents::AgentClients;
use crate::audit::key::RecordKey;
use crate::audit::{Check, Expected};
use crate::exposures::ExposureCache;
use crate::host_logs::{HostLogs, HostVerdict, Sent};
use crate::input::{self, Subject};
use crate::live::{Live, LiveEvent};
use crate::metrics::Metrics;
use crate::store::{now, AgentRecord, Outcome, ResultRecord, Seal, Store, StoreError};
use crate::verdicts::{self, VerdictCache};

/// Largest evidence document accepted from an agent.
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024 * 1024;

/// What one attestation needs.
#[derive(Debug)]
pub struct Context {
    /// The database.
    pub store: Store,
    /// The node policy.
    pub policy: Arc<Policy>,
    /// HTTPS clients pinned to each agent.
    pub clients: AgentClients,
    /// Exposure facts by ruleset digest.
    pub exposures: Arc<ExposureCache>,
    /// Signs the durable record of every result.
    pub records: Arc<RecordKey>,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// The live stream for watchers.
    pub live: Live,
    /// The last node-policy verdict per agent, by what the input is made of.
    pub verdicts: VerdictCache,
    /// Cluster policies over the fleet, when configured.
    pub cluster: Option<crate::cluster::ClusterView>,
    /// IMA and UEFI boot logs: what to ask for, runtime policies, their judgement.
    pub host_logs: Arc<HostLogs>,
}

/// The outcome of judging, before it is stored.
#[derive(Debug, Default)]
struct Attempt {
    outcome: Option<Outcome>,
    reasons: Vec<Reason>,
    error: Option<String>,
    policy: Option<PolicyRef>,
    state: Option<VerifiedState>,
    documents: BTreeMap<String, VerifiedDocument>,
    /// Per document key, the processes the new log entries name (advisory).
    writers: BTreeMap<String, Vec<Writer>>,
    /// The evidence's attributed runtime events (advisory).
    events: Option<EventSlice>,
    /// Expectations and evidence for the durable record, when evidence parsed.
    check: Option<Check>,
    /// Bytes of every document the evidence carried, by digest.
    received: BTreeMap<String, Vec<u8>>,
    /// Pushed evidence came from a TPM reset since the last verified quote.
    tpm_reset: bool,
}

/// Where the evidence comes from.
#[derive(Debug)]
pub enum Source {
    /// Fetched from the agent's pull API (asking once more from entry 0 after a TPM reset).
    Pull,
    /// Sent by a push-mode agent over an outstanding challenge (`push.rs`).
    Pushed {
        /// What the challenge asked for.
        request: QuoteRequest,
        /// What the agent sent.
        evidence: Box<Evidence>,
        /// The challenge asked for the whole log (the TPM was reset).
        fresh_log: bool,
    },
}

/// A stored result, and whether pushed evidence showed a TPM reset (the agent's next challenge
/// must then ask for its whole log).
#[derive(Debug)]
pub struct Attested {
    /// The stored result.
    pub result: ResultRecord,
    /// Pushed evidence showed a TPM reset.
    pub tpm_reset: bool,
}

impl Attempt {
    fn error(message: impl Into<String>) -> Self {
        Self {
            outcome: Some(Outcome::Error),
            error: Some(message.into()),
            ..Self::default()
        }
    }

    fn fail(reasons: Vec<Reason>) -> Self {
        Self {
            outcome: Some(Outcome::Fail),
            reasons,
            ..Self::default()
        }
    }
}

/// Attests `agent` once and stores the result (with the new verification state if the
/// evidence chain held).
#[tracing::instrument(skip_all, fields(agent_id = %agent.id))]
pub async fn attest(ctx: &Context, agent: &AgentRecord) -> Result<ResultRecord, StoreError> {
    Ok(attest_with(ctx, agent, Source::Pull).await?.result)
}

/// Attests `agent` once from `source` and stores the result.
pub async fn attest_with(
    ctx: &Context,
    agent: &AgentRecord,
    source: Source,
) -> Result<Attested, StoreError> {
    let started = Instant::now();
    let mut attempt = judge(ctx, agent, source).await;
    let tpm_reset = attempt.tpm_reset;
    let documents: BTreeMap<String, String> = attempt
        .documents
        .iter()
        .map(|(k, d)| (k.clone(), d.canonical.digest().to_string()))
        .collect();
    // Everything received is kept by digest: the verified documents (the changes and diffs read
    // them) and the rest, which an auditor needs to re-check a failed attestation.
    let mut contents = std::mem::take(&mut attempt.received);
    for d in attempt.documents.values() {
        contents
            .entry(d.canonical.digest().to_string())
            .or_insert_with(|| d.canonical.as_bytes().to_vec());
    }
    // Digest changes since the previous verified result, with the semantic diff of rulesets.
    let changes = if documents.is_empty() {
        None
    } else {
        crate::changes::since_previous(&ctx.store, agent, &documents, &contents, &attempt.writers)
            .await?
    };
    let result = ResultRecord {
        id: 0,
        agent_id: agent.id.clone(),
        at: now(),
        outcome: attempt.outcome.unwrap_or(Outcome::Error),
        reasons: attempt.reasons,
        error: attempt.error,
        policy: attempt.policy,
        duration_us: i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX),
        documents,
        changes,
        events: attempt
            .events
            .as_ref()
            .and_then(|e| serde_json::to_value(e).ok()),
    };
    let seal = Seal {
        key: &ctx.records,
        labels: &agent.labels,
        check: attempt.check.as_ref(),
        last_result_id: agent.last_result_id,
    };
    let id = ctx
        .store
        .record(&result, &contents, attempt.state.as_ref(), &seal)
        .await?;
    ctx.metrics
        .observe(result.outcome, &result.reasons, started.elapsed());
    let result = ResultRecord { id, ..result };
    ctx.live
        .publish(LiveEvent::result(&result, &agent.last_outcome));
    if let Some(view) = &ctx.cluster {
        crate::cluster::observe(view, agent, &result, attempt.documents).await;
    }
    match result.outcome {
        Outcome::Pass => tracing::info!(result = id, "attestation passed"),
        Outcome::Fail => {
            tracing::warn!(result = id, reasons = ?result.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(), "attestation failed")
        }
        Outcome::Error => tracing::warn!(
            result = id,
            error = result.error.as_deref().unwrap_or(""),
            "could not attest"
        ),
    }
    Ok(Attested { result, tpm_reset })
}

/// The state a new log (after a TPM reset) is verified from: no logs, the same clock.
pub(crate) fn fresh(previous: &VerifiedState) -> VerifiedState {
    VerifiedState {
        log: None,
        clock: previous.clock,
        measured: Default::default(),
        event_cursor: previous.event_cursor.clone(),
        ima: None,
        boot: None,
    }
}

async fn judge(ctx: &Context, agent: &AgentRecord, source: Source) -> Attempt {
    let ak = match TpmPublic::parse(&agent.ak_public) {
        Ok(ak) => ak,
        Err(e) => return Attempt::error(format!("stored AK does not parse: {e}")),
    };
    let mut previous = agent.state.clone();
    let mut pushed = match source {
        Source::Pull => None,
        Source::Pushed {
            request,
            evidence,
            fresh_log,
        } => {
            if fresh_log {
                previous = fresh(&previous);
            }
            Some((request, evidence))
        }
    };
    let is_push = pushed.is_some();
    // A TPM reset since the last checkpoint makes the agent start a new log: a pull asks once
    // more from 0; a push says so and its next challenge asks from 0.
    for _ in 0..2 {
        let (request, evidence) = match pushed.take() {
            Some(given) => given,
            None => {
                let mut nonce = vec![0u8; 20];
                rand::rngs::OsRng.fill_bytes(&mut nonce);
                let request = ctx.host_logs.request(agent, &previous, nonce);
                match fetch(ctx, agent, &request).await {
                    Fetched::Evidence(evidence) => (request, evidence),
                    Fetched::Malformed(reason) => return Attempt::fail(vec![reason]),
                    Fetched::Unreachable(message) => return Attempt::error(message),
                }
            }
        };
        let (check, received) = Check::of(
            Expected {
                ak_public: &agent.ak_public,
                dedicated_pcr: agent.pcr,
                nonce: &request.nonce,
                pcrs: &request.pcrs,
                log_offset: request.log_offset,
                previous: &previous,
            },
            &evidence,
        );
        let recorded = |attempt: Attempt| Attempt {
            check: Some(check),
            received,
            ..attempt
        };
        if let Some(reason) = agent_mismatch(&evidence, &agent.id) {
            return recorded(Attempt::fail(vec![reason]));
        }
        let expect = Expectations {
            ak: &ak,
            nonce: &request.nonce,
            pcrs: &request.pcrs,
            dedicated_pcr: agent.pcr,
            log_offset: request.log_offset,
            previous: &previous,
        };
        match verify::check(&expect, &evidence) {
            Checked::Judged(judgement) => {
                let mut attempt = apply_policy(ctx, agent, judgement, &evidence).await;
                if attempt.state.is_some() {
                    // The chain held: its entries' annotations and the events may be shown.
                    attempt.writers = writers(&evidence);
                    attempt.events = evidence.events.clone();
                }
                return recorded(attempt);
            }
            Checked::Rebooted { .. } if is_push => {
                return Attempt {
                    tpm_reset: true,
                    ..Attempt::error(
                        "the agent's TPM was reset since the last verified quote: its next \
                         challenge asks for the whole new log",
                    )
                };
            }
            Checked::Rebooted { .. } => {
                tracing::info!(
                    "TPM was reset since the last attestation: verifying the new log from entry 0"
                );
                previous = fresh(&previous);
            }
        }
    }
    Attempt::error("the agent's TPM was reset twice during one attestation")
}

/// Evidence that names another agent: judged before any other check.
pub fn agent_mismatch(evidence: &Evidence, agent: &str) -> Option<Reason> {
    (evidence.agent_id != agent).then(|| {
        let msg = format!(
            "evidence is for agent {:?}, not {:?}",
            evidence.agent_id, agent
        );
        Reason::new(ReasonCode::QuoteMalformed, msg)
    })
}

/// The policy's verdict on a sound judgement, as reasons (empty: pass). An evaluation that
/// fails or times out is a reason of its own, never a pass. Blocking (regorus, exposure facts).
pub fn policy_reasons(
    policy: &Policy,
    subject: Subject<'_>,
    judgement: &Judgement,
    exposures: &ExposureCache,
) -> Vec<Reason> {
    let input = input::node(subject, judgement, exposures);
    match policy.evaluate(&input) {
        Ok(violations) => violations
            .into_iter()
            .map(|v| Reason::new(ReasonCode::PolicyViolation, v.message).with_details(v.details))
            .collect(),
        Err(e) => vec![Reason::new(ReasonCode::PolicyUnevaluable, e.to_string())],
    }
}

/// The writers the evidence's log entries name, by document key (oldest first, deduplicated).
fn writers(evidence: &Evidence) -> BTreeMap<String, Vec<Writer>> {
    let mut out: BTreeMap<String, Vec<Writer>> = BTreeMap::new();
    for e in &evidence.log.entries {
        let a = &e.annotations;
        let list = out.entry(doc_key(&e.kind, &e.name)).or_default();
        for w in a.other_writers.iter().chain(&a.writer) {
            if !list.contains(w) {
                list.push(w.clone());
            }
        }
    }
    out.retain(|_, v| !v.is_empty());
    out
}

enum Fetched {
    Evidence(Box<Evidence>),
    Malformed(Reason),
    Unreachable(String),
}

async fn fetch(ctx: &Context, agent: &AgentRecord, request: &QuoteRequest) -> Fetched {
    let client = match ctx.clients.get(agent) {
        Ok(client) => client,
        Err(e) => return Fetched::Unreachable(format!("cannot build a client for the agent: {e}")),
    };
    let url = format!(
        "{}/v1/quote?{}",
        agent.contact.trim_end_matches('/'),
        request.to_query()
    );
    let mut response = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) => {
            return Fetched::Unreachable(format!("agent unreachable at {}: {e}", agent.contact))
        }
    };
    let status = response.status();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_EVIDENCE_BYTES => {
                body.extend_from_slice(&chunk)
            }
            Ok(Some(_)) => {
                let msg = format!("evidence is larger than {MAX_EVIDENCE_BYTES} bytes");
                return Fetched::Malformed(Reason::new(ReasonCode::QuoteMalformed, msg));
            }
            Ok(None) => break,
            Err(e) => return Fetched::Unreachable(format!("reading the agent's answer: {e}")),
        }
    }
    if !status.is_success() {
        let text = String::from_utf8_lossy(body.get(..512).unwrap_or(&body)).into_owned();
        return Fetched::Unreachable(format!("agent answered {status}: {text}"));
    }
    match serde_json::from_slice::<Evidence>(&body) {
        Ok(evidence) => Fetched::Evidence(Box::new(evidence)),
        Err(e) => Fetched::Malformed(Reason::new(
            ReasonCode::QuoteMalformed,
            format!("evidence does not parse: {e}"),
        )),
    }
}

async fn apply_policy(
    ctx: &Context,
    agent: &AgentRecord,
    judgement: Judgement,
    evidence: &Evidence,
) -> Attempt {
    if !judgement.reasons.is_empty() {
        return Attempt::fail(judgement.reasons);
    }
    let (host, judgement) = match judge_host_logs(ctx, agent, judgement, Sent::of(evidence)).await {
        Ok(judged) => judged,
        Err(e) => return Attempt::error(format!("host-log task failed: {e}")),
    };
    if host.broken() {
        // A log that does not reproduce its PCRs: the state stays where it was.
        return Attempt::fail(host.reasons);
    }
    let key = verdicts::key(&ctx.policy.reference().hash, agent.into(), &judgement);
    let evaluated = match ctx.verdicts.get(&agent.id, &key) {
        // Unchanged content: the same input, so the same verdict (`verdicts.rs`).
        Some(reasons) => Ok((reasons, judgement)),
        None => evaluate(ctx, agent, judgement).await,
    };
    if let Ok((reasons, _)) = &evaluated {
        ctx.verdicts.put(&agent.id, key, reasons);
    }
    let (reasons, state, documents) = match evaluated {
        Ok((reasons, judgement)) => {
            let all = host.reasons.into_iter().chain(reasons).collect();
            (all, judgement.state, judgement.documents)
        }
        Err(e) => (
            vec![Reason::new(
                ReasonCode::PolicyUnevaluable,
                format!("policy task failed: {e}"),
            )],
            None,
            Default::default(),
        ),
    };
    Attempt {
        outcome: Some(if reasons.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        }),
        reasons,
        error: None,
        policy: Some(ctx.policy.reference().clone()),
        state,
        documents,
        ..Attempt::default()
    }
}

/// Builds the input and runs the policy off the async workers (both are CPU work). The
/// judgement comes back for storing; if the task panicked it is lost, the attempt fails and the
/// verifier's state does not advance (the next attestation replays from the last one).
async fn evaluate(
    ctx: &Context,
    agent: &AgentRecord,
    judgement: Judgement,
) -> Result<(Vec<Reason>, Judgement), tokio::task::JoinError> {
    let policy = ctx.policy.clone();
    let exposures = ctx.exposures.clone();
    let agent = agent.clone();
    tokio::task::spawn_blocking(move || {
        let reasons = policy_reasons(&policy, (&agent).into(), &judgement, &exposures);
        (reasons, judgement)
    })
    .await
}

/// Judges the IMA list and boot log into the judgement's new state: inline when nothing was
/// sent (checkpoints only), else off the async workers (parsing, hashing, policy).
async fn judge_host_logs(
    ctx: &Context,
    agent: &AgentRecord,
    mut judgement: Judgement,
    sent: Sent,
) -> Result<(HostVerdict, Judgement), tokio::task::JoinError> {
    let Some(mut state) = judgement.state.take() else {
        return Ok((HostVerdict::default(), judgement));
    };
    if sent.is_light() {
        let verdict = ctx.host_logs.judge(&agent.labels, &sent, &mut state);
        judgement.state = Some(state);
        return Ok((verdict, judgement));
    }
    let host_logs = ctx.host_logs.clone();
    let labels = agent.labels.clone();
    tokio::task::spawn_blocking(move || {
        let verdict = host_logs.judge(&labels, &sent, &mut state);
        judgement.state = Some(state);
        (verdict, judgement)
    })
    .await
}
