//! Push mode: an agent the verifier does not pull sends its own evidence; it is judged like a
//! pulled quote (pass, then fail naming the rule), goes `missed` when it falls silent and comes
//! back when it speaks again. Early, forged, unrequested and replayed submissions get a 4xx and
//! store nothing.

use std::time::Duration;

use palisade_evidence::wire::push::{PushAccepted, PushCapabilities, PushChallenge};
use palisade_evidence::wire::ErrorBody;
use palisade_integration::palisade::{
    fetch_evidence, fetch_evidence_for, open_ssh, start_agent_with, BASELINE_RULESET,
};
use palisade_integration::wait_until;
use palisade_transport::pki;
use serde_json::Value;

use super::support::{block_on, World, MANUAL};

const PUSH: &str = "verifier.push = true";

fn state(w: &World) -> String {
    let list = w.verifier.cli(&["agents", "list"]).unwrap();
    list[0]["state"].as_str().unwrap_or_default().to_owned()
}

fn latest(w: &World) -> Value {
    let results = w.verifier.results(w.host.label()).unwrap();
    results.first().cloned().unwrap_or(Value::Null)
}

/// Waits (30 s at most) until the newest stored result has `outcome`.
fn until_latest(w: &World, outcome: &str) -> Value {
    wait_until(
        &format!("a pushed {outcome}"),
        Duration::from_secs(30),
        || {
            let r = latest(w);
            Ok((r["outcome"] == outcome).then_some(r))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()))
}

#[test]
fn a_push_agent_is_judged_from_its_own_evidence_and_missed_when_silent() {
    let mut w = World::start_configured("push", Duration::from_secs(1), "", PUSH);
    let shown = w.verifier.cli(&["agents", "show", w.host.label()]).unwrap();
    assert_eq!(shown["agent"]["push"], true);
    until_latest(&w, "pass");
    // The verifier cannot pull a push agent, so it does not pretend to.
    let refused = w
        .verifier
        .cli_raw(&["agents", "attest", w.host.label()])
        .unwrap_err();
    assert!(format!("{refused:#}").contains("push mode"), "{refused:#}");
    open_ssh(&w.host).unwrap();
    let failed = until_latest(&w, "fail");
    let reasons = failed["reasons"].to_string();
    assert!(reasons.contains("tcp/22"), "{reasons}");
    w.host.nft(BASELINE_RULESET).unwrap();
    until_latest(&w, "pass");
    // Silent: `missed` within the liveness window (3 intervals, at least 5 s).
    w.agent.kill();
    wait_until("state missed", Duration::from_secs(30), || {
        Ok((state(&w) == "missed").then_some(()))
    })
    .unwrap();
    let status = w.verifier.cli(&["status"]).unwrap();
    assert_eq!(status["states"]["missed"], 1, "{status}");
    // Speaking again: pushed evidence clears it.
    w.agent = start_agent_with(&w.host, &w.verifier, PUSH).unwrap();
    let before = w.verifier.results(w.host.label()).unwrap().len();
    wait_until("a new pushed pass", Duration::from_secs(30), || {
        let results = w.verifier.results(w.host.label())?;
        Ok((results.len() > before && results[0]["outcome"] == "pass").then_some(()))
    })
    .unwrap();
    assert_eq!(state(&w), "pass");
}

async fn expect(resp: reqwest::Response, status: u16, needle: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let body: ErrorBody = resp.json().await.expect("JSON error body");
    assert!(
        body.message.contains(needle),
        "{:?} lacks {needle:?}",
        body.message
    );
}

#[test]
fn early_forged_unrequested_and_replayed_submissions_get_4xx_and_store_nothing() {
    let mut w = World::start_configured("pushbad", MANUAL, "", PUSH);
    let id = w.host.label().to_owned();
    until_latest(&w, "pass");
    let base = format!(
        "https://127.0.0.1:{}/v1/agents/{id}/attestations",
        w.verifier.port()
    );
    let ca = pki::read_certs(&w.verifier.ca_cert()).unwrap();
    let anonymous =
        palisade_transport::client::ca_client(&ca, None, Duration::from_secs(10)).unwrap();
    let caps = PushCapabilities {
        pcr: 15,
        log_entries: 0,
    };
    block_on(async {
        // The agent has just pushed: asking again is too early, with Retry-After.
        let resp = anonymous.post(&base).json(&caps).send().await.unwrap();
        assert!(resp.headers().contains_key("retry-after"));
        expect(resp, 429, "too early").await;
    });
    // A restart voids challenges and the early gate; the agent itself sleeps an hour.
    w.verifier.kill_and_restart().unwrap();
    let stored = w.verifier.results(&id).unwrap().len();
    let agent_client = w.verifier.agent_client(&w.host).unwrap();
    block_on(async {
        let resp = anonymous.post(&base).json(&caps).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let challenge: PushChallenge = resp.json().await.unwrap();
        let request = challenge.request().unwrap();
        let genuine = fetch_evidence_for(&agent_client, &w.host, &request)
            .await
            .unwrap();
        let patch = |body: String| {
            anonymous
                .patch(format!("{base}/latest"))
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        // Forged: the signature no longer verifies with the enrolled AK.
        let mut forged = genuine.clone();
        let last = forged.quote.signature.len() - 1;
        forged.quote.signature[last] ^= 1;
        let resp = patch(serde_json::to_string(&forged).unwrap())
            .await
            .unwrap();
        expect(resp, 403, "does not verify with the enrolled AK").await;
        // Genuine evidence over a nonce the verifier never issued.
        let unrequested = fetch_evidence(&agent_client, &w.host, &[9; 20], request.log_offset)
            .await
            .unwrap();
        let resp = patch(serde_json::to_string(&unrequested).unwrap())
            .await
            .unwrap();
        expect(resp, 410, "no outstanding challenge").await;
        // Malformed.
        let resp = patch("{\"agent_id\":".into()).await.unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        // The genuine answer is accepted once…
        let resp = patch(serde_json::to_string(&genuine).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
        let accepted: PushAccepted = resp.json().await.unwrap();
        assert_eq!(accepted.next_attestation_in_s, MANUAL.as_secs());
        // …and refused when replayed.
        let resp = patch(serde_json::to_string(&genuine).unwrap())
            .await
            .unwrap();
        expect(resp, 410, "no outstanding challenge").await;
        // Unknown agent; pull-mode agents are not pushed (none here: the route says so).
        let resp = anonymous
            .post(base.replace(&id, "nobody"))
            .json(&caps)
            .send()
            .await
            .unwrap();
        expect(resp, 404, "no active agent").await;
    });
    // Exactly one new result: the accepted one.
    let results = wait_until(
        "the accepted evidence judged",
        Duration::from_secs(20),
        || {
            let results = w.verifier.results(&id)?;
            Ok((results.len() > stored).then_some(results))
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(w.verifier.results(&id).unwrap().len(), stored + 1);
    assert_eq!(results[0]["outcome"], "pass", "{}", results[0]);
}
