//! Cluster-policy evaluation at fleet scale: N generated nodes (roles web/db/cache, 20 open-port
//! facts each, a few deliberate deviations) under two shipped templates — `firewall_consistency`
//! (cluster scope, group by role) and `admin_ports` (node scope) — timed for a full evaluation
//! and for the incremental re-evaluation after one node changes (medians: 3 full evaluations,
//! 201 incremental updates of each kind, 21 ticks). With `PALISADE_BENCH_WRITE=DIR` it also
//! writes `DIR/cluster-N.json` for `benches/opa/bench_opa.py` and times the same file from its
//! bytes to palisade's report, as OPA's whole call is timed.
//! `cargo bench -p palisade-cluster-policy --bench cluster -- [N…]` (default 1000 10000);
//! `PALISADE_BENCH_NO_MEMORY_LIMIT=1` evaluates without the memory limit, for its cost;
//! `PALISADE_BENCH_WITH_FRESHNESS=1` adds a `freshness` constraint (cluster scope, on the tick).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "benchmark set-up and report"
)]

use std::time::{Duration, Instant};

use palisade_cluster_policy::{library, Constraint, Evaluator, Limits, PolicySet};
use serde_json::{json, Value};

const ROLES: [&str; 3] = ["web", "db", "cache"];

/// A node's open-port facts: 20 entries, ssh only from the bastion range, plus `extra`.
fn open_ports(role: &str, extra: Option<Value>) -> Vec<Value> {
    let mut ports: Vec<Value> = (0..19)
        .map(|i| {
            let port = match role {
                "web" => 8000 + i,
                "db" => 5400 + i,
                _ => 6300 + i,
            };
            fact(port, "0.0.0.0/0", 0)
        })
        .collect();
    ports.push(fact(22, "10.0.0.0/24", 24));
    ports.extend(extra);
    ports
}

fn fact(port: u16, source: &str, prefix: u8) -> Value {
    json!({"family": "ipv4", "hook": "input", "proto": "tcp", "port_from": port, "port_to": port,
        "sources": [source], "widest_prefix": prefix, "destinations": ["0.0.0.0/0"], "iif": null,
        "iif_except": ["lo"], "loopback_only": false, "certain": true,
        "via": [{"table": "inet filter", "chain": "input", "index": 3,
                 "text": format!("tcp dport {port} accept")}]})
}

/// Node `i` of `n`: every 997th web node runs another firewall, every 1499th exposes ssh.
fn node(i: usize) -> (String, Value) {
    let role = ROLES[(i * 7 + i / 3) % 3];
    let drift = role == "web" && i % 997 == 5;
    let ssh = i % 1499 == 11;
    let digest = if drift {
        format!("{role}-v0")
    } else {
        format!("{role}-v1")
    };
    let extra = ssh.then(|| fact(22, "0.0.0.0/0", 0));
    let id = format!("node-{i:05}");
    let exposure = json!({"format": "palisade-exposure-v1", "families": {},
        "open_ports": open_ports(role, extra), "loopback": {}, "unevaluated": [],
        "truncated": false});
    let doc = json!({
        "id": id, "labels": {"role": role},
        "attestation": {"verified": true, "outcome": "pass", "at": 1_000, "pcr": 15, "log_entries": 9},
        "firewall": {"digest": digest, "digests": {"host": digest}, "ruleset": null, "rulesets": {},
                     "exposure": exposure, "exposures": {"host": exposure}, "exposure_errors": {}},
        "network": {}, "runtime": {"bpf": {}, "sockets": {}, "kernel": null},
        "boot": null, "ima": null,
    });
    (id, doc)
}

fn set() -> PolicySet {
    let constraints: Vec<Constraint> = serde_json::from_value(json!([
        {"name": "same-firewall-per-role", "template": "firewall_consistency",
         "parameters": {"group_by": "role"}},
        {"name": "no-admin-ports", "template": "admin_ports", "parameters": {}},
    ]))
    .unwrap();
    let mut constraints = constraints;
    if std::env::var_os("PALISADE_BENCH_WITH_FRESHNESS").is_some() {
        constraints.push(
            serde_json::from_value(json!({"name": "attested-recently", "template": "freshness",
                "parameters": {"max_age_s": 86_400}}))
            .unwrap(),
        );
    }
    let mut limits = Limits::default();
    if std::env::var_os("PALISADE_BENCH_NO_MEMORY_LIMIT").is_some() {
        limits.memory = None;
    }
    PolicySet::new(library::templates(limits).unwrap(), constraints).unwrap()
}

