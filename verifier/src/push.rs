//! Push mode, verifier side (`palisade_evidence::wire::push` has the shapes): challenges are
//! issued to push-mode agents, evidence is accepted only when its quote verifies with the
//! enrolled AK over an outstanding, unexpired challenge's nonce (so forged or replayed
//! submissions are refused with a 4xx and store nothing, and cannot cause a false alarm), then
//! judged asynchronously by the same pipeline as a pulled quote. Asking again before the next
//! attestation is due is a 429 with `Retry-After`; an agent whose evidence stops arriving
//! becomes `missed` (the scheduler's liveness check).
//!
//! Challenges live in memory: a verifier restart voids them and agents ask again.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use palisade_evidence::tpm::{verify_quote, TpmPublic};
use palisade_evidence::wire::push::{PushAccepted, PushCapabilities, PushChallenge};
use palisade_evidence::wire::{Evidence, QuoteRequest};
use rand::RngCore as _;

use crate::app::AppState;
use crate::error::ApiError;
use crate::scheduler::Cadence;
use crate::store::{AgentRecord, AgentStatus};

/// How long a challenge stays valid.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Outstanding challenges kept per agent (the oldest is dropped beyond this).
pub const MAX_OUTSTANDING: usize = 4;
/// Fraction of the interval that must pass between accepted evidence and the next challenge.
const EARLY_FRACTION: f64 = 0.5;

/// One issued challenge.
#[derive(Debug, Clone)]
pub struct Outstanding {
    /// What it asked for.
    pub request: QuoteRequest,
    /// Whether it asked for the whole log (the TPM was reset since the last verified quote).
    pub fresh_log: bool,
    expires: Instant,
}

