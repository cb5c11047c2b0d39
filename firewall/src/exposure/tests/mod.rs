//! Exposure over real listings: `fixtures/*.nft` loaded into nft 1.0.6 and listed with
//! `nft -j list ruleset` into `fixtures/*.json` (the collectors' kernel tests check the same
//! verdicts against real traffic). Each test asks about concrete packets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::net::IpAddr;

use serde_json::Value;

use super::{exposure, exposure_with, Exposure, ExposureOptions, Packet, PacketVerdict};

mod differential;
use crate::from_nft_json;

fn load(json: &str) -> Exposure {
    exposure(&from_nft_json(json.as_bytes()).unwrap())
}

/// A new packet on `iif` eth0 unless said otherwise.
fn pkt(proto: &str, port: u16, src: &str) -> Packet {
    Packet {
        proto: proto.to_owned(),
        port: Some(port),
        source: src.parse::<IpAddr>().unwrap(),
        destination: None,
        iif: Some("eth0".to_owned()),
        oif: None,
        ct_state: "new".to_owned(),
    }
}

/// `A` accepted (certain), `P` possible, `D` dropped; with the accepting rule's index.
fn v(e: &Exposure, p: &Packet) -> String {
    match e.verdict("input", p) {
        PacketVerdict::Accepted(via) => format!("A{}", last_index(&via)),
        PacketVerdict::Possible(via) => format!("P{}", last_index(&via)),
        PacketVerdict::Dropped => "D".to_owned(),
    }
}

fn last_index(via: &[super::RuleRef]) -> String {
    via.last()
        .map(|r| {
            r.index
                .map_or_else(|| "policy".to_owned(), |i| i.to_string())
        })
        .unwrap_or_default()
}

const V4: &str = "198.51.100.7";
const V6: &str = "2001:db8:1::7";

#[test]
fn first_match_wins_and_names_the_rule() {
    let e = load(include_str!("../fixtures/first_match.json"));
    // Rule 3 drops 192.0.2.0/24 before rule 4 accepts tcp/22.
    assert_eq!(v(&e, &pkt("tcp", 22, V4)), "A4");
    assert_eq!(v(&e, &pkt("tcp", 22, "192.0.2.9")), "D");
    assert_eq!(v(&e, &pkt("tcp", 22, V6)), "A4");
    assert_eq!(v(&e, &pkt("tcp", 443, V4)), "A5");
    assert_eq!(v(&e, &pkt("tcp", 23, V4)), "D");
    assert_eq!(v(&e, &pkt("udp", 1500, V4)), "A6");
    assert_eq!(v(&e, &pkt("udp", 2001, V4)), "D");
    // Negations: ipv6 udp/53 only from 2001:db8::/32; ipv4 from everywhere.
    assert_eq!(v(&e, &pkt("udp", 53, V6)), "A8");
    assert_eq!(v(&e, &pkt("udp", 53, "2001:db9::1")), "D");
    assert_eq!(v(&e, &pkt("udp", 53, V4)), "A8");
    assert_eq!(v(&e, &pkt("tcp", 8080, "10.1.2.3")), "A10");
    assert_eq!(v(&e, &pkt("tcp", 8080, V4)), "D");
    // iifname != "eth0".
    assert_eq!(v(&e, &pkt("tcp", 3000, V4)), "D");
    let mut other_if = pkt("tcp", 3000, V4);
    other_if.iif = Some("wlan0".to_owned());
    assert_eq!(v(&e, &other_if), "A11");
    // meta l4proto tcp th dport.
    assert_eq!(v(&e, &pkt("tcp", 3001, V4)), "A12");
    assert_eq!(v(&e, &pkt("udp", 3001, V4)), "D");

    // The open-port fact names the rule, rendered.
    let ssh: Vec<_> = e
        .open_ports
        .iter()
        .filter(|o| o.family == "ipv4" && o.proto == "tcp" && o.port_from <= 22 && 22 <= o.port_to)
        .filter(|o| !o.loopback_only)
        .collect();
    assert!(!ssh.is_empty());
    for o in &ssh {
        assert!(o.certain);
        assert!(
            !o.sources.iter().any(|s| s.starts_with("192.0.2.")),
            "{o:?}"
        );
        let rule = o.via.last().unwrap();
        assert_eq!(
            (rule.table.as_str(), rule.chain.as_str(), rule.index),
            ("inet filter", "input", Some(4))
        );
        assert_eq!(rule.text, "tcp dport 22 accept");
    }
    assert!(e.unevaluated.is_empty(), "{:?}", e.unevaluated);
    assert_eq!(e.families["ipv4"].hooks["input"].default, "drop");
    assert_eq!(e.families["ipv4"].hooks["output"].default, "accept");
}

