//! Cluster policies end to end: three namespace hosts with swtpm agents, one verifier with a
//! "every web node has the same firewall" constraint. One host drifts (ssh opened) → exactly
//! one cluster violation, naming it, in the report, in `palisade policy explain`, in the EAR of
//! its latest result and in the log; it comes back → the violation clears; after `kill -9`
//! the verifier rebuilds the view from the stored results.

use std::time::Duration;

use palisade_integration::palisade::{open_ssh, start_agent, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, wait_until, Host, Proc};
use serde_json::Value;

const CONSTRAINTS: &str = r#"[{"name": "web-same-firewall", "template": "firewall_consistency",
  "match": {"labels": {"role": "web"}}, "parameters": {"group_by": "role"}, "enforcement": "deny"}]"#;

/// Waits (60 s at most) until the report satisfies `ok`; returns it.
fn report_until(verifier: &Verifier, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    wait_until(what, Duration::from_secs(60), || {
        let report = verifier.cli(&["policy", "report"]);
        // `policy report` exits 1 while a deny constraint is violated: read it as JSON anyway.
        let report = match report {
            Ok(r) => r,
            Err(_) => {
                let out = verifier
                    .cli_command(&["--json", "policy", "report"])?
                    .output()?;
                serde_json::from_slice(&out.stdout)?
            }
        };
        Ok(ok(&report).then_some(report))
    })
    .unwrap()
}

#[test]
fn one_drifting_host_is_the_one_cluster_violation_and_it_clears_when_it_comes_back() {
    require_root_tools().unwrap();
    let hosts: Vec<Host> = ["cl1", "cl2", "cl3"]
        .iter()
        .map(|l| {
            let h = Host::create(l).unwrap();
            h.nft(BASELINE_RULESET).unwrap();
            h
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("constraints.json"), CONSTRAINTS).unwrap();
    let gateways: Vec<_> = hosts.iter().map(Host::gateway_ip).collect();
    let extra = format!(
        "cluster_policy_dir = {:?}",
        dir.path().display().to_string()
    );
    let mut verifier = Verifier::start_with(&gateways, Duration::from_millis(300), &extra).unwrap();
    let _agents: Vec<Proc> = hosts
        .iter()
        .map(|h| start_agent(h, &verifier).unwrap())
        .collect();

    let clean =
        |r: &Value| r["nodes"] == 3 && r["violations"].as_array().is_some_and(Vec::is_empty);
    let report = report_until(&verifier, "three compliant nodes", clean);
    assert_eq!(report["totals"][0]["nodes_selected"], 3, "{report}");

    open_ssh(&hosts[1]).unwrap();
    let drifted = report_until(&verifier, "one violation", |r| {
        r["violations"].as_array().is_some_and(|v| !v.is_empty())
    });
    let violations = drifted["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{drifted}");
    assert_eq!(
        violations[0]["nodes"],
        serde_json::json!(["cl2"]),
        "{drifted}"
    );
    assert_eq!(violations[0]["constraint"], "web-same-firewall");
    let explained = verifier
        .cli_command(&["--json", "policy", "explain", "cl2"])
        .unwrap()
        .output()
        .unwrap();
    let explained: Value = serde_json::from_slice(&explained.stdout).unwrap();
    assert_eq!(
        explained["findings"].as_array().unwrap().len(),
        1,
        "{explained}"
    );
    assert_eq!(
        explained["node"]["attestation"]["verified"], true,
        "{explained}"
    );
    // The EAR of its latest result carries the finding.
    let ear = verifier.cli(&["agents", "ear", "cl2"]).unwrap();
    let carried = &ear["submods"]["cl2"]["palisade.cluster-findings"];
    assert_eq!(carried[0]["constraint"], "web-same-firewall", "{ear}");
    let text = verifier
        .cli_command(&["policy", "explain", "cl1"])
        .unwrap()
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("no cluster policy names it"));

    hosts[1].run("nft", &["flush", "ruleset"]).unwrap();
    hosts[1].nft(BASELINE_RULESET).unwrap();
    report_until(&verifier, "the violation to clear", clean);
    let log = verifier.proc.log();
    assert!(
        log.contains("cluster policy violated"),
        "{}",
        verifier.proc.log_tail()
    );
    assert!(log.contains("cluster policy violation cleared"));

    // kill -9: the restarted verifier rebuilds the view from the stored results.
    verifier.kill_and_restart().unwrap();
    verifier
        .proc
        .wait_for_log(
            "cluster view restored from stored results",
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(
        verifier.proc.log().contains("nodes=3"),
        "{}",
        verifier.proc.log_tail()
    );
    report_until(&verifier, "three compliant nodes after the restart", clean);
}
