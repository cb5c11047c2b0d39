//! Large synthetic rulesets for tests and benchmarks (`test-util` feature): [`generate`] writes an
//! nft script, [`generate_json`] the `nft -j list ruleset` output nft 1.0.6 prints for it
//! (checked against real nft by the collectors' tests), so benchmarks need no root.
//!
//! One `inet gen` table: an interval set, an input base chain that accepts established traffic
//! and jumps to one regular chain per thousand rules, and rules cycling through six shapes
//! (address/port matches, set lookups, anonymous sets, ranges, logging, rate limits, reject).

use std::fmt::Write as _;

/// Rules per regular chain.
const PER_CHAIN: usize = 1000;

fn chains_for(rules: usize) -> usize {
    rules.div_ceil(PER_CHAIN).max(1)
}

/// The values rule `i` uses.
struct Shape {
    kind: usize,
    port: usize,
    a: usize,
    b: usize,
}

fn shape(i: usize) -> Shape {
    Shape {
        kind: i % 6,
        port: 1000 + i % 60000,
        a: (i >> 8) & 255,
        b: i & 255,
    }
}

/// The /48 network of rule shape 5, as nft prints it.
fn v6_net(a: usize, b: usize) -> String {
    match (a << 8) | b {
        0 => "2001:db8::".to_owned(),
        g => format!("2001:db8:{g:x}::"),
    }
}

/// An nft script with `rules` rules (plus one jump per chain and one `ct state` rule).
pub fn generate(rules: usize) -> String {
    let chains = chains_for(rules);
    let mut s = String::with_capacity(rules * 80 + 1024);
    s.push_str("table inet gen {\n");
    s.push_str("\tset admins { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.168.0.0/16 } }\n");
    s.push_str("\tchain input {\n\t\ttype filter hook input priority 0; policy drop;\n");
    s.push_str("\t\tct state established,related accept\n");
    for c in 0..chains {
        let _ = writeln!(s, "\t\tjump c{c}");
    }
    s.push_str("\t}\n");
    for c in 0..chains {
        let _ = writeln!(s, "\tchain c{c} {{");
        for i in (c * PER_CHAIN)..((c + 1) * PER_CHAIN).min(rules) {
            let Shape {
                kind,
                port: p,
                a,
                b,
            } = shape(i);
            let _ = match kind {
                0 => writeln!(s, "\t\tip saddr 10.{a}.{b}.0/24 tcp dport {p} counter accept"),
                1 => writeln!(s, "\t\tip saddr @admins udp dport {{ {p}, {} }} accept", p + 7),
                2 => writeln!(
                    s,
                    "\t\tiifname \"eth{}\" tcp dport {p} ct state new log prefix \"r{i} \" drop",
                    i % 4
                ),
                3 => writeln!(s, "\t\ttcp dport {p}-{} counter reject with tcp reset", p + 10),
                4 => writeln!(
                    s,
                    "\t\tip daddr 10.{a}.{b}.0/24 ip protocol icmp icmp type echo-request limit rate 10/second accept"
                ),
                _ => writeln!(
                    s,
                    "\t\tip6 saddr {}/48 tcp dport {{ 80, 443 }} ct state new accept",
                    v6_net(a, b)
                ),
            };
        }
        s.push_str("\t}\n");
    }
    s.push_str("}\n");
    s
}

