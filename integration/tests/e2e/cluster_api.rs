//! Cluster policy through the API (`palisade policies add`): a bad template or a constraint set
//! naming a missing template is refused with the reason and nothing is stored; a good one is in
//! force at once (every node re-evaluated), a viewer may not change it, and it survives a
//! `kill -9` of the verifier while the policy directory did not change.

use std::path::Path;
use std::time::Duration;

use palisade_integration::wait_until;
use serde_json::{json, Value};

use super::api::expect_error;
use super::support::{block_on, get_json, World, MANUAL};

const TEMPLATE_REGO: &str = "package palisade.templates.unlabelled\nimport rego.v1\n\
violation contains {\"msg\": sprintf(\"%s has no %s label\", [input.node.id, input.parameters.label]), \
\"nodes\": [input.node.id]} if {\n\tnot input.node.labels[input.parameters.label]\n}\n";

fn write_template(dir: &Path, rego: &str) {
    let t = dir.join("unlabelled");
    std::fs::create_dir_all(&t).unwrap();
    let spec = json!({"name": "unlabelled", "version": 1, "scope": "node", "title": "Labelled",
        "description": "Every node carries a label",
        "parameters": {"type": "object", "properties": {"label": {"type": "string"}},
            "required": ["label"]}});
    std::fs::write(t.join("template.json"), spec.to_string()).unwrap();
    std::fs::write(t.join("template.rego"), rego).unwrap();
}

fn violations(w: &World) -> Vec<Value> {
    // `policy report` exits 1 while a deny constraint is violated: read its JSON anyway.
    let out = w
        .verifier
        .cli_command(&["--json", "policy", "report"])
        .unwrap()
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["violations"].as_array().cloned().unwrap_or_default()
}

fn stored_versions(w: &World) -> usize {
    let list = w.verifier.cli(&["policies", "list"]).unwrap();
    list.as_array().unwrap().len()
}

#[test]
fn cluster_policy_set_through_the_api_is_checked_applied_and_kept_across_a_restart() {
    let policy_dir = tempfile::tempdir().unwrap();
    std::fs::write(policy_dir.path().join("constraints.json"), "[]").unwrap();
    let extra = format!(
        "cluster_policy_dir = {:?}",
        policy_dir.path().display().to_string()
    );
    let mut w = World::start_configured("clapi", MANUAL, &extra, "");
    let id = w.host.label().to_owned();
    assert_eq!(w.attest()["outcome"], "pass");
    let work = tempfile::tempdir().unwrap();
    let constraints = work.path().join("owned.json");
    std::fs::write(
        &constraints,
        json!([{"name": "owned", "template": "unlabelled", "parameters": {"label": "owner"},
            "enforcement": "deny"}])
        .to_string(),
    )
    .unwrap();
    let templates = work.path().join("templates");
    let path = |p: &Path| p.display().to_string();

    // Refused, with the reason, nothing stored.
    let before = stored_versions(&w);
    let err = w
        .verifier
        .cli_raw(&["policies", "add", &path(&constraints)])
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("no template unlabelled"),
        "{err:#}"
    );
    write_template(
        &templates,
        "package palisade.templates.unlabelled\nviolation contains x if {",
    );
    let err = w
        .verifier
        .cli_raw(&["policies", "add", &path(&templates)])
        .unwrap_err();
    assert!(format!("{err:#}").contains("400"), "{err:#}");
    raw_requests_are_refused(&w);
    assert_eq!(stored_versions(&w), before);

    // A viewer may not change policy.
    let creds = tempfile::tempdir().unwrap();
    w.verifier
        .cli_raw(&[
            "credentials",
            "issue",
            "carol",
            "--role",
            "viewer",
            "--out",
            &path(creds.path()),
        ])
        .unwrap();
    write_template(&templates, TEMPLATE_REGO);
    let cert = path(&creds.path().join("carol.crt"));
    let key = path(&creds.path().join("carol.key"));
    let err = w
        .verifier
        .cli_raw(&[
            "--cert",
            &cert,
            "--key",
            &key,
            "policies",
            "add",
            &path(&templates),
        ])
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("needs the admin role"),
        "{err:#}"
    );

    // In force at once: the node (no owner label) violates it without a new attestation.
    let added = w
        .verifier
        .cli(&["policies", "add", &path(&templates)])
        .unwrap();
    assert_eq!(added[0]["name"], "template/unlabelled", "{added}");
    let added = w
        .verifier
        .cli(&["policies", "add", &path(&constraints)])
        .unwrap();
    assert_eq!(added[0]["name"], "constraints", "{added}");
    let found = violations(&w);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["constraint"], "owned");
    assert_eq!(found[0]["nodes"], json!([id]));
    let list = w.verifier.cli(&["policies", "list"]).unwrap();
    let in_force: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in_force"] == true)
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(in_force.contains(&"template/unlabelled"), "{list}");
    assert!(in_force.contains(&"constraints"), "{list}");

    // kill -9: the directory did not change, so the API's policy is still in force.
    w.verifier.kill_and_restart().unwrap();
    let found = wait_until("the view restored", Duration::from_secs(30), || {
        let found = violations(&w);
        Ok((!found.is_empty()).then_some(found))
    })
    .unwrap();
    assert_eq!(found[0]["constraint"], "owned", "{found:?}");
    assert!(
        w.verifier
            .proc
            .log()
            .contains("keeping the version set through the API"),
        "{}",
        w.verifier.proc.log_tail()
    );

    // The node gains the label → the violation clears.
    w.verifier
        .cli_raw(&["agents", "label", &id, "owner=netsec"])
        .unwrap();
    w.attest();
    assert!(violations(&w).is_empty());
}

