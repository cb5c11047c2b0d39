//! The pull scheduler: attests every active agent on its own cadence (interval with jitter,
//! exponential backoff while it is unreachable, first attestations spread over one interval),
//! with bounded concurrency, and never two attestations of one agent at once (each reads and
//! advances the agent's state). All it keeps in memory is when each agent is due: a restart
//! re-reads the agents and resumes from their stored verification state.

pub mod cadence;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Semaphore;

pub use self::cadence::Cadence;
use crate::attest::{self, Context};
use crate::error::ApiError;
use crate::store::{Outcome, ResultRecord};

/// Runs attestations.
#[derive(Debug)]
pub struct Scheduler {
    ctx: Arc<Context>,
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// When one agent is due, and how many of its attestations in a row were errors.
#[derive(Debug, Clone, Copy)]
struct Slot {
    due: Instant,
    errors: u32,
    running: bool,
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
            for id in self.take_due(Instant::now()) {
                tokio::spawn(self.clone().attest_due(id, cadence));
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
        let active: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        slots.retain(|id, _| active.contains(id.as_str()));
        for id in ids.iter() {
            slots.entry(id.clone()).or_insert_with(|| Slot {
                due: now + cadence.first(rand::random()),
                errors: 0,
                running: false,
            });
        }
    }

    /// Marks every due, idle agent running and returns their ids.
    fn take_due(&self, now: Instant) -> Vec<String> {
        let mut slots = self.slots();
        slots
            .iter_mut()
            .filter(|(_, s)| !s.running && s.due <= now)
            .map(|(id, s)| {
                s.running = true;
                id.clone()
            })
            .collect()
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
