//! Durable records end to end on a real SQLite store: attestations of a software host are
//! sealed, exported and re-checked offline; every kind of tampering is named.

use std::collections::BTreeMap;

use palisade_cluster_policy::{library, Limits, Policy};
use palisade_evidence::testing::SoftHost;
use palisade_evidence::verify::{self, Checked, Expectations, VerifiedState};

use super::export::{export, Selection};
use super::key::RecordKey;
use super::verify::verify;
use super::*;
use crate::attest::policy_reasons;
use crate::exposures::ExposureCache;
use crate::input::Subject;
use crate::store::{testing, Outcome, Seal, Store};

const AGENT: &str = "a1";

struct Bench {
    _dir: tempfile::TempDir,
    store: Store,
    key: RecordKey,
    policy: Policy,
    labels: BTreeMap<String, String>,
    host: SoftHost,
    state: VerifiedState,
}

impl Bench {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::open(&dir).await;
        let host = SoftHost::new(AGENT, 7, 15);
        let mut request = testing::request(AGENT, "https://x:1");
        request.ak_public = host.tpm.ak_public().to_vec();
        let labels = request.labels.clone();
        testing::register(&store, &request).await;
        let policy = library::foundation(Limits::default()).unwrap();
        store
            .save_policy(policy.reference(), policy.modules())
            .await
            .unwrap();
        Self {
            _dir: dir,
            store,
            key: RecordKey::generate(),
            policy,
            labels,
            host,
            state: VerifiedState::default(),
        }
    }

    /// One attestation of the host with `nonce` sent and `answered` in the quote, judged and
    /// stored the way `attest` does.
    async fn attest(&mut self, nonce: &[u8], answered: &[u8]) -> Outcome {
        let evidence = self.host.evidence(answered, self.state.log_offset());
        let expected = Expected {
            ak_public: self.host.tpm.ak_public(),
            dedicated_pcr: 15,
            nonce,
            pcrs: &[15],
            log_offset: self.state.log_offset(),
            previous: &self.state,
        };
        let (check, contents) = Check::of(expected, &evidence);
        let expect = Expectations {
            ak: &self.host.tpm.ak,
            nonce,
            pcrs: &[15],
            dedicated_pcr: 15,
            log_offset: self.state.log_offset(),
            previous: &self.state,
        };
        let Checked::Judged(j) = verify::check(&expect, &evidence) else {
            panic!("reboot")
        };
        let subject = Subject {
            id: AGENT,
            labels: &self.labels,
            pcr: 15,
        };
        let (reasons, state) = if j.reasons.is_empty() {
            (
                policy_reasons(&self.policy, subject, &j, &ExposureCache::default()),
                j.state,
            )
        } else {
            (j.reasons, None)
        };
        let outcome = if reasons.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        };
        let mut result = testing::result(AGENT, outcome);
        result.policy = Some(self.policy.reference().clone());
        result.reasons = reasons;
        let seal = Seal {
            key: &self.key,
            labels: &self.labels,
            check: Some(&check),
            last_result_id: self.last_result_id().await,
        };
        self.store
            .record(&result, &contents, state.as_ref(), &seal)
            .await
            .unwrap();
        if let Some(state) = state {
            self.state = state;
        }
        outcome
    }

    /// The agent's latest result as its row names it (what an attestation reads first), so the
    /// store appends after the chain head it remembers.
    async fn last_result_id(&self) -> Option<i64> {
        self.store
            .agent(AGENT)
            .await
            .unwrap()
            .unwrap()
            .last_result_id
    }

    async fn unreachable(&self) {
        let mut result = testing::result(AGENT, Outcome::Error);
        result.error = Some("agent unreachable".into());
        let seal = Seal {
            key: &self.key,
            labels: &self.labels,
            check: None,
            last_result_id: self.last_result_id().await,
        };
        self.store
            .record(&result, &BTreeMap::new(), None, &seal)
            .await
            .unwrap();
    }

    async fn export(&self) -> Export {
        let all = Selection {
            agent: None,
            from_seq: 0,
            limit: 100,
        };
        export(&self.store, self.key.public_hex(), &all)
            .await
            .unwrap()
    }
}

/// Four records: a first attestation, an incremental one after a ruleset change, a replayed
/// nonce (fail), an unreachable agent (error).
async fn history() -> (Bench, Export) {
    let mut b = Bench::new().await;
    b.attest(b"nonce-1", b"nonce-1").await;
    b.host
        .measure("nftables", "host", &serde_json::json!({"tables": {}}));
    b.host.tpm.clock.clock += 10;
    b.attest(b"nonce-2", b"nonce-2").await;
    assert_eq!(b.attest(b"nonce-3", b"nonce-2").await, Outcome::Fail);
    b.unreachable().await;
    let export = b.export().await;
    (b, export)
}

