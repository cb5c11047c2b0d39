//! The operator's fleet view: `palisade watch` follows results and removals live
//! over server-sent events; `palisade agents label` relabels an agent (refusing bad labels and
//! changing nothing then); `palisade status` counts agents by state and label.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::support::World;

/// A `palisade --json watch` process and the JSON lines it printed.
struct Watcher {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watcher {
    fn start(w: &World, agent: &str) -> Watcher {
        let mut child = w
            .verifier
            .cli_command(&["--json", "watch", "--agent", agent])
            .unwrap()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).expect("watch printed non-JSON"));
            }
        });
        // The stream is subscribed once the CLI says it is watching.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut said = String::new();
        stderr.read_line(&mut said).unwrap();
        assert!(said.contains("watching"), "watch said {said:?}");
        Watcher { child, lines }
    }

    fn next(&self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(10))
            .expect("no event from palisade watch within 10 s")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_streams_each_result_and_the_removal_of_the_agent() {
    let w = World::start("watch");
    let id = w.host.label();
    let watcher = Watcher::start(&w, id);
    let first = w.attest();
    let second = w.attest();
    for (result, previous) in [(&first, "pending"), (&second, "pass")] {
        assert_eq!(result["outcome"], "pass");
        let event = watcher.next();
        assert_eq!(event["previous"], previous);
        assert_eq!(event["kind"], "result");
        assert_eq!(event["agent_id"], id);
        assert_eq!(event["result"], result["id"]);
        assert_eq!(event["outcome"], result["outcome"]);
    }
    w.verifier.cli(&["agents", "remove", id]).unwrap();
    let removed = watcher.next();
    assert_eq!(
        (removed["kind"].as_str(), removed["agent_id"].as_str()),
        (Some("removed"), Some(id))
    );
}

#[test]
fn labels_change_through_the_cli_and_status_counts_by_state_and_label() {
    let w = World::start("labels");
    let id = w.host.label();
    assert_eq!(w.attest()["outcome"], "pass");
    let changed = w
        .verifier
        .cli(&[
            "agents",
            "label",
            id,
            "zone=dmz",
            "tier=front",
            "--remove",
            "role",
        ])
        .unwrap();
    assert_eq!(changed["labels"]["zone"], "dmz");
    assert!(changed["labels"].get("role").is_none(), "{changed}");
    // A label over the length limit is refused with the rule, and nothing changes.
    let long = format!("k={}", "v".repeat(300));
    let refused = w
        .verifier
        .cli_raw(&["agents", "label", id, &long])
        .unwrap_err();
    assert!(
        refused.to_string().contains("labels: at most"),
        "{refused:#}"
    );
    let shown = w.verifier.cli(&["agents", "show", id]).unwrap();
    assert_eq!(shown["agent"]["labels"]["tier"], "front");
    assert!(shown["agent"]["labels"].get("k").is_none());
    let status = w.verifier.cli(&["status"]).unwrap();
    assert_eq!(status["agents"], 1);
    assert_eq!(status["states"]["pass"], 1);
    assert_eq!(status["labels"]["zone=dmz"]["pass"], 1);
    assert_eq!(status["attention"], serde_json::json!([]));
    let table = w.verifier.cli_raw(&["status"]).unwrap();
    assert!(
        table.contains("zone=dmz") && table.contains("every agent passes"),
        "{table}"
    );
}

#[test]
fn policies_list_names_the_policy_results_name_and_show_prints_its_modules() {
    let w = World::start("policies");
    let result = w.attest();
    let list = w.verifier.cli(&["policies", "list"]).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let current = &list[0];
    assert_eq!(current["current"], true);
    assert_eq!(current["hash"], result["policy"]["hash"]);
    assert_eq!(current["version"], result["policy"]["version"]);
    let name = current["name"].as_str().unwrap();
    let versions = w.verifier.cli(&["policies", "versions", name]).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let hash = current["hash"].as_str().unwrap();
    let source = w
        .verifier
        .cli_raw(&["policies", "show", &hash[..12]])
        .unwrap();
    assert!(source.contains("package "), "{source}");
    let err = w
        .verifier
        .cli_raw(&["policies", "show", "ffff0000"])
        .unwrap_err();
    assert!(format!("{err:#}").contains("no policy matches"), "{err:#}");
}
