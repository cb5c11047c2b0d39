//! Tests of loading and writing runtime policies: fixtures, Keylime's JSON layout round trip,
//! the older allowlist formats, exclude lists, malformed input, and arbitrary bytes.

use proptest::prelude::*;

use super::*;

const RUNTIME_POLICY: &[u8] = include_bytes!("../../testdata/runtime-policy.json");
const POLICY_SHA256: &[u8] = include_bytes!("../../testdata/policy-sha256");
const ALLOWLIST_SHA256: &[u8] = include_bytes!("../../testdata/allowlist-sha256");
const ALLOWLIST_SHORT: &[u8] = include_bytes!("../../testdata/ima-allowlist-short.txt");
const GENERATED_POLICY: &[u8] = include_bytes!("../../testdata/generated/policy_200.json");

fn trimmed(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap().trim_end()
}

#[test]
fn keylime_runtime_policy_loads() {
    let p = RuntimePolicy::from_json(RUNTIME_POLICY).unwrap();
    assert_eq!((p.version, p.generator, p.release), (1, 3, 0));
    assert_eq!(p.timestamp.as_deref(), Some("2024-10-09 18:47:35.306609"));
    assert_eq!(p.digests.len(), 7);
    let empty =
        hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").unwrap();
    assert!(p.digests.contains("/usr/bin/foobar-bin", &empty));
    assert_eq!(
        p.digests.iter().next().unwrap().0,
        "/usr/sbin/foobar-sbin",
        "document order kept"
    );
    assert!(p.excludes.is_empty() && p.keyrings.is_empty() && p.ima_buf.is_empty());
    assert_eq!(p.log_hash_alg, HashAlg::Sha1);
    assert_eq!(RuntimePolicy::load(RUNTIME_POLICY).unwrap(), p);
}

#[test]
fn keylime_policy_sha256_loads() {
    let p = RuntimePolicy::from_json(POLICY_SHA256).unwrap();
    let d =
        hex::decode("35f6036dcbb4d819a90cc3282659754ab1a225e60f593a209c27b80174ba3180").unwrap();
    assert!(p.digests.contains("/base_policy_data", &d));
    assert_eq!(p.digests.len(), 1);
}

#[test]
fn to_json_is_byte_identical_to_python_json_dumps() {
    for fixture in [RUNTIME_POLICY, POLICY_SHA256, GENERATED_POLICY] {
        let p = RuntimePolicy::from_json(fixture).unwrap();
        assert_eq!(p.to_json(), trimmed(fixture));
        assert_eq!(RuntimePolicy::from_json(p.to_json().as_bytes()).unwrap(), p);
    }
}

