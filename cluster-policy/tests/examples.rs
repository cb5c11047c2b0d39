//! Golden test: the shipped example constraints over the example cluster (three nodes built
//! from real nftables rulesets, web-02 drifted) give exactly the expected findings.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "test"
)]

use palisade_cluster_policy::{library, Constraint, Evaluator, Limits, PolicySet};
use serde_json::Value;

#[test]
fn the_example_cluster_gives_exactly_the_expected_findings() {
    let constraints: Vec<Constraint> =
        serde_json::from_str(include_str!("../policies/examples/constraints.json")).unwrap();
    let input: Value =
        serde_json::from_str(include_str!("../policies/examples/cluster-input.json")).unwrap();
    let set = PolicySet::new(library::templates(Limits::default()).unwrap(), constraints).unwrap();
    let mut e = Evaluator::new(set);
    let nodes = input["nodes"].as_object().unwrap().clone();
    e.load_all(nodes, input["now"].as_i64().unwrap());
    let report = e.report();
    assert!(
        report.could_not_evaluate.is_empty(),
        "{:?}",
        report.could_not_evaluate
    );
    let mut got: Vec<String> = report
        .violations
        .iter()
        .map(|f| format!("{} {}", f.constraint, f.nodes.join(",")))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "attested-in-the-last-15-minutes db-01",
            "cis-nftables-baseline web-02",
            "cis-nftables-baseline web-02",
            "db-ingress-from-app-subnets db-01",
            "egress-default-deny web-01",
            "egress-default-deny web-01",
            "egress-default-deny web-02",
            "egress-default-deny web-02",
            "raw-sockets-networkd-only web-02",
            "same-firewall-per-role web-02",
            "web-listeners web-02",
            "web-no-admin-ports web-02",
            "web-no-admin-ports web-02",
        ]
    );
    let bpf = report
        .totals
        .iter()
        .find(|t| t.template == "bpf_allowlist")
        .unwrap();
    assert_eq!((bpf.nodes_selected, bpf.violations), (3, 0));
}
