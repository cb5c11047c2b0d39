//! Evaluation of a [`PolicySet`] over the fleet, kept incrementally: node-scope constraints are
//! evaluated per node and re-evaluated only for a node whose document changed; cluster-scope
//! constraints see compact per-node summaries and label groups (built in Rust, never compared
//! pairwise in Rego) and are re-evaluated when any node changes. A constraint that fails to
//! evaluate (runtime error, time limit) is reported as "could not evaluate", never as passing.
//!
//! Blocking (regorus): call from `spawn_blocking` or a dedicated thread.

use std::collections::BTreeMap;

use regorus::Value as Rv;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::engine::Violation;
use crate::model::{Constraint, Enforcement, EvaluateOn, PolicySet, Scope};

mod fleet;

use fleet::{Contribution, Fleet};

/// Version of the report's shape.
pub const REPORT_FORMAT: &str = "palisade.cluster-report/1";

/// One violation of one constraint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The constraint violated.
    pub constraint: String,
    /// Its template.
    pub template: String,
    /// What the violation means.
    pub enforcement: Enforcement,
    /// The nodes it names (one for node-scope templates).
    pub nodes: Vec<String>,
    /// What an operator reads.
    pub message: String,
    /// The template's details.
    pub details: Value,
}

/// A constraint that could not be evaluated (for one node, or for the cluster).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unevaluated {
    /// The constraint.
    pub constraint: String,
    /// The node, for node-scope constraints.
    pub node: Option<String>,
    /// Why.
    pub reason: String,
}

/// Totals of one constraint (like a Gatekeeper audit's `totalViolations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The constraint.
    pub constraint: String,
    /// Its template.
    pub template: String,
    /// Node or cluster.
    pub scope: Scope,
    /// What a violation means.
    pub enforcement: Enforcement,
    /// Nodes the constraint selects.
    pub nodes_selected: usize,
    /// Violations.
    pub violations: usize,
    /// Distinct nodes named by violations.
    pub nodes_violating: usize,
    /// Evaluations that failed.
    pub could_not_evaluate: usize,
}

/// The fleet's state under the policy set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub format: String,
    /// Nodes known.
    pub nodes: usize,
    /// Per constraint, in the set's order.
    pub totals: Vec<Total>,
    /// Every violation.
    pub violations: Vec<Finding>,
    /// Every failed evaluation.
    pub could_not_evaluate: Vec<Unevaluated>,
}

type Outcome = Result<Vec<Finding>, String>;

struct Node {
    labels: BTreeMap<String, String>,
    /// Its firewall digest (none when its evidence did not verify or had none).
    digest: Option<String>,
    /// `input.node`, converted once.
    doc: Rv,
    /// What cluster-scope templates see of it.
    summary: Rv,
    /// The summary without the attestation time: when it changes, cluster-scope constraints
    /// are re-evaluated at once.
    shape: Value,
}

impl Node {
    fn contribution(&self) -> Contribution<'_> {
        Contribution {
            labels: &self.labels,
            digest: self.digest.as_deref(),
            summary: &self.summary,
        }
    }
}

/// The outcomes of one constraint.
#[derive(Debug, Clone, Default)]
struct Slot {
    /// Node scope: per selected node.
    per_node: BTreeMap<String, Outcome>,
    /// Cluster scope.
    cluster: Option<Outcome>,
    /// Cluster scope: the selected nodes, kept up to date node by node.
    fleet: Fleet,
}

/// The evaluated fleet.
pub struct Evaluator {
    set: PolicySet,
    nodes: BTreeMap<String, Node>,
    /// One per constraint, in the set's order.
    slots: Vec<Slot>,
    now: i64,
    /// A node was re-attested without a change cluster-scope constraints would see at once.
    cluster_stale: bool,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("nodes", &self.nodes.len())
            .field("constraints", &self.set.constraints().len())
            .finish()
    }
}

impl Evaluator {
    /// An empty fleet under `set`.
    pub fn new(set: PolicySet) -> Self {
        Self {
            slots: vec![Slot::default(); set.constraints().len()],
            set,
            nodes: BTreeMap::new(),
            now: 0,
            cluster_stale: false,
        }
    }

    /// The policy set.
    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// Loads every node (`id` → `input.node` document) and evaluates everything once; `now`
    /// is the time (unix seconds) cluster-scope templates compare attestation times with.
    pub fn load_all(&mut self, nodes: impl IntoIterator<Item = (String, Value)>, now: i64) {
        self.add_all(nodes, now);
        self.evaluate_all();
    }

    /// The first half of [`Evaluator::load_all`]: stores every node's document (converted to
    /// regorus values once) without evaluating; findings are stale until
    /// [`Evaluator::evaluate_all`].
    pub fn add_all(&mut self, nodes: impl IntoIterator<Item = (String, Value)>, now: i64) {
        self.now = now;
        for (id, doc) in nodes {
            self.insert(id, &doc);
        }
    }

    /// Evaluates every constraint over every node from scratch.
    pub fn evaluate_all(&mut self) {
        let ids: Vec<String> = self.nodes.keys().cloned().collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.evaluate_nodes(&ids);
        self.evaluate_cluster(EvaluateOn::Tick);
    }