/// Challenges, accepted-evidence times and TPM resets of push-mode agents.
#[derive(Debug, Default)]
pub struct PushState {
    challenges: Mutex<HashMap<String, Vec<Outstanding>>>,
    accepted: Mutex<HashMap<String, Instant>>,
    fresh_log: Mutex<HashSet<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl PushState {
    /// Seconds until `agent` may ask again, if it asks too early.
    pub fn too_early(&self, agent: &str, interval: Duration, now: Instant) -> Option<u64> {
        let last = *lock(&self.accepted).get(agent)?;
        let due = last + interval.mul_f64(EARLY_FRACTION);
        (due > now).then(|| (due - now).as_secs_f64().ceil().max(1.0) as u64)
    }

    fn issue(&self, agent: &str, request: QuoteRequest, fresh_log: bool, now: Instant) {
        let mut all = lock(&self.challenges);
        let list = all.entry(agent.to_owned()).or_default();
        list.retain(|c| c.expires > now);
        if list.len() >= MAX_OUTSTANDING {
            list.remove(0);
        }
        list.push(Outstanding {
            request,
            fresh_log,
            expires: now + CHALLENGE_TTL,
        });
    }

    /// Consumes the challenge whose nonce the quote carries.
    fn answer(&self, agent: &str, nonce: &[u8], now: Instant) -> Result<Outstanding, ApiError> {
        let mut all = lock(&self.challenges);
        let list = all.get_mut(agent);
        let found = list
            .as_ref()
            .and_then(|l| l.iter().position(|c| c.request.nonce == nonce));
        let (Some(list), Some(i)) = (list, found) else {
            return Err(ApiError::Gone(
                "no outstanding challenge has this quote's nonce: it was answered already, \
                 voided by a verifier restart, or never issued; ask for a new one"
                    .into(),
            ));
        };
        let challenge = list.remove(i);
        if challenge.expires <= now {
            return Err(ApiError::Gone(format!(
                "the challenge expired ({} s); ask for a new one",
                CHALLENGE_TTL.as_secs()
            )));
        }
        lock(&self.accepted).insert(agent.to_owned(), now);
        Ok(challenge)
    }

    /// The next challenge for `agent` asks for its whole log (its TPM was reset).
    pub fn restart_log(&self, agent: &str) {
        lock(&self.fresh_log).insert(agent.to_owned());
    }

    fn take_fresh(&self, agent: &str) -> bool {
        lock(&self.fresh_log).remove(agent)
    }
}

async fn push_agent(
    app: &AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<AgentRecord, ApiError> {
    let Path(id) = id?;
    let agent = app
        .ctx
        .store
        .agent(&id)
        .await?
        .filter(|a| a.status == AgentStatus::Active)
        .ok_or_else(|| ApiError::NotFound(format!("no active agent {id}")))?;
    if agent.awaiting_approval {
        return Err(ApiError::Conflict(format!(
            "agent {id} awaits an operator's approval (palisade agents enroll {id})"
        )));
    }
    if !agent.push {
        return Err(ApiError::Conflict(format!(
            "agent {id} is enrolled in pull mode: the verifier fetches its evidence"
        )));
    }
    Ok(agent)
}

/// `POST /v1/agents/{id}/attestations`: a challenge (201), or 429 when too early.
pub async fn challenge(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<PushCapabilities>, JsonRejection>,
) -> Result<(StatusCode, Json<PushChallenge>), ApiError> {
    let agent = push_agent(&app, id).await?;
    let Json(caps) = body?;
    if caps.pcr != agent.pcr {
        return Err(ApiError::BadRequest(format!(
            "the agent is enrolled with dedicated PCR {}, not {}",
            agent.pcr, caps.pcr
        )));
    }
    let now = Instant::now();
    if let Some(retry_after_s) = app.push.too_early(&agent.id, app.config.interval, now) {
        return Err(ApiError::TooEarly { retry_after_s });
    }
    let fresh_log = app.push.take_fresh(&agent.id);
    let mut nonce = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let state = if fresh_log {
        crate::attest::fresh(&agent.state)
    } else {
        agent.state.clone()
    };
    let request = app.ctx.host_logs.request(&agent, &state, nonce);
    let answer = PushChallenge::new(&request, CHALLENGE_TTL.as_secs());
    app.push.issue(&agent.id, request, fresh_log, now);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `PATCH /v1/agents/{id}/attestations/latest`: evidence over an outstanding challenge (202).
pub async fn evidence(
    State(app): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Json<Evidence>, JsonRejection>,
) -> Result<(StatusCode, Json<PushAccepted>), ApiError> {
    let agent = push_agent(&app, id).await?;
    let Json(evidence) = body?;
    if evidence.agent_id != agent.id {
        return Err(ApiError::BadRequest(format!(
            "evidence is for agent {:?}, not {:?}",
            evidence.agent_id, agent.id
        )));
    }
    let ak = TpmPublic::parse(&agent.ak_public)
        .map_err(|e| ApiError::Internal(format!("stored AK does not parse: {e}")))?;
    let attest =
        verify_quote(&ak, &evidence.quote.attest, &evidence.quote.signature).map_err(|e| {
            ApiError::Forbidden(format!(
                "the quote does not verify with the enrolled AK: {e}"
            ))
        })?;
    let challenge = app
        .push
        .answer(&agent.id, &attest.extra_data, Instant::now())?;
    let cadence = Cadence::new(app.config.interval, app.config.max_backoff);
    app.scheduler.heard(&agent.id, cadence.missed_after());
    let scheduler = app.scheduler.clone();
    let push = app.push.clone();
    tokio::spawn(async move {
        let id = agent.id.clone();
        if scheduler.attest_pushed(agent, challenge, evidence).await {
            push.restart_log(&id);
        }
    });
    let next = app.config.interval.as_secs().max(1);
    Ok((
        StatusCode::ACCEPTED,
        Json(PushAccepted {
            next_attestation_in_s: next,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(nonce: u8) -> QuoteRequest {
        QuoteRequest {
            nonce: vec![nonce; 20],
            pcrs: vec![15],
            log_offset: 0,
            event_cursor: None,
            ima_offset: None,
            boot_log: false,
        }
    }

    #[test]
    fn a_challenge_is_answered_once_and_not_after_it_expires() {
        let push = PushState::default();
        let t0 = Instant::now();
        push.issue("a1", request(1), false, t0);
        push.issue("a1", request(2), false, t0);
        assert_eq!(push.answer("a1", &[1; 20], t0).unwrap().request, request(1));
        assert!(matches!(
            push.answer("a1", &[1; 20], t0),
            Err(ApiError::Gone(_))
        ));
        assert!(matches!(
            push.answer("a2", &[2; 20], t0),
            Err(ApiError::Gone(_))
        ));
        let late = t0 + CHALLENGE_TTL + Duration::from_secs(1);
        let expired = push.answer("a1", &[2; 20], late).unwrap_err();
        assert!(expired.to_string().contains("expired"), "{expired}");
    }

    #[test]
    fn only_the_newest_challenges_are_kept() {
        let push = PushState::default();
        let t0 = Instant::now();
        for n in 0..=MAX_OUTSTANDING as u8 {
            push.issue("a1", request(n), false, t0);
        }
        assert!(
            push.answer("a1", &[0; 20], t0).is_err(),
            "the oldest was kept"
        );
        assert!(push.answer("a1", &[MAX_OUTSTANDING as u8; 20], t0).is_ok());
    }

    #[test]
    fn asking_again_soon_after_accepted_evidence_is_too_early() {
        let push = PushState::default();
        let t0 = Instant::now();
        let interval = Duration::from_secs(10);
        assert_eq!(push.too_early("a1", interval, t0), None);
        push.issue("a1", request(1), false, t0);
        push.answer("a1", &[1; 20], t0).unwrap();
        assert_eq!(
            push.too_early("a1", interval, t0 + Duration::from_secs(1)),
            Some(4)
        );
        assert_eq!(
            push.too_early("a1", interval, t0 + Duration::from_secs(6)),
            None
        );
    }

    #[test]
    fn a_tpm_reset_makes_the_next_challenge_ask_for_the_whole_log_once() {
        let push = PushState::default();
        push.restart_log("a1");
        assert!(push.take_fresh("a1"));
        assert!(!push.take_fresh("a1"));
    }
}
