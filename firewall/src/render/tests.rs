//! Rendering to nft syntax: what nft's own parser (1.0.6) needs beyond the model's order. The
//! whole corpus is round-tripped through real nft in `collectors/tests/nftables.rs`.

#![allow(clippy::unwrap_used, reason = "test code")]

use super::nft_script;
use crate::from_nft_json;

fn script(items: &str) -> String {
    let json = format!(
        r#"{{"nftables": [{{"table": {{"family": "inet", "name": "t", "handle": 1}}}}, {items}]}}"#
    );
    nft_script(&from_nft_json(json.as_bytes()).unwrap()).unwrap()
}

#[test]
fn synproxy_flags_are_written_timestamp_first_as_nft_parses_them() {
    let s = script(
        r#"{"synproxy": {"family": "inet", "name": "sp", "table": "t", "handle": 2, "mss": 1460, "wscale": 7, "flags": ["timestamp", "sack-perm"]}}"#,
    );
    assert!(s.contains("timestamp sack-perm"), "{s}");
}

#[test]
fn netmap_implied_by_a_prefix_mapping_is_not_written() {
    let s = script(concat!(
        r#"{"chain": {"family": "inet", "table": "t", "name": "post", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, "#,
        r#"{"rule": {"family": "inet", "table": "t", "chain": "post", "handle": 3, "expr": [{"snat": {"family": "ip", "addr": {"map": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": {"set": [[{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "192.168.0.0", "len": 24}}]]}}}, "flags": "netmap", "type_flags": "prefix"}}]}}"#
    ));
    assert!(s.contains("snat ip prefix to ip saddr map"), "{s}");
    assert!(!s.contains("netmap"), "{s}");
}
