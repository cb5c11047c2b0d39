//! Network configuration measured end to end: the agent logs it at start as its own `network`
//! entry in the dedicated PCR; a route or address added inside the host becomes a new entry
//! (cause `rtnetlink`) well before the 30 s fallback poll; the verifier accepts the quote over
//! it and stores the document, which shows the change. The configuration switch turns it off.

use std::time::Duration;

use palisade_evidence::log::{kind, LogEntry};
use palisade_integration::palisade::fetch_evidence;
use palisade_integration::wait_until;
use palisade_transport::pki::{self, PemPair};
use serde_json::Value;

use super::events::{entries, log_len, start_with_fallback_poll};
use super::support::{block_on, World, MANUAL};

/// Waits until the network document the agent serves contains `needle`; returns the log entry
/// that measured it. (Matching on content, not on "the next entry": the kernel may announce
/// unrelated changes, such as IPv6 duplicate address detection finishing, in between.)
fn wait_for_network_document(w: &World, needle: &str) -> LogEntry {
    let client = w.verifier.agent_client(&w.host).unwrap();
    wait_until(
        &format!("a network document containing {needle}"),
        Duration::from_secs(10),
        || {
            let evidence = block_on(fetch_evidence(&client, &w.host, &[4; 20], 0))?;
            let Some(doc) = evidence
                .documents
                .iter()
                .find(|d| d.kind == kind::NETWORK && d.content.get().contains(needle))
            else {
                return Ok(None);
            };
            Ok(evidence.log.entries.into_iter().find(|e| e.seq == doc.seq))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()))
}

/// Whether `digest` is the digest of a network entry in the agent's log.
fn is_logged(w: &World, digest: &str) -> bool {
    entries(w, 0)
        .iter()
        .any(|e| e.kind == kind::NETWORK && e.digest.to_string() == digest)
}

/// A stored document, fetched from the verifier's operator API by digest.
fn stored_document(w: &World, digest: &str) -> Value {
    let ca = pki::read_certs(&w.verifier.ca_cert()).unwrap();
    let identity = PemPair::read(&w.verifier.dir().join("tls"), "operator")
        .unwrap()
        .unwrap();
    let client =
        palisade_transport::client::ca_client(&ca, Some(&identity), Duration::from_secs(10))
            .unwrap();
    let url = format!(
        "https://127.0.0.1:{}/v1/documents/{digest}",
        w.verifier.port()
    );
    block_on(async {
        let response = client.get(url).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.json().await.unwrap()
    })
}

/// The digest a verifier result records for the network document.
fn network_digest(result: &Value) -> String {
    let documents = result["documents"].as_object().unwrap();
    let (_, digest) = documents
        .iter()
        .find(|(key, _)| key.starts_with("network/"))
        .unwrap_or_else(|| panic!("no network document in {result}"));
    digest.as_str().unwrap().to_owned()
}

#[test]
fn a_route_and_an_address_added_in_the_host_are_logged_attested_and_stored() {
    let w = start_with_fallback_poll("netroute");
    // Measured at start, into the same log as the ruleset.
    let startup = entries(&w, 0)
        .into_iter()
        .find(|e| e.kind == kind::NETWORK)
        .unwrap();
    assert_eq!(startup.annotations.cause.as_deref(), Some("startup"));
    let first = w.attest();
    assert_eq!(first["outcome"], "pass", "{first}");
    assert!(is_logged(&w, &network_digest(&first)), "{first}");
    let doc = stored_document(&w, &network_digest(&first));
    assert_eq!(doc["format"], "palisade.network/1");
    assert!(!doc.to_string().contains("198.51.100.0/24"));

    // A route: a new entry from the rtnetlink event, not the poll (30 s away).
    let before = log_len(&w);
    w.host
        .run("ip", &["route", "add", "blackhole", "198.51.100.0/24"])
        .unwrap();
    let route_entry = wait_for_network_document(&w, "198.51.100.0/24");
    assert!(route_entry.seq >= before);
    assert_eq!(route_entry.annotations.cause.as_deref(), Some("rtnetlink"));
    assert!(route_entry.annotations.writer.is_none());

    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    let digest = network_digest(&r);
    assert!(is_logged(&w, &digest), "{r}");
    let doc = stored_document(&w, &digest);
    assert!(doc.to_string().contains("198.51.100.0/24"), "{doc}");
    let changed = r["changes"].as_object().unwrap();
    assert!(changed.keys().all(|k| k.starts_with("network/")), "{r}");

    // An address: another entry, attested and stored the same way.
    w.host
        .run("ip", &["address", "add", "192.0.2.77/32", "dev", "lo"])
        .unwrap();
    let addr_entry = wait_for_network_document(&w, "192.0.2.77");
    assert!(addr_entry.seq > route_entry.seq);
    assert_eq!(addr_entry.annotations.cause.as_deref(), Some("rtnetlink"));
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    let doc = stored_document(&w, &network_digest(&r));
    assert!(doc.to_string().contains("192.0.2.77"), "{doc}");
}

#[test]
fn with_network_measurement_switched_off_only_the_ruleset_is_logged() {
    let w = World::start_with("netoff", MANUAL, "network.enabled = false");
    w.host
        .run("ip", &["route", "add", "blackhole", "198.51.100.0/24"])
        .unwrap();
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    assert!(entries(&w, 0).iter().all(|e| e.kind != kind::NETWORK));
    assert!(r["documents"]
        .as_object()
        .unwrap()
        .keys()
        .all(|k| !k.starts_with("network/")));
}
