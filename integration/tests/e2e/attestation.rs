//! The evidence chain end to end: honest hosts pass; firewall changes, outside PCR extends,
//! stale nonces, edited documents and foreign AKs fail with named reasons; restarts and TPM
//! resets cause no false alarm.

use std::time::Duration;

use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::verify::{check, Checked, Expectations, VerifiedState};
use palisade_evidence::ReasonCode;
use palisade_integration::palisade::{
    fetch_evidence, open_ssh, start_agent, Verifier, BASELINE_RULESET,
};
use palisade_integration::{wait_until, Host};
use serde_json::value::RawValue;

use super::support::{block_on, reason_codes, World};

#[test]
fn honest_host_passes_then_fails_naming_the_rule_that_opened_ssh() {
    let w = World::start("web1");
    let pass = w.attest();
    assert_eq!(pass["outcome"], "pass", "{pass}");
    assert_eq!(pass["policy"]["name"], "foundation-firewall");

    open_ssh(&w.host).unwrap();
    let fail = w.attest_until("fail");
    assert_eq!(reason_codes(&fail), vec!["policy_violation"]);
    let message = fail["reasons"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("rule 4 of chain inet filter/input accepts tcp/22"),
        "{message}"
    );
    // The operator sees the same verdict.
    let shown = w.verifier.cli_raw(&["agents", "show", "web1"]).unwrap();
    assert!(
        shown.contains("FAIL") && shown.contains("accepts tcp/22"),
        "{shown}"
    );
}

