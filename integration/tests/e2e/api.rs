//! Malformed, oversized, unauthenticated and conflicting API requests get a 4xx with a JSON
//! error body naming the problem, and change nothing: the agent keeps attesting and nothing is
//! stored.

use std::time::Duration;

use palisade_evidence::wire::ErrorBody;
use palisade_integration::palisade::AGENT_PORT;
use palisade_transport::pki;
use serde_json::json;

use super::support::{block_on, get_json, World};

pub(super) async fn expect_error(resp: reqwest::Response, status: u16, kind: &str, needle: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let body: ErrorBody = resp.json().await.expect("JSON error body");
    assert_eq!(body.kind, kind);
    assert!(
        body.message.contains(needle),
        "{:?} does not contain {needle:?}",
        body.message
    );
}

#[test]
fn malformed_requests_to_the_agent_get_4xx_and_change_nothing() {
    let w = World::start("agentapi");
    let client = w.verifier.agent_client(&w.host).unwrap();
    let base = format!("https://{}:{AGENT_PORT}", w.host.ip());
    let nonce = "ab".repeat(20);
    block_on(async {
        let info = |c: reqwest::Client| {
            let url = format!("{base}/v1/info");
            async move {
                c.get(url)
                    .send()
                    .await
                    .unwrap()
                    .json::<serde_json::Value>()
                    .await
                    .unwrap()
            }
        };
        let before = info(client.clone()).await;
        for (query, needle) in [
            (String::new(), "invalid query"),
            ("nonce=zz&pcrs=15".to_owned(), "nonce must be"),
            (format!("nonce={nonce}&pcrs=99"), "pcrs must be"),
            (
                format!("nonce={nonce}&pcrs=15&log_offset=-1"),
                "invalid query",
            ),
            (format!("nonce={nonce}&pcrs=10"), "dedicated PCR 15"),
        ] {
            let resp = client
                .get(format!("{base}/v1/quote?{query}"))
                .send()
                .await
                .unwrap();
            expect_error(resp, 400, "bad_request", needle).await;
        }
        expect_error(
            client
                .post(format!("{base}/v1/quote"))
                .send()
                .await
                .unwrap(),
            405,
            "method_not_allowed",
            "",
        )
        .await;
        expect_error(
            client.get(format!("{base}/v2/quote")).send().await.unwrap(),
            404,
            "not_found",
            "",
        )
        .await;
        // Without the verifier's client certificate the TLS handshake itself is refused.
        let cert = pki::read_certs(&w.host.dir().join("agent-state/tls/agent.crt"))
            .unwrap()
            .remove(0);
        let anonymous =
            palisade_transport::client::pinned_client(cert, None, Duration::from_secs(5)).unwrap();
        assert!(anonymous
            .get(format!("{base}/v1/info"))
            .send()
            .await
            .is_err());
        assert_eq!(
            info(client.clone()).await["log_entries"],
            before["log_entries"]
        );
    });
    assert_eq!(w.attest()["outcome"], "pass");
}