#[test]
fn conntrack_state_and_loopback() {
    let e = load(include_str!("../fixtures/first_match.json"));
    let mut est = pkt("tcp", 5555, V4);
    est.ct_state = "established".to_owned();
    assert_eq!(v(&e, &est), "A1");
    est.ct_state = "invalid".to_owned();
    assert_eq!(v(&e, &est), "D");
    let mut lo = pkt("tcp", 5555, "127.0.0.1");
    lo.iif = Some("lo".to_owned());
    assert_eq!(v(&e, &lo), "A0");
    for fam in ["ipv4", "ipv6"] {
        assert!(e.loopback[fam].accepted_on_lo, "{fam}");
    }
    // 127.0.0.1 arriving on eth0 is only accepted on the open ports.
    assert!(e.loopback["ipv4"].spoofed_loopback_accepted);
    assert_eq!(v(&e, &pkt("tcp", 5555, "127.0.0.1")), "D");
    // Open ports that only lo reaches are marked so.
    assert!(e
        .open_ports
        .iter()
        .any(|o| o.loopback_only && o.port_from == 0 && o.port_to == 65535));
}

#[test]
fn jump_goto_and_return() {
    let e = load(include_str!("../fixtures/jumps.json"));
    let rule = |port| match e.verdict("input", &pkt("tcp", port, V4)) {
        PacketVerdict::Accepted(via) => {
            let r = via.last().unwrap();
            format!("{}#{}", r.chain, r.index.unwrap())
        }
        other => format!("{other:?}"),
    };
    assert_eq!(rule(22), "Dropped"); // svc returns, input: not 25, goto tail: falls off → policy
    assert_eq!(rule(23), "svc#1");
    assert_eq!(rule(24), "Dropped");
    assert_eq!(rule(25), "input#1");
    assert_eq!(rule(26), "Dropped"); // the accept after the goto is never reached
    assert_eq!(rule(27), "tail#0");
    assert_eq!(rule(28), "Dropped");
}

#[test]
fn every_base_chain_at_the_hook_must_accept_in_priority_order() {
    let e = load(include_str!("../fixtures/multi_base.json"));
    let hooks = &e.families["ipv4"].hooks["input"];
    let order: Vec<_> = hooks
        .base_chains
        .iter()
        .map(|b| (b.table.as_str(), b.priority))
        .collect();
    assert_eq!(order, [("ip early", -10), ("inet late", 10)]);
    // ip early accepts 22 and 443; only 22 survives inet late.
    assert_eq!(v(&e, &pkt("tcp", 22, V4)), "A0");
    assert_eq!(v(&e, &pkt("tcp", 443, V4)), "D");
    assert_eq!(v(&e, &pkt("tcp", 23, V4)), "D");
    assert_eq!(v(&e, &pkt("tcp", 80, V4)), "A0");
    match e.verdict("input", &pkt("tcp", 22, V4)) {
        PacketVerdict::Accepted(via) => {
            let names: Vec<_> = via.iter().map(|r| (r.table.as_str(), r.index)).collect();
            assert_eq!(names, [("ip early", Some(0)), ("inet late", Some(0))]);
        }
        other => panic!("{other:?}"),
    }
    // ipv6: no ip table; ip6 prerouting drops 80.
    let order6: Vec<_> = e.families["ipv6"].hooks["input"]
        .base_chains
        .iter()
        .map(|b| b.table.as_str())
        .collect();
    assert_eq!(order6, ["ip6 six", "inet late"]);
    assert_eq!(v(&e, &pkt("tcp", 22, V6)), "A0");
    assert_eq!(v(&e, &pkt("tcp", 80, V6)), "D");
    assert_eq!(v(&e, &pkt("tcp", 23, V6)), "D");
    // Forward: no chain in any table → everything accepted, default accept.
    assert_eq!(e.families["ipv4"].hooks["forward"].default, "accept");
    assert_eq!(
        e.verdict("forward", &pkt("udp", 9, V4)),
        PacketVerdict::Accepted(Vec::new())
    );
}

