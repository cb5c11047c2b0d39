//! `palisade policy eval` and `policy test`, offline (no verifier, no credentials), on the real
//! binary — with regorus's counting allocator installed, as in production: the shipped example
//! fleet, a template past the memory or time limit reported as "could not evaluate" (exit 1,
//! never a pass), and unusable input exiting 2.

use std::path::{Path, PathBuf};
use std::process::Output;

use palisade_integration::bin;
use serde_json::{json, Value};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cluster-policy/policies/examples")
}

fn palisade(args: &[&str]) -> Output {
    std::process::Command::new(bin("palisade").unwrap())
        .args(["--state-dir", "/nonexistent/palisade-policy-cli"])
        .args(["--verifier", "https://127.0.0.1:9"])
        .args(args)
        .output()
        .unwrap()
}

fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

/// A policy directory with one cluster-scope template whose rule builds a set of `n` pairs,
/// and a `deny` constraint over every node.
fn set_builder(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("builder");
    std::fs::create_dir(&t).unwrap();
    let spec = json!({"name": "builder", "version": 1, "scope": "cluster",
        "title": "t", "description": "d", "parameters": {"type": "object"}});
    std::fs::write(t.join("template.json"), spec.to_string()).unwrap();
    let rego = format!(
        "package palisade.templates.builder\nimport rego.v1\n\
         violation contains {{\"msg\": sprintf(\"%d\", [count(s)]), \"nodes\": []}} if {{\n\
         s := {{[i, \"padding\"] | some i in numbers.range(1, {n})}}\n count(s) < 0\n}}\n"
    );
    std::fs::write(t.join("template.rego"), rego).unwrap();
    let constraints = json!([{"name": "build", "template": "builder", "match": {"labels": {}},
        "parameters": {}, "enforcement": "deny"}]);
    std::fs::write(dir.path().join("constraints.json"), constraints.to_string()).unwrap();
    dir
}

fn eval_builder(n: u64, limits: &[&str]) -> Output {
    let dir = set_builder(n);
    let input = examples().join("cluster-input.json");
    let mut args = vec![
        "--json",
        "policy",
        "eval",
        "--input",
        input.to_str().unwrap(),
        "--policy",
        dir.path().to_str().unwrap(),
    ];
    args.extend_from_slice(limits);
    palisade(&args)
}

#[test]
fn eval_reports_the_example_fleet_and_exits_1_on_deny_violations() {
    let dir = examples();
    let out = palisade(&[
        "--json",
        "policy",
        "eval",
        "--input",
        dir.join("cluster-input.json").to_str().unwrap(),
        "--policy",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r = report(&out);
    assert_eq!(r["nodes"], 3);
    let constraints: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("constraints.json")).unwrap()).unwrap();
    assert_eq!(r["totals"].as_array().unwrap().len(), constraints.len());
    assert!(!r["violations"].as_array().unwrap().is_empty());
    assert_eq!(r["could_not_evaluate"], json!([]));
}

#[test]
fn a_template_past_the_memory_limit_could_not_evaluate_and_fails_the_run() {
    // A hundred million pairs: gigabytes. Stopped at 32 MiB, long before the time limit.
    let out = eval_builder(
        100_000_000,
        &["--memory-limit-mib", "32", "--time-limit-ms", "600000"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r = report(&out);
    let failed = r["could_not_evaluate"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{r}");
    assert_eq!(failed[0]["constraint"], "build");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("memory"), "{reason}");
    assert_eq!(r["totals"][0]["could_not_evaluate"], 1);
}

#[test]
fn the_same_template_within_its_limits_evaluates_and_passes() {
    let out = eval_builder(10_000, &["--memory-limit-mib", "32"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let r = report(&out);
    assert_eq!(r["could_not_evaluate"], json!([]));
    assert_eq!(r["violations"], json!([]));
}

#[test]
fn a_template_past_the_time_limit_could_not_evaluate() {
    let out = eval_builder(
        100_000_000,
        &["--memory-limit-mib", "0", "--time-limit-ms", "200"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let r = report(&out);
    let reason = r["could_not_evaluate"][0]["reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!reason.contains("memory"), "{reason}");
}

#[test]
fn unusable_input_exits_2_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.json");
    let whole = std::fs::read(examples().join("cluster-input.json")).unwrap();
    std::fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    let no_nodes = dir.path().join("no-nodes.json");
    std::fs::write(&no_nodes, b"{\"now\": 1}").unwrap();
    let examples = examples();
    for input in [&truncated, &no_nodes, &dir.path().join("missing.json")] {
        let out = palisade(&[
            "policy",
            "eval",
            "--input",
            input.to_str().unwrap(),
            "--policy",
            examples.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{input:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("palisade: error:"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
