//! Store round trips on a real SQLite file and a real PostgreSQL server.

use super::*;

on_each_backend!(
    documents_are_stored_once_and_linked_to_results,
    registration_then_activation,
    re_registration_keeps_the_active_identity_until_activation,
    results_and_state_are_recorded_together_and_survive_reopen,
    removal_cascades_to_results,
    a_remembered_chain_tip_is_not_used_after_another_writer_appended,
    results_stored_together_commit_together_and_a_bad_one_fails_alone,
);
use palisade_evidence::ReasonCode;

use super::testing::{on_each_backend, request, Db};
use crate::audit::key::RecordKey;

fn result(agent: &str, outcome: Outcome) -> ResultRecord {
    let mut result = super::testing::result(agent, outcome);
    result.reasons = vec![Reason::new(ReasonCode::PolicyViolation, "x")];
    result
}

async fn documents_are_stored_once_and_linked_to_results(db: &Db) {
    let s = db.open().await;
    s.register(&request("a1", "https://x:1"), b"s", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    let mut r = result("a1", Outcome::Pass);
    r.documents.insert("nftables/host".into(), "d1".into());
    let contents: BTreeMap<String, Vec<u8>> = [("d1".to_owned(), b"{}".to_vec())].into();
    let first = s
        .record(&r, &contents, None, &Seal::for_tests())
        .await
        .unwrap();
    let second = s
        .record(&r, &contents, None, &Seal::for_tests())
        .await
        .unwrap();
    assert_eq!(s.document("d1").await.unwrap().unwrap(), b"{}");
    assert_eq!(
        s.result("a1", first).await.unwrap().unwrap().documents["nftables/host"],
        "d1"
    );
    assert_eq!(s.previous_verified("a1").await.unwrap().unwrap().id, second);
    s.record(
        &result("a1", Outcome::Error),
        &BTreeMap::new(),
        None,
        &Seal::for_tests(),
    )
    .await
    .unwrap();
    assert_eq!(
        s.previous_verified("a1").await.unwrap().unwrap().id,
        second,
        "errors judge no documents"
    );
}

async fn registration_then_activation(db: &Db) {
    let s = db.open().await;
    s.register(
        &request("a1", "https://10.0.0.2:9443"),
        b"secret",
        "2999-01-01T00:00:00Z",
    )
    .await
    .unwrap();
    let a = s.agent("a1").await.unwrap().unwrap();
    assert_eq!(a.status, AgentStatus::Registered);
    let p = s.pending("a1").await.unwrap().unwrap();
    assert_eq!(p.secret, b"secret");
    s.activate(&p, "unverified: test", None, false)
        .await
        .unwrap();
    let a = s.agent("a1").await.unwrap().unwrap();
    assert_eq!(a.status, AgentStatus::Active);
    assert_eq!(a.labels["role"], "web");
    assert!(s.pending("a1").await.unwrap().is_none());
}

async fn re_registration_keeps_the_active_identity_until_activation(db: &Db) {
    let s = db.open().await;
    s.register(
        &request("a1", "https://old:1"),
        b"s1",
        "2999-01-01T00:00:00Z",
    )
    .await
    .unwrap();
    s.activate(
        &s.pending("a1").await.unwrap().unwrap(),
        "unverified: test",
        None,
        false,
    )
    .await
    .unwrap();
    s.register(
        &request("a1", "https://new:1"),
        b"s2",
        "2999-01-01T00:00:00Z",
    )
    .await
    .unwrap();
    let a = s.agent("a1").await.unwrap().unwrap();
    assert_eq!(
        (a.status, a.contact.as_str()),
        (AgentStatus::Active, "https://old:1")
    );
    s.activate(
        &s.pending("a1").await.unwrap().unwrap(),
        "unverified: test",
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        s.agent("a1").await.unwrap().unwrap().contact,
        "https://new:1"
    );
}

async fn results_and_state_are_recorded_together_and_survive_reopen(db: &Db) {
    {
        let s = db.open().await;
        s.register(&request("a1", "https://x:1"), b"s", "2999-01-01T00:00:00Z")
            .await
            .unwrap();
        let state = VerifiedState {
            log: Some(palisade_evidence::log::LogState::GENESIS),
            ..Default::default()
        };
        s.record(
            &result("a1", Outcome::Pass),
            &BTreeMap::new(),
            Some(&state),
            &Seal::for_tests(),
        )
        .await
        .unwrap();
        s.record(
            &result("a1", Outcome::Fail),
            &BTreeMap::new(),
            None,
            &Seal::for_tests(),
        )
        .await
        .unwrap();
    }
    let s = db.open().await;
    let a = s.agent("a1").await.unwrap().unwrap();
    assert_eq!(a.last_outcome, "fail");
    assert!(
        a.state.log.is_some(),
        "state from the pass is kept when a later result has none"
    );
    let r = s.results("a1", 10).await.unwrap();
    assert_eq!(
        r.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        vec![Outcome::Fail, Outcome::Pass]
    );
    assert_eq!(r[0].reasons[0].code, ReasonCode::PolicyViolation);
}

async fn removal_cascades_to_results(db: &Db) {
    let s = db.open().await;
    s.register(&request("a1", "https://x:1"), b"s", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    s.record(
        &result("a1", Outcome::Pass),
        &BTreeMap::new(),
        None,
        &Seal::for_tests(),
    )
    .await
    .unwrap();
    assert!(s.remove("a1").await.unwrap());
    assert!(!s.remove("a1").await.unwrap());
    assert!(s.results("a1", 10).await.unwrap().is_empty());
}

/// Stores a result as an attestation does: the agent's row read first, its `last_result_id`
/// passed with the seal. Returns the result id.
async fn attest_into(s: &Store, key: &'static RecordKey, docs: &[(&str, &str)]) -> i64 {
    let row = s.agent("a1").await.unwrap().unwrap();
    let mut r = result("a1", Outcome::Pass);
    let mut contents = BTreeMap::new();
    for (k, digest) in docs {
        r.documents.insert((*k).to_owned(), (*digest).to_owned());
        contents.insert((*digest).to_owned(), digest.as_bytes().to_vec());
    }
    let seal = Seal {
        last_result_id: row.last_result_id,
        key,
        ..Seal::for_tests()
    };
    s.record(&r, &contents, None, &seal).await.unwrap()
}

/// Two stores on one database (two verifiers on PostgreSQL, or a restart beside a running one):
/// each appends after the chain head it remembers only while the agent's row still names its
/// own latest result, so the chain stays one unbroken sequence and every document is stored.
async fn a_remembered_chain_tip_is_not_used_after_another_writer_appended(db: &Db) {
    let (one, two) = (db.open().await, db.open().await);
    one.register(&request("a1", "https://x:1"), b"s", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
    let key: &'static RecordKey = Box::leak(Box::new(RecordKey::generate()));
    attest_into(&one, key, &[("nftables/host", "d1")]).await;
    attest_into(&one, key, &[("nftables/host", "d1")]).await;
    let by_two = attest_into(&two, key, &[("nftables/host", "d2")]).await;
    // `one` remembers the head before `two`'s record, and "d1" as the latest verified document.
    let previous = one
        .previous_verified_since("a1", one.agent("a1").await.unwrap().unwrap().last_result_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        previous.id, by_two,
        "read from the database, not the stale tip"
    );
    assert_eq!(previous.documents["nftables/host"], "d2");
    attest_into(
        &one,
        key,
        &[("nftables/host", "d1"), ("network/host", "d3")],
    )
    .await;
    attest_into(
        &one,
        key,
        &[("nftables/host", "d1"), ("network/host", "d3")],
    )
    .await;

    let records = one.records(Some("a1"), 1, 100).await.unwrap();
    assert_eq!(
        records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    for pair in records.windows(2) {
        let body: serde_json::Value = serde_json::from_str(&pair[1].body).unwrap();
        assert_eq!(
            body["prev"],
            pair[0].hash.as_str(),
            "record {}",
            pair[1].seq
        );
    }
    for digest in ["d1", "d2", "d3"] {
        assert_eq!(
            one.document(digest).await.unwrap().unwrap(),
            digest.as_bytes()
        );
    }
}

/// Results handed over at once are written in one transaction by the result writer; one that
/// cannot be stored (its agent does not exist) makes that batch fall back to one transaction per
/// result, so it fails alone and every other result, document and record is stored.
async fn results_stored_together_commit_together_and_a_bad_one_fails_alone(db: &Db) {
    let s = db.open().await;
    let agents: Vec<String> = (0..8).map(|i| format!("a{i}")).collect();
    for id in &agents {
        s.register(&request(id, "https://x:1"), b"s", "2999-01-01T00:00:00Z")
            .await
            .unwrap();
    }
    let key: &'static RecordKey = Box::leak(Box::new(RecordKey::generate()));
    let ghost = "ghost".to_owned();
    let stores = agents.iter().chain([&ghost]).map(|id| {
        let s = s.clone();
        let mut r = result(id, Outcome::Pass);
        r.documents
            .insert("nftables/host".into(), format!("d-{id}"));
        let contents = BTreeMap::from([(format!("d-{id}"), id.as_bytes().to_vec())]);
        async move {
            let seal = Seal {
                key,
                ..Seal::for_tests()
            };
            s.record(&r, &contents, None, &seal).await
        }
    });
    let stored = futures_util::future::join_all(stores).await;
    let (ghost, stored) = stored.split_last().unwrap();
    assert!(ghost.is_err(), "a result for an unknown agent is refused");
    for (id, r) in agents.iter().zip(stored) {
        let result_id = *r.as_ref().unwrap();
        let agent = s.agent(id).await.unwrap().unwrap();
        assert_eq!(agent.last_result_id, Some(result_id));
        assert_eq!(s.records(Some(id), 1, 10).await.unwrap().len(), 1);
        let digest = format!("d-{id}");
        assert_eq!(s.document(&digest).await.unwrap().unwrap(), id.as_bytes());
    }
}