fn reseal(export: &mut Export, index: usize, key: &RecordKey, edit: impl FnOnce(&mut RecordBody)) {
    let mut body: RecordBody = serde_json::from_str(&export.records[index].body).unwrap();
    edit(&mut body);
    export.records[index] = seal(&body, key).unwrap();
}

fn problems(export: &Export) -> Vec<String> {
    verify(export)
        .unwrap()
        .problems
        .into_iter()
        .map(|p| format!("{}#{}: {}", p.agent, p.seq, p.problem))
        .collect()
}

#[tokio::test]
async fn an_honest_history_re_checks_offline() {
    let (_b, export) = history().await;
    assert_eq!(export.records.len(), 4);
    let report = verify(&export).unwrap();
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(report.quotes_rechecked, 3);
    assert_eq!(report.policies_rechecked, 2);
    // Through JSON, as `palisade audit verify FILE` reads it.
    let text = serde_json::to_string(&export).unwrap();
    assert!(verify(&serde_json::from_str(&text).unwrap())
        .unwrap()
        .holds());
}

#[tokio::test]
async fn a_record_whose_outcome_was_rewritten_and_resealed_is_caught_by_the_re_check() {
    let (b, mut export) = history().await;
    reseal(&mut export, 2, &b.key, |body| {
        body.outcome = Outcome::Pass;
        body.reasons.clear();
    });
    let found = problems(&export);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("a1#3: re-check gives fail (nonce_mismatch"),
        "{found:?}"
    );
    // Resealing changed the hash, so the next record's link breaks too.
    assert_eq!(
        found[1],
        "a1#4: prev does not match the previous record's hash"
    );
}

#[tokio::test]
async fn edited_bodies_foreign_signatures_and_gaps_are_named() {
    let (b, export) = history().await;
    let mut edited = export.clone();
    edited.records[3].body = edited.records[3].body.replace("unreachable", "reachable");
    assert_eq!(
        problems(&edited),
        ["a1#4: body does not hash to the record's hash"]
    );

    let mut forged = export.clone();
    reseal(&mut forged, 3, &RecordKey::generate(), |body| {
        body.error = None
    });
    assert_eq!(
        problems(&forged),
        ["a1#4: signature does not verify with the verifier's key"]
    );

    let mut gap = export.clone();
    gap.records.remove(1);
    let found = problems(&gap);
    assert_eq!(found[0], "a1#3: records 2 to 2 are missing", "{found:?}");

    let mut doc = export.clone();
    let digest = doc.documents.keys().next().unwrap().clone();
    doc.documents.insert(digest, "{}".into());
    assert!(problems(&doc)
        .iter()
        .any(|p| p.contains("does not hash to its digest")));
    drop(b);
}

#[tokio::test]
async fn an_attestation_that_skipped_verified_state_breaks_the_chain() {
    let (b, mut export) = history().await;
    // Record 2 claims to continue from nothing, as a verifier that lost its state would.
    reseal(&mut export, 1, &b.key, |body| {
        if let Some(check) = body.check.as_mut() {
            check.previous = VerifiedState::default();
        }
    });
    let found = problems(&export);
    assert!(
        found.iter().any(|p| p
            == "a1#2: attestation did not continue from the state the previous record verified"),
        "{found:?}"
    );
}

#[tokio::test]
async fn records_outlive_the_agent_and_a_partial_export_says_where_it_starts() {
    let (b, _) = history().await;
    assert!(b.store.remove(AGENT).await.unwrap());
    assert_eq!(b.store.record_agents().await.unwrap(), [AGENT]);
    let page = Selection {
        agent: Some(AGENT.into()),
        from_seq: 3,
        limit: 10,
    };
    let export = export(&b.store, b.key.public_hex(), &page).await.unwrap();
    assert_eq!(export.records.len(), 2);
    let report = verify(&export).unwrap();
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(
        report.notes,
        ["a1: chain starts at record 3 (earlier records are not in this export)"]
    );
}

#[tokio::test]
async fn a_missing_policy_is_reported_not_passed() {
    let (_b, mut export) = history().await;
    export.policies.clear();
    let report = verify(&export).unwrap();
    assert!(report.holds(), "{:?}", report.problems);
    assert_eq!(report.policies_rechecked, 0);
    assert_eq!(report.policies_missing, 2);
}

#[test]
fn an_export_of_another_format_or_key_is_refused() {
    let mut export = Export {
        format: "x".into(),
        ..Export::default()
    };
    assert!(verify(&export).is_err());
    export.format = EXPORT_FORMAT.into();
    export.verifier_key = "zz".into();
    assert!(verify(&export).is_err());
}