#[test]
fn to_json_round_trips_every_field_and_escapes_like_python() {
    let mut p = RuntimePolicy::from_json(RUNTIME_POLICY).unwrap();
    p.keyrings.insert(".ima", vec![0xab; 32]);
    p.ima_buf.insert("kexec-cmdline", vec![0x01; 20]);
    p.digests
        .insert("/opt/caf\u{e9}/\u{1f600}\t\"x\"", vec![0x11; 48]);
    p.ignored_keyrings = vec![".builtin_trusted_keys".into()];
    p.add_excludes(vec!["/tmp/.*".into(), "/var/log/".into()])
        .unwrap();
    p.log_hash_alg = HashAlg::Sha256;
    p.verification_keys = "{\"k\": 1}".into();
    let json = p.to_json();
    assert!(json.is_ascii());
    assert!(
        json.contains(r#""/opt/caf\u00e9/\ud83d\ude00\t\"x\"": ["#),
        "{json}"
    );
    assert!(json.contains(r#""ima": {"ignored_keyrings": [".builtin_trusted_keys"], "log_hash_alg": "sha256", "dm_policy": null}"#));
    assert_eq!(RuntimePolicy::from_json(json.as_bytes()).unwrap(), p);
}

#[test]
fn flat_allowlists_load() {
    let p = RuntimePolicy::from_flat_allowlist(ALLOWLIST_SHA256).unwrap();
    let d =
        hex::decode("96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754").unwrap();
    assert!(p.digests.contains("data", &d));
    assert_eq!(p.generator, GENERATOR_LEGACY_ALLOWLIST);
    assert_eq!(RuntimePolicy::load(ALLOWLIST_SHA256).unwrap(), p);

    let p = RuntimePolicy::load(ALLOWLIST_SHORT).unwrap();
    let agg =
        hex::decode("4309217e9709def327c3409407f4d52907aeba46ef1b4f46529fd095f2ef9fb2").unwrap();
    assert!(
        p.digests.contains("boot_aggregate", &agg),
        "sha256: prefix stripped"
    );
    let key =
        hex::decode("a7d52aaa18c23d2d9bb2abb4308c0eeee67387a42259f4a6b1a42257065f3d5a").unwrap();
    assert!(p.keyrings.contains(".ima", &key));
    assert!(p.digests.get("%keyring:.ima").is_none());
    assert_eq!(p.digests.len(), 21);
    assert!(p.digests.get("/boot/grub2/i386-pc/terminfo.mod").is_some());
}

#[test]
fn flat_allowlist_details() {
    let text = b"# comment\n\n  ABCDEF0123456789abcdef0123456789abcdef01   /my file\n\
                 abcdef0123456789abcdef0123456789abcdef01 /my file\n";
    let p = RuntimePolicy::from_flat_allowlist(text).unwrap();
    assert_eq!(
        p.digests.get("/my_file").unwrap().len(),
        1,
        "case-folded duplicate merged"
    );
    for (bad, line) in [
        (&b"onlyonefield\n"[..], 1),
        (b"\nxyz  /a\n", 2),
        (b"abcd  /a\n", 1),
        (b"sha256:abcdef0123456789abcdef0123456789abcdef01  /a\n", 1),
        (b"md5:abcdef0123456789abcdef0123456789abcdef01  /a\n", 1),
        (b"ok\n\xff\xfe  /a\n", 2),
    ] {
        match RuntimePolicy::from_flat_allowlist(bad) {
            Err(PolicyError::Line { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn legacy_json_allowlist_converts() {
    let text = br#"{"meta": {"version": 1}, "release": 2, "hashes": {"/bin/a": ["0000000000000000000000000000000000000001"]},
                   "excludes": ["/tmp/"], "ima": {"ignored_keyrings": ["*"]}}"#;
    let p = RuntimePolicy::load(text).unwrap();
    assert_eq!((p.generator, p.release), (3, 2));
    assert!(p.digests.get("/bin/a").is_some());
    assert!(p.excludes.is_excluded("/tmp/x"));
    assert!(p.keyring_ignored(".ima"));
    assert_eq!(p.log_hash_alg, HashAlg::Sha1);
    assert_eq!(RuntimePolicy::from_legacy_json_allowlist(text).unwrap(), p);
}

#[test]
fn excludes_list_file() {
    let list =
        parse_excludes_list(b"# keylime excludes\n/tmp/.*\n\n  /var/log/  \nboot_aggregate\n")
            .unwrap();
    assert_eq!(list, ["/tmp/.*", "/var/log/", "boot_aggregate"]);
    match parse_excludes_list(b"/ok\n/bad(\n") {
        Err(PolicyError::Line { line: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut p = RuntimePolicy::default();
    p.add_excludes(list).unwrap();
    assert!(p.excludes.is_excluded("/var/log/messages"));
}

fn with(field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(RUNTIME_POLICY).unwrap();
    let new: serde_json::Value = serde_json::from_str(value).unwrap();
    let mut target = &mut v;
    let parts: Vec<&str> = field.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        target = target.get_mut(*part).unwrap();
    }
    target
        .as_object_mut()
        .unwrap()
        .insert(parts[parts.len() - 1].into(), new);
    v.to_string()
}

#[test]
fn malformed_policies_are_errors() {
    let json = |s: &str| RuntimePolicy::from_json(s.as_bytes());
    let truncated = &RUNTIME_POLICY[..RUNTIME_POLICY.len() / 2];
    assert!(matches!(
        RuntimePolicy::from_json(truncated),
        Err(PolicyError::Json(_))
    ));
    assert!(matches!(json(""), Err(PolicyError::Json(_))));
    assert!(matches!(json("[]"), Err(PolicyError::Json(_))));
    assert_eq!(
        json(&with("meta.version", "2")),
        Err(PolicyError::UnsupportedVersion(2))
    );
    assert_eq!(
        json(&with("meta.version", "0")),
        Err(PolicyError::UnsupportedVersion(0))
    );
    // A version-2 document that is otherwise unreadable still says "version".
    assert_eq!(
        json(r#"{"meta": {"version": 2}, "stuff": []}"#),
        Err(PolicyError::UnsupportedVersion(2))
    );
    assert_eq!(
        json(r#"{"payload": "e30=", "payloadType": "x", "signatures": []}"#),
        Err(PolicyError::Signed)
    );
    let hex40 = "\"0123456789abcdef0123456789abcdef01234567\"";
    for (field, value) in [
        ("meta.generator", "4"),
        ("meta.generator", "-1"),
        ("release", "-1"),
        ("release", "\"0\""),
        ("digests", "[]"),
        ("digests", "{\"/a\": \"0123\"}"),
        ("digests", "{\"/a\": []}"),
        (
            "digests",
            "{\"/a\": [\"zz23456789abcdef0123456789abcdef01234567\"]}",
        ),
        (
            "digests",
            "{\"/a\": [\"0123456789ABCDEF0123456789abcdef01234567\"]}",
        ),
        (
            "digests",
            "{\"/a\": [\"0123456789abcdef0123456789abcdef0123456789\"]}",
        ),
        ("digests", "{\"/a\": [1]}"),
        ("keyrings", "{\"k\": [\"00\"]}"),
        ("ima-buf", "null"),
        ("excludes", "\"/tmp\""),
        ("ima.log_hash_alg", "\"md5\""),
        ("ima.log_hash_alg", "\"sm3\""),
        ("ima.dm_policy", "{}"),
        ("ima.ignored_keyrings", "[1]"),
        ("verification-keys", "null"),
    ] {
        let doc = with(field, value);
        assert!(
            matches!(json(&doc), Err(PolicyError::Json(_))),
            "{field}={value}: {:?}",
            json(&doc)
        );
    }
    let missing = String::from_utf8_lossy(RUNTIME_POLICY).replace("\"ima-buf\": {}, ", "");
    assert!(matches!(json(&missing), Err(PolicyError::Json(_))));
    assert!(json(&with("digests", &format!("{{\"/a\": [{hex40}]}}"))).is_ok());
}

#[test]
fn bad_exclude_regex_names_its_index() {
    let doc = with("excludes", r#"["/tmp/.*", "/ok", "/bad(", "/also[bad"]"#);
    match RuntimePolicy::from_json(doc.as_bytes()) {
        Err(PolicyError::BadExclude {
            index: 2, pattern, ..
        }) => assert_eq!(pattern, "/bad("),
        other => panic!("{other:?}"),
    }
    let long = serde_json::to_string(&vec!["a".repeat(MAX_EXCLUDE_LEN + 1)]).unwrap();
    assert!(matches!(
        RuntimePolicy::from_json(with("excludes", &long).as_bytes()),
        Err(PolicyError::BadExclude { index: 0, .. })
    ));
    let many = serde_json::to_string(&vec!["/x"; MAX_EXCLUDES + 1]).unwrap();
    assert!(matches!(
        RuntimePolicy::from_json(with("excludes", &many).as_bytes()),
        Err(PolicyError::ExcludesTooLarge(_))
    ));
    // A regex whose compiled program is too big is refused, not built.
    let huge = serde_json::to_string(&vec![r"(\w{100}){100}"]).unwrap();
    assert!(RuntimePolicy::from_json(with("excludes", &huge).as_bytes()).is_err());
}

#[test]
fn duplicate_path_keeps_the_last_list_like_python() {
    let doc = r#"{"meta": {"version": 1, "generator": 0}, "release": 0,
        "digests": {"/a": ["0000000000000000000000000000000000000001"], "/a": ["0000000000000000000000000000000000000002"]},
        "excludes": [], "keyrings": {}, "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null},
        "ima-buf": {}, "verification-keys": "", "extra": {"ignored": [1, 2]}}"#;
    let p = RuntimePolicy::from_json(doc.as_bytes()).unwrap();
    assert_eq!(
        p.digests.get("/a").unwrap(),
        [[0u8; 19].iter().chain(&[2]).copied().collect::<Vec<u8>>()]
    );
    assert_eq!(p.timestamp, None);
    assert!(!p.to_json().contains("timestamp"));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = RuntimePolicy::load(&bytes);
        let _ = RuntimePolicy::from_json(&bytes);
        let _ = RuntimePolicy::from_flat_allowlist(&bytes);
        let _ = RuntimePolicy::from_legacy_json_allowlist(&bytes);
        let _ = parse_excludes_list(&bytes);
    }

    #[test]
    fn mutated_policy_never_panics(pos in 0usize..2000, byte in any::<u8>(), cut in 0usize..2000) {
        let mut doc = RUNTIME_POLICY.to_vec();
        let len = doc.len();
        doc[pos % len] = byte;
        doc.truncate(len - cut % len);
        let _ = RuntimePolicy::load(&doc);
    }

    #[test]
    fn arbitrary_excludes_never_panic(patterns in proptest::collection::vec(".{0,20}", 0..5), path in ".{0,30}") {
        if let Ok(ex) = Excludes::new(patterns) {
            let _ = ex.is_excluded(&path);
        }
    }
}
