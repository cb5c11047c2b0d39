//! The policy input from verified canonical rulesets, and the foundation policy over it: the
//! exposure facts are computed from the document and the SSH violation names the rule.

use palisade_cluster_policy::{library, Limits};
use palisade_evidence::canonical::Canonical;
use palisade_evidence::verify::doc_key;
use palisade_firewall::Ruleset;

use super::*;

/// `nft -j list ruleset` (nft 1.0.6) of the end-to-end baseline's input chain with rule 4
/// (`tcp dport 2222`) given `port`.
fn listing(port: u16) -> String {
    let rule = |handle: u32, expr: &str| {
        format!(
            r#"{{"rule":{{"family":"inet","table":"filter","chain":"input","handle":{handle},"expr":[{expr}]}}}}"#
        )
    };
    let dport = |p: u16| {
        format!(
            r#"{{"match":{{"op":"==","left":{{"payload":{{"protocol":"tcp","field":"dport"}}}},"right":{p}}}}},{{"accept":null}}"#
        )
    };
    let items = [
        r#"{"table":{"family":"inet","name":"filter","handle":1}}"#.to_owned(),
        r#"{"chain":{"family":"inet","table":"filter","name":"input","handle":1,"type":"filter","hook":"input","prio":0,"policy":"drop"}}"#.to_owned(),
        rule(2, r#"{"match":{"op":"==","left":{"meta":{"key":"iif"}},"right":"lo"}},{"accept":null}"#),
        rule(3, r#"{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}"#),
        rule(4, &dport(9443)),
        rule(5, &dport(port)),
    ];
    format!(r#"{{"nftables":[{}]}}"#, items.join(","))
}

fn judgement(port: u16) -> Judgement {
    judgement_of(&listing(port))
}

fn judgement_of(listing: &str) -> Judgement {
    let ruleset = palisade_firewall::from_nft_json(listing.as_bytes()).unwrap();
    let canonical: Canonical = ruleset.canonical().unwrap();
    // The verifier reads the document back exactly as the policy input does.
    assert!(Ruleset::from_canonical(canonical.as_bytes()).is_ok());
    let mut j = Judgement::default();
    j.documents.insert(
        doc_key(kind::NFTABLES, "host"),
        VerifiedDocument::new(canonical),
    );
    j
}

fn agent() -> AgentRecord {
    AgentRecord::for_tests("web1", 15)
}

fn violations(port: u16) -> Vec<String> {
    let input = node(
        (&agent()).into(),
        &judgement(port),
        &ExposureCache::default(),
    );
    library::foundation(Limits::default())
        .unwrap()
        .evaluate(&input)
        .unwrap()
        .into_iter()
        .map(|v| v.message)
        .collect()
}

#[test]
fn input_carries_exposure_facts_per_namespace() {
    let input = node(
        (&agent()).into(),
        &judgement(2222),
        &ExposureCache::default(),
    );
    let fw = &input["node"]["firewall"];
    assert_eq!(fw["exposure"]["format"], "palisade-exposure-v1");
    assert_eq!(fw["exposures"]["host"], fw["exposure"]);
    assert_eq!(fw["exposure_errors"], json!({}));
    let open: Vec<_> = fw["exposure"]["open_ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["port_from"] == 2222 && o["family"] == "ipv4")
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["sources"], json!(["0.0.0.0/0"]));
    assert_eq!(open[0]["via"][0]["text"], "tcp dport 2222 accept");
    assert_eq!(open[0]["via"][0]["index"], 3);
}

#[test]
fn baseline_passes_the_foundation_policy() {
    assert_eq!(violations(2222), Vec::<String>::new());
}

#[test]
fn ssh_opened_by_rule_4_is_one_violation_naming_it() {
    assert_eq!(
        violations(22),
        ["rule 4 of chain inet filter/input accepts tcp/22 from 0.0.0.0/0, ::/0 (tcp dport 22 accept)"]
    );
}

#[test]
fn a_document_that_does_not_read_back_has_no_facts_and_fails_the_policy() {
    let mut j = judgement(2222);
    let doc = j.documents.values_mut().next().unwrap();
    doc.canonical =
        Canonical::from_jcs_bytes(br#"{"format":"palisade.nftables/0","tables":{}}"#.to_vec());
    let input = node((&agent()).into(), &j, &ExposureCache::default());
    assert_eq!(input["node"]["firewall"]["exposure"], Value::Null);
    assert!(input["node"]["firewall"]["exposure_errors"]["host"].is_string());
    let msgs: Vec<String> = library::foundation(Limits::default())
        .unwrap()
        .evaluate(&input)
        .unwrap()
        .into_iter()
        .map(|v| v.message)
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with("no firewall exposure facts"),
        "{}",
        msgs[0]
    );
}

#[test]
fn large_rulesets_get_facts_computed_once_per_digest() {
    // Ten times the old 2,000-rule cap.
    let j = judgement_of(&palisade_firewall::testing::generate_json(20_000));
    let cache = ExposureCache::default();
    let input = node((&agent()).into(), &j, &cache);
    let fw = &input["node"]["firewall"];
    assert_eq!(fw["exposure_errors"], json!({}));
    assert_eq!(fw["exposure"]["truncated"], false);
    assert!(fw["exposure"]["open_ports"].as_array().unwrap().len() > 1000);
    assert_eq!(cache.len(), 1);
    let again = node((&agent()).into(), &j, &cache);
    assert_eq!(again, input);
    assert_eq!(cache.len(), 1);
}

#[test]
fn truncated_facts_fail_the_foundation_policy_closed() {
    let mut input = node(
        (&agent()).into(),
        &judgement(2222),
        &ExposureCache::default(),
    );
    input["node"]["firewall"]["exposure"]["truncated"] = json!(true);
    let msgs: Vec<String> = library::foundation(Limits::default())
        .unwrap()
        .evaluate(&input)
        .unwrap()
        .into_iter()
        .map(|v| v.message)
        .collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("memory budget"), "{}", msgs[0]);
}

#[test]
fn node_documents_match_the_shipped_schema_verified_or_not() {
    let schema: serde_json::Value = serde_json::from_str(include_str!(
        "../../../cluster-policy/schema/node-input.schema.json"
    ))
    .unwrap();
    let cache = ExposureCache::default();
    let mut update = crate::cluster::NodeUpdate {
        id: "web1".into(),
        labels: [("role".to_owned(), "web".to_owned())].into(),
        pcr: 15,
        outcome: crate::store::Outcome::Pass,
        at: 1_700_000_000,
        documents: judgement(443).documents,
    };
    let verified = crate::cluster::node_document(&update, &cache);
    let problems = palisade_cluster_policy::schema::violations(&schema, &verified);
    assert!(problems.is_empty(), "{problems:?}\n{verified}");
    assert_eq!(verified["attestation"]["verified"], true);
    assert_eq!(verified["attestation"]["outcome"], "pass");
    assert_eq!(
        verified["firewall"]["digests"]["host"],
        verified["firewall"]["digest"]
    );

    // Evidence that did not verify: the fact, never content.
    update.documents.clear();
    update.outcome = crate::store::Outcome::Fail;
    let unverified = crate::cluster::node_document(&update, &cache);
    assert!(palisade_cluster_policy::schema::violations(&schema, &unverified).is_empty());
    assert_eq!(unverified["attestation"]["verified"], false);
    assert!(unverified["firewall"].is_null() && unverified["runtime"].is_null());
}
