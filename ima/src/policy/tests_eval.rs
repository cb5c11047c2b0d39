//! Tests of per-entry evaluation against Keylime's semantics: allowed / mismatch / unknown,
//! excludes anchored at the start (Python `re.match`), templates, keyrings and ignored keyrings,
//! other `ima-buf` entries, violations and the boot aggregate.

use super::tests::{buf_entry, file_entry, ng, violation};
use super::*;

fn policy(doc: &str) -> RuntimePolicy {
    let text = format!(
        r#"{{"meta": {{"version": 1, "generator": 3}}, "release": 0, "ima": {{"log_hash_alg": "sha1", "dm_policy": null, {doc}}}"#
    );
    RuntimePolicy::from_json(text.as_bytes()).unwrap()
}

fn base(extra: &str) -> RuntimePolicy {
    let a = "11".repeat(32);
    let b = "22".repeat(32);
    let s1 = "33".repeat(20);
    let k = "44".repeat(32);
    let buf = "55".repeat(32);
    policy(&format!(
        r#""ignored_keyrings": [".builtin_trusted_keys"]}}, "digests": {{"/usr/bin/a": ["{a}", "{b}"], "/legacy": ["{s1}"], "boot_aggregate": ["{a}"]}},
        "keyrings": {{".ima": ["{k}"]}}, "ima-buf": {{"kexec-cmdline": ["{buf}"]}}, "verification-keys": "", {extra}"#
    ))
}

