//! Cluster policies in the verifier: one actor thread owns the incremental evaluator
//! (`palisade_cluster_policy::Evaluator`; regorus is blocking CPU work, never run on an async
//! worker). Every stored result sends the node's document — built from verified evidence
//! only; a node whose evidence did not verify carries that fact and no content; what changes
//! in the findings is logged, streamed and alerted. `load` reads and versions the policies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use palisade_cluster_policy::cluster::Report;
use palisade_cluster_policy::{Evaluator, Finding, Limits, PolicySet, Scope};
use palisade_evidence::verify::{Judgement, VerifiedDocument};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::exposures::ExposureCache;
use crate::input;
use crate::live::Live;
use crate::store::{Outcome, Store};

/// What one stored result tells the cluster view.
#[derive(Debug)]
pub struct NodeUpdate {
    /// Agent id.
    pub id: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its dedicated PCR.
    pub pcr: u8,
    /// The result's outcome.
    pub outcome: Outcome,
    /// When (unix seconds).
    pub at: i64,
    /// The verified documents (empty when the evidence did not verify).
    pub documents: BTreeMap<String, VerifiedDocument>,
}

/// Findings that appeared and cleared with one update.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Delta {
    /// New findings.
    pub raised: Vec<Finding>,
    /// Findings no longer reported.
    pub cleared: Vec<Finding>,
}

enum Msg {
    Update(Box<NodeUpdate>, oneshot::Sender<()>),
    Remove(String, i64),
    Report(oneshot::Sender<Report>),
    Node(String, oneshot::Sender<Option<(Value, Vec<Finding>)>>),
    Set(oneshot::Sender<PolicySet>),
    Replace(Box<PolicySet>, oneshot::Sender<()>),
}

/// The handle the verifier holds; cheap to clone.
#[derive(Debug, Clone)]
pub struct ClusterView {
    tx: mpsc::Sender<Msg>,
    /// Held across one policy change (read the set, validate, store, replace).
    changes: Arc<tokio::sync::Mutex<()>>,
    limits: Limits,
}

/// The actor has stopped (it panicked): nothing more can be evaluated.
#[derive(Debug, thiserror::Error)]
#[error("the cluster policy evaluator is not running")]
pub struct Stopped;

impl ClusterView {
    /// Starts the actor thread over `set` (changed sets are loaded under `limits`), and the task
    /// (on the current tokio runtime) that logs each change of findings, sends it to live
    /// watchers and queues its alert.
    pub fn start(
        set: PolicySet,
        limits: Limits,
        exposures: Arc<ExposureCache>,
        live: Live,
        store: Store,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (deltas, mut changes) = tokio::sync::mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("cluster-policy".into())
            .spawn(move || run(Evaluator::new(set), &exposures, &rx, &deltas))?;
        tokio::spawn(async move {
            while let Some(delta) = changes.recv().await {
                deliver(&live, &store, &delta).await;
            }
        });
        Ok(Self {
            tx,
            changes: Arc::default(),
            limits,
        })
    }

    /// Feeds one stored result; returns once it is evaluated (changes are delivered apart).
    pub async fn update(&self, update: NodeUpdate) -> Result<(), Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Update(Box::new(update), reply))
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// An agent was removed.
    pub fn remove(&self, id: &str) {
        let _ = self.tx.send(Msg::Remove(id.to_owned(), unix_now()));
    }

    /// The fleet's report.
    pub async fn report(&self) -> Result<Report, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Msg::Report(reply)).map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Changes the policy in force: `change` gets the current set and returns the new one (it
    /// stores it); the evaluator re-evaluates every node under it. Changes run one at a time.
    pub async fn change<T, F, Fut>(&self, change: F) -> Result<T, ChangeError>
    where
        F: FnOnce(PolicySet, Limits) -> Fut,
        Fut: std::future::Future<Output = Result<(PolicySet, T), ChangeError>>,
    {
        let _one_at_a_time = self.changes.lock().await;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Set(reply))
            .map_err(|_| ChangeError::Stopped)?;
        let current = rx.await.map_err(|_| ChangeError::Stopped)?;
        let (set, out) = change(current, self.limits).await?;
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Replace(Box::new(set), reply))
            .map_err(|_| ChangeError::Stopped)?;
        rx.await.map_err(|_| ChangeError::Stopped)?;
        Ok(out)
    }

    /// One node's document and the findings naming it (`None`: not seen since start).
    pub async fn node(&self, id: &str) -> Result<Option<(Value, Vec<Finding>)>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Node(id.to_owned(), reply))
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