#[test]
fn pcr_extended_behind_the_agents_back_is_a_log_replay_mismatch() {
    let w = World::start("tamper");
    assert_eq!(w.attest()["outcome"], "pass");
    w.host.pcr_extend(15, [0x42; 32]).unwrap();
    let r = w.attest();
    assert_eq!(r["outcome"], "fail", "{r}");
    assert_eq!(reason_codes(&r), vec!["log_replay_mismatch"]);
    assert!(r["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .contains("log replay mismatch"));
    // It stays failed: the verifier's checkpoint did not advance past the tampering.
    assert_eq!(reason_codes(&w.attest()), vec!["log_replay_mismatch"]);
}

/// Pulls real evidence from the host with nonce `n1` and judges it as the verifier would,
/// expecting nonce `n2` and the given AK.
fn judge_direct(
    w: &World,
    evidence: &palisade_evidence::wire::Evidence,
    ak: &TpmPublic,
    nonce: &[u8],
) -> Vec<ReasonCode> {
    let previous = VerifiedState::default();
    let expect = Expectations {
        ak,
        nonce,
        pcrs: &[15],
        dedicated_pcr: 15,
        log_offset: 0,
        previous: &previous,
    };
    match check(&expect, evidence) {
        Checked::Judged(j) => j.reasons.iter().map(|r| r.code).collect(),
        Checked::Rebooted { .. } => panic!("unexpected reboot; agent log:\n{}", w.agent.log_tail()),
    }
}

fn enrolled_ak(w: &World) -> TpmPublic {
    let ak = std::fs::read(w.host.dir().join("agent-state/tpm/ak.pub")).unwrap();
    TpmPublic::parse(&ak).unwrap()
}

#[test]
fn stale_nonce_edited_document_and_foreign_ak_are_rejected() {
    let w = World::start("evid");
    let client = w.verifier.agent_client(&w.host).unwrap();
    let ak = enrolled_ak(&w);
    let nonce = [7u8; 20];
    let evidence = block_on(fetch_evidence(&client, &w.host, &nonce, 0)).unwrap();
    // The genuine evidence passes every check when judged with its own nonce.
    assert_eq!(judge_direct(&w, &evidence, &ak, &nonce), vec![]);

    // Replayed later against a fresh nonce: stale.
    assert_eq!(
        judge_direct(&w, &evidence, &ak, &[8u8; 20]),
        vec![ReasonCode::NonceMismatch]
    );

    // The ruleset document edited after measurement (policy drop → accept).
    let mut edited = evidence.clone();
    let doc = edited
        .documents
        .iter_mut()
        .find(|d| d.kind == "nftables")
        .unwrap();
    let text = doc
        .content
        .get()
        .replace("\"policy\":\"drop\"", "\"policy\":\"accept\"");
    assert_ne!(text, doc.content.get());
    doc.content = RawValue::from_string(text).unwrap();
    assert_eq!(
        judge_direct(&w, &edited, &ak, &nonce),
        vec![ReasonCode::DocumentDigestMismatch]
    );

    // A quote signed by another host's AK.
    let other = Host::create("other").unwrap();
    other.nft(BASELINE_RULESET).unwrap();
    let other_verifier = Verifier::start(&[other.gateway_ip()], super::support::MANUAL).unwrap();
    let _other_agent = start_agent(&other, &other_verifier).unwrap();
    let other_client = other_verifier.agent_client(&other).unwrap();
    let foreign = block_on(fetch_evidence(&other_client, &other, &nonce, 0)).unwrap();
    assert_eq!(
        judge_direct(&w, &foreign, &ak, &nonce),
        vec![ReasonCode::QuoteSignature]
    );
}

#[test]
fn agent_restart_keeps_its_ak_and_attestation_continues_without_false_alarm() {
    let mut w = World::start("restart");
    assert_eq!(w.attest()["outcome"], "pass");
    let before = w.verifier.cli(&["agents", "show", "restart"]).unwrap()["ak_fingerprint"].clone();
    w.agent.stop();
    w.agent = start_agent(&w.host, &w.verifier).unwrap();
    assert!(
        w.agent.log().contains("resumed the dedicated log"),
        "{}",
        w.agent.log_tail()
    );
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    let after = w.verifier.cli(&["agents", "show", "restart"]).unwrap()["ak_fingerprint"].clone();
    assert_eq!(before, after, "the AK must survive the restart");
    let outcomes: Vec<String> = w
        .verifier
        .results("restart")
        .unwrap()
        .iter()
        .map(|r| r["outcome"].to_string())
        .collect();
    assert!(!outcomes.iter().any(|o| o.contains("fail")), "{outcomes:?}");
}

#[test]
fn tpm_reset_starts_a_new_log_and_the_verifier_follows_it() {
    let mut w = World::start("reboot");
    assert_eq!(w.attest()["outcome"], "pass");
    w.agent.stop();
    w.host.reboot_tpm().unwrap();
    w.agent = start_agent(&w.host, &w.verifier).unwrap();
    assert!(
        w.agent.log().contains("starting a new log"),
        "{}",
        w.agent.log_tail()
    );
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
}

#[test]
fn scheduler_keeps_attesting_on_its_own() {
    let w = World::start_with_interval("sched", Duration::from_millis(300));
    let passes = wait_until("three scheduled passes", Duration::from_secs(20), || {
        let n = w
            .verifier
            .results("sched")?
            .iter()
            .filter(|r| r["outcome"] == "pass")
            .count();
        Ok((n >= 3).then_some(n))
    })
    .unwrap();
    assert!(passes >= 3);
}

#[test]
fn agent_refuses_a_resettable_pcr() {
    palisade_integration::require_root_tools().unwrap();
    let host = Host::create("pcr16").unwrap();
    let verifier = Verifier::start(&[host.gateway_ip()], super::support::MANUAL).unwrap();
    let config =
        palisade_integration::palisade::agent_config(&host, &verifier, "pcr = 16").unwrap();
    let out = host
        .exec(
            palisade_integration::bin("palisade-agent")
                .unwrap()
                .to_str()
                .unwrap(),
            &["-c", config.to_str().unwrap(), "check-config"],
        )
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("can be reset from locality 0"), "{stderr}");
}

#[test]
fn ecc_ek_and_ecc_ak_enrol_and_attest() {
    let w = super::support::World::start_with(
        "ecc",
        super::support::MANUAL,
        "tpm.ek_alg = \"ecc\"\ntpm.ak_alg = \"ecc\"",
    );
    let ak = enrolled_ak(&w);
    assert!(
        matches!(ak.kind(), palisade_evidence::tpm::KeyKind::Ecc { .. }),
        "{:?}",
        ak.kind()
    );
    assert_eq!(w.attest()["outcome"], "pass");
    open_ssh(&w.host).unwrap();
    assert_eq!(
        reason_codes(&w.attest_until("fail")),
        vec!["policy_violation"]
    );
}