/// Incremental updates timed per kind; their median is what is reported (this VM's preemption
/// spikes of 5–9 ms hit a few of them in any run).
const ROUNDS: i64 = 201;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Writes `DIR/cluster-N.json` for `benches/opa/bench_opa.py`: the same nodes, the cluster
/// document the evaluator keeps (every constraint selects every node, so one serves all), and
/// the constraints' parameters with defaults.
fn write_for_opa(dir: &str, n: usize, nodes: &[(String, Value)], evaluator: &Evaluator) {
    let set = evaluator.set();
    let parameters: serde_json::Map<String, Value> = set
        .constraints()
        .iter()
        .map(|c| (c.template.clone(), c.parameters.clone()))
        .collect();
    let cluster = evaluator
        .cluster_input("same-firewall-per-role")
        .expect("a cluster-scope constraint");
    let nodes: serde_json::Map<String, Value> = nodes.iter().cloned().collect();
    let input = json!({"nodes": nodes, "parameters": parameters, "cluster": cluster});
    let path = format!("{dir}/cluster-{n}.json");
    std::fs::write(&path, serde_json::to_vec(&input).unwrap()).unwrap();
    eprintln!("wrote {path}");
}

/// From the bytes of the file OPA reads to the report, as OPA's `total` is: parse the JSON,
/// load and evaluate every node (the file's precomputed `cluster` is ignored: palisade builds
/// its own), report.
fn from_bytes(path: &str) {
    let bytes = std::fs::read(path).unwrap();
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut input: Value = serde_json::from_slice(&bytes).unwrap();
        let nodes = std::mem::take(input["nodes"].as_object_mut().expect("nodes in the file"));
        let mut e = Evaluator::new(set());
        e.load_all(nodes, 2_000);
        let report = e.report();
        times.push(t.elapsed());
        assert!(!report.violations.is_empty());
    }
    println!(
        "{path}: bytes → report {:>8.1} ms ({} bytes)",
        ms(median(times)),
        bytes.len()
    );
}

fn run(n: usize) {
    let nodes: Vec<(String, Value)> = (0..n).map(node).collect();
    let (mut fulls, mut converts, mut evals) = (Vec::new(), Vec::new(), Vec::new());
    let mut evaluator = Evaluator::new(set());
    for _ in 0..3 {
        let mut e = Evaluator::new(set());
        let batch = nodes.clone();
        let t = Instant::now();
        e.add_all(batch, 2_000);
        let converted = t.elapsed();
        e.evaluate_all();
        fulls.push(t.elapsed());
        converts.push(converted);
        evals.push(t.elapsed() - converted);
        evaluator = e;
    }
    if let Ok(dir) = std::env::var("PALISADE_BENCH_WRITE") {
        write_for_opa(&dir, n, &nodes, &evaluator);
        from_bytes(&format!("{dir}/cluster-{n}.json"));
    }
    println!(
        "nodes {n:>6}  full = convert {:>8.1} ms + evaluate {:>8.1} ms",
        ms(median(converts)),
        ms(median(evals))
    );
    let report = evaluator.report();
    // Incremental, the common case: a web node re-attested unchanged (only its time moves),
    // which re-evaluates its node-scope constraints (cluster scope waits for the next tick).
    let (id, mut doc) = nodes
        .iter()
        .find(|(_, d)| d["labels"]["role"] == "web")
        .cloned()
        .unwrap();
    let mut same = Vec::new();
    for round in 0..ROUNDS {
        doc["attestation"]["at"] = json!(3_000 + round);
        let t = Instant::now();
        evaluator.upsert(&id, &doc, 3_000 + round);
        same.push(t.elapsed());
    }
    // The tick that catches up on them: every cluster-scope constraint over the fleet.
    let mut ticks = Vec::new();
    for round in 0..21 {
        let t = Instant::now();
        evaluator.tick(3_100 + round);
        ticks.push(t.elapsed());
    }
    let tick = median(ticks);
    // Incremental after a change cluster scope sees at once: the node's firewall changes, then
    // changes back.
    let original = doc["firewall"]["digest"].clone();
    let mut incs = Vec::new();
    for round in 0..ROUNDS {
        let digest = if round % 2 == 0 {
            json!("web-v9")
        } else {
            original.clone()
        };
        doc["firewall"]["digest"] = digest;
        let t = Instant::now();
        evaluator.upsert(&id, &doc, 3_200);
        incs.push(t.elapsed());
    }
    let t = Instant::now();
    let _ = evaluator.report();
    let report_time = t.elapsed();
    let per_constraint: Vec<String> = report
        .totals
        .iter()
        .map(|t| format!("{} {}", t.constraint, t.violations))
        .collect();
    println!(
        "nodes {n:>6}  full {:>8.1} ms  unchanged node {:>6.2} ms  tick {:>7.2} ms  changed node {:>7.2} ms  report {:>5.2} ms  violations [{}]",
        ms(median(fulls)),
        ms(median(same)),
        ms(tick),
        ms(median(incs)),
        ms(report_time),
        per_constraint.join(", ")
    );
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1000, 10_000]
    } else {
        sizes
    };
    for n in sizes {
        run(n);
    }
}
