//! Tests of the list parsers on real and generated fixtures, template-data layouts, and the
//! ASCII / binary round trips of every template kind.

use super::*;

pub(crate) const SHA1_LOG: &str = include_str!("../../testdata/ima-log-sha1");
pub(crate) const SHA256_LOG: &str = include_str!("../../testdata/ima-log-sha256");
pub(crate) const RUST_KEYLIME_LOG: &str = include_str!("../../testdata/ascii_runtime_measurements");
pub(crate) const GENERATED_LOG: &str = include_str!("../../testdata/generated/ima_200.log");

fn parse(text: &str) -> Vec<Entry> {
    parse_ascii(text.as_bytes()).unwrap()
}

/// Parses one line whose template hash is a placeholder and gives it its real SHA-1.
pub(crate) fn entry(line: &str) -> Entry {
    let mut e = parse(line).remove(0);
    if !e.is_violation() {
        e.template_hash = HashAlg::Sha1.digest_buf(&[&e.data]);
    }
    e
}

#[test]
fn fixtures_parse_and_their_template_hashes_verify() {
    for (text, count) in [
        (SHA1_LOG, 2),
        (SHA256_LOG, 2),
        (RUST_KEYLIME_LOG, 826),
        (GENERATED_LOG, 200),
    ] {
        let entries = parse(text);
        assert_eq!(entries.len(), count);
        assert!(entries
            .iter()
            .all(|e| e.pcr == 10 && e.template == Template::ImaNg));
        assert!(entries.iter().all(|e| e.template_hash_ok(HashAlg::Sha1)));
        verify_template_hashes(&entries, HashAlg::Sha1).unwrap();
        assert_eq!(entries[0].name(), "boot_aggregate");
    }
    let sha1 = parse(SHA1_LOG);
    assert!(sha1[0].is_violation() && !sha1[1].is_violation());
    assert_eq!(sha1[1].name(), "/data");
    assert_eq!(sha1[1].digest().alg, HashAlg::Sha1);
    assert_eq!(parse(SHA256_LOG)[1].digest().alg, HashAlg::Sha256);
    assert_eq!(
        hex::encode(parse(SHA256_LOG)[1].digest().bytes),
        "96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754"
    );
}

#[test]
fn ima_ng_data_is_laid_out_as_the_kernel_hashes_it() {
    let e = &parse(SHA1_LOG)[1];
    let mut want = Vec::new();
    want.extend_from_slice(&(4u32 + 2 + 20).to_le_bytes());
    want.extend_from_slice(b"sha1:\0");
    want.extend_from_slice(&hex::decode("009b0d8ee8fb8d890fa70f9c8e02b3f1eded1509").unwrap());
    want.extend_from_slice(&6u32.to_le_bytes());
    want.extend_from_slice(b"/data\0");
    assert_eq!(e.data, want);
    assert_eq!(
        hex::encode(HashAlg::Sha1.digest(&[&want])),
        "edcfbc3299860219161af60b266f8e2fa1fbd0c0"
    );
}

#[test]
fn a_wrong_template_hash_is_caught() {
    let mut entries = parse(SHA256_LOG);
    entries[1].template_hash[0] ^= 1;
    assert!(!entries[1].template_hash_ok(HashAlg::Sha1));
    let err = verify_template_hashes(&entries, HashAlg::Sha1).unwrap_err();
    assert!(
        err.to_string().starts_with("entry 2: template hash"),
        "{err}"
    );
    // The wrong algorithm (wrong length) never verifies.
    assert!(!parse(SHA256_LOG)[1].template_hash_ok(HashAlg::Sha256));
}

#[test]
fn legacy_ima_pads_the_name_to_256_bytes() {
    let e = entry("10 1111111111111111111111111111111111111111 ima 0123456789abcdef0123456789abcdef01234567 /bin/ls");
    assert_eq!(e.data.len(), 20 + 256);
    assert_eq!(&e.data[20..27], b"/bin/ls");
    assert!(e.data[27..].iter().all(|b| *b == 0));
    assert_eq!(e.digest().alg, HashAlg::Sha1);
    assert_eq!(e.name(), "/bin/ls");
}

