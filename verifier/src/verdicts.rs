//! Memo of node-policy verdicts. The node input (`input::node`) is a pure function of the
//! policy, the subject (id, labels, PCR), the verified log length and the verified documents by
//! digest (exposure facts are a function of the ruleset digest), so an agent whose content did
//! not change since its last evaluation gets the same verdict without building the input or
//! running regorus — the steady state of a fleet. A verdict that could not be evaluated is never
//! remembered.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use palisade_evidence::verify::{HostLogCheckpoint, Judgement};
use palisade_evidence::{Reason, ReasonCode, Sha256Digest};

use crate::input::{Subject, INPUT_VERSION};

/// The last verdict per agent.
#[derive(Debug, Default)]
pub struct VerdictCache {
    last: Mutex<HashMap<String, (Sha256Digest, Vec<Reason>)>>,
}

/// Everything `input::node` reads, digested, with the policy that judges it.
pub fn key(policy_hash: &str, subject: Subject<'_>, judgement: &Judgement) -> Sha256Digest {
    let log_entries = judgement
        .state
        .as_ref()
        .and_then(|s| s.log)
        .map(|l| l.offset);
    let documents: Vec<(&str, String)> = judgement
        .documents
        .iter()
        .map(|(k, d)| (k.as_str(), d.canonical.digest().to_string()))
        .collect();
    // The host-log summaries are the policy input's `boot` and `ima`.
    let host_logs = judgement.state.as_ref().map(|s| {
        let summary = |c: &Option<HostLogCheckpoint>| c.as_ref().map(|c| c.summary.clone());
        (summary(&s.boot), summary(&s.ima))
    });
    let material = serde_json::json!([
        INPUT_VERSION,
        policy_hash,
        subject.id,
        subject.labels,
        subject.pcr,
        log_entries,
        documents,
        host_logs,
    ]);
    Sha256Digest::of(material.to_string().as_bytes())
}

impl VerdictCache {
    fn map(&self) -> MutexGuard<'_, HashMap<String, (Sha256Digest, Vec<Reason>)>> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The verdict remembered for `agent` under `key`, if its content is unchanged.
    pub fn get(&self, agent: &str, key: &Sha256Digest) -> Option<Vec<Reason>> {
        let map = self.map();
        map.get(agent)
            .filter(|(k, _)| k == key)
            .map(|(_, reasons)| reasons.clone())
    }

    /// Remembers `reasons` as `agent`'s verdict under `key`, unless the policy could not be
    /// evaluated (that is retried every time).
    pub fn put(&self, agent: &str, key: Sha256Digest, reasons: &[Reason]) {
        if reasons
            .iter()
            .any(|r| r.code == ReasonCode::PolicyUnevaluable)
        {
            self.map().remove(agent);
            return;
        }
        self.map().insert(agent.to_owned(), (key, reasons.to_vec()));
    }

    /// Forgets `agent` (removed).
    pub fn forget(&self, agent: &str) {
        self.map().remove(agent);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use palisade_evidence::canonical::Canonical;
    use palisade_evidence::verify::VerifiedDocument;

    use super::*;

    fn judgement(ruleset: &str) -> Judgement {
        let doc = VerifiedDocument::new(Canonical::from_jcs_bytes(ruleset.as_bytes().to_vec()));
        Judgement {
            documents: [("nftables/host".to_owned(), doc)].into(),
            ..Judgement::default()
        }
    }

    fn subject<'a>(labels: &'a BTreeMap<String, String>) -> Subject<'a> {
        Subject {
            id: "a1",
            labels,
            pcr: 15,
        }
    }

    #[test]
    fn the_key_changes_with_every_input_the_policy_reads() {
        let labels = BTreeMap::new();
        let base = key("p1", subject(&labels), &judgement("{}"));
        assert_eq!(base, key("p1", subject(&labels), &judgement("{}")));
        assert_ne!(base, key("p2", subject(&labels), &judgement("{}")));
        assert_ne!(base, key("p1", subject(&labels), &judgement("{\"a\":1}")));
        let relabelled = [("role".to_owned(), "db".to_owned())].into();
        assert_ne!(base, key("p1", subject(&relabelled), &judgement("{}")));
        let other_pcr = Subject {
            pcr: 14,
            ..subject(&labels)
        };
        assert_ne!(base, key("p1", other_pcr, &judgement("{}")));
    }

    #[test]
    fn verdicts_are_remembered_per_agent_and_unevaluable_ones_never() {
        let cache = VerdictCache::default();
        let labels = BTreeMap::new();
        let k = key("p1", subject(&labels), &judgement("{}"));
        let violation = Reason::new(ReasonCode::PolicyViolation, "ssh open");
        cache.put("a1", k, std::slice::from_ref(&violation));
        assert_eq!(cache.get("a1", &k), Some(vec![violation]));
        assert_eq!(cache.get("a2", &k), None);
        let other = key("p2", subject(&labels), &judgement("{}"));
        assert_eq!(cache.get("a1", &other), None);
        cache.put(
            "a1",
            k,
            &[Reason::new(ReasonCode::PolicyUnevaluable, "timeout")],
        );
        assert_eq!(cache.get("a1", &k), None);
        cache.put("a1", k, &[]);
        cache.forget("a1");
        assert_eq!(cache.get("a1", &k), None);
    }
}
