//! Tests of the runtime policy end to end: the Keylime bench fixture (`testdata/generated/`) with
//! the real ASCII parser and the validation cases of `shared/bench/keylime-ima/RESULTS.md`,
//! create → evaluate round trips, and report merging / summary. Also the entry builders the
//! other policy tests use.

use super::*;
use crate::list::{parse_ascii, Entry, Event, FileDigest};

const GENERATED_LOG: &[u8] = include_bytes!("../../testdata/generated/ima_200.log");
const GENERATED_POLICY: &[u8] = include_bytes!("../../testdata/generated/policy_200.json");
const KEYLIME_LOG_SHA256: &[u8] = include_bytes!("../../testdata/ima-log-sha256");
const KEYLIME_POLICY_SHA256: &[u8] = include_bytes!("../../testdata/policy-sha256");
const RUST_KEYLIME_LOG: &[u8] = include_bytes!("../../testdata/ascii_runtime_measurements");

/// A file entry of `template` (`ima`, `ima-ng`, `ima-sig`, `ima-modsig`).
pub(super) fn file_entry(template: &str, alg: HashAlg, digest: &[u8], path: &str) -> Entry {
    Entry {
        pcr: 10,
        template_hash: crate::DigestBuf::new(&[0xaa; 20]).unwrap(),
        template: crate::list::Template::from_name(template.as_bytes()).expect("known template"),
        data: Vec::new(),
        event: Event::File {
            digest: FileDigest {
                alg,
                bytes: crate::DigestBuf::new(digest).unwrap(),
            },
            path: path.into(),
            signature: None,
            modsig: None,
        },
    }
}

/// An ima-ng entry with a sha256 digest.
pub(super) fn ng(path: &str, digest: &[u8]) -> Entry {
    file_entry("ima-ng", HashAlg::Sha256, digest, path)
}

/// An ima-buf entry.
pub(super) fn buf_entry(name: &str, digest: &[u8], buf: &[u8]) -> Entry {
    Entry {
        pcr: 10,
        template_hash: crate::DigestBuf::new(&[0xbb; 20]).unwrap(),
        template: crate::list::Template::ImaBuf,
        data: Vec::new(),
        event: Event::Buffer {
            digest: FileDigest {
                alg: HashAlg::Sha256,
                bytes: crate::DigestBuf::new(digest).unwrap(),
            },
            name: name.into(),
            buf: buf.to_vec(),
        },
    }
}

/// A measurement violation as the kernel logs it: zero template hash and zero file digest.
pub(super) fn violation(path: &str) -> Entry {
    let mut e = ng(path, &[0; 32]);
    e.template_hash = crate::DigestBuf::new(&[0; 20]).unwrap();
    e
}

fn generated() -> (Vec<Entry>, RuntimePolicy) {
    (
        parse_ascii(GENERATED_LOG).unwrap(),
        RuntimePolicy::from_json(GENERATED_POLICY).unwrap(),
    )
}

#[test]
fn generated_list_is_all_allowed() {
    let (entries, policy) = generated();
    assert_eq!(entries.len(), 200);
    let report = policy.evaluate(&entries, 1);
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        (report.total, report.allowed, report.boot_aggregates),
        (200, 199, 1)
    );
    assert_eq!(report.boot_aggregate[0].entry, 1);
    assert_eq!(report.boot_aggregate[0].listed, Some(true));
}

#[test]
fn validation_one_policy_digest_altered_is_a_mismatch() {
    let (entries, _) = generated();
    let text = String::from_utf8(GENERATED_POLICY.to_vec()).unwrap();
    let victim = entries[57].name().to_owned();
    let hex = hex::encode(entries[57].digest().bytes);
    let altered = text.replacen(&hex, &format!("{}0", &hex[..63]), 1);
    assert_ne!(altered, text);
    let report = RuntimePolicy::from_json(altered.as_bytes())
        .unwrap()
        .evaluate(&entries, 1);
    assert!(!report.ok());
    assert_eq!(
        (report.mismatched, report.unknown, report.allowed),
        (1, 0, 198)
    );
    assert_eq!(
        (
            report.mismatches[0].entry,
            report.mismatches[0].path.as_str()
        ),
        (58, victim.as_str())
    );
}