#[test]
fn paths_with_spaces_and_short_pcrs() {
    // ima-ng: the path is the rest of the line (as Keylime reads it).
    let e = entry(" 9 1111111111111111111111111111111111111111 ima-ng sha256:0000000000000000000000000000000000000000000000000000000000000001 /a b/c d");
    assert_eq!((e.pcr, e.name()), (9, "/a b/c d"));
    // ima-sig: the signature is the last field, the path what lies between.
    let e = entry("10 1111111111111111111111111111111111111111 ima-sig sha1:0000000000000000000000000000000000000001 /a b 0302aabb");
    assert_eq!(e.name(), "/a b");
    assert!(matches!(&e.event, Event::File { signature: Some(s), .. } if s == &[3, 2, 0xaa, 0xbb]));
}

#[test]
fn sm3_keeps_the_kernel_spelling_in_the_data() {
    let zeros = "0".repeat(63) + "1";
    for label in ["sm3", "sm3-256"] {
        let e = entry(&format!(
            "10 1111111111111111111111111111111111111111 ima-ng {label}:{zeros} /f"
        ));
        assert_eq!(e.digest().alg, HashAlg::Sm3);
        assert_eq!(&e.data[4..4 + label.len()], label.as_bytes());
        assert_eq!(parse(&to_ascii(std::slice::from_ref(&e)))[0], e);
    }
}

#[test]
fn ascii_round_trip_keeps_the_modsig_digest_spelling() {
    // Caught by the round-trip check of the `ascii_list` fuzz target (ima/fuzz): `to_ascii`
    // wrote the appended signature's digest with the canonical name, so `sm3-256:` came back as
    // `sm3:` and the template data (hence the template hash) changed.
    let d = "ab".repeat(32);
    for label in ["sm3", "sm3-256", "sm3_256", "sha256"] {
        let e = entry(&format!(
            "10 {} ima-modsig sha256:{d} /x.ko 0302 {label}:{d} 3082",
            "1".repeat(40)
        ));
        assert_eq!(parse(&to_ascii(std::slice::from_ref(&e)))[0], e);
    }
}

/// One line of every template kind, with and without its optional fields.
pub(crate) fn every_kind() -> Vec<Entry> {
    let d1 = "00112233445566778899aabbccddeeff00112233";
    let d256 = "ab".repeat(32);
    let h = "1".repeat(40);
    [
        format!("10 {h} ima {d1} /usr/bin/legacy"),
        format!("10 {h} ima-ng sha256:{d256} /usr/bin/ng"),
        format!("10 {h} ima-ng sha512:{} /usr/bin/ng512", "cd".repeat(64)),
        format!("10 {h} ima-ng sha384:{} /usr/bin/ng384", "ef".repeat(48)),
        format!("10 {h} ima-sig sha256:{d256} /usr/bin/signed 030204aabbccdd0004deadbeef"),
        format!("10 {h} ima-sig sha256:{d256} /usr/bin/unsigned "),
        format!("10 {h} ima-buf sha256:{d256} kexec-cmdline 726f6f743d2f6465762f736461"),
        format!("10 {h} ima-buf sha256:{d256} empty-buffer "),
        format!(
            "10 {h} ima-modsig sha256:{d256} /lib/modules/x.ko  sha512:{} 308201",
            "01".repeat(64)
        ),
        format!("10 {h} ima-modsig sha256:{d256} /lib/modules/y.ko 0302 sha256:{d256} 3082"),
        format!("10 {h} ima-modsig sha256:{d256} /lib/modules/z.ko   "),
        format!("11 {h} ima-ng sha1:{d1} /other/pcr"),
        format!(
            "10 {} ima-ng sha256:{} /violation",
            "0".repeat(40),
            "0".repeat(40)
        ),
    ]
    .iter()
    .map(|line| entry(line))
    .collect()
}