    /// A node's new document: re-evaluates its node-scope constraints, and the cluster-scope
    /// ones when what they see of it changed (labels, outcome, verification, firewall
    /// digests; not only the attestation time — [`Evaluator::tick`] catches up on that, and
    /// on the constraints of templates evaluated on the tick only).
    pub fn upsert(&mut self, id: &str, doc: &Value, now: i64) {
        self.now = now;
        let changed = self.insert(id.to_owned(), doc);
        self.evaluate_nodes(&[id]);
        if changed {
            self.evaluate_cluster(EvaluateOn::Change);
        } else {
            self.cluster_stale = true;
        }
    }

    /// Time passed (and maybe nodes were re-attested unchanged): re-evaluates the
    /// cluster-scope constraints, e.g. freshness, at `now`. Call it periodically (the
    /// verifier: every second).
    pub fn tick(&mut self, now: i64) {
        self.now = now;
        self.evaluate_cluster(EvaluateOn::Tick);
    }

    /// The `input.cluster` document the cluster-scope constraint `name` is evaluated over now
    /// (`None`: no such cluster-scope constraint), for `policy explain`-style debugging and
    /// for feeding the same input to other engines.
    pub fn cluster_input(&self, name: &str) -> Option<Value> {
        let (c, slot) = self
            .set
            .constraints()
            .iter()
            .zip(&self.slots)
            .find(|(c, _)| c.name == name)?;
        if self.set.scope_of(c) != Scope::Cluster {
            return None;
        }
        serde_json::to_value(slot.fleet.input(self.now)).ok()
    }

    /// Whether a re-attestation is waiting for [`Evaluator::tick`].
    pub fn cluster_stale(&self) -> bool {
        self.cluster_stale
    }

    /// A node left the fleet.
    pub fn remove(&mut self, id: &str, now: i64) {
        self.now = now;
        if let Some(old) = self.nodes.remove(id) {
            for (c, slot) in self.set.constraints().iter().zip(&mut self.slots) {
                slot.per_node.remove(id);
                if self.set.scope_of(c) == Scope::Cluster && c.selector.selects(&old.labels) {
                    slot.fleet.remove(id, &old.contribution());
                }
            }
            self.evaluate_cluster(EvaluateOn::Tick);
        }
    }

    /// The findings that name `id`, from node- and cluster-scope constraints.
    pub fn findings_for(&self, id: &str) -> Vec<Finding> {
        self.findings()
            .filter(|f| f.nodes.iter().any(|n| n == id))
            .cloned()
            .collect()
    }

    /// The whole fleet's report.
    pub fn report(&self) -> Report {
        let mut totals = Vec::new();
        let mut could_not_evaluate = Vec::new();
        for (c, slot) in self.set.constraints().iter().zip(&self.slots) {
            let (found, failed) = outcomes_of(c, slot);
            let mut violating: Vec<&String> = found.iter().flat_map(|f| &f.nodes).collect();
            violating.sort();
            violating.dedup();
            totals.push(Total {
                constraint: c.name.clone(),
                template: c.template.clone(),
                scope: self.set.scope_of(c),
                enforcement: c.enforcement,
                nodes_selected: self
                    .nodes
                    .values()
                    .filter(|n| c.selector.selects(&n.labels))
                    .count(),
                violations: found.len(),
                nodes_violating: violating.len(),
                could_not_evaluate: failed.len(),
            });
            could_not_evaluate.extend(failed);
        }
        Report {
            format: REPORT_FORMAT.to_owned(),
            nodes: self.nodes.len(),
            totals,
            violations: self.findings().cloned().collect(),
            could_not_evaluate,
        }
    }

