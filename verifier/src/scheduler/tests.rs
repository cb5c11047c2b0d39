//! Scheduler behaviour against a real SQLite store and agents that cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use palisade_cluster_policy::{library, Limits};
use palisade_transport::pki::{self, Usage};

use super::{Cadence, Scheduler};
use crate::agents::AgentClients;
use crate::attest::Context;
use crate::audit::key::RecordKey;
use crate::metrics::Metrics;
use crate::store::{testing, Outcome, Store};

/// A context whose agents are all unreachable (nothing listens on port 1).
async fn context(dir: &tempfile::TempDir, agents: &[&str]) -> Arc<Context> {
    let store = testing::open(dir).await;
    for id in agents {
        activate(&store, id).await;
    }
    let ca = pki::new_ca("test-ca").unwrap();
    let client = pki::issue(&ca, "verifier", &[], Usage::Client).unwrap();
    Arc::new(Context {
        host_logs: Default::default(),
        store,
        policy: Arc::new(library::foundation(Limits::default()).unwrap()),
        clients: AgentClients::new(client, Duration::from_millis(200)),
        exposures: Arc::default(),
        records: Arc::new(RecordKey::generate()),
        metrics: Metrics::default(),
        live: Default::default(),
        verdicts: Default::default(),
        cluster: None,
    })
}

async fn activate(store: &Store, id: &str) {
    testing::register(store, &testing::request(id, "https://127.0.0.1:1")).await;
    let pending = store.pending(id).await.unwrap().unwrap();
    store
        .activate(&pending, "unverified: test", None, false)
        .await
        .unwrap();
}

async fn attempts(ctx: &Context, id: &str) -> Vec<Outcome> {
    let results = ctx.store.results(id, 1000).await.unwrap();
    results.into_iter().map(|r| r.outcome).collect()
}

#[tokio::test]
async fn unreachable_agent_is_retried_with_exponential_backoff_not_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir, &["a1"]).await;
    let scheduler = Scheduler::new(ctx.clone(), 4);
    let cadence = Cadence::new(Duration::from_millis(50), Duration::from_secs(60));
    let task = tokio::spawn(scheduler.run(cadence));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    task.abort();
    let seen = attempts(&ctx, "a1").await;
    // Every 50 ms would be ~32 attempts; doubling from 100 ms gives attempts near 0, 0.1, 0.3,
    // 0.7 and 1.5 s (each ±10 %).
    assert!(
        (3..=6).contains(&seen.len()),
        "{} attempts in 1.6 s",
        seen.len()
    );
    assert!(seen.iter().all(|o| *o == Outcome::Error), "{seen:?}");
}

#[tokio::test]
async fn agents_enrolled_or_removed_while_running_are_picked_up_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir, &["a1"]).await;
    let scheduler = Scheduler::new(ctx.clone(), 4);
    // A long backoff cap is irrelevant here; each agent's first attempt is what is counted.
    let cadence = Cadence::new(Duration::from_millis(50), Duration::from_secs(60));
    let task = tokio::spawn(scheduler.clone().run(cadence));
    tokio::time::sleep(Duration::from_millis(200)).await;
    activate(&ctx.store, "a2").await;
    assert!(ctx.store.remove("a1").await.unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    assert!(!attempts(&ctx, "a2").await.is_empty(), "a2 never attested");
    assert!(
        !scheduler.slots().contains_key("a1"),
        "a removed agent is still scheduled"
    );
}
