//! The policy input document of one node, built only from verified evidence.

use std::collections::BTreeMap;

use palisade_evidence::log::kind;
use palisade_evidence::verify::{Judgement, VerifiedDocument};
use palisade_firewall::exposure::exposure;
use palisade_firewall::Ruleset;
use serde_json::{json, Map, Value};

use crate::store::AgentRecord;

/// Largest ruleset (in rules) whose exposure facts the verifier computes.
pub const MAX_EXPOSURE_RULES: usize = 2_000;

/// Version of the input document's shape.
pub const INPUT_VERSION: u32 = 2;

/// `{"node": {...}}` for a per-node policy. `firewall.ruleset` is the (first) measured ruleset;
/// `firewall.rulesets` has every measured namespace by name. `firewall.exposure` and
/// `firewall.exposures` are the exposure facts (`docs/exposure.md`) computed from the same
/// verified documents; a namespace whose document could not be read back into the model has
/// `null` there and the reason in `firewall.exposure_errors`.
///
/// Computing exposure is CPU work: callers run this off the async workers (`attest` builds the
/// input inside the policy's `spawn_blocking`). The engine's cost grows faster than linearly
/// with the number of rules (BENCHMARKS.md), so rulesets above [`MAX_EXPOSURE_RULES`] get no
/// facts and an entry in `exposure_errors` — which the foundation policy treats as a
/// violation: fail closed, never a verifier stalled by one host.
pub fn node(agent: &AgentRecord, judgement: &Judgement) -> Value {
    let prefix = format!("{}/", kind::NFTABLES);
    let docs: BTreeMap<&str, &VerifiedDocument> = judgement
        .documents
        .iter()
        .filter_map(|(key, doc)| key.strip_prefix(&prefix).map(|ns| (ns, doc)))
        .collect();
    let rulesets: Map<String, Value> = docs
        .iter()
        .map(|(ns, doc)| ((*ns).to_owned(), doc.value.clone()))
        .collect();
    let ruleset = rulesets.values().next().cloned().unwrap_or(Value::Null);
    let (exposures, errors) = exposures(&docs);
    let first_exposure = exposures.values().next().cloned().unwrap_or(Value::Null);
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
            "firewall": {
                "ruleset": ruleset,
                "rulesets": rulesets,
                "exposure": first_exposure,
                "exposures": exposures,
                "exposure_errors": errors,
            },
        }
    })
}

/// Exposure facts per namespace, and why a namespace has none.
fn exposures(docs: &BTreeMap<&str, &VerifiedDocument>) -> (Map<String, Value>, Map<String, Value>) {
    let mut out = Map::new();
    let mut errors = Map::new();
    for (ns, doc) in docs {
        let computed = Ruleset::from_canonical(doc.canonical.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|r| match r.rule_count() {
                n if n > MAX_EXPOSURE_RULES => Err(format!(
                    "{n} rules: exposure is not evaluated above {MAX_EXPOSURE_RULES} rules"
                )),
                _ => serde_json::to_value(exposure(&r)).map_err(|e| e.to_string()),
            });
        match computed {
            Ok(v) => {
                out.insert((*ns).to_owned(), v);
            }
            Err(e) => {
                out.insert((*ns).to_owned(), Value::Null);
                errors.insert((*ns).to_owned(), Value::String(e));
            }
        }
    }
    (out, errors)
}

#[cfg(test)]
mod tests;