#[test]
fn validation_path_removed_is_unknown() {
    let (entries, _) = generated();
    let mut v: serde_json::Value = serde_json::from_slice(GENERATED_POLICY).unwrap();
    let victim = entries[120].name().to_owned();
    v["digests"]
        .as_object_mut()
        .unwrap()
        .remove(&victim)
        .unwrap();
    let report = RuntimePolicy::from_json(v.to_string().as_bytes())
        .unwrap()
        .evaluate(&entries, 1);
    assert_eq!(
        (report.unknown, report.mismatched, report.allowed),
        (1, 0, 198)
    );
    assert_eq!(report.unknown_files[0].entry, 121);
    assert_eq!(report.unknown_files[0].path, victim);
}

#[test]
fn validation_log_digest_altered_is_a_mismatch() {
    // The template-hash / PCR consequences are replay's business; the policy sees the digest.
    let (mut entries, policy) = generated();
    if let Event::File { digest, .. } = &mut entries[9].event {
        digest.bytes[0] ^= 1;
    }
    let report = policy.evaluate(&entries, 1);
    assert_eq!((report.mismatched, report.mismatches[0].entry), (1, 10));
}

#[test]
fn generated_policy_equals_created_policy() {
    // RESULTS.md: `keylime-policy create runtime -m` on the log gives identical digests.
    let (entries, policy) = generated();
    let options = CreateOptions {
        timestamp: Some("synthetic".into()),
        ..CreateOptions::default()
    };
    let created = RuntimePolicy::create(&entries, &options).unwrap();
    assert_eq!(created, policy);
    assert_eq!(
        created.to_json(),
        std::str::from_utf8(GENERATED_POLICY).unwrap().trim_end()
    );
}

#[test]
fn keylime_fixture_log_against_keylime_fixture_policy() {
    let entries = parse_ascii(KEYLIME_LOG_SHA256).unwrap();
    let report = RuntimePolicy::from_json(KEYLIME_POLICY_SHA256)
        .unwrap()
        .evaluate(&entries, 1);
    // The policy lists /base_policy_data only; the log measures boot_aggregate and /data.
    assert_eq!(
        (report.total, report.boot_aggregates, report.unknown),
        (2, 1, 1)
    );
    assert_eq!(report.unknown_files[0].path, "/data");
    assert_eq!(report.boot_aggregate[0].listed, None);
}

#[test]
fn create_then_evaluate_allows_everything() {
    let entries = parse_ascii(RUST_KEYLIME_LOG).unwrap();
    let policy = RuntimePolicy::create(&entries, &CreateOptions::default()).unwrap();
    let report = policy.evaluate(&entries, 1);
    assert!(report.ok());
    assert_eq!(
        report.allowed + report.boot_aggregates + report.violations,
        entries.len() as u64
    );
    let again = RuntimePolicy::from_json(policy.to_json().as_bytes()).unwrap();
    assert_eq!(again, policy);
    assert_eq!(again.evaluate(&entries, 1), report);
}