/// The `nft -j list ruleset` output nft 1.0.6 prints after loading [`generate`]`(rules)`.
pub fn generate_json(rules: usize) -> String {
    let chains = chains_for(rules);
    let mut s = String::with_capacity(rules * 420 + 4096);
    s.push_str(r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}"#);
    s.push_str(r#", {"table": {"family": "inet", "name": "gen", "handle": 1}}"#);
    s.push_str(r#", {"set": {"family": "inet", "name": "admins", "table": "gen", "type": "ipv4_addr", "handle": 3, "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, {"prefix": {"addr": "192.168.0.0", "len": 16}}]}}"#);
    s.push_str(r#", {"chain": {"family": "inet", "table": "gen", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}"#);
    for c in 0..chains {
        let _ = write!(
            s,
            r#", {{"chain": {{"family": "inet", "table": "gen", "name": "c{c}", "handle": {}}}}}"#,
            c + 2
        );
    }
    let mut handle = chains + 4;
    let mut rule = |s: &mut String, chain: &str, expr: &str| {
        let _ = write!(
            s,
            r#", {{"rule": {{"family": "inet", "table": "gen", "chain": "{chain}", "handle": {handle}, "expr": [{expr}]}}}}"#
        );
        handle += 1;
    };
    rule(
        &mut s,
        "input",
        r#"{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}"#,
    );
    for c in 0..chains {
        rule(
            &mut s,
            "input",
            &format!(r#"{{"jump": {{"target": "c{c}"}}}}"#),
        );
    }
    let m = |left: &str, right: &str| {
        format!(r#"{{"match": {{"op": "==", "left": {left}, "right": {right}}}}}"#)
    };
    let pl = |p: &str, f: &str| format!(r#"{{"payload": {{"protocol": "{p}", "field": "{f}"}}}}"#);
    let counter = r#"{"counter": {"packets": 0, "bytes": 0}}"#;
    let ct_new = r#"{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}}"#;
    for c in 0..chains {
        let chain = format!("c{c}");
        for i in (c * PER_CHAIN)..((c + 1) * PER_CHAIN).min(rules) {
            let Shape {
                kind,
                port: p,
                a,
                b,
            } = shape(i);
            let prefix =
                |len: u8| format!(r#"{{"prefix": {{"addr": "10.{a}.{b}.0", "len": {len}}}}}"#);
            let expr = match kind {
                0 => format!(
                    r#"{}, {}, {counter}, {{"accept": null}}"#,
                    m(&pl("ip", "saddr"), &prefix(24)),
                    m(&pl("tcp", "dport"), &p.to_string())
                ),
                1 => format!(
                    r#"{}, {}, {{"accept": null}}"#,
                    m(&pl("ip", "saddr"), r#""@admins""#),
                    m(
                        &pl("udp", "dport"),
                        &format!(r#"{{"set": [{p}, {}]}}"#, p + 7)
                    )
                ),
                2 => format!(
                    r#"{}, {}, {ct_new}, {{"log": {{"prefix": "r{i} "}}}}, {{"drop": null}}"#,
                    m(
                        r#"{"meta": {"key": "iifname"}}"#,
                        &format!(r#""eth{}""#, i % 4)
                    ),
                    m(&pl("tcp", "dport"), &p.to_string())
                ),
                3 => format!(
                    r#"{}, {counter}, {{"reject": {{"type": "tcp reset"}}}}"#,
                    m(
                        &pl("tcp", "dport"),
                        &format!(r#"{{"range": [{p}, {}]}}"#, p + 10)
                    )
                ),
                4 => format!(
                    r#"{}, {}, {}, {{"limit": {{"rate": 10, "burst": 5, "per": "second"}}}}, {{"accept": null}}"#,
                    m(&pl("ip", "daddr"), &prefix(24)),
                    m(&pl("ip", "protocol"), r#""icmp""#),
                    m(&pl("icmp", "type"), r#""echo-request""#)
                ),
                _ => format!(
                    r#"{}, {}, {ct_new}, {{"accept": null}}"#,
                    m(
                        &pl("ip6", "saddr"),
                        &format!(r#"{{"prefix": {{"addr": "{}", "len": 48}}}}"#, v6_net(a, b))
                    ),
                    m(&pl("tcp", "dport"), r#"{"set": [80, 443]}"#)
                ),
            };
            rule(&mut s, &chain, &expr);
        }
    }
    s.push_str("]}\n");
    s
}
