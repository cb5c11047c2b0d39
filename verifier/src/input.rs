//! The policy input document of one node, built only from verified evidence.

use std::collections::BTreeMap;

use palisade_evidence::log::kind;
use palisade_evidence::verify::{HostLogCheckpoint, Judgement, VerifiedDocument, VerifiedState};
use palisade_firewall::exposure::exposure;
use palisade_firewall::Ruleset;
use serde_json::{json, Map, Value};

use crate::exposures::ExposureCache;
use crate::store::AgentRecord;

/// Version of the input document's shape.
pub const INPUT_VERSION: u32 = 4;

/// Who the evidence is from, as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Agent identifier.
    pub id: &'a str,
    /// Operator-assigned labels.
    pub labels: &'a BTreeMap<String, String>,
    /// Dedicated PCR.
    pub pcr: u8,
}

impl<'a> From<&'a AgentRecord> for Subject<'a> {
    fn from(agent: &'a AgentRecord) -> Self {
        Self {
            id: &agent.id,
            labels: &agent.labels,
            pcr: agent.pcr,
        }
    }
}

/// `{"node": {...}}` for a per-node policy. `firewall.ruleset` is the (first) measured ruleset;
/// `firewall.rulesets` has every measured namespace by name. `firewall.exposure` and
/// `firewall.exposures` are the exposure facts (`docs/exposure.md`) computed from the same
/// verified documents; a namespace whose document could not be read back into the model has
/// `null` there and the reason in `firewall.exposure_errors`.
///
/// Computing exposure is CPU work (linear in the rules, seconds at 100k: BENCHMARKS.md):
/// callers run this off the async workers (`attest` builds the input inside the policy's
/// `spawn_blocking`), and facts are computed once per ruleset digest (`cache`). A ruleset the
/// engine cannot finish within its memory budget gets facts that say so (`truncated`:
/// everything possible), which the foundation policy fails: closed, never a stalled verifier.
pub fn node(agent: Subject<'_>, judgement: &Judgement, cache: &ExposureCache) -> Value {
    let prefix = format!("{}/", kind::NFTABLES);
    let docs: BTreeMap<&str, &VerifiedDocument> = judgement
        .documents
        .iter()
        .filter_map(|(key, doc)| key.strip_prefix(&prefix).map(|ns| (ns, doc)))
        .collect();
    let rulesets: Map<String, Value> = docs
        .iter()
        .map(|(ns, doc)| ((*ns).to_owned(), doc.value().clone()))
        .collect();
    let ruleset = rulesets.values().next().cloned().unwrap_or(Value::Null);
    let (exposures, errors) = exposures(&docs, cache);
    let first_exposure = exposures.values().next().cloned().unwrap_or(Value::Null);
    let log_entries = judgement
        .state
        .as_ref()
        .and_then(|s| s.log)
        .map_or(0, |l| l.offset);
    let digests: Map<String, Value> = docs
        .iter()
        .map(|(ns, doc)| ((*ns).to_owned(), doc.canonical.digest().to_string().into()))
        .collect();
    let digest = digests.values().next().cloned().unwrap_or(Value::Null);
    let by_kind = |k: &str| -> Map<String, Value> {
        let prefix = format!("{k}/");
        judgement
            .documents
            .iter()
            .filter_map(|(key, doc)| {
                Some((key.strip_prefix(&prefix)?.to_owned(), doc.value().clone()))
            })
            .collect()
    };
    let kernel = by_kind(kind::KERNEL)
        .into_iter()
        .next()
        .map_or(Value::Null, |(_, v)| v);
    json!({
        "version": INPUT_VERSION,
        "node": {
            "id": agent.id,
            "labels": agent.labels,
            "attestation": {
                "verified": true,
                "pcr": agent.pcr,
                "log_entries": log_entries,
            },
            "firewall": {
                "digest": digest,
                "digests": digests,
                "ruleset": ruleset,
                "rulesets": rulesets,
                "exposure": first_exposure,
                "exposures": exposures,
                "exposure_errors": errors,
            },
            "network": by_kind(kind::NETWORK),
            "runtime": {
                "bpf": by_kind(kind::BPF),
                "sockets": by_kind(kind::SOCKETS),
                "kernel": kernel,
            },
            // The verifier's summaries of the UEFI boot log and the IMA list (`host_logs.rs`);
            // null when the host sent none.
            "boot": host_log(judgement, |s| s.boot.as_ref()),
            "ima": host_log(judgement, |s| s.ima.as_ref()),
        }
    })
}

/// A host log's summary in the judgement's new state, or null.
fn host_log(
    judgement: &Judgement,
    pick: impl Fn(&VerifiedState) -> Option<&HostLogCheckpoint>,
) -> Value {
    judgement
        .state
        .as_ref()
        .and_then(pick)
        .map_or(Value::Null, |c| c.summary.clone())
}

/// Exposure facts per namespace, and why a namespace has none.
fn exposures(
    docs: &BTreeMap<&str, &VerifiedDocument>,
    cache: &ExposureCache,
) -> (Map<String, Value>, Map<String, Value>) {
    let mut out = Map::new();
    let mut errors = Map::new();
    for (ns, doc) in docs {
        let digest = doc.canonical.digest().to_string();
        let facts = cache.get_or_compute(&digest, || {
            let ruleset =
                Ruleset::from_canonical(doc.canonical.as_bytes()).map_err(|e| e.to_string())?;
            let facts = exposure(&ruleset);
            let bytes = serde_json::to_vec(&facts).map_err(|e| e.to_string())?.len();
            let value = serde_json::to_value(facts).map_err(|e| e.to_string())?;
            Ok((value, bytes))
        });
        match facts {
            Ok(v) => {
                out.insert((*ns).to_owned(), Value::clone(&v));
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
