//! Test fixtures: a store in a temporary directory with a registered agent.

use std::collections::BTreeMap;

use super::{now, Outcome, RegisterRequest, ResultRecord, Store};

/// A registration for `id` labelled `role=web`.
pub(crate) fn request(id: &str, contact: &str) -> RegisterRequest {
    RegisterRequest {
        agent_id: id.into(),
        ek_public: vec![1, 2, 3],
        ek_certificate: None,
        ak_public: vec![4, 5, 6],
        contact: contact.into(),
        tls_certificate: "PEM".into(),
        pcr: 15,
        labels: [("role".to_owned(), "web".to_owned())].into(),
        push: false,
    }
}

/// A fresh SQLite store in `dir`.
pub(crate) async fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&format!("sqlite://{}", dir.path().join("db").display()))
        .await
        .unwrap()
}

/// Registers `request` (pending, not yet activated).
pub(crate) async fn register(store: &Store, request: &RegisterRequest) {
    store
        .register(request, b"s", "2999-01-01T00:00:00Z")
        .await
        .unwrap();
}

/// A result for `agent` without reasons, documents or policy.
pub(crate) fn result(agent: &str, outcome: Outcome) -> ResultRecord {
    ResultRecord {
        id: 0,
        agent_id: agent.into(),
        at: now(),
        outcome,
        reasons: Vec::new(),
        error: None,
        policy: None,
        duration_us: 1,
        documents: BTreeMap::new(),
        changes: None,
        events: None,
    }
}

/// `"<alertname> <status>"` of each queued alert, in order.
pub(crate) fn alert_names<'a>(
    alerts: impl IntoIterator<Item = &'a super::PendingAlert>,
) -> Vec<String> {
    alerts
        .into_iter()
        .map(|a| {
            let p: serde_json::Value = serde_json::from_str(&a.payload).unwrap();
            format!(
                "{} {}",
                p["alerts"][0]["labels"]["alertname"].as_str().unwrap(),
                p["status"].as_str().unwrap()
            )
        })
        .collect()
}
