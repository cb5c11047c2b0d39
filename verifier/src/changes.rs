//! What changed in an agent's verified documents since its previous verified result: for every
//! document key, the digest before and after; for nftables rulesets, also the semantic diff
//! (`palisade_firewall::diff`: rules added, removed, moved, changed; set elements; policies) as
//! JSON and as alert text.
//!
//! Runtime documents (`bpf`, `sockets`, `kernel`) get a set diff of their lists with one line
//! per change ([`runtime`]), and every changed key names the processes the agent's log entries
//! attributed the change to (`writers`: advisory, from the entries' annotations).
//!
//! The diff is CPU work on attacker-supplied (though verified) documents, so it runs in
//! `spawn_blocking`, and its stored form is bounded. It never fails an attestation: a previous
//! document that is missing or does not parse is recorded as `diff_error` next to the digests.

use std::collections::BTreeMap;

pub mod runtime;

use palisade_evidence::log::{kind, Writer};
use palisade_firewall::diff::{diff, RulesetDiff};
use palisade_firewall::Ruleset;
use serde_json::{json, Map, Value};

use crate::store::{AgentRecord, Store, StoreError};

/// Most lines of diff text stored with a result.
pub const MAX_TEXT_LINES: usize = 200;

/// One changed key with a semantic diff: its kind, the previous document (absent, or why it
/// could not be read) and the new.
type Pair = (String, String, Result<Option<Vec<u8>>, String>, Vec<u8>);

/// Largest diff JSON stored with a result; a larger diff keeps only its counts and summary.
pub const MAX_DIFF_BYTES: usize = 512 * 1024;

/// Whether a document key (`kind/name`) names an nftables ruleset.
pub fn is_nftables(key: &str) -> bool {
    key.split_once('/')
        .is_some_and(|(k, _)| k == kind::NFTABLES)
}