/// Malformed bodies, a name that does not match the path, an oversized body, no certificate:
/// each a 4xx with a machine-readable error.
fn raw_requests_are_refused(w: &World) {
    let admin = w.verifier.api_client(false).unwrap();
    let anonymous = w.verifier.api_client(true).unwrap();
    let base = w.verifier.api_base();
    let templates = format!("{base}/v1/cluster/templates/unlabelled");
    let constraints = format!("{base}/v1/cluster/constraints");
    let spec = json!({"name": "other", "version": 1, "scope": "node", "title": "t",
        "description": "d", "parameters": {"type": "object"}});
    block_on(async {
        let put = |url: &str, body: String| {
            admin
                .put(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let truncated = put(&constraints, r#"[{"name": "x", "templ"#.into())
            .await
            .unwrap();
        expect_error(truncated, 400, "bad_request", "").await;
        let unknown = put(
            &constraints,
            r#"[{"name": "x", "template": "freshness", "colour": 1}]"#.into(),
        );
        let status = unknown.await.unwrap().status().as_u16();
        assert!(status == 400 || status == 422, "{status}");
        let body = json!({"template": spec, "rego": TEMPLATE_REGO}).to_string();
        expect_error(
            put(&templates, body).await.unwrap(),
            400,
            "bad_request",
            "named",
        )
        .await;
        let huge = json!([{"name": "x".repeat(2 << 20), "template": "freshness"}]).to_string();
        match put(&constraints, huge).await {
            // Regression (a fresh-clone CI run): the next GET on this client must not reuse the
            // connection the 413 closes, so the 413 says `connection: close`.
            Ok(resp) => {
                assert_eq!(resp.headers()["connection"], "close");
                expect_error(resp, 413, "payload_too_large", "").await
            }
            Err(e) => assert!(e.is_request(), "oversized body: {e:?}"),
        }
        let nobody = anonymous
            .get(format!("{base}/v1/cluster/policy"))
            .send()
            .await
            .unwrap();
        expect_error(nobody, 401, "unauthorized", "").await;
        let in_force = get_json(&admin, &format!("{base}/v1/cluster/policy")).await;
        let sources: Vec<&Value> = in_force
            .as_array()
            .unwrap()
            .iter()
            .map(|o| &o["source"])
            .collect();
        assert!(sources.iter().all(|s| *s == "dir"), "{in_force}");
    });
}