/// How often cluster-scope constraints are re-evaluated when no node changed what they see
/// (time-based templates such as freshness; nodes re-attested unchanged).
const TICK: Duration = Duration::from_secs(1);

fn run(
    mut evaluator: Evaluator,
    exposures: &ExposureCache,
    rx: &mpsc::Receiver<Msg>,
    deltas: &tokio::sync::mpsc::UnboundedSender<Delta>,
) {
    let mut docs: BTreeMap<String, Value> = BTreeMap::new();
    let mut ticking = has_cluster_scope(evaluator.set());
    let mut last_tick = Instant::now();
    loop {
        let wait = TICK.saturating_sub(last_tick.elapsed());
        match rx.recv_timeout(wait) {
            Ok(Msg::Update(update, reply)) => {
                let doc = node_document(&update, exposures);
                changing(&mut evaluator, deltas, |e| {
                    e.upsert(&update.id, &doc, update.at)
                });
                docs.insert(update.id.clone(), doc);
                let _ = reply.send(());
            }
            Ok(Msg::Remove(id, now)) => {
                changing(&mut evaluator, deltas, |e| e.remove(&id, now));
                docs.remove(&id);
            }
            Ok(Msg::Report(reply)) => {
                let _ = reply.send(evaluator.report());
            }
            Ok(Msg::Node(id, reply)) => {
                let found = docs
                    .get(&id)
                    .map(|d| (d.clone(), evaluator.findings_for(&id)));
                let _ = reply.send(found);
            }
            Ok(Msg::Set(reply)) => {
                let _ = reply.send(evaluator.set().clone());
            }
            Ok(Msg::Replace(set, reply)) => {
                ticking = has_cluster_scope(&set);
                changing(&mut evaluator, deltas, |e| {
                    *e = Evaluator::new(*set);
                    e.load_all(docs.clone(), unix_now());
                });
                tracing::info!("cluster policy changed; every node re-evaluated");
                let _ = reply.send(());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
        if ticking && last_tick.elapsed() >= TICK {
            changing(&mut evaluator, deltas, |e| e.tick(unix_now()));
            last_tick = Instant::now();
        }
    }
}

fn has_cluster_scope(set: &PolicySet) -> bool {
    set.constraints()
        .iter()
        .any(|c| set.scope_of(c) == Scope::Cluster)
}

/// Applies `change` and sends which findings it raised and cleared, if any.
fn changing(
    evaluator: &mut Evaluator,
    deltas: &tokio::sync::mpsc::UnboundedSender<Delta>,
    change: impl FnOnce(&mut Evaluator),
) {
    let before = keyed(evaluator.findings());
    change(evaluator);
    let d = delta(&before, &keyed(evaluator.findings()));
    if !d.raised.is_empty() || !d.cleared.is_empty() {
        let _ = deltas.send(d);
    }
}

type Keyed = BTreeMap<String, Finding>;

fn keyed<'a>(findings: impl Iterator<Item = &'a Finding>) -> Keyed {
    findings
        .cloned()
        .map(|f| {
            let key = format!(
                "{}\u{0}{}\u{0}{}",
                f.constraint,
                f.nodes.join(","),
                f.message
            );
            (key, f)
        })
        .collect()
}

fn delta(before: &Keyed, after: &Keyed) -> Delta {
    let old: BTreeSet<&String> = before.keys().collect();
    let new: BTreeSet<&String> = after.keys().collect();
    Delta {
        raised: new
            .difference(&old)
            .filter_map(|k| after.get(*k).cloned())
            .collect(),
        cleared: old
            .difference(&new)
            .filter_map(|k| before.get(*k).cloned())
            .collect(),
    }
}

/// `input.node` for the cluster view: the node-policy input built from the verified
/// documents, with the outcome and time; without verified documents only that fact.
pub fn node_document(update: &NodeUpdate, exposures: &ExposureCache) -> Value {
    let attestation = |verified: bool| {
        json!({"verified": verified, "outcome": update.outcome.as_str(), "at": update.at,
            "pcr": update.pcr})
    };
    if update.documents.is_empty() {
        return json!({
            "id": update.id, "labels": update.labels, "attestation": attestation(false),
            "firewall": null, "network": null, "runtime": null, "boot": null, "ima": null,
        });
    }
    let subject = input::Subject {
        id: &update.id,
        labels: &update.labels,
        pcr: update.pcr,
    };
    let judgement = Judgement {
        reasons: Vec::new(),
        state: None,
        documents: update.documents.clone(),
        clock: None,
    };
    let mut doc = input::node(subject, &judgement, exposures)
        .get("node")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(a) = doc.get_mut("attestation").and_then(Value::as_object_mut) {
        a.insert("outcome".into(), update.outcome.as_str().into());
        a.insert("at".into(), update.at.into());
    }
    doc
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Feeds a stored result to the cluster view. A stopped evaluator is logged, never fatal to
/// the attestation.
pub async fn observe(
    view: &ClusterView,
    agent: &crate::store::AgentRecord,
    result: &crate::store::ResultRecord,
    documents: BTreeMap<String, VerifiedDocument>,
) {
    let update = NodeUpdate {
        id: agent.id.clone(),
        labels: agent.labels.clone(),
        pcr: agent.pcr,
        outcome: result.outcome,
        at: unix_now(),
        documents,
    };
    if let Err(e) = view.update(update).await {
        tracing::error!(error = %e, "cluster policies not evaluated");
    }
}

/// Logs a change of findings, sends it to live watchers (one event per node named) and
/// queues its alert.
async fn deliver(live: &Live, store: &Store, delta: &Delta) {
    for f in &delta.raised {
        tracing::warn!(constraint = %f.constraint, nodes = ?f.nodes, message = %f.message, "cluster policy violated");
    }
    for f in &delta.cleared {
        tracing::info!(constraint = %f.constraint, nodes = ?f.nodes, message = %f.message, "cluster policy violation cleared");
    }
    let at = crate::store::now();
    for (kind, firing, findings) in [
        ("violation", true, &delta.raised),
        ("violation_cleared", false, &delta.cleared),
    ] {
        for f in findings {
            for node in &f.nodes {
                live.publish(crate::live::LiveEvent::cluster(kind, node, f));
            }
            let Some(payload) = crate::alerts::cluster::payload(f, firing, &at) else {
                continue;
            };
            if let Err(error) = store.queue_alert(&f.constraint, &payload).await {
                tracing::error!(%error, constraint = %f.constraint, "cluster alert not queued");
            }
        }
    }
}

/// Rebuilds the cluster view after a (re)start from each monitored agent's latest stored
/// result: its verified documents (read back by digest and checked against it), or — when
/// that result did not verify — only the fact. Without this the view would fill only as agents
/// attest again.
pub async fn restore(store: &Store, view: &ClusterView) -> Result<usize, crate::store::StoreError> {
    let mut restored = 0;
    for agent in store.agents().await? {
        if !agent.monitored() {
            continue;
        }
        let Some(latest) = store.results(&agent.id, 1).await?.into_iter().next() else {
            continue;
        };
        let mut documents = BTreeMap::new();
        for (key, digest) in &latest.documents {
            let Some(bytes) = store.document(digest).await? else {
                continue;
            };
            match palisade_evidence::canonical::Canonical::check_bytes(&bytes) {
                Ok(canonical) if canonical.digest().to_string() == *digest => {
                    documents.insert(key.clone(), VerifiedDocument::new(canonical));
                }
                _ => {
                    tracing::warn!(agent = %agent.id, %key, "stored document does not match its digest; left out")
                }
            }
        }
        let at =
            time::OffsetDateTime::parse(&latest.at, &time::format_description::well_known::Rfc3339)
                .map_or(0, time::OffsetDateTime::unix_timestamp);
        let update = NodeUpdate {
            id: agent.id.clone(),
            labels: agent.labels.clone(),
            pcr: agent.pcr,
            outcome: latest.outcome,
            at,
            documents,
        };
        if view.update(update).await.is_err() {
            break;
        }
        restored += 1;
    }
    Ok(restored)
}

mod active;
pub use active::{import, in_force, put_constraints, put_template, ChangeError};
mod load;
pub use load::{labelled, load_dir, record_objects, walk, LoadError};

#[cfg(test)]
mod tests;
