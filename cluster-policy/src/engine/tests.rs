//! Tests of the engine wrapper and of the foundation policy on canonical rulesets.

use super::*;
use crate::library;
use serde_json::json;

fn node(tables: serde_json::Value) -> serde_json::Value {
    json!({"node": {"firewall": {"ruleset": {"format": "palisade.nftables/0", "tables": tables}}}})
}

fn ssh_rule(right: serde_json::Value) -> serde_json::Value {
    json!({"expr": [
        {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": right}},
        {"accept": null}
    ]})
}

fn filter(policy: &str, rules: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"inet filter": {"family": "inet", "name": "filter", "sets": {}, "objects": {},
        "chains": {"input": {"type": "filter", "hook": "input", "prio": 0, "policy": policy, "rules": rules}}}})
}

fn eval(input: &serde_json::Value) -> Vec<String> {
    let p = library::foundation(Limits::default()).unwrap();
    let mut msgs: Vec<String> = p
        .evaluate(input)
        .unwrap()
        .into_iter()
        .map(|v| v.message)
        .collect();
    msgs.sort();
    msgs
}

#[test]
fn honest_ruleset_passes() {
    let rules = vec![ssh_rule(json!(443)), ssh_rule(json!({"set": [80, 8080]}))];
    assert_eq!(eval(&node(filter("drop", rules))), Vec::<String>::new());
}

#[test]
fn accept_policy_on_input_is_a_violation() {
    assert_eq!(
        eval(&node(filter("accept", vec![]))),
        vec!["chain inet filter/input on the input hook has policy accept, want drop"]
    );
}

#[test]
fn ssh_accepted_in_any_spelling_is_named_by_position() {
    for right in [
        json!(22),
        json!({"set": [22, 80]}),
        json!({"range": [20, 30]}),
        json!({"set": [{"range": [1, 1024]}]}),
    ] {
        let rules = vec![ssh_rule(json!(443)), ssh_rule(right.clone())];
        let msgs = eval(&node(filter("drop", rules)));
        assert_eq!(msgs.len(), 1, "{right}: {msgs:?}");
        assert!(
            msgs[0].starts_with("rule 2 of chain inet filter/input accepts tcp/22"),
            "{}",
            msgs[0]
        );
    }
}

#[test]
fn no_input_chain_at_all_is_a_violation() {
    assert_eq!(
        eval(&node(json!({}))),
        vec!["no base chain on the input hook: every port is open"]
    );
}

#[test]
fn policy_reference_hash_is_stable_and_content_bound() {
    let a = library::foundation(Limits::default()).unwrap();
    let b = library::foundation(Limits::default()).unwrap();
    assert_eq!(a.reference(), b.reference());
    let changed = Policy::load(
        library::FOUNDATION_NAME,
        1,
        vec![(
            "x.rego".into(),
            "package x\nimport rego.v1\nviolation contains 1 if false".into(),
        )],
        Limits::default(),
    )
    .unwrap();
    assert_ne!(changed.reference().hash, a.reference().hash);
}

#[test]
fn module_without_violation_rule_is_rejected() {
    let err = Policy::load(
        "p",
        1,
        vec![("m.rego".into(), "package m\nallow := true".into())],
        Limits::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("declares no `violation` rule"),
        "{err}"
    );
}

#[test]
fn syntax_error_is_a_load_error() {
    assert!(Policy::load(
        "p",
        1,
        vec![("m.rego".into(), "package m\nviolation contains".into())],
        Limits::default()
    )
    .is_err());
}

#[test]
fn runtime_error_is_an_error_never_a_pass() {
    let p = Policy::load(
        "p",
        1,
        vec![(
            "m.rego".into(),
            "package m\nimport rego.v1\nviolation contains x if { x := 1 / input.zero }".into(),
        )],
        Limits::default(),
    )
    .unwrap();
    assert!(p.evaluate(&json!({"zero": 0})).is_err());
}

#[test]
fn time_limit_stops_runaway_policies() {
    let p = Policy::load(
        "p",
        1,
        vec![(
            "m.rego".into(),
            "package m\nimport rego.v1\nviolation contains [a, b, c] if { some a in numbers.range(1, 300); some b in numbers.range(1, 300); some c in numbers.range(1, 300); a + b + c < 0 }".into(),
        )],
        Limits { time: Duration::from_millis(50) },
    )
    .unwrap();
    let err = p.evaluate(&json!({})).unwrap_err();
    assert!(matches!(err, PolicyError::Eval { .. }), "{err}");
}
