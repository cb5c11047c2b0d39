//! The engine against a direct interpreter: random rulesets (address prefixes, negations, port
//! ranges and sets, protocols, conntrack states, interface names, jumps, gotos, returns,
//! policies, and conditions the space does not model), and random concrete packets walked
//! through the rules one by one. Where the interpreter says every way accepts, the exposure
//! must say certainly accepted (by the same rule); every way drops, dropped; both, possible.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::super::{exposure, Packet, PacketVerdict};
use crate::from_nft_json;

#[derive(Debug, Clone)]
enum M {
    /// `ip saddr [!=] 10.a.0.0/len`.
    Saddr { neg: bool, a: u8, len: u8 },
    /// `tcp|udp dport lo-hi`.
    Dport { udp: bool, lo: u16, hi: u16 },
    /// `tcp|udp dport { p, q }`.
    DportSet { udp: bool, p: u16, q: u16 },
    /// `meta l4proto tcp|udp|icmp`.
    Proto(u8),
    /// `ct state { … }`.
    Ct(Vec<&'static str>),
    /// `iifname [!=] "ethN"`.
    Iif { neg: bool, n: u8 },
    /// `meta mark 1`: not modelled, may or may not hold.
    Mark,
}

#[derive(Debug, Clone)]
enum V {
    Accept,
    Drop,
    Jump(usize),
    Goto(usize),
    Return,
}

#[derive(Debug, Clone)]
struct R {
    matches: Vec<M>,
    verdict: V,
}

#[derive(Debug, Clone)]
struct Spec {
    drop_policy: bool,
    /// Chain 0 is the input base chain; chain `i` jumps only to chains after it.
    chains: Vec<Vec<R>>,
}

const STATES: [&str; 5] = ["new", "established", "related", "invalid", "untracked"];
const PROTOS: [(&str, u8); 3] = [("tcp", 6), ("udp", 17), ("icmp", 1)];

fn m_strategy() -> impl Strategy<Value = M> {
    prop_oneof![
        (
            any::<bool>(),
            0u8..4,
            prop_oneof![Just(8u8), Just(16), Just(24)]
        )
            .prop_map(|(neg, a, len)| M::Saddr { neg, a, len }),
        (any::<bool>(), 20u16..40, 0u16..6).prop_map(|(udp, lo, w)| M::Dport {
            udp,
            lo,
            hi: lo + w
        }),
        (any::<bool>(), 20u16..40, 20u16..40).prop_map(|(udp, p, q)| M::DportSet { udp, p, q }),
        (0u8..3).prop_map(M::Proto),
        proptest::sample::subsequence(STATES.to_vec(), 1..3).prop_map(M::Ct),
        (any::<bool>(), 0u8..3).prop_map(|(neg, n)| M::Iif { neg, n }),
        Just(M::Mark),
    ]
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let chains = 1usize..4;
    (any::<bool>(), chains)
        .prop_flat_map(|(drop_policy, n)| {
            let chain = move |i: usize| {
                let verdict = if i + 1 < n {
                    prop_oneof![
                        Just(V::Accept),
                        Just(V::Drop),
                        Just(V::Return),
                        (i + 1..n).prop_map(V::Jump),
                        (i + 1..n).prop_map(V::Goto),
                    ]
                    .boxed()
                } else {
                    prop_oneof![Just(V::Accept), Just(V::Drop), Just(V::Return)].boxed()
                };
                proptest::collection::vec(
                    (proptest::collection::vec(m_strategy(), 0..3), verdict)
                        .prop_map(|(matches, verdict)| R { matches, verdict }),
                    0..7,
                )
            };
            let chains: Vec<_> = (0..n).map(chain).collect();
            (Just(drop_policy), chains)
        })
        .prop_map(|(drop_policy, chains)| Spec {
            drop_policy,
            chains,
        })
}

fn chain_name(i: usize) -> String {
    if i == 0 {
        "input".to_owned()
    } else {
        format!("c{i}")
    }
}

fn m_json(m: &M) -> Value {
    let mat = |op: &str, left: Value, right: Value| json!({"match": {"op": op, "left": left, "right": right}});
    let op = |neg: bool| if neg { "!=" } else { "==" };
    let l4 = |udp: bool| if udp { "udp" } else { "tcp" };
    match m {
        M::Saddr { neg, a, len } => mat(
            op(*neg),
            json!({"payload": {"protocol": "ip", "field": "saddr"}}),
            json!({"prefix": {"addr": format!("10.{a}.0.0"), "len": len}}),
        ),
        M::Dport { udp, lo, hi } => mat(
            "==",
            json!({"payload": {"protocol": l4(*udp), "field": "dport"}}),
            if lo == hi {
                json!(lo)
            } else {
                json!({"range": [lo, hi]})
            },
        ),
        M::DportSet { udp, p, q } => mat(
            "==",
            json!({"payload": {"protocol": l4(*udp), "field": "dport"}}),
            json!({"set": [p, q]}),
        ),
        M::Proto(i) => mat(
            "==",
            json!({"meta": {"key": "l4proto"}}),
            json!(PROTOS[*i as usize].0),
        ),
        M::Ct(states) => mat("in", json!({"ct": {"key": "state"}}), json!(states)),
        M::Iif { neg, n } => mat(
            op(*neg),
            json!({"meta": {"key": "iifname"}}),
            json!(format!("eth{n}")),
        ),
        M::Mark => mat("==", json!({"meta": {"key": "mark"}}), json!(1)),
    }
}

fn v_json(v: &V) -> Value {
    match v {
        V::Accept => json!({"accept": null}),
        V::Drop => json!({"drop": null}),
        V::Return => json!({"return": null}),
        V::Jump(c) => json!({"jump": {"target": chain_name(*c)}}),
        V::Goto(c) => json!({"goto": {"target": chain_name(*c)}}),
    }
}

/// The listing nft would print for the spec.
fn listing(spec: &Spec) -> String {
    let mut items = vec![
        json!({"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}),
        json!({"table": {"family": "inet", "name": "t", "handle": 1}}),
    ];
    for i in 0..spec.chains.len() {
        let mut c = json!({"family": "inet", "table": "t", "name": chain_name(i), "handle": i + 1});
        if i == 0 {
            c["type"] = json!("filter");
            c["hook"] = json!("input");
            c["prio"] = json!(0);
            c["policy"] = json!(if spec.drop_policy { "drop" } else { "accept" });
        }
        items.push(json!({ "chain": c }));
    }
    let mut handle = 10;
    for (i, rules) in spec.chains.iter().enumerate() {
        for r in rules {
            let mut expr: Vec<Value> = r.matches.iter().map(m_json).collect();
            expr.push(v_json(&r.verdict));
            items.push(json!({"rule": {"family": "inet", "table": "t", "chain": chain_name(i), "handle": handle, "expr": expr}}));
            handle += 1;
        }
    }
    json!({ "nftables": items }).to_string()
}

#[derive(Debug, Clone)]
struct Pkt {
    proto: u8,
    port: u16,
    saddr: Ipv4Addr,
    iif: u8,
    ct: &'static str,
}

fn pkt_strategy() -> impl Strategy<Value = Pkt> {
    (0u8..3, 18u16..48, 0u8..5, 0u8..3, 0u8..2, 0u8..4, 0usize..5).prop_map(
        |(proto, port, a, b, c, iif, ct)| Pkt {
            proto,
            port,
            saddr: Ipv4Addr::new(10, a, b, c),
            iif,
            ct: STATES[ct],
        },
    )
}

/// Whether a match holds; `None`: it may or may not.
fn holds(m: &M, p: &Pkt) -> Option<bool> {
    let proto = PROTOS[p.proto as usize].1;
    let l4 = |udp: bool| if udp { 17 } else { 6 };
    Some(match m {
        M::Saddr { neg, a, len } => {
            let o = p.saddr.octets();
            let inside = match len {
                8 => o[0] == 10,
                16 => o[0] == 10 && o[1] == *a,
                _ => o[0] == 10 && o[1] == *a && o[2] == 0,
            };
            inside != *neg
        }
        M::Dport { udp, lo, hi } => proto == l4(*udp) && (*lo..=*hi).contains(&p.port),
        M::DportSet { udp, p: a, q } => proto == l4(*udp) && (p.port == *a || p.port == *q),
        M::Proto(i) => p.proto == *i,
        M::Ct(states) => states.contains(&p.ct),
        M::Iif { neg, n } => (p.iif == *n) != *neg,
        M::Mark => return None,
    })
}

/// Where a packet ends, with the rule (chain, index) or policy (index `None`) that decided.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Out {
    Accept(usize, Option<usize>),
    Drop,
    Return,
}

/// Every outcome of `chain` for the packet, over both ways of each unmodelled match.
fn run(spec: &Spec, chain: usize, from: usize, p: &Pkt, out: &mut BTreeSet<Out>) {
    let Some(rules) = spec.chains.get(chain) else {
        return;
    };
    for (i, r) in rules.iter().enumerate().skip(from) {
        let mut maybe = false;
        let mut miss = false;
        for m in &r.matches {
            match holds(m, p) {
                Some(true) => {}
                Some(false) => miss = true,
                None => maybe = true,
            }
        }
        if miss {
            continue;
        }
        if maybe {
            // The world where it does not match carries on from the next rule.
            run(spec, chain, i + 1, p, out);
        }
        match r.verdict {
            V::Accept => {
                out.insert(Out::Accept(chain, Some(i)));
            }
            V::Drop => {
                out.insert(Out::Drop);
            }
            V::Return => {
                out.insert(Out::Return);
            }
            V::Jump(c) => {
                let mut inner = BTreeSet::new();
                run(spec, c, 0, p, &mut inner);
                for o in inner {
                    if o == Out::Return {
                        run(spec, chain, i + 1, p, out);
                    } else {
                        out.insert(o);
                    }
                }
            }
            V::Goto(c) => run(spec, c, 0, p, out),
        }
        return;
    }
    out.insert(Out::Return);
}

fn outcomes(spec: &Spec, p: &Pkt) -> BTreeSet<Out> {
    let mut raw = BTreeSet::new();
    run(spec, 0, 0, p, &mut raw);
    raw.into_iter()
        .map(|o| match o {
            Out::Return if spec.drop_policy => Out::Drop,
            Out::Return => Out::Accept(0, None),
            o => o,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_agrees_with_a_packet_walk(spec in spec_strategy(), pkts in proptest::collection::vec(pkt_strategy(), 24)) {
        let ruleset = from_nft_json(listing(&spec).as_bytes()).expect("listing parses");
        let e = exposure(&ruleset);
        let deterministic = spec.chains.iter().flatten().all(|r| r.matches.iter().all(|m| !matches!(m, M::Mark)));
        for p in &pkts {
            let outs = outcomes(&spec, p);
            let packet = Packet {
                proto: PROTOS[p.proto as usize].0.to_owned(),
                port: (p.proto < 2).then_some(p.port),
                source: IpAddr::V4(p.saddr),
                destination: None,
                iif: Some(format!("eth{}", p.iif)),
                oif: None,
                ct_state: p.ct.to_owned(),
            };
            let got = e.verdict("input", &packet);
            let accepts = outs.iter().any(|o| matches!(o, Out::Accept(..)));
            let drops = outs.contains(&Out::Drop);
            match (&got, accepts, drops) {
                (PacketVerdict::Accepted(via), true, false) => {
                    if deterministic {
                        let Some(Out::Accept(chain, index)) = outs.first() else { unreachable!() };
                        let last = via.last().expect("names the rule");
                        prop_assert_eq!(&last.chain, &chain_name(*chain), "{:?} {:?}", p, outs);
                        prop_assert_eq!(last.index, *index, "{:?} {:?}", p, outs);
                    }
                }
                (PacketVerdict::Possible(_), true, true) | (PacketVerdict::Dropped, false, true) => {}
                _ => prop_assert!(false, "{:?}: engine {:?}, walk {:?}\n{}", p, got, outs, listing(&spec)),
            }
        }
    }
}
