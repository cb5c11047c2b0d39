//! The incremental evaluator over small inline templates: selection, drift and recovery,
//! cluster groups, failures reported as "could not evaluate".

use serde_json::json;

use super::*;
use crate::engine::Limits;
use crate::model::{Template, TemplateSpec};

const OPEN_PORT: &str = r#"package palisade.templates.open_port
import rego.v1
violation contains {"msg": sprintf("port %d is open", [p]), "details": {"port": p}} if {
    some p in input.node.open
    p in input.parameters.ports
}"#;

const SAME_DIGEST: &str = r#"package palisade.templates.same_digest
import rego.v1
violation contains {"msg": sprintf("%s differs in group %s", [id, g]), "nodes": [id], "details": {}} if {
    some g, ids in input.cluster.groups
    startswith(g, concat("", [input.parameters.group_by, "="]))
    some id in ids
    input.cluster.nodes[id].firewall.digest != input.parameters.reference
}"#;

const BROKEN: &str = r#"package palisade.templates.broken
import rego.v1
violation contains {"msg": "never"} if {
    x := to_number(input.node.id)
    x > 0
}"#;

fn template(name: &str, scope: Scope, rego: &str, params: Value) -> Template {
    let spec = TemplateSpec {
        name: name.into(),
        version: 1,
        scope,
        title: String::new(),
        description: String::new(),
        parameters: params,
        evaluate_on: EvaluateOn::Change,
    };
    Template::load(spec, rego, Limits::default()).unwrap()
}

