//! One test per canonicalisation rule, on `nft -j` output captured from nftables 1.0.6.

use super::*;

const BASELINE: &str = include_str!("fixtures/baseline.json");

fn baseline() -> Value {
    serde_json::from_str(BASELINE).unwrap()
}

fn canon(raw: &Value) -> Canonical {
    Canonical::from_value(&canonicalize(raw).unwrap()).unwrap()
}

fn items(raw: &mut Value) -> &mut Vec<Value> {
    raw["nftables"].as_array_mut().unwrap()
}

#[test]
fn rule1_metainfo_is_dropped() {
    let mut raw = baseline();
    let before = canon(&raw);
    raw["nftables"][0]["metainfo"]["version"] = "9.9.9".into();
    assert_eq!(canon(&raw), before);
    assert!(!canon(&raw).as_str().contains("metainfo"));
}

#[test]
fn rule2_creation_order_of_tables_chains_sets_does_not_matter() {
    let mut raw = baseline();
    let before = canon(&raw);
    let list = items(&mut raw);
    let first = list.remove(1); // table inet filter
    let nat: Vec<Value> = list.drain(list.len() - 3..).collect();
    list.splice(1..1, nat);
    list.push(first);
    // Put the "output" chain before "input".
    let pos_in = list
        .iter()
        .position(|v| v["chain"]["name"] == "input")
        .unwrap();
    let pos_out = list
        .iter()
        .position(|v| v["chain"]["name"] == "output")
        .unwrap();
    list.swap(pos_in, pos_out);
    assert_eq!(canon(&raw), before);
}

#[test]
fn rule3_handles_are_dropped() {
    let mut raw = baseline();
    let before = canon(&raw);
    for item in items(&mut raw).iter_mut() {
        if let Some(obj) = item
            .as_object_mut()
            .and_then(|m| m.values_mut().next())
            .and_then(Value::as_object_mut)
        {
            if let Some(h) = obj.get_mut("handle") {
                *h = (h.as_u64().unwrap() + 100).into();
            }
        }
    }
    assert_eq!(canon(&raw), before);
    assert!(!canon(&raw).as_str().contains("handle"));
}

#[test]
fn rule4_rule_order_inside_a_chain_is_kept() {
    let mut raw = baseline();
    let before = canon(&raw);
    let list = items(&mut raw);
    let a = list.iter().position(|v| v["rule"]["handle"] == 5).unwrap();
    let b = list.iter().position(|v| v["rule"]["handle"] == 6).unwrap();
    list.swap(a, b);
    assert_ne!(canon(&raw), before);
}

#[test]
fn rule5_counter_and_quota_values_are_dropped_but_counting_is_kept() {
    let mut raw = baseline();
    let before = canon(&raw);
    for item in items(&mut raw).iter_mut() {
        if item.get("counter").is_some() {
            item["counter"]["packets"] = 1234.into();
            item["counter"]["bytes"] = 99999.into();
        }
        if let Some(exprs) = item.pointer_mut("/rule/expr").and_then(Value::as_array_mut) {
            for e in exprs {
                if e.get("counter").is_some_and(Value::is_object) {
                    e["counter"]["packets"] = 7.into();
                }
                if e.get("quota").is_some() {
                    e["quota"]["used"] = 5.into();
                }
            }
        }
    }
    assert_eq!(canon(&raw), before);
    assert!(before.as_str().contains(r#"{"counter":{}}"#));
    // Removing the counter statement is a change.
    let mut raw = baseline();
    let exprs = items(&mut raw)
        .iter_mut()
        .find(|v| v["rule"]["handle"] == 9)
        .unwrap()["rule"]["expr"]
        .as_array_mut()
        .unwrap();
    exprs.remove(1);
    assert_ne!(canon(&raw), before);
}

#[test]
fn rule6_set_elements_and_flags_are_sorted() {
    let mut raw = baseline();
    let before = canon(&raw);
    for item in items(&mut raw).iter_mut() {
        if let Some(elems) = item.pointer_mut("/set/elem").and_then(Value::as_array_mut) {
            elems.reverse();
        }
        if let Some(set) = item
            .pointer_mut("/rule/expr/0/match/right/set")
            .and_then(Value::as_array_mut)
        {
            set.reverse();
        }
    }
    assert_eq!(canon(&raw), before);
    // Adding an element is a change.
    let mut raw = baseline();
    let set = items(&mut raw)
        .iter_mut()
        .find(|v| v.get("set").is_some())
        .unwrap();
    set["set"]["elem"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"prefix": {"addr": "172.16.0.0", "len": 12}}));
    assert_ne!(canon(&raw), before);
}

#[test]
fn rule7_unknown_objects_are_kept_verbatim() {
    let mut raw = baseline();
    items(&mut raw).push(serde_json::json!({"secmark": {"family": "inet", "table": "filter", "name": "s", "handle": 12, "context": "system_u:object_r:ssh_packet_t:s0"}}));
    let c = canon(&raw);
    assert!(c.as_str().contains("ssh_packet_t"), "{}", c.as_str());
}

#[test]
fn semantic_changes_change_the_digest() {
    let before = canon(&baseline());
    for (pointer, value) in [
        ("/chain/policy", Value::from("accept")),
        ("/chain/prio", Value::from(10)),
        ("/chain/hook", Value::from("forward")),
    ] {
        let mut raw = baseline();
        let chain = items(&mut raw)
            .iter_mut()
            .find(|v| v["chain"]["name"] == "input")
            .unwrap();
        *chain.pointer_mut(pointer).unwrap() = value;
        assert_ne!(canon(&raw), before, "{pointer}");
    }
    let mut raw = baseline();
    let rule = items(&mut raw)
        .iter_mut()
        .find(|v| v["rule"]["handle"] == 7)
        .unwrap();
    rule["rule"]["expr"][1]["match"]["right"] = 2222.into();
    assert_ne!(canon(&raw), before);
}

#[test]
fn rejects_output_that_is_not_nft_json() {
    assert!(canonicalize(&serde_json::json!({"tables": []})).is_err());
    assert!(canonicalize(&serde_json::json!({"nftables": [{"a": 1, "b": 2}]})).is_err());
    assert!(canonicalize(&serde_json::json!({"nftables": [{"chain": {"name": "x"}}]})).is_err());
}

#[test]
fn document_shape() {
    let model = canonicalize(&baseline()).unwrap();
    let input = &model["tables"]["inet filter"]["chains"]["input"];
    assert_eq!(input["policy"], "drop");
    assert_eq!(input["rules"].as_array().unwrap().len(), 5);
    assert_eq!(model["format"], FORMAT);
}
