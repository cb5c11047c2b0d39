//! `palisade_collectors::nftables` with real nft in throwaway network namespaces (needs root):
//! the canonical form survives a round trip through nft's own syntax, is invariant under what
//! is not configuration (handles, counters, element and creation order, spellings) and changes
//! with every semantic change — in the whole digest and only in the changed table's digest.

use std::path::PathBuf;

use palisade_collectors::nftables::{Measurement, NftReader};

use crate::support::Ns;

impl Ns {
    fn raw(&self) -> Vec<u8> {
        NftReader::default()
            .list_ruleset_json(&self.netns())
            .unwrap()
    }

    fn measure(&self) -> Measurement {
        NftReader::default().measure_all(&self.netns()).unwrap()
    }
}

fn measure_script(script: &str) -> Measurement {
    let ns = Ns::new("nft");
    ns.load(script);
    ns.measure()
}

fn corpus(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../firewall/testdata/corpus",
        &format!("{name}.nft"),
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Loads `script` into namespace A, renders the measured model as an nft script, loads that
/// into namespace B: both measurements must be the same canonical bytes.
fn assert_round_trip(script: &str) {
    let a = measure_script(script);
    assert!(a.ruleset.rule_count() > 0, "the script has rules");
    let rendered = palisade_firewall::render::nft_script(&a.ruleset).unwrap();
    let b = measure_script(&rendered);
    assert!(
        a.canonical.as_bytes() == b.canonical.as_bytes(),
        "round trip changed the canonical form\nrendered:\n{rendered}\nA: {}\nB: {}",
        String::from_utf8_lossy(a.canonical.as_bytes()),
        String::from_utf8_lossy(b.canonical.as_bytes())
    );
    assert_eq!(a.table_digests, b.table_digests);
}

#[test]
fn round_trip_through_nft_syntax_keeps_cis_baseline() {
    assert_round_trip(&corpus("cis-baseline"));
}

#[test]
fn round_trip_through_nft_syntax_keeps_firewalld_zones() {
    assert_round_trip(&corpus("firewalld-zones"));
}

#[test]
fn round_trip_through_nft_syntax_keeps_kube_proxy_nft() {
    assert_round_trip(&corpus("kube-proxy-nft"));
}

#[test]
fn round_trip_through_nft_syntax_keeps_docker_nat() {
    assert_round_trip(&corpus("docker-nat"));
}

#[test]
fn round_trip_through_nft_syntax_keeps_everything() {
    assert_round_trip(&corpus("everything"));
}

#[test]
fn round_trip_through_nft_syntax_keeps_a_large_generated_ruleset() {
    assert_round_trip(&palisade_firewall::testing::generate(20_000));
}

/// `testing::generate_json` (what benchmarks parse without root) is what real nft lists.
#[test]
fn generated_json_is_what_real_nft_lists() {
    for rules in [1, 999, 2_500] {
        let real = measure_script(&palisade_firewall::testing::generate(rules));
        let json = palisade_firewall::testing::generate_json(rules);
        let offline = palisade_firewall::from_nft_json(json.as_bytes()).unwrap();
        assert!(
            offline.canonical().unwrap().as_bytes() == real.canonical.as_bytes(),
            "generate_json({rules}) differs from nft's listing"
        );
    }
}

/// A second table that no variance test touches: its digest must never move.
const OTHER_TABLE: &str = "
table ip b {
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr 127.0.0.1 counter accept
    }
}
";

fn assert_same(a: &Measurement, b: &Measurement) {
    assert_eq!(a.canonical.digest(), b.canonical.digest());
    assert_eq!(a.canonical.as_bytes(), b.canonical.as_bytes());
    assert_eq!(a.table_digests, b.table_digests);
}

#[test]
fn reload_with_new_handles_keeps_digests() {
    let script = format!("{}{OTHER_TABLE}", corpus("cis-baseline"));
    let ns = Ns::new("nft");
    ns.load(&script);
    let (raw1, first) = (ns.raw(), ns.measure());
    ns.exec(&["nft", "flush", "ruleset"], None);
    ns.load("table inet scratch {\n chain c {\n }\n }");
    ns.exec(&["nft", "delete", "table", "inet", "scratch"], None);
    ns.load(&script);
    let (raw2, second) = (ns.raw(), ns.measure());
    assert_ne!(raw1, raw2, "the reload must give new handles");
    assert_same(&first, &second);
}

const COUNTING: &str = "
table inet a {
    counter seen { }
    quota budget { over 100 mbytes }
    set peers { type ipv4_addr; flags dynamic; size 64; }
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr 127.0.0.1 counter name \"seen\"
        ip daddr 127.0.0.1 quota name \"budget\"
        ip daddr 127.0.0.1 add @peers { ip daddr }
        ip daddr 127.0.0.1 counter quota over 500 mbytes accept
    }
}
";

#[test]
fn ticking_counters_quotas_and_dynamic_set_elements_keep_digests() {
    let ns = Ns::new("nft");
    ns.load(&format!("{COUNTING}{OTHER_TABLE}"));
    let (raw1, before) = (ns.raw(), ns.measure());
    ns.exec(&["ping", "-c", "3", "-i", "0.01", "-q", "127.0.0.1"], None);
    let (raw2, after) = (ns.raw(), ns.measure());
    let listed = String::from_utf8_lossy(&raw2);
    assert_ne!(raw1, raw2, "traffic must change counters: {listed}");
    assert!(
        listed.contains("127.0.0.1"),
        "the dynamic set filled up: {listed}"
    );
    assert_same(&before, &after);
}

