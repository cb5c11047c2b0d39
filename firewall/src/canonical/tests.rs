//! One test per canonicalisation rule of `docs/canonical-nftables.md` (named `ruleN_…`), plus
//! golden canonical documents of the corpus (`testdata/canonical/`, rewritten with
//! `PALISADE_BLESS=1`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

use std::path::PathBuf;

use palisade_evidence::{Canonical, Sha256Digest};
use serde_json::Value;

use crate::flags::FlagKind;
use crate::{from_nft_json, DocumentError, Ruleset, FORMAT};

const META: &str = r#"{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}"#;

/// `nft -j` output: metainfo, table `inet t` (handle 1), then `items`.
fn listing(items: &[&str]) -> String {
    let mut all = vec![
        META,
        r#"{"table": {"family": "inet", "name": "t", "handle": 1}}"#,
    ];
    all.extend_from_slice(items);
    format!(r#"{{"nftables": [{}]}}"#, all.join(", "))
}

fn chain(name: &str, handle: u32) -> String {
    format!(
        r#"{{"chain": {{"family": "inet", "table": "t", "name": "{name}", "handle": {handle}}}}}"#
    )
}

fn rule(chain: &str, handle: u32, expr: &str) -> String {
    format!(
        r#"{{"rule": {{"family": "inet", "table": "t", "chain": "{chain}", "handle": {handle}, "expr": [{expr}]}}}}"#
    )
}

fn set(name: &str, body: &str) -> String {
    format!(
        r#"{{"set": {{"family": "inet", "table": "t", "name": "{name}", "handle": 9, {body}}}}}"#
    )
}

/// A listing with chain `c` holding one rule per entry of `exprs`.
fn rules(exprs: &[&str]) -> String {
    let mut items = vec![chain("c", 2)];
    for (i, e) in exprs.iter().enumerate() {
        items.push(rule("c", 10 + u32::try_from(i).unwrap(), e));
    }
    listing(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

fn canonical(json: &str) -> Canonical {
    from_nft_json(json.as_bytes()).unwrap().canonical().unwrap()
}

fn text(json: &str) -> String {
    canonical(json).as_str().to_owned()
}

fn assert_same(a: &str, b: &str) {
    assert_eq!(text(a), text(b));
}

fn assert_differ(a: &str, b: &str) {
    assert_ne!(canonical(a).digest(), canonical(b).digest());
}

fn m(left: &str, op: &str, right: &str) -> String {
    format!(r#"{{"match": {{"op": "{op}", "left": {left}, "right": {right}}}}}"#)
}

const DPORT: &str = r#"{"payload": {"protocol": "tcp", "field": "dport"}}"#;
const SADDR: &str = r#"{"payload": {"protocol": "ip", "field": "saddr"}}"#;
const ACCEPT: &str = r#"{"accept": null}"#;

#[test]
fn rule1_metainfo_is_dropped() {
    let a = listing(&[]);
    let b = a
        .replace("1.0.6", "1.1.1")
        .replace(r#""json_schema_version": 1"#, r#""json_schema_version": 2"#);
    assert_same(&a, &b);
    assert!(!text(&a).contains("1.0.6"));
    assert!(!text(&a).contains("metainfo"));
}

#[test]
fn rule2_objects_are_keyed_by_identity_so_creation_order_does_not_matter() {
    let t2 = r#"{"table": {"family": "ip", "name": "u", "handle": 2}}"#;
    let counter = r#"{"counter": {"family": "inet", "table": "t", "name": "k", "handle": 5, "packets": 0, "bytes": 0}}"#;
    let s = set("s", r#""type": "ipv4_addr""#);
    let (x, y) = (chain("x", 3), chain("y", 4));
    let a = listing(&[t2, &s, counter, &x, &y]);
    let b = listing(&[&y, counter, &x, &s, t2]);
    assert_same(&a, &b);
    let doc: Value = serde_json::from_str(&text(&a)).unwrap();
    let t = &doc["tables"]["inet t"];
    assert!(doc["tables"]["ip u"].is_object());
    assert!(t["chains"]["x"].is_object() && t["chains"]["y"].is_object());
    assert!(t["sets"]["s"].is_object());
    assert!(t["objects"]["counter k"].is_object());
}

#[test]
fn rule3_handles_and_back_references_are_dropped() {
    let a = rules(&[ACCEPT]);
    let b = a
        .replace(r#""handle": 10"#, r#""handle": 77"#)
        .replace(r#""handle": 2"#, r#""handle": 3"#);
    assert_ne!(a, b);
    assert_same(&a, &b);
    let t = text(&a);
    assert!(!t.contains("handle"));
    let doc: Value = serde_json::from_str(&t).unwrap();
    let r = &doc["tables"]["inet t"]["chains"]["c"]["rules"][0];
    assert_eq!(r, &serde_json::json!({"expr": [{"accept": null}]}));
}

#[test]
fn rule4_rule_and_statement_order_is_kept() {
    let p22 = m(DPORT, "==", "22");
    let p80 = m(DPORT, "==", "80");
    let drop = r#"{"drop": null}"#;
    assert_differ(&rules(&[&p22, &p80]), &rules(&[&p80, &p22]));
    let counter = r#"{"counter": {"packets": 0, "bytes": 0}}"#;
    assert_differ(
        &rules(&[&format!("{p22}, {counter}, {drop}")]),
        &rules(&[&format!("{counter}, {p22}, {drop}")]),
    );
}

#[test]
fn rule5_element_objects_keep_configuration_only() {
    let with = |elem: &str| {
        listing(&[&set(
            "s",
            &format!(r#""type": "ipv4_addr", "flags": ["timeout"], "elem": [{elem}]"#),
        )])
    };
    // `expires` is runtime state; an element object with nothing else left is its bare value.
    assert_same(
        &with(r#"{"elem": {"val": "10.0.0.1", "expires": 4711}}"#),
        &with(r#""10.0.0.1""#),
    );
    // A timeout or comment is configuration.
    assert_differ(
        &with(r#"{"elem": {"val": "10.0.0.1", "timeout": 60}}"#),
        &with(r#""10.0.0.1""#),
    );
    assert_differ(
        &with(r#"{"elem": {"val": "10.0.0.1", "comment": "x"}}"#),
        &with(r#""10.0.0.1""#),
    );
    assert_same(
        &with(r#"{"elem": {"val": "10.0.0.1", "timeout": 60, "expires": 12}}"#),
        &with(r#"{"elem": {"val": "10.0.0.1", "timeout": 60, "expires": 59}}"#),
    );
}

#[test]
fn rule6_sets_flags_and_lists_are_sorted_and_deduplicated() {
    let named = |elems: &str, flags: &str| {
        listing(&[&set(
            "s",
            &format!(r#""type": "ipv4_addr", "flags": [{flags}], "elem": [{elems}]"#),
        )])
    };
    assert_same(
        &named(
            r#""10.0.0.2", "10.0.0.1", "10.0.0.1""#,
            r#""constant", "timeout""#,
        ),
        &named(r#""10.0.0.1", "10.0.0.2""#, r#""timeout", "constant""#),
    );
    let anon = |right: &str| rules(&[&format!("{}, {ACCEPT}", m(DPORT, "==", right))]);
    assert_same(
        &anon(r#"{"set": [443, 80, 22]}"#),
        &anon(r#"{"set": [22, 80, 443, 80]}"#),
    );
    let state = |right: &str| {
        rules(&[&format!(
            "{}, {ACCEPT}",
            m(r#"{"ct": {"key": "state"}}"#, "in", right)
        )])
    };
    assert_same(
        &state(r#"["related", "established"]"#),
        &state(r#"["established", "related"]"#),
    );
    assert_differ(
        &named(r#""10.0.0.1""#, ""),
        &named(r#""10.0.0.1", "10.0.0.2""#, ""),
    );
}

#[test]
fn rule7_intervals_take_one_form() {
    let anon = |right: &str| rules(&[&format!("{}, {ACCEPT}", m(SADDR, "==", right))]);
    // A range that is exactly a prefix is the prefix.
    assert_same(
        &anon(r#"{"range": ["10.0.0.0", "10.255.255.255"]}"#),
        &anon(r#"{"prefix": {"addr": "10.0.0.0", "len": 8}}"#),
    );
    // A one-value range and a full-length prefix are the value.
    assert_same(
        &anon(r#"{"range": ["10.0.0.1", "10.0.0.1"]}"#),
        &anon(r#""10.0.0.1""#),
    );
    assert_same(
        &anon(r#"{"prefix": {"addr": "10.0.0.1", "len": 32}}"#),
        &anon(r#""10.0.0.1""#),
    );
    // Elements of an interval set are merged into the fewest disjoint intervals.
    let interval = |elems: &str| {
        listing(&[&set(
            "s",
            &format!(r#""type": "ipv4_addr", "flags": ["interval"], "elem": [{elems}]"#),
        )])
    };
    assert_same(
        &interval(
            r#"{"prefix": {"addr": "10.0.0.0", "len": 9}}, {"prefix": {"addr": "10.128.0.0", "len": 9}}"#,
        ),
        &interval(r#"{"prefix": {"addr": "10.0.0.0", "len": 8}}"#),
    );
    assert_differ(
        &interval(r#"{"prefix": {"addr": "10.0.0.0", "len": 9}}"#),
        &interval(r#"{"prefix": {"addr": "10.0.0.0", "len": 8}}"#),
    );
}

#[test]
fn rule8_a_one_element_set_compared_for_equality_is_its_element() {
    let with = |op: &str, right: &str| rules(&[&format!("{}, {ACCEPT}", m(DPORT, op, right))]);
    assert_same(
        &with("==", r#"{"set": [{"range": [1, 5]}]}"#),
        &with("==", r#"{"range": [1, 5]}"#),
    );
    assert_same(&with("!=", r#"{"set": [22]}"#), &with("!=", "22"));
    assert_differ(&with("==", r#"{"set": [22, 23]}"#), &with("==", "22"));
    assert_differ(&with("==", "22"), &with("!=", "22"));
}

#[test]
fn rule9_dynamic_sets_keep_their_declaration_but_not_their_elements() {
    let decl = r#""type": "ipv4_addr", "size": 64, "flags": ["dynamic"]"#;
    let empty = listing(&[&set("seen", decl)]);
    let filled = listing(&[&set(
        "seen",
        &format!(r#"{decl}, "elem": ["10.0.0.1", "10.0.0.2"]"#),
    )]);
    assert_same(&empty, &filled);
    assert!(!text(&filled).contains("10.0.0.1"));
    assert_differ(
        &empty,
        &listing(&[&set(
            "seen",
            r#""type": "ipv4_addr", "size": 128, "flags": ["dynamic"]"#,
        )]),
    );
    // A set that a rule fills from the packet path is dynamic even without the flag.
    let add = r#"{"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@seen"}}"#;
    let fill = |elems: &str| {
        let s = set(
            "seen",
            &format!(r#""type": "ipv4_addr", "size": 64, "elem": [{elems}]"#),
        );
        listing(&[&s, &chain("c", 2), &rule("c", 3, add)])
    };
    assert_same(&fill(r#""10.0.0.1""#), &fill(r#""10.0.0.2", "10.0.0.3""#));
    let doc: Value = serde_json::from_str(&text(&fill(r#""10.0.0.1""#))).unwrap();
    assert_eq!(
        doc["tables"]["inet t"]["sets"]["seen"]["flags"],
        serde_json::json!(["dynamic"])
    );
}

#[test]
fn rule10_stateful_object_and_statement_values_are_excluded() {
    let counter = |p: u64, b: u64| {
        rules(&[&format!(
            r#"{{"counter": {{"packets": {p}, "bytes": {b}}}}}, {ACCEPT}"#
        )])
    };
    assert_same(&counter(0, 0), &counter(123, 45678));
    assert_differ(&counter(0, 0), &rules(&[ACCEPT]));
    let quota = |used: u64| {
        rules(&[&format!(
            r#"{{"quota": {{"val": 100, "val_unit": "mbytes", "used": {used}, "used_unit": "bytes"}}}}"#
        )])
    };
    assert_same(&quota(0), &quota(4096));
    let last = |used: &str| rules(&[&format!(r#"{{"last": {used}}}, {ACCEPT}"#)]);
    assert_same(&last("null"), &last(r#"{"used": 8812}"#));
    let named = |p: u64| {
        listing(&[&format!(
            r#"{{"counter": {{"family": "inet", "table": "t", "name": "k", "handle": 5, "packets": {p}, "bytes": {p}}}}}"#
        )])
    };
    assert_same(&named(0), &named(99));
    let named_quota = |used: u64| {
        listing(&[&format!(
            r#"{{"quota": {{"family": "inet", "table": "t", "name": "q", "handle": 6, "bytes": 1000, "used": {used}, "inv": false}}}}"#
        )])
    };
    assert_same(&named_quota(0), &named_quota(999));
}

#[test]
fn rule11_unknown_constructs_are_kept_verbatim_and_flagged() {
    let unknown = |v: u32| {
        rules(&[&format!(
            r#"{{"frobnicate": {{"zeta": {v}, "alpha": [2, 1]}}}}, {ACCEPT}"#
        )])
    };
    let ruleset = from_nft_json(unknown(1).as_bytes()).unwrap();
    let doc = ruleset.canonical().unwrap();
    assert!(
        doc.as_str()
            .contains(r#"{"frobnicate":{"alpha":[2,1],"zeta":1}}"#),
        "{}",
        doc.as_str()
    );
    assert_differ(&unknown(1), &unknown(2));
    let flags = ruleset.flags();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].kind, FlagKind::Unknown);
    assert_eq!(flags[0].table.as_deref(), Some("inet t"));
    assert_eq!(flags[0].chain.as_deref(), Some("c"));
    assert_eq!(flags[0].rule, Some(0));
    let doc: Value = serde_json::from_str(doc.as_str()).unwrap();
    assert_eq!(doc["flags"][0]["kind"], "unknown");
    // An unknown top-level item is kept too.
    let item = listing(&[r#"{"wormhole": {"family": "inet", "name": "w"}}"#]);
    let ruleset = from_nft_json(item.as_bytes()).unwrap();
    assert!(ruleset.canonical().unwrap().as_str().contains("wormhole"));
    assert_eq!(ruleset.flags().len(), 1);
}

#[test]
fn rule12_iptables_nft_xt_statements_are_flagged_unverifiable() {
    let xt = |name: &str| {
        rules(&[&format!(
            r#"{{"xt": {{"type": "match", "name": "{name}"}}}}, {ACCEPT}"#
        )])
    };
    let ruleset = from_nft_json(xt("conntrack").as_bytes()).unwrap();
    let flags = ruleset.flags();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].kind, FlagKind::Unverifiable);
    assert_eq!(flags[0].rule, Some(0));
    assert_differ(&xt("conntrack"), &xt("recent"));
}

#[test]
fn rule13_the_document_is_rfc8785_json_of_the_model() {
    for name in CORPUS {
        let ruleset = from_nft_json(&corpus_json(name)).unwrap();
        let doc = ruleset.canonical().unwrap();
        let value: Value = serde_json::from_slice(doc.as_bytes()).unwrap();
        assert_eq!(
            Canonical::from_value(&value).unwrap().as_bytes(),
            doc.as_bytes(),
            "{name}"
        );
        assert_eq!(value["format"], FORMAT);
    }
    // A number RFC 8785 cannot print exactly is refused, never rounded.
    let huge = rules(&[&format!(
        "{}, {ACCEPT}",
        m(r#"{"meta": {"key": "mark"}}"#, "==", "9007199254740993")
    )]);
    assert!(from_nft_json(huge.as_bytes()).unwrap().canonical().is_err());
}

#[test]
fn rule14_per_table_digests_cover_exactly_their_table() {
    let other = r#"{"table": {"family": "ip", "name": "u", "handle": 2}}"#;
    let a = listing(&[other, &chain("c", 3), &rule("c", 4, ACCEPT)]);
    let b = listing(&[other, &chain("c", 3), &rule("c", 4, r#"{"drop": null}"#)]);
    let (ra, rb) = (
        from_nft_json(a.as_bytes()).unwrap(),
        from_nft_json(b.as_bytes()).unwrap(),
    );
    let (da, db) = (ra.table_digests().unwrap(), rb.table_digests().unwrap());
    assert_ne!(da["inet t"], db["inet t"]);
    assert_eq!(da["ip u"], db["ip u"]);
    let doc: Value = serde_json::from_slice(ra.canonical().unwrap().as_bytes()).unwrap();
    for (key, digest) in &da {
        let table = Canonical::from_value(&doc["tables"][key]).unwrap();
        assert_eq!(*digest, Sha256Digest::of(table.as_bytes()), "{key}");
    }
}

#[test]
fn rule15_only_a_canonical_document_reads_back() {
    for name in CORPUS {
        let doc = from_nft_json(&corpus_json(name))
            .unwrap()
            .canonical()
            .unwrap();
        let back = Ruleset::from_canonical(doc.as_bytes()).unwrap();
        assert_eq!(
            back.canonical().unwrap().as_bytes(),
            doc.as_bytes(),
            "{name}"
        );
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(doc.as_bytes()).unwrap())
                .unwrap();
        assert!(
            matches!(
                Ruleset::from_canonical(&pretty),
                Err(DocumentError::NotCanonical)
            ),
            "{name}"
        );
    }
    let doc = canonical(&rules(&[ACCEPT]));
    let old = doc.as_str().replace(FORMAT, "palisade.nftables/0");
    assert!(matches!(
        Ruleset::from_canonical(old.as_bytes()),
        Err(DocumentError::Format { .. })
    ));
    let unsorted = canonical(&listing(&[&set(
        "s",
        r#""type": "inet_service", "elem": [1, 2]"#,
    )]));
    let swapped = unsorted.as_str().replace("[1,2]", "[2,1]");
    assert_ne!(swapped, unsorted.as_str());
    assert!(matches!(
        Ruleset::from_canonical(swapped.as_bytes()),
        Err(DocumentError::NotCanonical)
    ));
    let rekeyed = doc.as_str().replace(r#""inet t""#, r#""inet x""#);
    assert!(matches!(
        Ruleset::from_canonical(rekeyed.as_bytes()),
        Err(DocumentError::TableKey { .. })
    ));
}

const CORPUS: [&str; 6] = [
    "cis-baseline",
    "docker-nat",
    "everything",
    "firewalld-zones",
    "iptables-nft",
    "kube-proxy-nft",
];

fn testdata(rel: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "testdata", rel]
        .iter()
        .collect()
}

fn corpus_json(name: &str) -> Vec<u8> {
    std::fs::read(testdata(&format!("corpus/{name}.json"))).unwrap()
}

/// The corpus's canonical documents are pinned: a change of the form is a change of format.
#[test]
fn corpus_canonical_documents_are_golden() {
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    for name in CORPUS {
        let doc = from_nft_json(&corpus_json(name))
            .unwrap()
            .canonical()
            .unwrap();
        let path = testdata(&format!("canonical/{name}.json"));
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, doc.as_bytes()).unwrap();
            continue;
        }
        let golden = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (PALISADE_BLESS=1 writes it)", path.display()));
        assert!(
            golden == doc.as_bytes(),
            "{name}: canonical form changed (PALISADE_BLESS=1 rewrites)"
        );
    }
}

/// `testing::generate_json` parses and canonicalises like any listing, and its size is the one
/// asked for.
#[test]
fn generated_rulesets_have_the_requested_rule_count() {
    for rules in [1, 1000, 2500] {
        let ruleset = from_nft_json(crate::testing::generate_json(rules).as_bytes()).unwrap();
        let chains = rules.div_ceil(1000);
        assert_eq!(ruleset.rule_count(), rules + 1 + chains);
        assert!(ruleset.flags().is_empty());
    }
}
