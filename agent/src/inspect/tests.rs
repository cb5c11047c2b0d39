//! `inspect` output formats on a parsed ruleset and a canonical network document: canonical is
//! byte-exact, digest lines match the logged digests, JSON re-canonicalises to the same bytes,
//! exposure is the firewall crate's report.

use super::*;

/// `nft -j list ruleset` of an input chain with policy drop that accepts tcp/22.
const RULESET: &str = r#"{"nftables":[
 {"metainfo":{"version":"1.0.6","release_name":"Lester Gooch #5","json_schema_version":1}},
 {"table":{"family":"inet","name":"f","handle":1}},
 {"chain":{"family":"inet","table":"f","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}},
 {"rule":{"family":"inet","table":"f","chain":"input","handle":2,"expr":[
   {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},
   {"accept":null}]}}]}"#;

fn measurement() -> Measurement {
    let ruleset = palisade_firewall::from_nft_json(RULESET.as_bytes()).unwrap();
    palisade_collectors::nftables::measurement(ruleset).unwrap()
}

fn render(format: FirewallFormat) -> String {
    let mut out = Vec::new();
    write_firewall(&measurement(), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn network_doc() -> Canonical {
    Canonical::from_value(&serde_json::json!({
        "format": "palisade.network/1",
        "routes": [{"table": "main", "dst": "10.0.0.0/8"}],
        "links": [{"name": "lo"}],
    }))
    .unwrap()
}

fn render_network(format: NetworkFormat) -> String {
    let mut out = Vec::new();
    write_network(&network_doc(), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn canonical_format_is_the_exact_measured_bytes() {
    let m = measurement();
    assert_eq!(
        render(FirewallFormat::Canonical).as_bytes(),
        m.canonical.as_bytes()
    );
    assert_eq!(
        render_network(NetworkFormat::Canonical).as_bytes(),
        network_doc().as_bytes()
    );
}

#[test]
fn digest_format_is_the_logged_digest_then_one_line_per_table() {
    let m = measurement();
    let text = render(FirewallFormat::Digest);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("sha256:{}  ruleset", m.canonical.digest())
    );
    let digest = m.table_digests.get("inet f").unwrap();
    assert_eq!(lines[1..], [format!("sha256:{digest}  table inet f")]);
}

#[test]
fn network_digest_lists_the_whole_and_each_section() {
    let text = render_network(NetworkFormat::Digest);
    let routes =
        Canonical::from_value(&serde_json::json!([{"table": "main", "dst": "10.0.0.0/8"}]))
            .unwrap()
            .digest();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("sha256:{}  network", network_doc().digest())
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines.contains(&format!("sha256:{routes}  section routes").as_str()),
        "{text}"
    );
}

#[test]
fn json_format_is_the_same_document_pretty_printed() {
    for (text, doc) in [
        (render(FirewallFormat::Json), measurement().canonical),
        (render_network(NetworkFormat::Json), network_doc()),
    ] {
        assert!(text.contains("\n  "), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(Canonical::from_value(&back).unwrap(), doc);
    }
}

#[test]
fn exposure_format_is_the_firewall_crates_report() {
    let text = render(FirewallFormat::Exposure);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let expected = serde_json::to_value(palisade_firewall::exposure::exposure(
        &measurement().ruleset,
    ))
    .unwrap();
    assert_eq!(value, expected);
    assert_eq!(
        value["format"],
        palisade_firewall::exposure::EXPOSURE_FORMAT
    );
    assert_eq!(
        value["families"]["ipv4"]["hooks"]["input"]["default"],
        "drop"
    );
    assert!(
        !value["open_ports"].as_array().unwrap().is_empty(),
        "{text}"
    );
}

#[test]
fn netns_argument_forms() {
    assert_eq!(netns_arg(None), NetNs::Current);
    assert_eq!(netns_arg(Some("web1")), NetNs::named("web1"));
    assert_eq!(
        netns_arg(Some("/proc/1/ns/net")),
        NetNs::Path("/proc/1/ns/net".into())
    );
}