    /// Every current finding (cheaper than a whole [`Evaluator::report`]).
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.slots
            .iter()
            .flat_map(|s| s.per_node.values().chain(&s.cluster))
            .filter_map(|o| o.as_ref().ok())
            .flatten()
    }

    /// Stores `doc` (and its part of every cluster-scope constraint's fleet); returns whether
    /// the node is new or its summary's shape changed.
    fn insert(&mut self, id: String, doc: &Value) -> bool {
        let labels = doc
            .get("labels")
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        let summary = summary(&id, doc);
        let digest = summary
            .pointer("/firewall/digest")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        let mut shape = summary.clone();
        if let Some(a) = shape.get_mut("attestation").and_then(Value::as_object_mut) {
            a.remove("at");
        }
        let node = Node {
            labels,
            digest,
            doc: to_regorus(doc),
            summary: Rv::from(summary),
            shape,
        };
        let old = self.nodes.remove(&id);
        let changed = old.as_ref().is_none_or(|old| old.shape != node.shape);
        for (c, slot) in self.set.constraints().iter().zip(&mut self.slots) {
            if self.set.scope_of(c) != Scope::Cluster {
                continue;
            }
            let was = old.as_ref().filter(|o| c.selector.selects(&o.labels));
            let is = c.selector.selects(&node.labels);
            match was {
                // Same groups, same digest (a re-attestation): only the summary moves.
                Some(o) if is && o.labels == node.labels && o.digest == node.digest => {
                    slot.fleet.set_summary(&id, &node.summary);
                }
                _ => {
                    if let Some(o) = was {
                        slot.fleet.remove(&id, &o.contribution());
                    }
                    if is {
                        slot.fleet.add(&id, &node.contribution());
                    }
                }
            }
        }
        self.nodes.insert(id, node);
        changed
    }

    /// Re-evaluates the node-scope constraints for `ids`: one engine per constraint for all
    /// of them (parameters converted once), never one per node and constraint.
    fn evaluate_nodes(&mut self, ids: &[&str]) {
        for (c, slot) in self.set.constraints().iter().zip(&mut self.slots) {
            let Some(t) = self.set.template_of(c) else {
                continue;
            };
            if t.spec.scope != Scope::Node {
                continue;
            }
            let parameters = Rv::from(c.parameters.clone());
            let mut session = t.policy.session();
            for id in ids {
                let Some(node) = self.nodes.get(*id) else {
                    continue;
                };
                if !c.selector.selects(&node.labels) {
                    slot.per_node.remove(*id);
                    continue;
                }
                let input = object([
                    ("node", node.doc.clone()),
                    ("parameters", parameters.clone()),
                ]);
                let outcome = session
                    .evaluate(input)
                    .map(|vs| vs.into_iter().map(|v| finding(c, v, Some(id))).collect())
                    .map_err(|e| e.to_string());
                slot.per_node.insert((*id).to_owned(), outcome);
            }
        }
    }

    /// Re-evaluates the cluster-scope constraints: all of them on the tick (`Tick`), those
    /// evaluated on change only after a change (`Change`).
    fn evaluate_cluster(&mut self, on: EvaluateOn) {
        let mut deferred = false;
        for (c, slot) in self.set.constraints().iter().zip(&mut self.slots) {
            let Some(t) = self.set.template_of(c) else {
                continue;
            };
            if t.spec.scope != Scope::Cluster {
                continue;
            }
            if on == EvaluateOn::Change && t.spec.evaluate_on == EvaluateOn::Tick {
                deferred = true;
                continue;
            }
            let input = object([
                ("cluster", slot.fleet.input(self.now)),
                ("parameters", Rv::from(c.parameters.clone())),
            ]);
            let outcome = t
                .policy
                .evaluate_value(input)
                .map(|vs| vs.into_iter().map(|v| finding(c, v, None)).collect())
                .map_err(|e| e.to_string());
            slot.cluster = Some(outcome);
        }
        self.cluster_stale = deferred;
    }
}

/// The findings and failed evaluations of one constraint.
fn outcomes_of<'a>(c: &Constraint, slot: &'a Slot) -> (Vec<&'a Finding>, Vec<Unevaluated>) {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    let per_node = slot.per_node.iter().map(|(n, o)| (Some(n), o));
    for (node, outcome) in per_node.chain(slot.cluster.iter().map(|o| (None, o))) {
        match outcome {
            Ok(f) => found.extend(f),
            Err(reason) => failed.push(Unevaluated {
                constraint: c.name.clone(),
                node: node.cloned(),
                reason: reason.clone(),
            }),
        }
    }
    (found, failed)
}

/// What cluster-scope templates see of a node: identity, attestation, firewall digests.
fn summary(id: &str, doc: &Value) -> Value {
    let firewall = doc.get("firewall").filter(|f| f.is_object());
    json!({
        "id": id,
        "labels": doc.get("labels").cloned().unwrap_or_else(|| json!({})),
        "attestation": doc.get("attestation").cloned().unwrap_or(Value::Null),
        "firewall": {
            "digest": firewall.and_then(|f| f.get("digest")).cloned().unwrap_or(Value::Null),
            "digests": firewall.and_then(|f| f.get("digests")).cloned().unwrap_or_else(|| json!({})),
        },
    })
}

/// `doc` as a regorus value, read in place (`Rv::from` takes the document by value: cloning a
/// node's document first cost as much as judging it).
fn to_regorus(doc: &Value) -> Rv {
    Rv::deserialize(doc).unwrap_or_else(|_| Rv::from(doc.clone()))
}

fn object<const N: usize>(fields: [(&str, Rv); N]) -> Rv {
    let map: BTreeMap<Rv, Rv> = fields.into_iter().map(|(k, v)| (Rv::from(k), v)).collect();
    Rv::from(map)
}

fn finding(c: &Constraint, v: Violation, node: Option<&str>) -> Finding {
    let nodes = match node {
        Some(id) => vec![id.to_owned()],
        None => v
            .details
            .get("nodes")
            .and_then(Value::as_array)
            .map(|ns| {
                ns.iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let details = v.details.get("details").cloned().unwrap_or(v.details);
    Finding {
        constraint: c.name.clone(),
        template: c.template.clone(),
        enforcement: c.enforcement,
        nodes,
        message: v.message,
        details,
    }
}

#[cfg(test)]
mod tests;
