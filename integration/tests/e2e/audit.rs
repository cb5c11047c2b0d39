//! Durable records end to end: a real agent (swtpm) attested by the real verifier passes, then
//! fails when ssh is opened; `palisade audit export` writes the records, the verifier is killed,
//! and `palisade audit verify` re-checks every quote, log replay and policy offline. An edited
//! record in the file is named and the exit code says so.

use std::process::Output;

use palisade_integration::bin;

use super::support::{reason_codes, World};

fn palisade_offline(args: &[&str]) -> Output {
    std::process::Command::new(bin("palisade").unwrap())
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn exported_records_re_check_offline_with_the_verifier_killed() {
    let mut w = World::start("audit1");
    assert_eq!(w.attest()["outcome"], "pass");
    palisade_integration::palisade::open_ssh(&w.host).unwrap();
    let failed = w.attest_until("fail");
    assert_eq!(reason_codes(&failed), ["policy_violation"], "{failed}");

    let file = w.verifier.dir().join("audit.json");
    let path = file.display().to_string();
    w.verifier
        .cli_raw(&["audit", "export", "--agent", w.host.label(), "-o", &path])
        .unwrap();
    w.verifier.proc.kill();

    let out = palisade_offline(&["audit", "verify", &path]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("every record holds"), "{}", text(&out));
    let json = palisade_offline(&["--json", "audit", "verify", &path]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let records = report["records"].as_u64().unwrap();
    assert!(records >= 2, "{report}");
    assert_eq!(
        report["quotes_rechecked"].as_u64(),
        Some(records),
        "{report}"
    );
    assert_eq!(
        report["policies_rechecked"].as_u64(),
        Some(records),
        "{report}"
    );

    // Rewrite the failing record's outcome in the file: its hash no longer matches.
    let original = std::fs::read_to_string(&file).unwrap();
    let edited = original.replacen(r#"\"outcome\":\"fail\""#, r#"\"outcome\":\"pass\""#, 1);
    assert_ne!(edited, original, "no failing record in the export");
    std::fs::write(&file, edited).unwrap();
    let out = palisade_offline(&["audit", "verify", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("body does not hash to the record's hash"),
        "{}",
        text(&out)
    );

    std::fs::write(&file, "{\"format\": \"palisade.audit/1\", ").unwrap();
    let out = palisade_offline(&["audit", "verify", &path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("is not an audit export"),
        "{}",
        text(&out)
    );
}