#[test]
fn malformed_requests_to_the_verifier_get_4xx_and_change_nothing() {
    let w = World::start("verifapi");
    assert_eq!(w.attest()["outcome"], "pass");
    let ca = pki::read_certs(&w.verifier.ca_cert()).unwrap();
    let anonymous =
        palisade_transport::client::ca_client(&ca, None, Duration::from_secs(5)).unwrap();
    let base = format!("https://127.0.0.1:{}", w.verifier.port());
    let agents_before = w.verifier.cli(&["agents", "list"]).unwrap();
    let results_before = w.verifier.results("verifapi").unwrap().len();

    // What the enrolled agent sent, to build near-valid variants from.
    let ak = std::fs::read(w.host.dir().join("agent-state/tpm/ak.pub")).unwrap();
    let valid = |ek: &[u8], ak: &[u8]| {
        json!({
            "agent_id": "verifapi", "ek_public": base64(ek), "ak_public": base64(ak),
            "contact": "https://10.9.9.9:9443", "tls_certificate": "not a certificate", "pcr": 15
        })
    };
    block_on(async {
        let post = |body: String, content_type: Option<&str>| {
            let mut req = anonymous.post(format!("{base}/v1/agents")).body(body);
            if let Some(ct) = content_type {
                req = req.header("content-type", ct);
            }
            req.send()
        };
        let truncated = r#"{"agent_id": "x", "ek_public": "#.to_owned();
        expect_error(
            post(truncated, Some("application/json")).await.unwrap(),
            400,
            "bad_request",
            "",
        )
        .await;
        expect_error(
            post("{}".into(), None).await.unwrap(),
            415,
            "unsupported_media_type",
            "",
        )
        .await;
        let huge = format!("{{\"agent_id\": \"{}\"}}", "a".repeat(200_000));
        // The verifier refuses the body by its length without reading it and closes the
        // connection: the client gets the 413 (saying `connection: close`), or — when the close
        // beats the upload — a broken pipe. Either way it is refused (checked below: nothing
        // changed). A client of its own keeps that connection out of the pool the next requests
        // reuse.
        let one_shot =
            palisade_transport::client::ca_client(&ca, None, Duration::from_secs(5)).unwrap();
        let sent = one_shot
            .post(format!("{base}/v1/agents"))
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                assert_eq!(resp.headers()["connection"], "close");
                expect_error(resp, 413, "payload_too_large", "").await
            }
            Err(e) => assert!(e.is_request(), "oversized body: {e:?}"),
        }
        let bad_ek = valid(b"garbage", &ak).to_string();
        expect_error(
            post(bad_ek, Some("application/json")).await.unwrap(),
            400,
            "bad_request",
            "ek_public",
        )
        .await;
        // The AK offered as the EK: parses, but is not a storage key.
        let swapped = valid(&ak, &ak).to_string();
        expect_error(
            post(swapped, Some("application/json")).await.unwrap(),
            400,
            "bad_request",
            "storage",
        )
        .await;
        let resp = anonymous
            .post(format!("{base}/v1/agents/verifapi/activate"))
            .json(&json!({"auth_tag": "00"}))
            .send()
            .await
            .unwrap();
        expect_error(resp, 404, "not_found", "awaits activation").await;
        // Operator routes need the operator's client certificate.
        expect_error(
            anonymous
                .get(format!("{base}/v1/agents"))
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
            "client certificate",
        )
        .await;
        // Durable records: operators only, and a malformed page request is a 400.
        expect_error(
            anonymous
                .get(format!("{base}/v1/audit/records"))
                .send()
                .await
                .unwrap(),
            401,
            "unauthorized",
            "client certificate",
        )
        .await;
        let operator = pki::PemPair::read(&w.verifier.dir().join("tls"), "operator")
            .unwrap()
            .unwrap();
        let op =
            palisade_transport::client::ca_client(&ca, Some(&operator), Duration::from_secs(5))
                .unwrap();
        for (query, needle) in [
            ("limit=0", "limit"),
            ("limit=100000", "limit"),
            ("from_seq=-1", "from_seq"),
            ("bogus=1", "bogus"),
        ] {
            let resp = op
                .get(format!("{base}/v1/audit/records?{query}"))
                .send()
                .await
                .unwrap();
            expect_error(resp, 400, "bad_request", needle).await;
        }
        // Labels, EARs and the live stream refuse malformed requests, and change nothing (the
        // agent list is compared below).
        let labels = format!("{base}/v1/agents/verifapi/labels");
        // Bad syntax is a 400, well-formed JSON of the wrong shape a 422 (axum's split).
        for (body, status, needle) in [
            ("{not json", 400, ""),
            (r#"{"sett": {"a": "b"}}"#, 422, "sett"),
            (r#"{"set": {"": "b"}}"#, 400, "labels: at most"),
            (r#"{"set": {"a": 1}}"#, 422, ""),
        ] {
            let resp = op
                .patch(&labels)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            expect_error(resp, status, "bad_request", needle).await;
        }
        // Approvals: malformed ones are refused and none is stored.
        for (body, status, needle) in [
            ("{not json", 400, ""),
            (r#"{"agent_id": "a", "ek": "x"}"#, 422, "ek"),
            (r#"{"agent_id": "a b"}"#, 400, "agent_id must be"),
            (
                r#"{"agent_id": "a", "ek_fingerprint": "abc"}"#,
                400,
                "64 hex digits",
            ),
            (
                r#"{"agent_id": "a", "labels": {"": "x"}}"#,
                400,
                "labels: at most",
            ),
        ] {
            let resp = op
                .post(format!("{base}/v1/approvals"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            expect_error(resp, status, "bad_request", needle).await;
        }
        let approvals = get_json(&op, &format!("{base}/v1/approvals")).await;
        assert_eq!(approvals, json!([]), "a refused approval was stored");
        let resp = op
            .patch(format!("{base}/v1/agents/nobody/labels"))
            .json(&json!({"set": {"a": "b"}}))
            .send()
            .await
            .unwrap();
        expect_error(resp, 404, "not_found", "nobody").await;
        let result = &w.verifier.results("verifapi").unwrap()[0]["id"];
        let resp = op
            .get(format!(
                "{base}/v1/agents/verifapi/results/{result}/ear?format=xml"
            ))
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "bad_request", "format must be").await;
        let resp = op
            .get(format!("{base}/v1/agents/verifapi/results/999999/ear"))
            .send()
            .await
            .unwrap();
        expect_error(resp, 404, "not_found", "999999").await;
        let resp = op
            .get(format!("{base}/v1/agents/verifapi/results/newest/ear"))
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "bad_request", "result id or latest").await;
        // `latest` is the agent's latest result as the verifier reads it with the answer.
        let latest = get_json(
            &op,
            &format!("{base}/v1/agents/verifapi/results/latest/ear?format=json"),
        )
        .await;
        let newest = &w.verifier.results("verifapi").unwrap()[0]["id"];
        assert!(
            latest["submods"]["verifapi"]["palisade.result"].as_i64() <= newest.as_i64(),
            "{latest}"
        );
        assert!(latest["submods"]["verifapi"]["palisade.result"].as_i64() >= result.as_i64());
        let resp = op
            .get(format!("{base}/v1/events?agnt=x"))
            .send()
            .await
            .unwrap();
        expect_error(resp, 400, "bad_request", "agnt").await;
        let resp = anonymous
            .get(format!("{base}/v1/events"))
            .send()
            .await
            .unwrap();
        expect_error(resp, 401, "unauthorized", "client certificate").await;
        // The OpenAPI document is public.
        let doc = get_json(&anonymous, &format!("{base}/v1/openapi.json")).await;
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/v1/agents/{id}/results/{result}/ear"].is_object());
        // Metrics: operators only; the pass so far is counted.
        let resp = anonymous
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let text = op
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for line in [
            "palisade_agents{state=\"pass\"} 1",
            "palisade_attestations_total{outcome=\"pass\"} 1",
            "palisade_attestation_duration_seconds_count 1",
            "palisade_attestations_running 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    });
    assert_eq!(w.verifier.cli(&["agents", "list"]).unwrap(), agents_before);
    assert_eq!(
        w.verifier.results("verifapi").unwrap().len(),
        results_before
    );
    assert_eq!(w.attest()["outcome"], "pass");
}

#[test]
fn another_tpm_cannot_take_over_an_enrolled_agent_id() {
    let w = World::start("takeover");
    assert_eq!(w.attest()["outcome"], "pass");
    // A second host whose agent claims the same id: different EK and AK.
    let impostor = palisade_integration::Host::create("takeover").unwrap();
    impostor
        .nft(palisade_integration::palisade::BASELINE_RULESET)
        .unwrap();
    let config = palisade_integration::palisade::agent_config(&impostor, &w.verifier, "").unwrap();
    // Its verifier URL must use its own gateway; the verifier certificate names only the first
    // host's gateway, so point it at that address (routable from the impostor's namespace too).
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&w.verifier.url_for(&impostor), &w.verifier.url_for(&w.host));
    std::fs::write(&config, text).unwrap();
    let cfg = config.display().to_string();
    let agent = impostor
        .spawn(
            "agent",
            &palisade_integration::bin("palisade-agent").unwrap(),
            &["-c", &cfg],
            &[],
        )
        .unwrap();
    agent
        .wait_for_log("enrolment refused", Duration::from_secs(60))
        .unwrap();
    assert!(agent.log().contains("409"), "{}", agent.log_tail());
    // The enrolled agent is untouched.
    let shown = w.verifier.cli(&["agents", "show", "takeover"]).unwrap();
    assert_eq!(
        shown["agent"]["contact"],
        format!("https://{}:{AGENT_PORT}", w.host.ip())
    );
    assert_eq!(w.attest()["outcome"], "pass");
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