/// The entries of the SHA-1 list `text`, parsed one after another into one reused entry.
pub(crate) fn parse_into_one(text: &[u8]) -> Vec<Entry> {
    let mut entries = AsciiEntries::new(text, HashAlg::Sha1);
    let mut entry = Entry::blank();
    let mut out = Vec::new();
    while let Some(parsed) = entries.next_into(&mut entry) {
        parsed.unwrap();
        out.push(entry.clone());
    }
    out
}

#[test]
fn an_entry_parsed_into_again_keeps_nothing_of_the_previous_line() {
    let mut entries = every_kind();
    for _ in 0..2 {
        assert_eq!(parse_into_one(to_ascii(&entries).as_bytes()), entries);
        entries.reverse();
    }
}

#[test]
fn every_template_kind_round_trips_through_ascii_and_binary() {
    let entries = every_kind();
    let sig = |i: usize| match &entries[i].event {
        Event::File {
            signature, modsig, ..
        } => (signature.clone(), modsig.clone()),
        Event::Buffer { .. } => unreachable!(),
    };
    assert_eq!(
        sig(4).0,
        Some(hex::decode("030204aabbccdd0004deadbeef").unwrap())
    );
    assert_eq!(sig(5), (None, None));
    assert_eq!(sig(8).0, None);
    assert_eq!(sig(8).1.unwrap().digest.alg, HashAlg::Sha512);
    assert_eq!(sig(9).1.unwrap().signature, vec![0x30, 0x82]);
    assert_eq!(sig(10), (None, None));
    assert!(
        matches!(&entries[6].event, Event::Buffer { name, buf, .. } if name == "kexec-cmdline" && buf == b"root=/dev/sda")
    );
    assert!(matches!(&entries[7].event, Event::Buffer { buf, .. } if buf.is_empty()));
    // The modsig template's fields: d-ng | n-ng | sig | d-modsig | modsig, empty ones as u32 0.
    assert_eq!(
        entries[10].data.len(),
        (4 + 6 + 2 + 32) + (4 + 18) + 4 + 4 + 4
    );

    let ascii = to_ascii(&entries);
    assert_eq!(parse(&ascii), entries);
    assert_eq!(
        ascii.lines().nth(5).unwrap().split(' ').count(),
        6,
        "an empty sig still gets its space"
    );
    assert_eq!(
        parse_binary(&to_binary(&entries), HashAlg::Sha1).unwrap(),
        entries
    );
    assert_eq!(
        to_ascii(&parse_binary(&to_binary(&entries), HashAlg::Sha1).unwrap()),
        ascii
    );
    verify_template_hashes(&entries, HashAlg::Sha1).unwrap();
}

#[test]
fn per_bank_lists_carry_the_bank_template_hash() {
    let mut entries = parse(GENERATED_LOG);
    for e in &mut entries {
        e.template_hash = HashAlg::Sha256.digest_buf(&[&e.data]);
    }
    let binary = to_binary(&entries);
    let back = parse_binary(&binary, HashAlg::Sha256).unwrap();
    assert_eq!(back, entries);
    verify_template_hashes(&back, HashAlg::Sha256).unwrap();
    assert_eq!(
        parse_ascii_bank(to_ascii(&entries).as_bytes(), HashAlg::Sha256).unwrap(),
        entries
    );
    // Read with the wrong digest size, the list falls apart with an error, not a panic.
    assert!(parse_binary(&binary, HashAlg::Sha1).is_err());
}

#[test]
fn blank_trailing_lines_are_fine_and_empty_input_is_an_empty_list() {
    assert_eq!(parse(&format!("{SHA1_LOG}\n\n")).len(), 2);
    assert_eq!(parse(SHA1_LOG.trim_end()).len(), 2);
    assert!(parse("").is_empty() && parse("\n").is_empty());
    assert!(parse_binary(b"", HashAlg::Sha1).unwrap().is_empty());
}

#[test]
fn entries_serialize_for_reports() {
    let json = serde_json::to_value(&every_kind()[9]).unwrap();
    assert_eq!(json["event"]["kind"], "file");
    assert_eq!(json["event"]["signature"], "0302");
    assert_eq!(json["event"]["modsig"]["signature"], "3082");
}
