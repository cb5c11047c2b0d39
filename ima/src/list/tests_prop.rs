//! Property tests of the parsers: arbitrary bytes never panic either parser, and random valid
//! entries survive the ASCII and binary round trips.

use proptest::prelude::*;

use super::*;

/// A random valid entry of any template kind with a correct SHA-1 template hash.
pub(crate) fn arb_entry() -> impl Strategy<Value = Entry> {
    let alg = prop::sample::select(HashAlg::ALL.to_vec());
    let path = "/[a-z0-9_./-]{1,40}";
    let bytes = prop::collection::vec(any::<u8>(), 0..24);
    (
        0u32..4,
        alg,
        path,
        bytes.clone(),
        bytes,
        0usize..5,
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(pcr_pick, alg, path, sig, buf, kind, fill, violation)| {
            let pcr = if pcr_pick == 0 { 11 } else { 10 };
            let d = hex::encode(vec![fill; alg.len()]);
            let h = "2".repeat(40);
            let sig = hex::encode(sig);
            let line = match kind {
                0 => format!("{pcr} {h} ima {} {path}", hex::encode([fill; 20])),
                1 => format!("{pcr} {h} ima-ng {alg}:{d} {path}"),
                2 => format!("{pcr} {h} ima-sig {alg}:{d} {path} {sig}"),
                3 => format!("{pcr} {h} ima-buf {alg}:{d} {path} {}", hex::encode(buf)),
                _ if sig.is_empty() => format!("{pcr} {h} ima-modsig {alg}:{d} {path}   "),
                _ => format!(
                    "{pcr} {h} ima-modsig {alg}:{d} {path} {} {alg}:{d} {sig}",
                    hex::encode(buf)
                ),
            };
            let mut e = parse_ascii(line.as_bytes()).unwrap().remove(0);
            e.template_hash = if violation {
                crate::DigestBuf::new(&[0; 20]).unwrap()
            } else {
                HashAlg::Sha1.digest_buf(&[&e.data])
            };
            e
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_ascii(&bytes);
        for alg in HashAlg::ALL {
            let _ = parse_binary(&bytes, alg);
        }
    }

    #[test]
    fn near_valid_text_never_panics(
        entries in prop::collection::vec(arb_entry(), 1..4),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let text = to_ascii(&entries).into_bytes();
        let mut mutated = text.clone();
        let i = flip.index(mutated.len());
        mutated[i] = byte;
        let _ = parse_ascii(&mutated);
        let _ = parse_ascii(&text[..cut.index(text.len())]);
        let binary = to_binary(&entries);
        let mut mutated = binary.clone();
        let i = flip.index(mutated.len());
        mutated[i] = byte;
        let _ = parse_binary(&mutated, HashAlg::Sha1);
        let _ = parse_binary(&binary[..cut.index(binary.len())], HashAlg::Sha1);
    }

    #[test]
    fn valid_entries_round_trip(entries in prop::collection::vec(arb_entry(), 0..8)) {
        prop_assert_eq!(&parse_ascii(to_ascii(&entries).as_bytes()).unwrap(), &entries);
        prop_assert_eq!(&super::tests::parse_into_one(to_ascii(&entries).as_bytes()), &entries);
        prop_assert_eq!(&parse_binary(&to_binary(&entries), HashAlg::Sha1).unwrap(), &entries);
        prop_assert!(verify_template_hashes(&entries, HashAlg::Sha1).is_ok());
    }
}