fn constraint(name: &str, template: &str, labels: &[(&str, &str)], params: Value) -> Constraint {
    serde_json::from_value(json!({
        "name": name, "template": template,
        "match": {"labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>()},
        "parameters": params,
    }))
    .unwrap()
}

fn set(constraints: Vec<Constraint>) -> PolicySet {
    let schema =
        json!({"type": "object", "properties": {"ports": {"type": "array", "default": [22]}}});
    PolicySet::new(
        vec![
            template("open_port", Scope::Node, OPEN_PORT, schema),
            template(
                "same_digest",
                Scope::Cluster,
                SAME_DIGEST,
                json!({"type": "object"}),
            ),
            template("broken", Scope::Node, BROKEN, json!({"type": "object"})),
        ],
        constraints,
    )
    .unwrap()
}

fn node(id: &str, role: &str, open: &[u16], digest: &str) -> (String, Value) {
    (
        id.to_owned(),
        json!({"id": id, "labels": {"role": role}, "open": open,
            "attestation": {"verified": true, "at": 100},
            "firewall": {"digest": digest, "digests": {"host": digest}}}),
    )
}

fn fleet() -> Vec<(String, Value)> {
    vec![
        node("web-01", "web", &[443], "d1"),
        node("web-02", "web", &[443], "d1"),
        node("db-01", "db", &[5432], "d2"),
    ]
}

fn messages(e: &Evaluator) -> Vec<String> {
    e.report()
        .violations
        .into_iter()
        .map(|f| format!("{} {:?} {}", f.constraint, f.nodes, f.message))
        .collect()
}

#[test]
fn a_drifting_node_is_named_once_and_cleared_when_it_comes_back() {
    let mut e = Evaluator::new(set(vec![
        constraint("web-ssh", "open_port", &[("role", "web")], json!({})),
        constraint(
            "web-same",
            "same_digest",
            &[("role", "web")],
            json!({"group_by": "role", "reference": "d1"}),
        ),
    ]));
    e.load_all(fleet(), 200);
    assert!(messages(&e).is_empty(), "{:?}", messages(&e));

    let (id, drifted) = node("web-02", "web", &[22, 443], "d9");
    e.upsert(&id, &drifted, 201);
    assert_eq!(
        messages(&e),
        [
            "web-ssh [\"web-02\"] port 22 is open",
            "web-same [\"web-02\"] web-02 differs in group role=web",
        ]
    );
    let report = e.report();
    assert_eq!(
        report.totals[0].nodes_selected, 2,
        "db-01 is not a web node"
    );
    assert_eq!(report.totals[0].violations, 1);
    assert_eq!(report.totals[1].nodes_violating, 1);
    assert_eq!(e.findings_for("web-02").len(), 2);
    assert!(e.findings_for("web-01").is_empty());

    let (id, back) = node("web-02", "web", &[443], "d1");
    e.upsert(&id, &back, 202);
    assert!(messages(&e).is_empty(), "{:?}", messages(&e));
}

#[test]
fn parameters_get_their_defaults_and_selection_follows_labels() {
    // No `ports` given: the schema's default [22] applies; db-01 is selected by no label.
    let mut e = Evaluator::new(set(vec![constraint(
        "all-ssh",
        "open_port",
        &[],
        json!({}),
    )]));
    let mut nodes = fleet();
    nodes.push(node("db-02", "db", &[22], "d2"));
    e.load_all(nodes, 0);
    assert_eq!(messages(&e), ["all-ssh [\"db-02\"] port 22 is open"]);
    assert_eq!(e.report().totals[0].nodes_selected, 4);
    // A relabelled node leaves the constraint's selection.
    let mut e = Evaluator::new(set(vec![constraint(
        "db-ssh",
        "open_port",
        &[("role", "db")],
        json!({}),
    )]));
    e.load_all(vec![node("x", "db", &[22], "d")], 0);
    assert_eq!(e.report().violations.len(), 1);
    let (id, relabelled) = node("x", "web", &[22], "d");
    e.upsert(&id, &relabelled, 1);
    assert!(e.report().violations.is_empty());
    e.remove("x", 2);
    assert_eq!(e.report().nodes, 0);
}

#[test]
fn a_policy_that_fails_is_could_not_evaluate_never_a_pass() {
    let mut e = Evaluator::new(set(vec![constraint("bad", "broken", &[], json!({}))]));
    e.load_all(fleet(), 0);
    let report = e.report();
    assert!(report.violations.is_empty());
    assert_eq!(report.could_not_evaluate.len(), 3, "{report:?}");
    assert_eq!(report.totals[0].could_not_evaluate, 3);
    assert!(
        report.could_not_evaluate[0].reason.contains("to_number"),
        "{report:?}"
    );
}

#[test]
fn constraints_with_unknown_templates_or_bad_parameters_do_not_load() {
    let err =
        PolicySet::new(Vec::new(), vec![constraint("x", "nope", &[], json!({}))]).unwrap_err();
    assert_eq!(err.to_string(), "constraint x: no template nope");
    let schema = json!({"type": "object", "additionalProperties": false,
        "properties": {"ports": {"type": "array", "items": {"type": "integer"}}}});
    let err = PolicySet::new(
        vec![template("open_port", Scope::Node, OPEN_PORT, schema)],
        vec![constraint(
            "y",
            "open_port",
            &[],
            json!({"ports": ["22"], "x": 1}),
        )],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "constraint y: parameters.ports[0]: want integer, got string; parameters: unknown property x"
    );
}

#[test]
fn a_template_in_the_wrong_package_is_refused() {
    let spec = TemplateSpec {
        name: "other".into(),
        version: 1,
        scope: Scope::Node,
        title: String::new(),
        description: String::new(),
        parameters: json!({}),
        evaluate_on: EvaluateOn::Change,
    };
    let err = Template::load(spec, OPEN_PORT, Limits::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("must be package data.palisade.templates.other"),
        "{err}"
    );
}

#[test]
fn an_unchanged_re_attestation_waits_for_the_tick_and_a_change_does_not() {
    let mut e = Evaluator::new(set(vec![constraint(
        "web-same",
        "same_digest",
        &[("role", "web")],
        json!({"group_by": "role", "reference": "d1"}),
    )]));
    e.load_all(fleet(), 200);
    assert!(!e.cluster_stale());
    // Only the attestation time moved: cluster scope waits for the tick.
    let (id, mut doc) = node("web-01", "web", &[443], "d1");
    doc["attestation"]["at"] = json!(300);
    e.upsert(&id, &doc, 300);
    assert!(e.cluster_stale());
    e.tick(301);
    assert!(!e.cluster_stale());
    // The firewall changed: evaluated at once.
    let (id, drifted) = node("web-01", "web", &[443], "d7");
    e.upsert(&id, &drifted, 302);
    assert!(!e.cluster_stale());
    assert_eq!(
        messages(&e),
        ["web-same [\"web-01\"] web-01 differs in group role=web"]
    );
}

/// Every cluster-scope constraint's input, as the evaluator holds it.
fn cluster_inputs(e: &Evaluator) -> Vec<Rv> {
    e.set
        .constraints()
        .iter()
        .zip(&e.slots)
        .filter(|(c, _)| {
            e.set
                .template_of(c)
                .is_some_and(|t| t.spec.scope == Scope::Cluster)
        })
        .map(|(_, s)| s.fleet.input(e.now))
        .collect()
}

#[test]
fn fleet_input_kept_node_by_node_equals_the_one_built_from_scratch() {
    let constraints = || {
        vec![
            constraint("all", "same_digest", &[], json!({"group_by": "role"})),
            constraint(
                "web",
                "same_digest",
                &[("role", "web")],
                json!({"group_by": "role"}),
            ),
        ]
    };
    let mut e = Evaluator::new(set(constraints()));
    e.load_all(fleet(), 200);
    let mut docs: BTreeMap<String, Value> = fleet().into_iter().collect();
    let mut step = |e: &mut Evaluator, id: &str, doc: Option<Value>, now: i64| {
        match &doc {
            Some(d) => e.upsert(id, d, now),
            None => e.remove(id, now),
        }
        match doc {
            Some(d) => docs.insert(id.to_owned(), d),
            None => docs.remove(id),
        };
        let mut fresh = Evaluator::new(set(constraints()));
        fresh.load_all(docs.clone(), now);
        assert_eq!(
            cluster_inputs(e),
            cluster_inputs(&fresh),
            "after {id} at {now}"
        );
    };
    // A re-attestation, a digest change, a move to another group, an unverified node (no
    // digest), a new node, a removal, and the digest group emptied and refilled.
    let mut again = node("web-01", "web", &[443], "d1").1;
    again["attestation"]["at"] = json!(300);
    step(&mut e, "web-01", Some(again), 300);
    step(
        &mut e,
        "web-02",
        Some(node("web-02", "web", &[443], "d9").1),
        301,
    );
    step(
        &mut e,
        "web-02",
        Some(node("web-02", "db", &[443], "d9").1),
        302,
    );
    let mut unverified = node("db-01", "db", &[], "d2").1;
    unverified["firewall"] = Value::Null;
    step(&mut e, "db-01", Some(unverified), 303);
    step(
        &mut e,
        "web-03",
        Some(node("web-03", "web", &[], "d3").1),
        304,
    );
    step(&mut e, "web-01", None, 305);
    step(
        &mut e,
        "web-03",
        Some(node("web-03", "web", &[], "d1").1),
        306,
    );
    let inputs = cluster_inputs(&e);
    let all: Value = serde_json::from_str(&inputs[0].to_json_str().unwrap()).unwrap();
    assert_eq!(
        all["firewall_groups"],
        json!({"role=db": {"d9": ["web-02"]}, "role=web": {"d1": ["web-03"]}})
    );
    assert_eq!(
        all["groups"],
        json!({"role=db": ["db-01", "web-02"], "role=web": ["web-03"]})
    );
}

const COUNT_NODES: &str = r#"package palisade.templates.count_nodes
import rego.v1
violation contains {"msg": sprintf("%d nodes", [count(input.cluster.nodes)]), "nodes": []} if true"#;

#[test]
fn tick_only_templates_wait_for_the_tick_and_others_do_not() {
    let tick_only = |name: &str| {
        let spec = TemplateSpec {
            name: name.into(),
            version: 1,
            scope: Scope::Cluster,
            title: String::new(),
            description: String::new(),
            parameters: json!({"type": "object"}),
            evaluate_on: EvaluateOn::Tick,
        };
        Template::load(
            spec,
            &COUNT_NODES.replace("count_nodes", name),
            Limits::default(),
        )
    };
    let on_change = template(
        "count_nodes",
        Scope::Cluster,
        COUNT_NODES,
        json!({"type": "object"}),
    );
    let set = PolicySet::new(
        vec![on_change, tick_only("count_later").unwrap()],
        vec![
            constraint("now", "count_nodes", &[], json!({})),
            constraint("later", "count_later", &[], json!({})),
        ],
    )
    .unwrap();
    let mut e = Evaluator::new(set);
    e.load_all(fleet(), 200);
    assert_eq!(messages(&e), ["now [] 3 nodes", "later [] 3 nodes"]);
    let (id, doc) = node("web-09", "web", &[], "d1");
    e.upsert(&id, &doc, 201);
    assert_eq!(messages(&e), ["now [] 4 nodes", "later [] 3 nodes"]);
    assert!(e.cluster_stale());
    e.tick(202);
    assert_eq!(messages(&e), ["now [] 4 nodes", "later [] 4 nodes"]);
    assert!(!e.cluster_stale());
    // A node leaving re-evaluates both at once.
    e.remove("web-09", 203);
    assert_eq!(messages(&e), ["now [] 3 nodes", "later [] 3 nodes"]);

    let mut node_scope = tick_only("x").map(|t| t.spec).unwrap();
    node_scope.scope = Scope::Node;
    let err = Template::load(
        node_scope,
        &COUNT_NODES.replace("count_nodes", "x"),
        Limits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("cluster-scope"), "{err}");
}
