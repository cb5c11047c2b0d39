//! Operator approval (`require_approval`): an agent that proved its TPM waits, unmonitored,
//! until `palisade agents enroll` releases it, and the approval's labels win; an approval that
//! pins another EK is refused while the agent waits (409) and refuses the agent's registration
//! when given first; a pre-approval of the right EK lets the agent in at once.

use std::time::Duration;

use palisade_integration::palisade::{agent_config, Verifier};
use palisade_integration::{bin, wait_until, Host, Proc};
use serde_json::Value;

use super::support::World;

const OTHER_EK: &str = "0000000000000000000000000000000000000000000000000000000000000001";

fn state(verifier: &Verifier, id: &str) -> String {
    let shown = verifier.cli(&["agents", "show", id]).unwrap();
    shown["agent"]["state"].as_str().unwrap().to_owned()
}

/// Starts another agent process in `host` (log `name.log`), waiting for `needle` in its log.
fn restart_agent(host: &Host, verifier: &Verifier, name: &str, needle: &str) -> Proc {
    let config = agent_config(host, verifier, "").unwrap();
    let cfg = config.display().to_string();
    let agent = host
        .spawn(
            name,
            &bin("palisade-agent").unwrap(),
            &["-c", &cfg],
            &[("PALISADE_LOG", "info")],
        )
        .unwrap();
    agent.wait_for_log(needle, Duration::from_secs(60)).unwrap();
    agent
}

#[test]
fn an_agent_waits_unmonitored_until_an_operator_approves_it_and_the_approval_labels_win() {
    let w = World::start_configured(
        "appr1",
        Duration::from_millis(300),
        "require_approval = true",
        "",
    );
    let id = w.host.label();
    assert!(w.agent.log().contains("awaits an operator's approval"));
    assert_eq!(state(&w.verifier, id), "awaiting_approval");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        w.verifier.results(id).unwrap().is_empty(),
        "a waiting agent was attested"
    );
    let refused = w.verifier.cli_raw(&["agents", "attest", id]).unwrap_err();
    assert!(refused.to_string().contains("not monitored"), "{refused}");

    let approved = w
        .verifier
        .cli(&["agents", "enroll", id, "role=db", "zone=b"])
        .unwrap();
    assert_eq!(approved["released"], true, "{approved}");
    let results = wait_until("a result", Duration::from_secs(30), || {
        let r = w.verifier.results(id)?;
        Ok((!r.is_empty()).then_some(r))
    })
    .unwrap();
    assert_eq!(results[0]["outcome"], "pass", "{results:?}");
    let shown = w.verifier.cli(&["agents", "show", id]).unwrap();
    assert_eq!(shown["agent"]["labels"]["role"], "db", "{shown}");
    let approvals = w.verifier.cli(&["agents", "approvals"]).unwrap();
    assert_eq!(approvals[0]["agent_id"], id);
    assert_eq!(approvals[0]["approved_by"], "operator", "{approvals}");
}

#[test]
fn an_approval_pinning_another_ek_is_refused_and_a_pre_approval_admits_only_its_ek() {
    let mut w = World::start_configured(
        "appr2",
        Duration::from_millis(300),
        "require_approval = true",
        "",
    );
    let id = w.host.label().to_owned();
    let shown = w.verifier.cli(&["agents", "show", &id]).unwrap();
    let ek = shown["ek_fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(ek.len(), 64, "{shown}");

    // While it waits: an approval for another EK → 409, nothing stored, still waiting.
    let refused = w
        .verifier
        .cli_raw(&["agents", "enroll", &id, "--ek", OTHER_EK])
        .unwrap_err();
    assert!(refused.to_string().contains("approved for EK"), "{refused}");
    assert_eq!(
        w.verifier.cli(&["agents", "approvals"]).unwrap(),
        Value::Array(vec![])
    );
    assert_eq!(state(&w.verifier, &id), "awaiting_approval");

    // Removed, then pre-approved for another EK: its registration is refused, nothing stored.
    w.agent.stop();
    w.verifier.cli(&["agents", "remove", &id]).unwrap();
    w.verifier
        .cli(&["agents", "enroll", &id, "--ek", OTHER_EK])
        .unwrap();
    let agent = restart_agent(&w.host, &w.verifier, "agent-refused", "enrolment refused");
    assert!(agent.log().contains("approved for EK"), "{}", agent.log());
    assert_eq!(
        w.verifier.cli(&["agents", "list"]).unwrap(),
        Value::Array(vec![])
    );
    drop(agent);

    // Pre-approved for its own EK: monitored as soon as it enrols.
    w.verifier
        .cli(&["agents", "enroll", &id, "--ek", &ek])
        .unwrap();
    w.agent = restart_agent(
        &w.host,
        &w.verifier,
        "agent-approved",
        "enrolled with the verifier",
    );
    assert!(!w.agent.log().contains("awaits"), "{}", w.agent.log());
    let results = wait_until("a result", Duration::from_secs(30), || {
        let r = w.verifier.results(&id)?;
        Ok((!r.is_empty()).then_some(r))
    })
    .unwrap();
    assert_eq!(results[0]["outcome"], "pass", "{results:?}");
}