fn no_excludes() -> RuntimePolicy {
    base(r#""excludes": []"#)
}

/// A DER certificate-shaped buffer: SEQUENCE { SEQUENCE { … } … } spanning `len` bytes.
fn der_key(len: usize) -> Vec<u8> {
    let body = len - 4;
    let mut v = vec![
        0x30,
        0x82,
        (body >> 8) as u8,
        body as u8,
        0x30,
        0x82,
        0x01,
        0x00,
    ];
    v.resize(len, 0x42);
    v
}

#[test]
fn files_allowed_mismatched_unknown() {
    let p = no_excludes();
    assert_eq!(p.check(&ng("/usr/bin/a", &[0x11; 32])), Outcome::Allowed);
    assert_eq!(p.check(&ng("/usr/bin/a", &[0x22; 32])), Outcome::Allowed);
    assert_eq!(p.check(&ng("/usr/bin/a", &[0x33; 32])), Outcome::Mismatch);
    assert_eq!(p.check(&ng("/usr/bin/a", &[0x11; 31])), Outcome::Mismatch);
    assert_eq!(p.check(&ng("/usr/bin/b", &[0x11; 32])), Outcome::Unknown);
    assert_eq!(
        p.check(&ng("/usr/bin/a/", &[0x11; 32])),
        Outcome::Unknown,
        "exact path match"
    );
}

#[test]
fn digest_bytes_match_whatever_the_algorithm_name() {
    // Keylime compares hex strings, so the algorithm label plays no part; only the bytes.
    let p = no_excludes();
    assert_eq!(
        p.check(&file_entry(
            "ima-ng",
            HashAlg::Sm3,
            &[0x11; 32],
            "/usr/bin/a"
        )),
        Outcome::Allowed
    );
    for template in ["ima", "ima-ng", "ima-sig", "ima-modsig"] {
        assert_eq!(
            p.check(&file_entry(template, HashAlg::Sha1, &[0x33; 20], "/legacy")),
            Outcome::Allowed
        );
        assert_eq!(
            p.check(&file_entry(template, HashAlg::Sha1, &[0x34; 20], "/legacy")),
            Outcome::Mismatch
        );
    }
}

#[test]
fn excludes_match_at_the_start_only() {
    let p = base(r#""excludes": ["/tmp/.*", "foo", ".*\\.log$", "/var/(cache|spool)/"]"#);
    let d = [0x99; 32];
    assert_eq!(p.check(&ng("/tmp/x", &d)), Outcome::Excluded);
    assert_eq!(
        p.check(&ng("foo/bar", &d)),
        Outcome::Excluded,
        "prefix match, not full match"
    );
    assert_eq!(p.check(&ng("/x/foo", &d)), Outcome::Unknown, "not a search");
    assert_eq!(p.check(&ng("/x/tmp/y", &d)), Outcome::Unknown);
    assert_eq!(p.check(&ng("/var/log/a.log", &d)), Outcome::Excluded);
    assert_eq!(p.check(&ng("/var/spool/x", &d)), Outcome::Excluded);
    assert_eq!(p.check(&ng("/var/lib/x", &d)), Outcome::Unknown);
    // Excludes win over a listed path with a wrong digest, as in Keylime.
    let p = base(r#""excludes": ["/usr/bin/"]"#);
    assert_eq!(p.check(&ng("/usr/bin/a", &d)), Outcome::Excluded);
    // Each alternative is anchored: "b" must not match "ab" through the join.
    let p = base(r#""excludes": ["a$", "b"]"#);
    assert_eq!(p.check(&ng("xb", &d)), Outcome::Unknown);
    assert_eq!(p.check(&ng("bx", &d)), Outcome::Excluded);
    assert_eq!(p.check(&ng("xa", &d)), Outcome::Unknown);
}

#[test]
fn keys_use_keyrings_and_ignored_keyrings() {
    let p = no_excludes();
    let key = der_key(300);
    assert_eq!(
        p.check(&buf_entry(".ima", &[0x44; 32], &key)),
        Outcome::Allowed
    );
    assert_eq!(
        p.check(&buf_entry(".ima", &[0x45; 32], &key)),
        Outcome::Mismatch
    );
    assert_eq!(
        p.check(&buf_entry(".evm", &[0x44; 32], &key)),
        Outcome::Unknown
    );
    assert_eq!(
        p.check(&buf_entry(".builtin_trusted_keys", &[0x1; 32], &key)),
        Outcome::Ignored
    );
    let pem = b"-----BEGIN CERTIFICATE-----\nMII...\n-----END CERTIFICATE-----\n";
    assert_eq!(
        p.check(&buf_entry(".ima", &[0x44; 32], pem)),
        Outcome::Allowed
    );
    let mut star = no_excludes();
    star.ignored_keyrings = vec!["*".into()];
    assert_eq!(
        star.check(&buf_entry(".anything", &[0x1; 32], &key)),
        Outcome::Ignored
    );
    // "*" ignores keys only; other buffers still need the ima-buf list.
    assert_eq!(
        star.check(&buf_entry(".anything", &[0x1; 32], b"text")),
        Outcome::Unknown
    );
}

#[test]
fn other_buffers_use_ima_buf() {
    let p = no_excludes();
    assert_eq!(
        p.check(&buf_entry("kexec-cmdline", &[0x55; 32], b"root=/dev/sda")),
        Outcome::Allowed
    );
    assert_eq!(
        p.check(&buf_entry("kexec-cmdline", &[0x56; 32], b"root=/dev/sdb")),
        Outcome::Mismatch
    );
    assert_eq!(
        p.check(&buf_entry("dm_table_load", &[0x55; 32], b"x")),
        Outcome::Unknown
    );
    // A key-named buffer that is not a key is an ima-buf entry, as in Keylime.
    assert_eq!(
        p.check(&buf_entry(".ima", &[0x44; 32], b"not a key")),
        Outcome::Unknown
    );
    let p = base(r#""excludes": ["dm_"]"#);
    assert_eq!(
        p.check(&buf_entry("dm_table_load", &[0x55; 32], b"x")),
        Outcome::Excluded
    );
}

#[test]
fn key_detection() {
    use super::eval::is_key;
    assert!(is_key(&der_key(300)));
    assert!(is_key(&der_key(40)));
    assert!(!is_key(&der_key(300)[..299]), "length must span the buffer");
    assert!(!is_key(b"0 root=/dev/sda ro quiet splash"));
    assert!(!is_key(&[0x30, 0x02, 0x30, 0x00]));
    assert!(!is_key(&[0x30, 0x85, 1, 1, 1, 1, 1]));
    assert!(!is_key(&[0x30, 0x80]));
    assert!(!is_key(&[]));
    let mut short = vec![0x30, 0x12, 0x30];
    short.resize(0x14, 0);
    assert!(is_key(&short));
}

#[test]
fn violations_skip_the_policy() {
    let p = no_excludes();
    assert_eq!(p.check(&violation("/usr/bin/a")), Outcome::Violation);
    assert_eq!(p.check(&violation("/not/listed")), Outcome::Violation);
    let report = p.evaluate(&[ng("/usr/bin/a", &[0x11; 32]), violation("/x")], 10);
    assert!(report.ok());
    assert_eq!(
        (report.violations, report.violation_entries[0].entry),
        (1, 11)
    );
    assert_eq!(report.violation_entries[0].path, "/x");
}

#[test]
fn boot_aggregate_is_reported_not_judged() {
    let p = no_excludes();
    let listed = p.check(&ng("boot_aggregate", &[0x11; 32]));
    assert_eq!(listed, Outcome::BootAggregate { listed: Some(true) });
    let other = p.check(&ng("boot_aggregate", &[0x12; 32]));
    assert_eq!(
        other,
        Outcome::BootAggregate {
            listed: Some(false)
        }
    );
    assert_eq!(
        RuntimePolicy::default().check(&ng("boot_aggregate", &[0; 32])),
        Outcome::BootAggregate { listed: None }
    );
    let report = RuntimePolicy::default().evaluate(&[ng("boot_aggregate", &[7; 32])], 1);
    assert!(report.ok());
    assert_eq!(report.boot_aggregate[0].digest.bytes, [7; 32]);
    // A buffer named boot_aggregate is just a buffer.
    assert_eq!(
        p.check(&buf_entry("boot_aggregate", &[0x11; 32], b"x")),
        Outcome::Unknown
    );
}

#[test]
fn empty_policy_knows_nothing() {
    let p = RuntimePolicy::default();
    assert_eq!(p.check(&ng("/a", &[1; 32])), Outcome::Unknown);
    assert!(!p.evaluate(&[ng("/a", &[1; 32])], 1).ok());
    assert!(p.evaluate(&[], 1).ok());
}