/// The `changes` of a new result: one member per document key whose digest differs from the
/// agent's previous verified result (`None` when there is no previous one or nothing changed).
///
/// `agent` is the agent's row as read when the attestation began, `documents` maps key →
/// digest of the new result, `contents` digest → canonical bytes, `writers` key → the
/// processes the new log entries name.
pub async fn since_previous(
    store: &Store,
    agent: &AgentRecord,
    documents: &BTreeMap<String, String>,
    contents: &BTreeMap<String, Vec<u8>>,
    writers: &BTreeMap<String, Vec<Writer>>,
) -> Result<Option<Value>, StoreError> {
    let previous = store
        .previous_verified_since(&agent.id, agent.last_result_id)
        .await?;
    let Some(previous) = previous else {
        return Ok(None);
    };
    let mut changed = Map::new();
    // The keys to diff semantically.
    let mut pairs: Vec<Pair> = Vec::new();
    for (key, digest) in documents {
        let before = previous.documents.get(key);
        if before == Some(digest) {
            continue;
        }
        let mut entry = Map::new();
        entry.insert("from".into(), json!(before));
        entry.insert("to".into(), json!(digest));
        entry.insert("since_result".into(), json!(previous.id));
        if let Some(w) = writers.get(key).filter(|w| !w.is_empty()) {
            entry.insert("writers".into(), json!(w));
        }
        let entry = Value::Object(entry);
        changed.insert(key.clone(), entry);
        let doc_kind = key.split_once('/').map_or(key.as_str(), |(k, _)| k);
        let wanted = is_nftables(key) || runtime::is_runtime(doc_kind);
        let Some(new) = contents.get(digest).filter(|_| wanted) else {
            continue;
        };
        let old = match before {
            None => Ok(None),
            Some(d) => match store.document(d).await? {
                Some(bytes) => Ok(Some(bytes)),
                None => Err(format!("previous document {d} is not stored")),
            },
        };
        pairs.push((key.clone(), doc_kind.to_owned(), old, new.clone()));
    }
    if !pairs.is_empty() {
        let keys: Vec<String> = pairs.iter().map(|(k, _, _, _)| k.clone()).collect();
        let diffs = tokio::task::spawn_blocking(move || {
            pairs
                .into_iter()
                .map(|(key, doc_kind, old, new)| {
                    let old = old.as_ref().map(Option::as_deref).map_err(String::as_str);
                    let diff = if doc_kind == kind::NFTABLES {
                        ruleset_change(old, &new)
                    } else {
                        match old {
                            Ok(old) => runtime::change(&doc_kind, old, &new),
                            Err(e) => json!({ "diff_error": e }),
                        }
                    };
                    (key, diff)
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|e| {
            let error = json!({ "diff_error": format!("diff task failed: {e}") });
            keys.into_iter().map(|k| (k, error.clone())).collect()
        });
        for (key, extra) in diffs {
            if let (Some(Value::Object(entry)), Value::Object(extra)) =
                (changed.get_mut(&key), extra)
            {
                entry.extend(extra);
            }
        }
    }
    Ok((!changed.is_empty()).then_some(Value::Object(changed)))
}

/// The semantic members of one changed ruleset: `diff` (the [`RulesetDiff`] JSON, or only its
/// `counts`, `format` and `summary` plus `"truncated": true` when larger than
/// [`MAX_DIFF_BYTES`]) and `text` (at most [`MAX_TEXT_LINES`] lines); or `diff_error` when a side
/// is unavailable or does not parse. `old` is `Ok(None)` for a ruleset the previous result did
/// not have (everything in it is added). Blocking: call from `spawn_blocking`.
pub fn ruleset_change(old: Result<Option<&[u8]>, &str>, new: &[u8]) -> Value {
    let old = match old {
        Ok(None) => Ok(Ruleset::default()),
        Ok(Some(bytes)) => Ruleset::from_canonical(bytes)
            .map_err(|e| format!("previous ruleset does not parse: {e}")),
        Err(why) => Err(why.to_owned()),
    };
    let new = Ruleset::from_canonical(new).map_err(|e| format!("new ruleset does not parse: {e}"));
    match (old, new) {
        (Ok(old), Ok(new)) => described(&diff(&old, &new)),
        (Err(e), _) | (_, Err(e)) => json!({ "diff_error": e }),
    }
}

fn described(d: &RulesetDiff) -> Value {
    let text = d.to_text_limited(MAX_TEXT_LINES);
    let full = serde_json::to_value(d).unwrap_or(Value::Null);
    let size = serde_json::to_vec(&full).map_or(usize::MAX, |b| b.len());
    let diff = if size <= MAX_DIFF_BYTES {
        full
    } else {
        let mut short = Map::new();
        for member in ["counts", "format", "summary"] {
            if let Some(v) = full.get(member) {
                short.insert(member.to_owned(), v.clone());
            }
        }
        short.insert("truncated".to_owned(), Value::Bool(true));
        Value::Object(short)
    };
    json!({ "diff": diff, "text": text })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
mod tests {
    use super::*;
    use crate::store::{testing, Outcome, ResultRecord, Seal};
    use palisade_evidence::Sha256Digest;

    const SSH: &str = r#"{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}"#;
    const LO: &str = r#"{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}"#;

    /// The canonical document of `inet filter` with an input chain (policy `policy`) holding
    /// `rules` (each the `expr` list of one rule, in libnftables JSON).
    fn canonical(policy: &str, rules: &[&str]) -> Vec<u8> {
        let mut items = vec![
            r#"{"table": {"family": "inet", "name": "filter", "handle": 1}}"#.to_owned(),
            format!(
                r#"{{"chain": {{"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "{policy}"}}}}"#
            ),
        ];
        for (i, r) in rules.iter().enumerate() {
            items.push(format!(
                r#"{{"rule": {{"family": "inet", "table": "filter", "chain": "input", "handle": {}, "expr": [{r}]}}}}"#,
                i + 2
            ));
        }
        let json = format!(r#"{{"nftables": [{}]}}"#, items.join(", "));
        let ruleset = palisade_firewall::from_nft_json(json.as_bytes()).unwrap();
        ruleset.canonical().unwrap().as_bytes().to_vec()
    }

    #[test]
    fn an_added_rule_is_named_in_json_and_text() {
        let (old, new) = (canonical("drop", &[LO]), canonical("drop", &[LO, SSH]));
        let v = ruleset_change(Ok(Some(&old)), &new);
        assert_eq!(v["diff"]["counts"]["rules_added"], 1, "{v}");
        let rule = &v["diff"]["tables"][0]["chains"][0]["rules"][0];
        assert_eq!(rule["change"], "added");
        assert_eq!(rule["new"]["position"], 2);
        assert_eq!(rule["new"]["rule"], "tcp dport 22 accept");
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("1 rule added\n"), "{text}");
        assert!(
            text.contains("rule 2 added: `tcp dport 22 accept`"),
            "{text}"
        );
        assert!(v.get("diff_error").is_none());
    }

    #[test]
    fn a_policy_change_is_reported() {
        let v = ruleset_change(Ok(Some(&canonical("drop", &[]))), &canonical("accept", &[]));
        assert_eq!(v["diff"]["summary"], "1 policy change", "{v}");
        assert!(v["text"].as_str().unwrap().contains("policy drop → accept"));
    }

    #[test]
    fn a_new_ruleset_is_diffed_against_nothing() {
        let v = ruleset_change(Ok(None), &canonical("drop", &[LO, SSH]));
        assert_eq!(v["diff"]["counts"]["tables_added"], 1, "{v}");
        assert_eq!(v["diff"]["counts"]["rules_added"], 2, "{v}");
    }

    #[test]
    fn an_unparsable_or_missing_previous_document_is_recorded_not_fatal() {
        let new = canonical("drop", &[SSH]);
        let v = ruleset_change(Ok(Some(b"{\"format\": \"something else\"}")), &new);
        let e = v["diff_error"].as_str().unwrap();
        assert!(e.starts_with("previous ruleset does not parse"), "{e}");
        assert!(v.get("diff").is_none());
        let v = ruleset_change(Err("previous document abc is not stored"), &new);
        assert_eq!(v["diff_error"], "previous document abc is not stored");
        let v = ruleset_change(Ok(Some(&new)), b"[]");
        assert!(v["diff_error"]
            .as_str()
            .unwrap()
            .starts_with("new ruleset does not parse"));
    }

    #[test]
    fn a_huge_diff_keeps_counts_and_summary_and_bounded_text() {
        let rules: Vec<String> = (0..12000)
            .map(|p| format!(r#"{{"match": {{"op": "==", "left": {{"payload": {{"protocol": "tcp", "field": "dport"}}}}, "right": {}}}}}, {{"accept": null}}"#, p + 1))
            .collect();
        let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
        let v = ruleset_change(Ok(None), &canonical("drop", &rules));
        assert_eq!(v["diff"]["truncated"], true);
        assert_eq!(v["diff"]["counts"]["rules_added"], 12000);
        assert!(v["diff"].get("tables").is_none());
        let text = v["text"].as_str().unwrap();
        assert_eq!(text.lines().count(), MAX_TEXT_LINES + 1);
        assert!(text.ends_with("more lines\n"), "{text}");
        assert!(serde_json::to_vec(&v).unwrap().len() < MAX_DIFF_BYTES);
    }

    #[test]
    fn only_nftables_keys_are_diffed() {
        assert!(is_nftables("nftables/host"));
        assert!(!is_nftables("network/host"));
        assert!(!is_nftables("nftables"));
        assert!(!is_nftables("boot/binding"));
    }

    fn result(documents: &BTreeMap<String, String>) -> ResultRecord {
        let mut result = testing::result("a1", Outcome::Pass);
        result.documents = documents.clone();
        result
    }

    /// key → digest and digest → bytes for `docs` (key, bytes).
    fn docs(docs: &[(&str, &[u8])]) -> (BTreeMap<String, String>, BTreeMap<String, Vec<u8>>) {
        let mut keys = BTreeMap::new();
        let mut contents = BTreeMap::new();
        for (key, bytes) in docs {
            let digest = Sha256Digest::of(bytes).to_string();
            keys.insert((*key).to_owned(), digest.clone());
            contents.insert(digest, bytes.to_vec());
        }
        (keys, contents)
    }

    /// The agent's row as an attestation reads it when it begins.
    async fn row(store: &crate::store::Store) -> AgentRecord {
        store.agent("a1").await.unwrap().unwrap()
    }

    /// `since_previous` for agent a1 as an attestation calls it, without writers.
    async fn changes(
        store: &crate::store::Store,
        keys: &BTreeMap<String, String>,
        contents: &BTreeMap<String, Vec<u8>>,
    ) -> Option<Value> {
        since_previous(store, &row(store).await, keys, contents, &BTreeMap::new())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn changes_against_the_stored_previous_result() {
        let dir = tempfile::tempdir().unwrap();
        let store = testing::open(&dir).await;
        let request = testing::request("a1", "https://x:1");
        testing::register(&store, &request).await;
        let (keys, contents) = docs(&[
            ("nftables/host", &canonical("drop", &[LO])),
            ("network/host", b"{\"links\": 1}"),
        ]);
        // No previous verified result: no changes.
        assert_eq!(changes(&store, &keys, &contents).await, None);
        let first = store
            .record(&result(&keys), &contents, None, &Seal::for_tests())
            .await
            .unwrap();
        // Identical documents: no changes.
        assert_eq!(changes(&store, &keys, &contents).await, None);

        let (new_keys, new_contents) = docs(&[
            ("nftables/host", &canonical("drop", &[LO, SSH])),
            ("network/host", b"{\"links\": 2}"),
            ("nftables/other", b"not a ruleset"),
        ]);
        let v = changes(&store, &new_keys, &new_contents).await.unwrap();
        let nft = &v["nftables/host"];
        assert_eq!(nft["from"], keys["nftables/host"].as_str());
        assert_eq!(nft["to"], new_keys["nftables/host"].as_str());
        assert_eq!(nft["since_result"], first);
        assert_eq!(nft["diff"]["summary"], "1 rule added", "{v}");
        assert!(nft["text"]
            .as_str()
            .unwrap()
            .contains("rule 2 added: `tcp dport 22 accept`"));
        // Other kinds keep digest-level changes only.
        let net = v["network/host"].as_object().unwrap();
        assert_eq!(net.len(), 3, "{v}");
        // A new ruleset that does not parse is recorded, not an error.
        assert!(v["nftables/other"]["diff_error"]
            .as_str()
            .unwrap()
            .starts_with("new ruleset"));
        assert_eq!(v["nftables/other"]["from"], Value::Null);
    }
}
