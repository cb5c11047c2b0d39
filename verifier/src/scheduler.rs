//! The scheduler: attests every active pull-mode agent on its own cadence (interval with jitter,
//! exponential backoff while it is unreachable, first attestations spread over one interval),
//! judges evidence push-mode agents send, and marks a push-mode agent `missed` when its evidence
//! stops arriving — with bounded concurrency, and never two attestations of one agent at once
//! (each reads and advances the agent's state). All it keeps in memory is when each agent is
//! due: a restart re-reads the agents and resumes from their stored verification state (push
//! agents get a full liveness window after a restart, so a restart raises no `missed`).

pub mod cadence;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Semaphore;

pub use self::cadence::Cadence;
use palisade_evidence::wire::Evidence;

use crate::attest::{self, Context, Source};
use crate::error::ApiError;
use crate::live::LiveEvent;
use crate::push::Outstanding;
use crate::store::{AgentRecord, Outcome, ResultRecord};

/// Runs attestations.
#[derive(Debug)]
pub struct Scheduler {
    ctx: Arc<Context>,
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// When one agent is due (pull: its next attestation; push: its liveness deadline), and how
/// many of its attestations in a row were errors.
#[derive(Debug, Clone, Copy)]
struct Slot {
    due: Instant,
    errors: u32,
    running: bool,
    push: bool,
}

impl Scheduler {
    /// A scheduler with at most `concurrency` attestations in flight.
    pub fn new(ctx: Arc<Context>, concurrency: usize) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            permits: Arc::new(Semaphore::new(concurrency)),
            locks: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
        })
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attests one agent now (waiting for an attestation already running for it).
    pub async fn attest_now(&self, id: &str) -> Result<ResultRecord, ApiError> {
        let lock = self.lock_for(id);
        let mut queued = self.ctx.metrics.queued();
        let _guard = lock.lock().await;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        queued.started();
        // Re-read under the lock: the state may have advanced while we waited.
        let agent = self
            .ctx
            .store
            .agent(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no agent {id}")))?;
        if agent.push {
            return Err(ApiError::Conflict(format!(
                "agent {id} is in push mode: it sends its evidence, the verifier cannot pull it"
            )));
        }
        Ok(attest::attest(&self.ctx, &agent).await?)
    }

    /// Attests each active agent whenever it is due, until the task is dropped.
    pub async fn run(self: Arc<Self>, cadence: Cadence) {
        let mut ticker = tokio::time::interval(cadence.tick());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refreshed: Option<Instant> = None;
        loop {
            ticker.tick().await;
            if refreshed.is_none_or(|at| at.elapsed() >= cadence.refresh()) {
                self.refresh(&cadence).await;
                refreshed = Some(Instant::now());
            }
            for (id, push) in self.take_due(Instant::now()) {
                if push {
                    tokio::spawn(self.clone().missed(id, cadence));
                } else {
                    tokio::spawn(self.clone().attest_due(id, cadence));
                }
            }
        }
    }

    /// Adopts the store's list of active agents: new ones are due within one interval (spread
    /// at random), removed ones are forgotten.
    async fn refresh(&self, cadence: &Cadence) {
        let ids = match self.ctx.store.active_ids().await {
            Ok(ids) => ids,
            Err(error) => {
                tracing::error!(%error, "cannot list agents");
                return;
            }
        };
        let now = Instant::now();
        let mut slots = self.slots();
        let active: std::collections::HashMap<&str, bool> =
            ids.iter().map(|(id, push)| (id.as_str(), *push)).collect();
        slots.retain(|id, slot| active.get(id.as_str()) == Some(&slot.push));
        for (id, push) in ids.iter() {
            slots.entry(id.clone()).or_insert_with(|| Slot {
                due: now
                    + if *push {
                        cadence.missed_after()
                    } else {
                        cadence.first(rand::random())
                    },
                errors: 0,
                running: false,
                push: *push,
            });
        }
    }

    /// Marks every due, idle agent running and returns their ids, each with its mode.
    fn take_due(&self, now: Instant) -> Vec<(String, bool)> {
        let mut slots = self.slots();
        slots
            .iter_mut()
            .filter(|(_, s)| !s.running && s.due <= now)
            .map(|(id, s)| {
                s.running = true;
                (id.clone(), s.push)
            })
            .collect()
    }

    /// A push-mode agent's evidence arrived: its liveness deadline is `window` from now.
    pub fn heard(&self, id: &str, window: std::time::Duration) {
        if let Some(slot) = self.slots().get_mut(id) {
            slot.due = Instant::now() + window;
        }
    }

    /// A push-mode agent's liveness deadline passed: it is `missed` (stored, alerted and shown
    /// once), and the next deadline is one window away.
    async fn missed(self: Arc<Self>, id: String, cadence: Cadence) {
        match self.ctx.store.mark_missed(&id).await {
            Ok(true) => {
                tracing::warn!(agent_id = %id, window = ?cadence.missed_after(), "push-mode agent missed its attestation");
                self.ctx.live.publish(LiveEvent::membership("missed", &id));
            }
            Ok(false) => {}
            Err(error) => tracing::error!(agent_id = %id, %error, "cannot mark the agent missed"),
        }
        if let Some(slot) = self.slots().get_mut(&id) {
            slot.running = false;
            slot.due = Instant::now() + cadence.missed_after();
        }
    }

    /// Judges evidence a push-mode agent sent over `challenge` (after any attestation of it
    /// still running). Whether it showed a TPM reset.
    pub async fn attest_pushed(
        &self,
        agent: AgentRecord,
        challenge: Outstanding,
        evidence: Evidence,
    ) -> bool {
        let lock = self.lock_for(&agent.id);
        let mut queued = self.ctx.metrics.queued();
        let _guard = lock.lock().await;
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        queued.started();
        // Re-read under the lock: an earlier push may have advanced the state.
        let agent = match self.ctx.store.agent(&agent.id).await {
            Ok(Some(fresh)) => fresh,
            Ok(None) => return false,
            Err(error) => {
                tracing::error!(agent_id = %agent.id, %error, "cannot read the agent");
                return false;
            }
        };
        let source = Source::Pushed {
            request: challenge.request,
            evidence: Box::new(evidence),
            fresh_log: challenge.fresh_log,
        };
        match attest::attest_with(&self.ctx, &agent, source).await {
            Ok(attested) => attested.tpm_reset,
            Err(error) => {
                tracing::error!(agent_id = %agent.id, %error, "cannot store the result");
                false
            }
        }
    }

    /// One scheduled attestation, then the agent's next due time.
    async fn attest_due(self: Arc<Self>, id: String, cadence: Cadence) {
        let outcome = self.attest_scheduled(&id).await;
        let mut slots = self.slots();
        let Some(slot) = slots.get_mut(&id) else {
            return;
        };
        slot.running = false;
        match outcome {
            // Still being attested on demand: look again at the next tick.
            None => {}
            Some(Outcome::Error) => slot.errors = slot.errors.saturating_add(1),
            Some(_) => slot.errors = 0,
        }
        if outcome.is_some() {
            slot.due = Instant::now() + cadence.next(slot.errors, rand::random());
        }
    }

    /// Attests `id` unless an attestation of it is already running; the stored outcome.
    async fn attest_scheduled(&self, id: &str) -> Option<Outcome> {
        let lock = self.lock_for(id);
        let _guard = lock.try_lock_owned().ok()?;
        let mut queued = self.ctx.metrics.queued();
        let _permit = self.permits.acquire().await.ok()?;
        queued.started();
        let agent = match self.ctx.store.agent(id).await {
            Ok(Some(agent)) => agent,
            Ok(None) => {
                self.slots().remove(id);
                return None;
            }
            Err(error) => {
                tracing::error!(agent_id = %id, %error, "cannot read the agent");
                return Some(Outcome::Error);
            }
        };
        match attest::attest(&self.ctx, &agent).await {
            Ok(result) => Some(result.outcome),
            Err(error) => {
                tracing::error!(agent_id = %id, %error, "cannot store the result");
                Some(Outcome::Error)
            }
        }
    }
}

#[cfg(test)]
mod tests;
