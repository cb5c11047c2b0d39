//! A verifier restart loses nothing: alerts queued while the webhook receiver is down survive a
//! `kill -9` and arrive exactly once, signed, when it comes up; the pull scheduler resumes every
//! agent from its stored state without a false alarm.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_integration::palisade::{open_ssh, Verifier, BASELINE_RULESET};
use palisade_integration::{free_port, wait_until};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::support::World;

/// One delivery the receiver got: alert id header, signature header, body.
#[derive(Debug, Clone)]
struct Delivery {
    id: String,
    signature: String,
    body: Vec<u8>,
}

/// A plain-HTTP webhook receiver on `port` that records every POST and answers 200.
fn receiver(port: u16) -> Arc<Mutex<Vec<Delivery>>> {
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = BTreeMap::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            sink.lock().unwrap().push(Delivery {
                id: headers
                    .get("x-palisade-alert-id")
                    .cloned()
                    .unwrap_or_default(),
                signature: headers
                    .get("x-palisade-signature")
                    .cloned()
                    .unwrap_or_default(),
                body,
            });
            let mut stream = stream;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    got
}

/// HMAC-SHA256 written out from RFC 2104 (independent of the verifier's implementation).
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    format!("sha256={}", hex::encode(outer))
}

fn alertname(d: &Delivery) -> (String, String) {
    let v: Value = serde_json::from_slice(&d.body).unwrap();
    let alert = &v["alerts"][0];
    (
        alert["labels"]["alertname"].as_str().unwrap().to_owned(),
        alert["status"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn alerts_queued_while_the_receiver_is_down_survive_kill_9_and_arrive_once_signed() {
    let port = free_port().unwrap();
    let hook = format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"");
    let mut w = World::start_configured("alerts", super::support::MANUAL, &hook, "");
    // Enrolment, then pass → fail → pass: three alerts, none deliverable (nothing listens).
    assert_eq!(w.attest()["outcome"], "pass");
    open_ssh(&w.host).unwrap();
    w.attest_until("fail");
    w.host.nft(BASELINE_RULESET).unwrap();
    w.attest_until("pass");
    assert!(
        w.verifier.proc.log().contains("alert not delivered"),
        "the verifier never tried the down receiver"
    );
    w.verifier.kill_and_restart().unwrap();
    let got = receiver(port);
    let all = wait_until("three alerts delivered", Duration::from_secs(90), || {
        let got = got.lock().unwrap();
        Ok((got.len() >= 3).then(|| got.clone()))
    })
    .unwrap();
    // Nothing more arrives: no redelivery, and the restart raised no false alarm.
    assert_eq!(w.attest()["outcome"], "pass");
    std::thread::sleep(Duration::from_secs(2));
    let all_now = got.lock().unwrap().clone();
    assert_eq!(all_now.len(), 3, "{all_now:#?}");
    let mut ids: Vec<&str> = all.iter().map(|d| d.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "an alert was delivered twice: {all:#?}");
    let key_hex = std::fs::read_to_string(w.verifier.dir().join("alert-hmac.key")).unwrap();
    let key = hex::decode(key_hex.trim()).unwrap();
    for d in &all {
        assert_eq!(
            d.signature,
            hmac_sha256(&key, &d.body),
            "bad signature on {}",
            d.id
        );
    }
    let mut by_id = all.clone();
    by_id.sort_by_key(|d| d.id.parse::<i64>().unwrap());
    let names: Vec<(String, String)> = by_id.iter().map(alertname).collect();
    let names: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, s)| (a.as_str(), s.as_str()))
        .collect();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0].0, "PalisadeAgentEnrolled");
    assert_eq!(names[1].1, "firing");
    assert_eq!(names[2].1, "resolved");
}

#[test]
fn the_scheduler_resumes_after_kill_9_from_stored_state_without_a_false_alarm() {
    let mut w = World::start_with_interval("resume", Duration::from_millis(300));
    let id = w.host.label().to_owned();
    at_least(&w.verifier, &id, 3);
    let before = w.verifier.cli(&["agents", "show", &id]).unwrap();
    let verified = before["log_entries_verified"].as_u64().unwrap();
    assert!(verified > 0);
    let count = w.verifier.results(&id).unwrap().len();
    w.verifier.kill_and_restart().unwrap();
    let results = at_least(&w.verifier, &id, count + 3);
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.iter().all(|o| *o == "pass"), "{outcomes:?}");
    let after = w.verifier.cli(&["agents", "show", &id]).unwrap();
    assert!(after["log_entries_verified"].as_u64().unwrap() >= verified);
    assert!(
        w.verifier.proc.log().contains("verifier listening"),
        "not the restarted verifier's log"
    );
}

/// Waits (30 s at most) until `id` has `n` stored results; returns them, newest first.
fn at_least(verifier: &Verifier, id: &str, n: usize) -> Vec<Value> {
    wait_until(&format!("{n} results"), Duration::from_secs(30), || {
        let results = verifier.results(id)?;
        Ok((results.len() >= n).then_some(results))
    })
    .unwrap()
}