#[test]
fn set_element_order_keeps_digests() {
    let with = |elements: &str, literal: &str, map: &str| {
        format!(
            "table inet a {{
                set s {{ type ipv4_addr; flags interval; elements = {{ {elements} }} }}
                map m {{ type inet_service : verdict; elements = {{ {map} }} }}
                chain c {{
                    ip saddr {{ {literal} }} accept
                    tcp dport vmap @m
                }}
            }}{OTHER_TABLE}"
        )
    };
    let first = measure_script(&with(
        "10.0.0.0/8, 192.0.2.1, 198.51.100.0/24",
        "10.0.0.0/8, 192.0.2.1, 198.51.100.0/24",
        "22 : accept, 80 : drop",
    ));
    let ns = Ns::new("nft");
    ns.load(&with(
        "198.51.100.0/24, 10.0.0.0/8",
        "198.51.100.0/24, 192.0.2.1, 10.0.0.0/8",
        "80 : drop",
    ));
    ns.exec(
        &["nft", "add", "element", "inet", "a", "s", "{ 192.0.2.1 }"],
        None,
    );
    ns.exec(
        &["nft", "add", "element", "inet", "a", "m", "{ 22 : accept }"],
        None,
    );
    let second = ns.measure();
    assert_same(&first, &second);
}

#[test]
fn creation_order_of_tables_chains_sets_and_objects_keeps_digests() {
    let chain_x = "chain x {\n tcp dport 1 accept\n }";
    let chain_y = "chain y {\n type filter hook input priority 0; policy drop;\n jump x\n }";
    let set = "set s { type ipv4_addr; }";
    let counter = "counter k { }";
    let a1 = format!("table inet a {{ {set}\n{counter}\n{chain_x}\n{chain_y}\n}}\n");
    let a2 =
        format!("table inet a {{ {chain_x}\n{counter}\n{set}\n}}\ntable inet a {{ {chain_y}\n}}\n");
    let first = measure_script(&format!("{a1}{OTHER_TABLE}"));
    let second = measure_script(&format!("{OTHER_TABLE}{a2}"));
    assert_same(&first, &second);
}

#[test]
fn alternative_spellings_nft_lists_identically_keep_digests() {
    let spell = |port: &str, net: &str, prio: &str, state: &str| {
        format!(
            "table inet a {{
                chain input {{
                    type filter hook input priority {prio}; policy drop;
                    tcp dport {port} accept
                    ip saddr {net} accept
                    ct state {state} accept
                }}
            }}{OTHER_TABLE}"
        )
    };
    let first = measure_script(&spell("22", "10.0.0.0/8", "0", "established,related"));
    let second = measure_script(&spell(
        "ssh",
        "10.0.0.0-10.255.255.255",
        "filter",
        "related,established",
    ));
    assert_same(&first, &second);
}

const BASE: &str = "
table inet a {
    set blocked { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2 } }
    map ports { type inet_service : verdict; elements = { 22 : accept, 80 : drop } }
    chain input {
        type filter hook input priority 0; policy drop;
        tcp dport 22 accept
        tcp dport 443 accept
        ip saddr @blocked drop
        tcp dport vmap @ports
        tcp dport vmap { 8080 : accept, 8443 : drop }
    }
}
";

/// Applies `from → to` to [`BASE`] (which must contain `from`) and checks that the whole
/// digest and table `inet a`'s digest change while table `ip b`'s does not.
fn assert_variance(from: &str, to: &str) {
    assert!(BASE.contains(from), "{from:?} not in the base ruleset");
    let base = measure_script(&format!("{BASE}{OTHER_TABLE}"));
    let changed = measure_script(&format!("{}{OTHER_TABLE}", BASE.replace(from, to)));
    assert_ne!(
        base.canonical.digest(),
        changed.canonical.digest(),
        "{from:?} → {to:?} must change the digest"
    );
    assert_ne!(
        base.table_digests["inet a"],
        changed.table_digests["inet a"]
    );
    assert_eq!(base.table_digests["ip b"], changed.table_digests["ip b"]);
    assert_eq!(base.table_digests.len(), changed.table_digests.len());
}

#[test]
fn rule_order_within_a_chain_changes_digest() {
    assert_variance(
        "tcp dport 22 accept\n        tcp dport 443 accept",
        "tcp dport 443 accept\n        tcp dport 22 accept",
    );
}

#[test]
fn chain_policy_changes_digest() {
    assert_variance("policy drop", "policy accept");
}

#[test]
fn base_chain_priority_changes_digest() {
    assert_variance("priority 0", "priority 10");
}

#[test]
fn base_chain_hook_changes_digest() {
    assert_variance("hook input", "hook forward");
}

#[test]
fn set_element_added_changes_digest() {
    assert_variance("192.0.2.1, 192.0.2.2", "192.0.2.1, 192.0.2.2, 192.0.2.3");
}

#[test]
fn set_element_removed_changes_digest() {
    assert_variance("192.0.2.1, 192.0.2.2", "192.0.2.2");
}

#[test]
fn named_verdict_map_change_changes_digest() {
    assert_variance("80 : drop", "80 : accept");
}

#[test]
fn anonymous_verdict_map_change_changes_digest() {
    assert_variance("8443 : drop", "8443 : accept");
}
