//! `palisade-agent inspect` run from outside against a host's namespace (`--netns`): the
//! canonical bytes it prints are exactly what the running agent measured (same SHA-256 as the
//! log entry), the digest lines agree, the JSON is the same document, and the exposure report
//! names the host's open ports.

use std::process::Command;

use palisade_evidence::log::{kind, LogEntry};
use palisade_evidence::{Canonical, Sha256Digest};
use palisade_integration::bin;
use serde_json::Value;

use super::events::entries;
use super::support::World;

/// `palisade-agent inspect OBJECT --netns <host> --format FORMAT`; its stdout.
fn inspect(w: &World, object: &str, format: &str) -> Vec<u8> {
    let out = Command::new(bin("palisade-agent").unwrap())
        .args([
            "inspect",
            object,
            "--netns",
            w.host.netns(),
            "--format",
            format,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "inspect {object} --format {format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn latest(w: &World, kind: &str) -> LogEntry {
    entries(w, 0)
        .into_iter()
        .rev()
        .find(|e| e.kind == kind)
        .unwrap()
}

/// Checks canonical, digest and json of `object` against the agent's latest `kind` entry;
/// returns the digest lines after the first.
fn same_as_the_agent(w: &World, object: &str, kind: &str) -> Vec<String> {
    let logged = latest(w, kind).digest;
    let canonical = inspect(w, object, "canonical");
    assert_eq!(Sha256Digest::of(&canonical), logged, "{object}");

    let digest = String::from_utf8(inspect(w, object, "digest")).unwrap();
    let mut lines = digest.lines().map(str::to_owned);
    let whole = lines.next().unwrap();
    let name = if object == "firewall" {
        "ruleset"
    } else {
        object
    };
    assert_eq!(whole, format!("sha256:{logged}  {name}"));

    let json: Value = serde_json::from_slice(&inspect(w, object, "json")).unwrap();
    assert_eq!(
        Canonical::from_value(&json).unwrap().as_bytes(),
        &canonical[..]
    );
    lines.collect()
}

#[test]
fn inspect_prints_exactly_what_the_agent_measures_in_every_format() {
    let w = World::start("inspect");

    let tables = same_as_the_agent(&w, "firewall", kind::NFTABLES);
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert!(tables[0].ends_with("  table inet filter"), "{tables:?}");

    let exposure: Value = serde_json::from_slice(&inspect(&w, "firewall", "exposure")).unwrap();
    assert_eq!(exposure["format"], "palisade-exposure-v1");
    let open: Vec<(String, u64)> = exposure["open_ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["port_from"] == p["port_to"])
        .map(|p| {
            (
                p["proto"].as_str().unwrap().to_owned(),
                p["port_from"].as_u64().unwrap(),
            )
        })
        .collect();
    for port in [9443, 2222] {
        assert!(open.contains(&("tcp".to_owned(), port)), "{open:?}");
    }
    assert!(!open.contains(&("tcp".to_owned(), 22)), "{open:?}");
    assert_eq!(
        exposure["families"]["ipv4"]["hooks"]["input"]["default"],
        "drop"
    );

    let sections = same_as_the_agent(&w, "network", kind::NETWORK);
    assert!(
        sections.iter().any(|l| l.ends_with("  section routes")),
        "{sections:?}"
    );
    let network: Value = serde_json::from_slice(&inspect(&w, "network", "json")).unwrap();
    assert!(
        network.to_string().contains(&w.host.ip().to_string()),
        "{network}"
    );
}
