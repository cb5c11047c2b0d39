//! Cluster policies in the verifier: versions stored like node policies.

use super::*;
use crate::store::{testing, Source};
use palisade_cluster_policy::{library, Constraint, Limits, TemplateSpec};

/// Stores `set`'s objects; their `name@version`.
async fn record_versions(store: &crate::store::Store, set: &PolicySet) -> Vec<String> {
    let stored = record_objects(store, set).await.unwrap();
    stored.iter().map(labelled).collect()
}

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
    let stored = record_versions(&store, &set(first.clone())).await;
    assert!(
        stored.contains(&"template/firewall_consistency@1".to_owned()),
        "{stored:?}"
    );
    assert!(stored.contains(&"constraints@1".to_owned()), "{stored:?}");
    // Unchanged: the same versions; a changed constraint set: the next one.
    assert_eq!(record_versions(&store, &set(first)).await, stored);
    let changed =
        json!([{"name": "fresh", "template": "freshness", "parameters": {"max_age_s": 30}}]);
    let again = record_versions(&store, &set(changed)).await;
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

fn constraint_names(set: &PolicySet) -> Vec<String> {
    set.constraints().iter().map(|c| c.name.clone()).collect()
}

fn unlabelled_template() -> (TemplateSpec, String) {
    let spec: TemplateSpec = serde_json::from_value(json!({"name": "unlabelled", "version": 1,
        "scope": "node", "title": "t", "description": "d",
        "parameters": {"type": "object", "properties": {"label": {"type": "string"}},
            "required": ["label"]}}))
    .unwrap();
    let rego = "package palisade.templates.unlabelled\nimport rego.v1\n\
        violation contains {\"msg\": \"no label\", \"nodes\": [input.node.id]} if {\n\
        not input.node.labels[input.parameters.label]\n}\n";
    (spec, rego.to_owned())
}

#[tokio::test]
async fn an_api_change_survives_a_restart_until_the_directory_changes_that_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::open(&dir).await;
    let limits = Limits::default();
    let a = json!([{"name": "fresh", "template": "freshness", "parameters": {"max_age_s": 60}}]);
    let (set, _) = import(&store, &set(a.clone()), limits).await.unwrap();
    assert_eq!(constraint_names(&set), ["fresh"]);

    // Through the API: a new template and a constraint set using it.
    let (spec, rego) = unlabelled_template();
    let (set, stored) = put_template(&store, set, spec, rego, limits).await.unwrap();
    assert_eq!(stored.name, "template/unlabelled");
    let owned: Vec<Constraint> = serde_json::from_value(json!([{"name": "owned",
        "template": "unlabelled", "parameters": {"label": "owner"}}]))
    .unwrap();
    let (set, stored) = put_constraints(&store, &set, owned).await.unwrap();
    assert_eq!((stored.name.as_str(), stored.version), ("constraints", 2));
    assert_eq!(constraint_names(&set), ["owned"]);

    // Restart, directory unchanged: the API's set stays in force.
    let (set, versions) = import(&store, &super::tests::set(a.clone()), limits)
        .await
        .unwrap();
    assert_eq!(constraint_names(&set), ["owned"]);
    assert!(
        versions.contains(&"template/unlabelled@1".to_owned()),
        "{versions:?}"
    );
    assert!(
        versions.contains(&"constraints@2".to_owned()),
        "{versions:?}"
    );
    let sources: Vec<(String, Source)> = store
        .cluster_policy()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| !o.name.starts_with("template/") || o.name == "template/unlabelled")
        .map(|o| (o.name, o.source))
        .collect();
    assert_eq!(
        sources,
        [
            ("constraints".to_owned(), Source::Api),
            ("template/unlabelled".to_owned(), Source::Api)
        ]
    );

    // Restart, the directory's constraints changed: the directory wins; the API's template
    // (which the directory never had) stays.
    let c = json!([{"name": "fresher", "template": "freshness", "parameters": {"max_age_s": 30}}]);
    let (set, _) = import(&store, &super::tests::set(c), limits).await.unwrap();
    assert_eq!(constraint_names(&set), ["fresher"]);
    assert!(set.templates().contains_key("unlabelled"));
}

#[tokio::test]
async fn a_bad_template_or_constraint_set_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = testing::open(&dir).await;
    let limits = Limits::default();
    let (set, _) = import(&store, &set(json!([])), limits).await.unwrap();
    let before = (
        store.policies().await.unwrap(),
        store.cluster_policy().await.unwrap(),
    );

    let (spec, _) = unlabelled_template();
    let broken = "package palisade.templates.unlabelled\nviolation contains x if {".to_owned();
    let err = put_template(&store, set.clone(), spec.clone(), broken, limits)
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::Invalid(_)), "{err}");
    let wrong_package = "package elsewhere\nimport rego.v1\nviolation contains 1 if { true }";
    let err = put_template(&store, set.clone(), spec, wrong_package.into(), limits)
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::Invalid(_)), "{err}");
    for bad in [
        json!([{"name": "x", "template": "no_such_template", "parameters": {}}]),
        json!([{"name": "x", "template": "freshness", "parameters": {"max_age_s": "soon"}}]),
        json!([{"name": "x", "template": "freshness", "parameters": {"max_age_s": 5}},
               {"name": "x", "template": "freshness", "parameters": {"max_age_s": 6}}]),
    ] {
        let constraints: Vec<Constraint> = serde_json::from_value(bad).unwrap();
        let err = put_constraints(&store, &set, constraints)
            .await
            .unwrap_err();
        assert!(matches!(err, ChangeError::Invalid(_)), "{err}");
    }
    let after = (
        store.policies().await.unwrap(),
        store.cluster_policy().await.unwrap(),
    );
    assert_eq!(after, before, "a refused change stores nothing");
    // A template change that breaks a constraint in force is refused too.
    let (spec, rego) = unlabelled_template();
    let (with, _) = put_template(&store, set, spec.clone(), rego.clone(), limits)
        .await
        .unwrap();
    let owned: Vec<Constraint> = serde_json::from_value(json!([{"name": "owned",
        "template": "unlabelled", "parameters": {"label": "owner"}}]))
    .unwrap();
    let (with, _) = put_constraints(&store, &with, owned).await.unwrap();
    let mut stricter = spec;
    stricter.parameters = json!({"type": "object", "required": ["label", "also"]});
    let stored = store.policies().await.unwrap().len();
    let err = put_template(&store, with, stricter, rego, limits)
        .await
        .unwrap_err();
    assert!(matches!(err, ChangeError::Invalid(_)), "{err}");
    assert_eq!(store.policies().await.unwrap().len(), stored);
}
