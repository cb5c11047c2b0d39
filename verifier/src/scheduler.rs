//! The pull scheduler: attests every active agent each interval with bounded concurrency, and
//! never two attestations of one agent at once (each reads and advances the agent's state).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::attest::{self, Context};
use crate::error::ApiError;
use crate::store::{AgentStatus, ResultRecord};

/// Runs attestations.
#[derive(Debug)]
pub struct Scheduler {
    ctx: Arc<Context>,
    permits: Arc<Semaphore>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Scheduler {
    /// A scheduler with at most `concurrency` attestations in flight.
    pub fn new(ctx: Arc<Context>, concurrency: usize) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            permits: Arc::new(Semaphore::new(concurrency)),
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(id.to_owned()).or_default().clone()
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

    /// Every `interval`, starts an attestation of each active agent that has none running.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let agents = match self.ctx.store.agents().await {
                Ok(agents) => agents,
                Err(error) => {
                    tracing::error!(%error, "cannot list agents");
                    continue;
                }
            };
            for agent in agents
                .into_iter()
                .filter(|a| a.status == AgentStatus::Active)
            {
                let lock = self.lock_for(&agent.id);
                let Ok(guard) = lock.try_lock_owned() else {
                    continue;
                };
                let me = self.clone();
                tokio::spawn(async move {
                    let mut queued = me.ctx.metrics.queued();
                    let Ok(_permit) = me.permits.acquire().await else {
                        return;
                    };
                    queued.started();
                    let fresh = me.ctx.store.agent(&agent.id).await;
                    if let Ok(Some(agent)) = fresh {
                        if let Err(error) = attest::attest(&me.ctx, &agent).await {
                            tracing::error!(agent_id = %agent.id, %error, "cannot store the result");
                        }
                    }
                    drop(guard);
                });
            }
        }
    }
}
