//! Cluster policies in the verifier: versions stored like node policies.

use super::*;
use crate::store::testing;
use palisade_cluster_policy::{library, Limits};

fn set(constraints: serde_json::Value) -> PolicySet {
    PolicySet::new(
        library::templates(Limits::default()).unwrap(),
        serde_json::from_value(constraints).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn templates_and_constraints_are_stored_and_a_change_gets_the_next_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::open(&dir).await;
    let first =
        json!([{"name": "fresh", "template": "freshness", "parameters": {"max_age_s": 60}}]);
    let stored = record_versions(&store, &set(first.clone())).await.unwrap();
    assert!(
        stored.contains(&"template/firewall_consistency@1".to_owned()),
        "{stored:?}"
    );
    assert!(stored.contains(&"constraints@1".to_owned()), "{stored:?}");
    // Unchanged: the same versions; a changed constraint set: the next one.
    assert_eq!(record_versions(&store, &set(first)).await.unwrap(), stored);
    let changed =
        json!([{"name": "fresh", "template": "freshness", "parameters": {"max_age_s": 30}}]);
    let again = record_versions(&store, &set(changed)).await.unwrap();
    assert!(again.contains(&"constraints@2".to_owned()), "{again:?}");
    assert!(
        again.contains(&"template/freshness@2".to_owned()),
        "{again:?}"
    );
    let names: Vec<String> = store
        .policies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        names.iter().filter(|n| *n == "constraints").count() == 2,
        "{names:?}"
    );
}
