//! The verifier on PostgreSQL: a real agent (swtpm) is pulled, fails when ssh is opened, the
//! verifier is killed with `kill -9` and resumes from the server's state without a false alarm,
//! and the durable records export and re-check offline — with no SQLite file anywhere.

use std::time::Duration;

use palisade_integration::{bin, wait_until};
use palisade_verifier::testing::Postgres;
use serde_json::Value;

use super::support::{reason_codes, World};

#[test]
fn the_verifier_on_postgresql_resumes_after_kill_9_and_its_records_re_check_offline() {
    let pg = Postgres::start().unwrap();
    let url = pg.create_database("palisade").unwrap();
    let mut w = World::start_configured(
        "pg1",
        Duration::from_millis(300),
        &format!("database = {url:?}"),
        "",
    );
    let id = w.host.label().to_owned();
    let passes = |w: &World, n: usize| -> Vec<Value> {
        wait_until(&format!("{n} results"), Duration::from_secs(30), || {
            let results = w.verifier.results(&id)?;
            Ok((results.len() >= n).then_some(results))
        })
        .unwrap()
    };
    passes(&w, 3);
    let count = w.verifier.results(&id).unwrap().len();
    w.verifier.kill_and_restart().unwrap();
    let after = passes(&w, count + 3);
    assert!(
        after.iter().all(|r| r["outcome"] == "pass"),
        "a false alarm after kill -9: {after:?}\n{}",
        pg.log()
    );

    palisade_integration::palisade::open_ssh(&w.host).unwrap();
    let failed = w.attest_until("fail");
    assert_eq!(reason_codes(&failed), ["policy_violation"], "{failed}");
    assert!(
        !w.verifier.dir().join("palisade.db").exists(),
        "the state went to SQLite, not PostgreSQL"
    );

    let file = w.verifier.dir().join("audit.json");
    let path = file.display().to_string();
    w.verifier
        .cli_raw(&["audit", "export", "--agent", &id, "-o", &path])
        .unwrap();
    w.verifier.proc.kill();
    let out = std::process::Command::new(bin("palisade").unwrap())
        .args(["--json", "audit", "verify", &path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let records = report["records"].as_u64().unwrap();
    assert!(records as usize >= count + 4, "{report}");
    assert_eq!(
        report["quotes_rechecked"].as_u64(),
        Some(records),
        "{report}"
    );
}