#[test]
fn create_sorts_dedups_and_keeps_first_seen_order() {
    let entries = [
        ng("/b", &[2; 32]),
        ng("/a", &[9; 32]),
        ng("/b", &[1; 32]),
        ng("/b", &[2; 32]),
        violation("/c"),
        buf_entry("kexec-cmdline", &[5; 32], b"root=/dev/sda"),
    ];
    let options = CreateOptions {
        excludes: vec!["/z".into(), "/y".into(), "/z".into()],
        ..Default::default()
    };
    let p = RuntimePolicy::create(&entries, &options).unwrap();
    let paths: Vec<&str> = p.digests.iter().map(|(n, _)| n).collect();
    assert_eq!(paths, ["/b", "/a"]);
    assert_eq!(p.digests.get("/b").unwrap(), [vec![1; 32], vec![2; 32]]);
    assert_eq!(p.excludes.patterns(), ["/y", "/z"]);
    assert!(p.ima_buf.is_empty());
    let with_buf = RuntimePolicy::create(
        &entries,
        &CreateOptions {
            ima_buf: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(with_buf.ima_buf.contains("kexec-cmdline", &[5; 32]));
    assert!(matches!(
        RuntimePolicy::create(
            &entries,
            &CreateOptions {
                excludes: vec!["(".into()],
                ..Default::default()
            }
        ),
        Err(PolicyError::BadExclude { .. })
    ));
}

#[test]
fn incremental_evaluation_merges_to_the_whole() {
    let (entries, policy) = generated();
    let mut altered = policy.clone();
    altered
        .digests
        .set(entries[3].name().to_owned(), vec![vec![0; 32]]);
    let whole = altered.evaluate(&entries, 1);
    let mut merged = altered.evaluate(&entries[..50], 1);
    merged.merge(altered.evaluate(&entries[50..], 51));
    assert_eq!(merged, whole);
    let mut acc = PolicyReport::new();
    for (i, chunk) in entries.chunks(7).enumerate() {
        altered.evaluate_into(&mut acc, chunk, 1 + 7 * i as u64);
    }
    assert_eq!(acc, whole);
}

#[test]
fn findings_are_capped_but_counts_exact() {
    let policy = RuntimePolicy::default();
    let entries: Vec<Entry> = (0..FINDINGS_LIMIT + 5)
        .map(|i| ng(&format!("/f{i}"), &[1; 32]))
        .collect();
    let mut report = policy.evaluate(&entries, 1);
    assert_eq!(
        (report.unknown, report.unknown_files.len()),
        (FINDINGS_LIMIT as u64 + 5, FINDINGS_LIMIT)
    );
    report.merge(policy.evaluate(&entries[..3], 2000));
    assert_eq!(
        (report.unknown, report.unknown_files.len()),
        (FINDINGS_LIMIT as u64 + 8, FINDINGS_LIMIT)
    );
    let summary = report.summary(Some(&policy), Some("empty"));
    assert_eq!(
        summary["unknown_files"].as_array().unwrap().len(),
        SUMMARY_LIMIT
    );
    assert_eq!(summary["unknown_files"][0], "/f0");
}

#[test]
fn summary_document() {
    let (entries, policy) = generated();
    let mut altered = policy.clone();
    altered
        .digests
        .set(entries[3].name().to_owned(), vec![vec![0; 32]]);
    let s = altered
        .evaluate(&entries, 1)
        .summary(Some(&altered), Some("bench"));
    assert_eq!(s["entries"], 200);
    assert_eq!(s["allowed"], 198);
    assert_eq!(s["ok"], false);
    assert_eq!(s["mismatches"][0]["entry"], 4);
    assert_eq!(s["mismatches"][0]["path"], entries[3].name());
    assert!(s["mismatches"][0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(s["boot_aggregate"][0]["listed"], true);
    assert_eq!(s["policy"]["name"], "bench");
    assert_eq!(s["policy"]["digests_count"], 199);
    let bare = PolicyReport::new().summary(None, None);
    assert_eq!(bare["ok"], true);
    assert!(bare.get("policy").is_none());
}

#[test]
fn report_survives_a_json_round_trip_for_checkpoints() {
    let (entries, policy) = generated();
    let mut altered = policy.clone();
    altered
        .digests
        .set(entries[3].name().to_owned(), vec![vec![0; 32]]);
    let report = altered.evaluate(&entries, 1);
    let text = serde_json::to_string(&report).unwrap();
    let back: PolicyReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
    assert!(serde_json::from_str::<PolicyReport>(&text.replace("sha256:", "md5:")).is_err());
}
