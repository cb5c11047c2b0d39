//! Malformed ASCII and binary lists: each gives a `ListError` that names the entry and the
//! reason, never a panic or a huge allocation.

use super::tests::{entry, every_kind, SHA1_LOG};
use super::*;

fn ascii_err(text: &[u8]) -> (u64, String) {
    match parse_ascii(text) {
        Err(ListError::Malformed { entry, reason }) => (entry, reason),
        Ok(v) => panic!(
            "parsed {} entries from {:?}",
            v.len(),
            String::from_utf8_lossy(text)
        ),
    }
}

fn binary_err(bytes: &[u8]) -> (u64, String) {
    match parse_binary(bytes, HashAlg::Sha1) {
        Err(ListError::Malformed { entry, reason }) => (entry, reason),
        Ok(v) => panic!("parsed {} entries", v.len()),
    }
}

#[test]
fn malformed_ascii_lines_name_the_line_and_reason() {
    let h = "1".repeat(40);
    let d = format!("sha256:{}", "ab".repeat(32));
    let cases: Vec<(String, &str)> = vec![
        (format!("10 {h} ima-ng {d}"), "too few fields"),
        (format!("10 {h} ima-ng"), "too few fields"),
        ("10".to_owned(), "too few fields"),
        (format!("x10 {h} ima-ng {d} /p"), "PCR is not a decimal"),
        (format!("99999999999 {h} ima-ng {d} /p"), "PCR"),
        (
            format!("10 {} ima-ng {d} /p", "1".repeat(38)),
            "template hash must be 40 hex digits",
        ),
        (
            format!("10 {}zz ima-ng {d} /p", "1".repeat(38)),
            "template hash: not hex",
        ),
        (format!("10 {h} ima-foo {d} /p"), "unsupported template"),
        (
            format!("10 {h} ima-ng md5:00112233445566778899aabbccddeeff /p"),
            "unknown hash algorithm",
        ),
        (
            format!("10 {h} ima-ng sha256:abc /p"),
            "odd number of hex digits",
        ),
        (
            format!("10 {h} ima-ng sha256:{} /p", "zz".repeat(32)),
            "not hex",
        ),
        (
            format!("10 {h} ima-ng sha256:{} /p", "ab".repeat(20)),
            "sha256 digest has 20 bytes",
        ),
        (
            format!("10 {h} ima-ng {} /p", "ab".repeat(32)),
            "expected alg:hex",
        ),
        (format!("10 {h} ima-ng {d} "), "empty path"),
        (format!("10 {h} ima-sig {d} /p 0x12"), "signature: not hex"),
        (format!("10 {h} ima-buf {d} name"), "too few fields"),
        (format!("10 {h} ima-modsig {d} /p 00 11"), "too few fields"),
        (
            format!("10 {h} ima-modsig {d} /p  {d} "),
            "must both be present",
        ),
        (
            format!("10 {h} ima {} /p", "ab".repeat(32)),
            "ima template digest has 32 bytes",
        ),
        (
            format!("10 {h} ima {} /{}", "ab".repeat(20), "a".repeat(300)),
            "longer than 255",
        ),
    ];
    for (line, want) in cases {
        let text = format!("{}{line}\n", SHA1_LOG);
        let (n, reason) = ascii_err(text.as_bytes());
        assert_eq!(n, 3, "{line}");
        assert!(reason.contains(want), "{line}: {reason:?} lacks {want:?}");
    }
}

#[test]
fn non_utf8_nul_and_inner_blank_lines_are_errors() {
    let h = "1".repeat(40);
    let mut line = format!("10 {h} ima-ng sha1:{} /p", "ab".repeat(20)).into_bytes();
    line.extend_from_slice(b"\xff\xfe");
    assert!(ascii_err(&line).1.contains("not UTF-8"));
    let mut line = format!("10 {h} ima-ng sha1:{} /p", "ab".repeat(20)).into_bytes();
    line.extend_from_slice(b"\0x");
    assert!(ascii_err(&line).1.contains("NUL"));
    let text = format!("{}\n\n{}", SHA1_LOG.trim_end(), SHA1_LOG);
    assert_eq!(ascii_err(text.as_bytes()), (3, "empty line".to_owned()));
}

#[test]
fn truncated_binary_lists_name_the_entry() {
    let list = to_binary(&every_kind());
    let first = to_binary(&every_kind()[..1]).len();
    // Cut anywhere inside the second entry: entry 2 is truncated.
    let second = to_binary(&every_kind()[..2]).len();
    for cut in first + 1..second {
        let (n, reason) = binary_err(&list[..cut]);
        assert_eq!(n, 2, "cut at {cut}");
        assert!(
            reason.contains("truncated") || reason.contains("exceeds"),
            "{reason}"
        );
    }
}

#[test]
fn hostile_lengths_are_refused_before_allocating() {
    let ng = every_kind().remove(1);
    let good = to_binary(std::slice::from_ref(&ng));
    let name_len_at = 4 + 20;
    let data_len_at = name_len_at + 4 + ng.template.name().len();

    let mut bad = good.clone();
    bad[name_len_at..name_len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(binary_err(&bad)
        .1
        .contains("template name length 4294967295 exceeds the limit 255"));

    let mut bad = good.clone();
    bad[data_len_at..data_len_at + 4].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    assert!(binary_err(&bad).1.contains("exceeds the limit 1048576"));

    let mut bad = good.clone();
    bad[data_len_at..data_len_at + 4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(binary_err(&bad).1.contains("truncated template data"));

    // A field length inside the template data that overruns it.
    let mut bad = good.clone();
    let first_field = data_len_at + 4;
    bad[first_field..first_field + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(binary_err(&bad).1.contains("template field 1 length"));
}

#[test]
fn malformed_binary_fields_are_refused() {
    let ng = entry(&format!(
        "10 {} ima-ng sha1:{} /p",
        "1".repeat(40),
        "ab".repeat(20)
    ));
    let with_data = |data: Vec<u8>| {
        let mut e = ng.clone();
        e.data = data;
        to_binary(&[e])
    };
    let field = |bytes: &[u8]| {
        let mut f = (bytes.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(bytes);
        f
    };
    let digest = [b"sha1:\0".as_slice(), &[0xab; 20]].concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            [field(&digest), field(b"/p")].concat(),
            "not NUL-terminated",
        ),
        ([field(&digest), field(b"/\xffp\0")].concat(), "not UTF-8"),
        (
            [field(&digest), field(b"/p\0"), vec![1]].concat(),
            "after the last template field",
        ),
        ([field(&digest)].concat(), "truncated at field 2"),
        ([field(b"sha1\0"), field(b"/p\0")].concat(), "no ':'"),
        (
            [field(b"sha1:x"), field(b"/p\0")].concat(),
            "no NUL after ':'",
        ),
        (
            [
                field(&[b"whirlpool:\0".as_slice(), &[0; 64]].concat()),
                field(b"/p\0"),
            ]
            .concat(),
            "unknown hash",
        ),
    ];
    for (data, want) in cases {
        let (n, reason) = binary_err(&with_data(data));
        assert_eq!(n, 1);
        assert!(reason.contains(want), "{reason:?} lacks {want:?}");
    }
    let mut unknown = to_binary(std::slice::from_ref(&ng));
    let at = 4 + 20 + 4;
    unknown[at..at + 6].copy_from_slice(b"ima-zz");
    assert!(binary_err(&unknown).1.contains("unsupported template"));
}
