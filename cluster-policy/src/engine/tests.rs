//! Tests of the engine wrapper and of the foundation policy on exposure facts.

use super::*;
use crate::library;
use serde_json::json;

/// Exposure facts (`docs/exposure.md`) as the verifier computes them, for a node whose
/// families both have the input base chain `inet filter/input` with `policy`.
fn node(policy: &str, open_ports: Vec<serde_json::Value>) -> serde_json::Value {
    let hook = json!({"base_chains": [{"table": "inet filter", "chain": "input", "hook": "input",
        "type": "filter", "priority": 0, "policy": policy}], "default": policy, "accepted": []});
    let family = json!({"hooks": {"input": hook, "forward": {"base_chains": [], "default": "accept",
        "accepted": []}, "output": {"base_chains": [], "default": "accept", "accepted": []}}});
    json!({"node": {"firewall": {"exposure": {"format": "palisade-exposure-v1",
        "families": {"ipv4": family, "ipv6": family}, "open_ports": open_ports,
        "loopback": {}, "unevaluated": [], "truncated": false}}}})
}

/// An open-port fact accepted by rule `index` of `inet filter/input`, printed as `text`.
fn open(
    family: &str,
    ports: [u32; 2],
    sources: &[&str],
    index: usize,
    text: &str,
) -> serde_json::Value {
    json!({"family": family, "hook": "input", "proto": "tcp", "port_from": ports[0],
        "port_to": ports[1], "sources": sources, "widest_prefix": 0, "destinations": [],
        "iif": null, "iif_except": null, "loopback_only": false, "certain": true,
        "via": [{"table": "inet filter", "chain": "input", "index": index, "text": text}]})
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
    let ports = vec![
        open(
            "ipv4",
            [443, 443],
            &["0.0.0.0/0"],
            0,
            "tcp dport 443 accept",
        ),
        open("ipv6", [443, 443], &["::/0"], 0, "tcp dport 443 accept"),
    ];
    assert_eq!(eval(&node("drop", ports)), Vec::<String>::new());
}

#[test]
fn ssh_from_private_ranges_only_passes() {
    let ports = vec![
        open(
            "ipv4",
            [22, 22],
            &["10.0.0.0/8", "192.168.1.0/24"],
            2,
            "ip saddr @admins tcp dport 22 accept",
        ),
        open(
            "ipv6",
            [22, 22],
            &["fd00::/8"],
            2,
            "ip saddr @admins tcp dport 22 accept",
        ),
    ];
    assert_eq!(eval(&node("drop", ports)), Vec::<String>::new());
}

#[test]
fn accept_policy_on_input_is_a_violation() {
    assert_eq!(
        eval(&node("accept", vec![])),
        vec!["chain inet filter/input on the input hook has policy accept, want drop"]
    );
}

#[test]
fn ssh_open_to_the_world_is_one_violation_naming_the_rule() {
    let ports = vec![
        open(
            "ipv4",
            [20, 30],
            &["0.0.0.0/0"],
            1,
            "tcp dport 20-30 accept",
        ),
        open("ipv6", [20, 30], &["::/0"], 1, "tcp dport 20-30 accept"),
        open(
            "ipv4",
            [443, 443],
            &["0.0.0.0/0"],
            0,
            "tcp dport 443 accept",
        ),
    ];
    assert_eq!(
        eval(&node("drop", ports)),
        vec!["rule 2 of chain inet filter/input accepts tcp/22 from 0.0.0.0/0, ::/0 (tcp dport 20-30 accept)"]
    );
}

#[test]
fn ssh_that_is_only_possibly_open_says_so() {
    let mut port = open(
        "ipv4",
        [22, 22],
        &["0.0.0.0/1", "128.0.0.0/1"],
        0,
        "meta mark 0x1 tcp dport 22 accept",
    );
    port["certain"] = json!(false);
    assert_eq!(
        eval(&node("drop", vec![port])),
        vec!["rule 1 of chain inet filter/input may accept tcp/22 from 0.0.0.0/1, 128.0.0.0/1 (meta mark 0x1 tcp dport 22 accept)"]
    );
}

#[test]
fn ssh_on_loopback_only_passes() {
    let mut port = open(
        "ipv4",
        [0, 65535],
        &["0.0.0.0/0"],
        0,
        "iifname \"lo\" accept",
    );
    port["loopback_only"] = json!(true);
    assert_eq!(eval(&node("drop", vec![port])), Vec::<String>::new());
}

#[test]
fn no_input_chain_at_all_is_a_violation() {
    let mut input = node("drop", vec![]);
    for fam in ["ipv4", "ipv6"] {
        input["node"]["firewall"]["exposure"]["families"][fam]["hooks"]["input"]["base_chains"] =
            json!([]);
    }
    assert_eq!(
        eval(&input),
        vec!["no base chain on the input hook: every port is open"]
    );
    input["node"]["firewall"]["exposure"]["families"]["ipv4"] =
        node("drop", vec![])["node"]["firewall"]["exposure"]["families"]["ipv4"].clone();
    assert_eq!(
        eval(&input),
        vec!["no base chain on the ipv6 input hook: every ipv6 port is open"]
    );
}

#[test]
fn missing_exposure_facts_are_a_violation() {
    let input = json!({"node": {"firewall": {"exposure": null,
        "exposure_errors": {"default": "document format \"palisade.nftables/0\""}}}});
    let msgs = eval(&input);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with("no firewall exposure facts"),
        "{}",
        msgs[0]
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
        Limits {
            time: Duration::from_millis(50),
            ..Limits::default()
        },
    )
    .unwrap();
    let err = p.evaluate(&json!({})).unwrap_err();
    assert!(matches!(err, PolicyError::Eval { .. }), "{err}");
}

/// The memory ceiling is process-wide: the tests that set a small budget take turns, so one
/// does not grow the heap under the other's ceiling.
static SMALL_BUDGET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn small_budget_policy(rego: &str) -> Policy {
    Policy::load(
        "p",
        1,
        vec![("m.rego".into(), rego.into())],
        Limits {
            time: Duration::from_secs(120),
            memory: Some(64 << 20),
        },
    )
    .unwrap()
}

#[test]
fn memory_limit_stops_a_policy_that_builds_a_huge_set() {
    let _turn = SMALL_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    // 10^8 pairs, built step by step (one huge builtin result would pass the ceiling before
    // the next check; see memory.rs).
    let p = small_budget_policy(
        "package m\nimport rego.v1\nviolation contains count(s) if { s := {[i, j] | some i in numbers.range(1, 10000); some j in numbers.range(1, 10000)} }",
    );
    let before = regorus_mimalloc::current_thread_live_bytes();
    let err = p.evaluate(&json!({})).unwrap_err().to_string();
    assert!(err.contains("memory"), "{err}");
    // The set was dropped with the failed evaluation (counted on this thread, where it ran).
    assert!(regorus_mimalloc::current_thread_live_bytes() < before + (16 << 20));
}

#[test]
fn memory_limit_leaves_ordinary_evaluations_alone() {
    let _turn = SMALL_BUDGET.lock().unwrap_or_else(|e| e.into_inner());
    let p = small_budget_policy(
        "package m\nimport rego.v1\nviolation contains count(s) if { s := {i | some i in numbers.range(1, 20000)} }",
    );
    assert_eq!(p.evaluate(&json!({})).unwrap()[0].details, json!(20000));
}
