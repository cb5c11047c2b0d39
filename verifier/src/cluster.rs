//! Cluster policies in the verifier: one actor thread owns the incremental evaluator
//! (`palisade_cluster_policy::Evaluator`; regorus is blocking CPU work, never run on an async
//! worker). Every stored result sends the node's document — built from verified evidence
//! only; a node whose evidence did not verify carries that fact and no content — and gets back
//! which findings appeared and which cleared.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use palisade_cluster_policy::cluster::Report;
use palisade_cluster_policy::{
    library, Constraint, Evaluator, Finding, Limits, ModelError, PolicySet, Template, TemplateSpec,
};
use palisade_evidence::verify::{Judgement, VerifiedDocument};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::exposures::ExposureCache;
use crate::input;
use crate::store::Outcome;

/// Why the cluster policy directory does not load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read or parsed.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Templates or constraints are inconsistent.
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// The shipped templates, replaced or extended by `dir`'s (`<name>/template.json` with
/// `template.rego` beside it), and `dir`'s constraints (`constraints.json`,
/// `*.constraints.json`: arrays).
pub fn load_dir(dir: &Path) -> Result<PolicySet, LoadError> {
    let mut templates: Vec<Template> = library::templates(Limits::default())?;
    let mut constraints: Vec<Constraint> = Vec::new();
    for path in walk(dir)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "template.json" {
            let spec: TemplateSpec = read_json(&path)?;
            let rego_path = path.with_file_name("template.rego");
            let rego = std::fs::read_to_string(&rego_path).map_err(|e| file(&rego_path, e))?;
            templates.retain(|t| t.spec.name != spec.name);
            templates.push(Template::load(spec, &rego, Limits::default())?);
        } else if name == "constraints.json" || name.ends_with(".constraints.json") {
            constraints.extend(read_json::<Vec<Constraint>>(&path)?);
        }
    }
    Ok(PolicySet::new(templates, constraints)?)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| file(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| file(path, e))
}

fn file(path: &Path, e: impl std::fmt::Display) -> LoadError {
    LoadError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// Every file under `dir`, sorted.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| file(&d, e))? {
            let path = entry.map_err(|e| file(&d, e))?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

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
    Update(Box<NodeUpdate>, oneshot::Sender<Delta>),
    Remove(String, i64),
    Report(oneshot::Sender<Report>),
    Node(String, oneshot::Sender<Option<(Value, Vec<Finding>)>>),
}

/// The handle the verifier holds; cheap to clone.
#[derive(Debug, Clone)]
pub struct ClusterView {
    tx: mpsc::Sender<Msg>,
}

/// The actor has stopped (it panicked): nothing more can be evaluated.
#[derive(Debug, thiserror::Error)]
#[error("the cluster policy evaluator is not running")]
pub struct Stopped;

impl ClusterView {
    /// Starts the actor thread over `set`.
    pub fn start(set: PolicySet, exposures: Arc<ExposureCache>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("cluster-policy".into())
            .spawn(move || run(Evaluator::new(set), &exposures, &rx))?;
        Ok(Self { tx })
    }

    /// Feeds one stored result; returns what changed.
    pub async fn update(&self, update: NodeUpdate) -> Result<Delta, Stopped> {
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

    /// One node's document and the findings naming it (`None`: not seen since start).
    pub async fn node(&self, id: &str) -> Result<Option<(Value, Vec<Finding>)>, Stopped> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Msg::Node(id.to_owned(), reply))
            .map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }
}

fn run(mut evaluator: Evaluator, exposures: &ExposureCache, rx: &mpsc::Receiver<Msg>) {
    let mut docs: BTreeMap<String, Value> = BTreeMap::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Update(update, reply) => {
                let before = keyed(evaluator.report().violations);
                let doc = node_document(&update, exposures);
                evaluator.upsert(&update.id, &doc, update.at);
                docs.insert(update.id.clone(), doc);
                let after = keyed(evaluator.report().violations);
                let _ = reply.send(delta(&before, &after));
            }
            Msg::Remove(id, now) => {
                evaluator.remove(&id, now);
                docs.remove(&id);
            }
            Msg::Report(reply) => {
                let _ = reply.send(evaluator.report());
            }
            Msg::Node(id, reply) => {
                let found = docs
                    .get(&id)
                    .map(|d| (d.clone(), evaluator.findings_for(&id)));
                let _ = reply.send(found);
            }
        }
    }
}

type Keyed = BTreeMap<String, Finding>;

fn keyed(findings: Vec<Finding>) -> Keyed {
    findings
        .into_iter()
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

/// Feeds a stored result to the cluster view and tells watchers (and the log) which findings
/// appeared and cleared. A stopped evaluator is logged, never fatal to the attestation.
pub async fn observe(
    ctx: &crate::attest::Context,
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
    let delta = match view.update(update).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cluster policies not evaluated");
            return;
        }
    };
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
                ctx.live
                    .publish(crate::live::LiveEvent::cluster(kind, node, f));
            }
            let Some(payload) = crate::alerts::cluster::payload(f, firing, &at) else {
                continue;
            };
            if let Err(error) = ctx.store.queue_alert(&f.constraint, &payload).await {
                tracing::error!(%error, constraint = %f.constraint, "cluster alert not queued");
            }
        }
    }
}
