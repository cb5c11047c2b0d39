//! Semantic ruleset diff end to end: after an ssh accept rule is added on a host, the stored
//! result's `changes` names that rule (position and nft text), and `palisade diff --agent`
//! prints it and exits 1; two results over the same ruleset, or the same listing twice, exit 0.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use palisade_integration::{bin, wait_until};
use serde_json::Value;

use super::support::World;

/// Runs `palisade` against the world's verifier.
fn palisade(w: &World, args: &[&str]) -> Output {
    let url = format!("https://127.0.0.1:{}", w.verifier.port());
    let dir = w.verifier.dir().display().to_string();
    std::process::Command::new(bin("palisade").unwrap())
        .args(["--verifier", &url, "--state-dir", &dir])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `nftables/*` entry of a result's `changes` (None while the ruleset is unchanged).
fn nftables_change(result: &Value) -> Option<(String, Value)> {
    result["changes"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("nftables/"))
        .map(|(k, v)| (k.clone(), v.clone()))
}

#[test]
fn added_ssh_rule_is_named_in_changes_and_by_palisade_diff() {
    let w = World::start("diff1");
    let first = w.attest();
    assert_eq!(first["outcome"], "pass", "{first}");
    let second = w.attest();
    assert_eq!(second["outcome"], "pass", "{second}");
    assert!(nftables_change(&second).is_none(), "{second}");
    let listing_before = w.host.run("nft", &["-j", "list", "ruleset"]).unwrap();

    w.host
        .run(
            "nft",
            &[
                "add", "rule", "inet", "filter", "input", "tcp", "dport", "22", "accept",
            ],
        )
        .unwrap();
    // The agent re-measures on the nftables event (or its 200 ms poll); attest until the verifier
    // has judged the new ruleset.
    let changed = wait_until(
        "a result with nftables changes",
        Duration::from_secs(20),
        || {
            let r = w.verifier.attest(w.host.label())?;
            Ok(nftables_change(&r).is_some().then_some(r))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", w.agent.log_tail()));
    // The policy forbids tcp/22; the evidence was genuine, so the change is still recorded.
    assert_eq!(changed["outcome"], "fail", "{changed}");
    let (key, change) = nftables_change(&changed).unwrap();
    // The scheduler may have attested the unchanged ruleset in between: the change is against
    // the latest verified result, which holds the same document as `second`.
    assert!(
        change["since_result"].as_i64() >= second["id"].as_i64(),
        "{change}"
    );
    assert_eq!(change["from"], second["documents"][&key], "{change}");
    assert_eq!(change["to"], changed["documents"][&key], "{change}");
    assert_eq!(change["diff"]["summary"], "1 rule added", "{change}");
    let chain = &change["diff"]["tables"][0]["chains"][0];
    assert_eq!(chain["name"], "input");
    assert_eq!(
        chain["rules"][0],
        serde_json::json!({
            "change": "added",
            "old": null,
            "new": { "position": 6, "rule": "tcp dport 22 accept" },
        }),
        "{change}"
    );
    let text = change["text"].as_str().unwrap();
    assert!(
        text.contains("chain inet filter input:\n  rule 6 added: `tcp dport 22 accept`"),
        "{text}"
    );

    // The operator's view of the same two results: the rule, exit code 1.
    let (from, to) = (second["id"].to_string(), changed["id"].to_string());
    let out = palisade(&w, &["diff", "--agent", w.host.label(), &from, &to]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let printed = stdout(&out);
    assert!(printed.starts_with("1 rule added\n"), "{printed}");
    assert!(
        printed.contains("rule 6 added: `tcp dport 22 accept`"),
        "{printed}"
    );
    let out = palisade(
        &w,
        &[
            "diff",
            "--agent",
            w.host.label(),
            "--key",
            &key,
            "--format",
            "json",
            &from,
            &to,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["rules_added"], 1);
    assert_eq!(json["format"], "palisade.nftables-diff/1");

    // Identical rulesets: exit 0.
    let (a, b) = (first["id"].to_string(), second["id"].to_string());
    let out = palisade(&w, &["diff", "--agent", w.host.label(), &a, &b]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "no changes\n");
    // Errors: exit 2.
    let out = palisade(&w, &["diff", "--agent", w.host.label(), &a, "999999"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = palisade(
        &w,
        &[
            "diff",
            "--agent",
            w.host.label(),
            "--key",
            "nftables/nowhere",
            &a,
            &b,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // Raw `nft -j list ruleset` files (no verifier involved).
    let listing_after = w.host.run("nft", &["-j", "list", "ruleset"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = (
        dir.path().join("before.json"),
        dir.path().join("after.json"),
    );
    std::fs::write(&before, &listing_before).unwrap();
    std::fs::write(&after, &listing_after).unwrap();
    let files =
        |a: &Path, b: &Path| palisade(&w, &["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    let out = files(&before, &after);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout(&out).contains("rule 6 added: `tcp dport 22 accept`"),
        "{out:?}"
    );
    let out = files(&after, &after);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"neither\": 1}").unwrap();
    assert_eq!(files(&before, &garbage).status.code(), Some(2));
}