#[test]
fn named_sets_intervals_vmaps_and_concatenations() {
    let e = load(include_str!("../fixtures/sets.json"));
    assert_eq!(v(&e, &pkt("tcp", 80, V4)), "A0");
    assert_eq!(v(&e, &pkt("tcp", 443, V6)), "A0");
    // vmap 22 : jump ssh, where admins (interval set) are accepted.
    assert_eq!(v(&e, &pkt("tcp", 22, "10.9.9.9")), "A0");
    assert_eq!(v(&e, &pkt("tcp", 22, "192.168.1.99")), "A0");
    assert_eq!(v(&e, &pkt("tcp", 22, "192.168.1.100")), "D");
    assert_eq!(v(&e, &pkt("tcp", 22, V6)), "D");
    assert_eq!(v(&e, &pkt("tcp", 25, V4)), "D");
    assert_eq!(v(&e, &pkt("tcp", 5000, V4)), "A1");
    assert_eq!(v(&e, &pkt("udp", 123, V6)), "A2");
    assert_eq!(v(&e, &pkt("udp", 124, V6)), "D");
    assert_eq!(v(&e, &pkt("tcp", 3306, "172.16.0.1")), "A3");
    assert_eq!(v(&e, &pkt("tcp", 3306, "172.16.0.2")), "D");
    assert_eq!(v(&e, &pkt("tcp", 5432, "172.16.0.2")), "A3");
    assert_eq!(v(&e, &pkt("tcp", 5432, V6)), "D");
    match e.verdict("input", &pkt("tcp", 22, "10.0.0.1")) {
        PacketVerdict::Accepted(via) => {
            assert_eq!(via[0].text, "ip saddr @admins accept");
            assert_eq!(via[0].chain, "ssh");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.unevaluated.is_empty(), "{:?}", e.unevaluated);
}

#[test]
fn unmodelled_matches_make_outcomes_possible_never_unreachable() {
    let e = load(include_str!("../fixtures/unmodelled.json"));
    assert_eq!(v(&e, &pkt("tcp", 22, V4)), "P0"); // meta mark
    assert_eq!(v(&e, &pkt("tcp", 80, V4)), "P1"); // limit
    assert_eq!(v(&e, &pkt("tcp", 443, V4)), "A2");
    assert_eq!(v(&e, &pkt("tcp", 8443, V6)), "P3"); // tcp flags
    assert_eq!(v(&e, &pkt("tcp", 9000, V4)), "A4"); // counter changes nothing
    assert_eq!(v(&e, &pkt("tcp", 23, V4)), "D");
    let ssh = e
        .open_ports
        .iter()
        .find(|o| o.proto == "tcp" && o.port_from == 22)
        .unwrap();
    assert!(!ssh.certain);
    // Understood but not modelled: no `unevaluated` entry needed.
    assert!(e.unevaluated.is_empty(), "{:?}", e.unevaluated);
}

/// Replaces the first statement of rule `rule` (in listing order) by `stmt`.
fn with_stmt(json: &str, rule: usize, stmt: Value) -> String {
    let mut doc: Value = serde_json::from_str(json).unwrap();
    let rules = doc["nftables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .filter(|i| i.get("rule").is_some());
    let r = rules.into_iter().nth(rule).unwrap();
    r["rule"]["expr"].as_array_mut().unwrap()[0] = stmt;
    doc.to_string()
}

#[test]
fn unknown_expressions_are_listed_and_possible() {
    let base = include_str!("../fixtures/unmodelled.json");
    // Rule 2 (`tcp dport 443 accept`) gets an expression nobody knows as its match.
    let json = with_stmt(
        base,
        2,
        serde_json::json!({"match": {"op": "==", "left": {"frobnicate": {"x": 1}}, "right": 443}}),
    );
    let e = load(&json);
    assert_eq!(v(&e, &pkt("tcp", 443, V4)), "P2");
    // It may match anything: every later port is possible too, never dropped outright.
    assert_eq!(v(&e, &pkt("tcp", 23, V4)), "P2");
    // Accepted either by rule 2 (if it matched) or by rule 4: certain either way.
    assert!(v(&e, &pkt("tcp", 9000, V4)).starts_with('A'));
    assert!(
        e.unevaluated
            .iter()
            .any(|u| u.rule == Some(2) && u.chain == "input"),
        "{:?}",
        e.unevaluated
    );

    // An unknown statement may drop, accept or do nothing.
    let json = with_stmt(base, 4, serde_json::json!({"frobnicate": {"y": 2}}));
    let e = load(&json);
    assert_eq!(v(&e, &pkt("tcp", 9000, V4)), "P4");
    assert_eq!(v(&e, &pkt("tcp", 1, V4)), "P4");
    assert!(
        e.unevaluated.iter().any(|u| u.rule == Some(4)),
        "{:?}",
        e.unevaluated
    );
}

#[test]
fn corpus_rulesets_evaluate_and_serialise() {
    for (name, json) in [
        (
            "cis",
            include_str!("../../../testdata/corpus/cis-baseline.json"),
        ),
        (
            "docker",
            include_str!("../../../testdata/corpus/docker-nat.json"),
        ),
        (
            "everything",
            include_str!("../../../testdata/corpus/everything.json"),
        ),
        (
            "firewalld",
            include_str!("../../../testdata/corpus/firewalld-zones.json"),
        ),
        (
            "iptables-nft",
            include_str!("../../../testdata/corpus/iptables-nft.json"),
        ),
        (
            "kube-proxy",
            include_str!("../../../testdata/corpus/kube-proxy-nft.json"),
        ),
    ] {
        let t = std::time::Instant::now();
        let e = load(json);
        eprintln!("{name}: {:?}", t.elapsed());
        let doc = serde_json::to_value(&e).unwrap();
        assert_eq!(doc["format"], "palisade-exposure-v1", "{name}");
        for fam in ["ipv4", "ipv6"] {
            for hook in ["input", "forward", "output"] {
                assert!(
                    doc["families"][fam]["hooks"][hook]["default"].is_string(),
                    "{name} {fam} {hook}"
                );
            }
        }
        if name == "iptables-nft" {
            assert!(
                e.unevaluated
                    .iter()
                    .any(|u| u.reason.contains("iptables-nft")),
                "{name}"
            );
        }
    }
}

#[test]
fn the_node_budget_is_conservative() {
    let json = crate::testing::generate_json(1000);
    let ruleset = from_nft_json(json.as_bytes()).unwrap();
    let full = exposure(&ruleset);
    let capped = exposure_with(&ruleset, &ExposureOptions { max_nodes: 2_000 });
    assert!(capped.truncated);
    assert!(!full.truncated);
    // Whatever the full evaluation says is accepted, the capped one says may be.
    for o in full.open_ports.iter().take(200) {
        let src: IpAddr = o.sources[0].split('/').next().unwrap().parse().unwrap();
        let p = pkt(
            &o.proto,
            u16::try_from(o.port_from).unwrap(),
            &src.to_string(),
        );
        let mut p = p;
        p.iif = o
            .iif
            .as_ref()
            .map_or(Some("eth0".to_owned()), |l| l.first().cloned());
        assert_ne!(capped.verdict("input", &p), PacketVerdict::Dropped, "{o:?}");
    }
}
