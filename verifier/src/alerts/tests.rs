//! Alert decisions, payload shape and signatures; the outbox on a real SQLite store.

use std::collections::BTreeMap;

use palisade_evidence::ReasonCode;
use serde_json::json;

use super::*;
use crate::store::{now_ms, testing, Seal, Store};

#[test]
fn only_changes_of_outcome_alert_and_a_first_pass_does_not() {
    assert_eq!(Change::between("pending", Outcome::Pass), None);
    assert_eq!(Change::between("pass", Outcome::Pass), None);
    assert_eq!(Change::between("fail", Outcome::Fail), None);
    assert_eq!(
        Change::between("pending", Outcome::Fail),
        Some(Change::Failed)
    );
    assert_eq!(Change::between("pass", Outcome::Fail), Some(Change::Failed));
    assert_eq!(
        Change::between("pass", Outcome::Error),
        Some(Change::Unreachable)
    );
    assert_eq!(
        Change::between("fail", Outcome::Pass),
        Some(Change::Recovered {
            from: Outcome::Fail
        })
    );
    assert_eq!(
        Change::between("error", Outcome::Pass),
        Some(Change::Recovered {
            from: Outcome::Error
        })
    );
}

#[test]
fn a_firewall_alert_is_alertmanager_json_with_the_reasons_and_writer() {
    let labels = BTreeMap::from([("role".to_owned(), "web".to_owned())]);
    let reasons = [Reason::new(
        ReasonCode::PolicyViolation,
        "tcp/22 reachable from 0.0.0.0/0",
    )];
    let changes = json!({"nftables/host": {"digest": {"from": "a", "to": "b"}, "writers": [{"pid": 4242, "comm": "nft"}]}});
    let subject = Subject {
        agent: "web-01",
        labels: &labels,
        at: "2026-12-05T10:00:00Z",
        result_id: Some(7),
        reasons: &reasons,
        error: None,
        changes: Some(&changes),
    };
    let p = payload(Change::Failed, &subject);
    assert_eq!(p["version"], "4");
    assert_eq!(p["status"], "firing");
    let alert = &p["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "PalisadeAttestationFailed");
    assert_eq!(alert["labels"]["agent"], "web-01");
    assert_eq!(alert["labels"]["label_role"], "web");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    let description = alert["annotations"]["description"].as_str().unwrap();
    assert!(description.contains("tcp/22 reachable"), "{description}");
    assert!(
        description.contains("changed nftables/host by pid 4242 (nft)"),
        "{description}"
    );
    assert_eq!(p["palisade"]["result_id"], 7);
    let resolved = payload(
        Change::Recovered {
            from: Outcome::Fail,
        },
        &subject,
    );
    assert_eq!(resolved["status"], "resolved");
    // The same problem groups under one fingerprint when it fires and resolves.
    assert_eq!(resolved["alerts"][0]["fingerprint"], alert["fingerprint"]);
}

#[test]
fn signatures_are_hmac_sha256_of_the_body() {
    // RFC 4231 test case 2.
    assert_eq!(
        sign(b"Jefe", b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[tokio::test]
async fn state_changes_queue_alerts_in_the_results_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db").display());
    let store = Store::open(&url).await.unwrap().with_alerts(true);
    let request = testing::request("a1", "https://x:1");
    testing::register(&store, &request).await;
    let pending = store.pending("a1").await.unwrap().unwrap();
    store
        .activate(&pending, "unverified: test", None, false)
        .await
        .unwrap();
    for outcome in [
        Outcome::Pass,
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Fail,
        Outcome::Pass,
    ] {
        store
            .record(
                &testing::result("a1", outcome),
                &BTreeMap::new(),
                None,
                &Seal::for_tests(),
            )
            .await
            .unwrap();
    }
    let due = store.due_alerts(10).await.unwrap();
    assert_eq!(
        testing::alert_names(&due),
        [
            "PalisadeAgentEnrolled firing",
            "PalisadeAttestationFailed firing",
            "PalisadeAttestationFailed resolved"
        ]
    );
    assert_eq!(store.outbox_depth().await.unwrap(), 3);
    // A failed attempt is rescheduled (not due now); a delivery leaves the outbox.
    store
        .alert_failed(due[0].id, "down", now_ms() + 60_000)
        .await
        .unwrap();
    store.alert_delivered(due[1].id).await.unwrap();
    let again: Vec<i64> = store
        .due_alerts(10)
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(again, [due[2].id]);
    assert_eq!(store.outbox_depth().await.unwrap(), 2);
    // Reopened (a restart): the outbox is still there.
    drop(store);
    let reopened = Store::open(&url).await.unwrap();
    assert_eq!(reopened.outbox_depth().await.unwrap(), 2);
}

#[tokio::test]
async fn without_a_webhook_nothing_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::open(&dir).await;
    let request = testing::request("a1", "https://x:1");
    testing::register(&store, &request).await;
    store
        .record(
            &testing::result("a1", Outcome::Fail),
            &BTreeMap::new(),
            None,
            &Seal::for_tests(),
        )
        .await
        .unwrap();
    assert_eq!(store.outbox_depth().await.unwrap(), 0);
}
