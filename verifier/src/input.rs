//! The policy input document of one node, built only from verified evidence.

use palisade_evidence::log::kind;
use palisade_evidence::verify::Judgement;
use serde_json::{json, Map, Value};

use crate::store::AgentRecord;

/// Version of the input document's shape.
pub const INPUT_VERSION: u32 = 1;

/// `{"node": {...}}` for a per-node policy. `firewall.ruleset` is the (first) measured ruleset;
/// `firewall.rulesets` has every measured namespace by name.
pub fn node(agent: &AgentRecord, judgement: &Judgement) -> Value {
    let prefix = format!("{}/", kind::NFTABLES);
    let rulesets: Map<String, Value> = judgement
        .documents
        .iter()
        .filter_map(|(key, doc)| {
            key.strip_prefix(&prefix)
                .map(|ns| (ns.to_owned(), doc.clone()))
        })
        .collect();
    let ruleset = rulesets.values().next().cloned().unwrap_or(Value::Null);
    let log_entries = judgement
        .state
        .as_ref()
        .and_then(|s| s.log)
        .map_or(0, |l| l.offset);
    json!({
        "version": INPUT_VERSION,
        "node": {
            "id": agent.id,
            "labels": agent.labels,
            "attestation": {
                "pcr": agent.pcr,
                "tpm_clock": judgement.clock,
                "log_entries": log_entries,
            },
            "firewall": { "ruleset": ruleset, "rulesets": rulesets },
        }
    })
}
