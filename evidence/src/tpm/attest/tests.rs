//! Tests for `parse_attest`: hostile edits of a real quote, round trips of generated quotes, and
//! arbitrary bytes (never a panic).

use super::*;
use crate::tpm::vectors::quotes;
use crate::tpm::HashAlg;
use proptest::prelude::*;

fn real() -> Vec<u8> {
    quotes()[1].attest.to_vec()
}

#[test]
fn a_structure_not_made_by_a_tpm_is_rejected_by_its_magic() {
    let mut bytes = real();
    bytes[0] = 0x00;
    assert_eq!(parse_attest(&bytes), Err(ParseError::BadMagic(0x0054_4347)));
}

#[test]
fn other_attestation_types_are_not_quotes() {
    // TPM_ST_ATTEST_CERTIFY (0x8017) and TPM_ST_ATTEST_TIME (0x801A).
    for kind in [0x8017u16, 0x801A] {
        let mut bytes = real();
        bytes[4..6].copy_from_slice(&kind.to_be_bytes());
        assert_eq!(parse_attest(&bytes), Err(ParseError::WrongType(kind)));
    }
}

#[test]
fn the_safe_flag_must_be_a_tpm_boolean() {
    let bytes = real();
    let attest = parse_attest(&bytes).unwrap();
    // magic, type, qualifiedSigner, extraData, clock, resetCount, restartCount, then safe.
    let at = 4 + 2 + 2 + attest.qualified_signer.len() + 2 + attest.extra_data.len() + 8 + 4 + 4;
    assert_eq!(bytes[at], 1);
    let mut bad = bytes.clone();
    bad[at] = 2;
    assert_eq!(
        parse_attest(&bad),
        Err(ParseError::NotABoolean {
            what: "TPMS_CLOCK_INFO.safe",
            value: 2
        })
    );
}

#[test]
fn oversized_buffers_are_refused_before_reading_them() {
    let mut bytes = real();
    bytes[6..8].copy_from_slice(&0xffffu16.to_be_bytes());
    assert_eq!(
        parse_attest(&bytes),
        Err(ParseError::TooLarge {
            what: "TPMS_ATTEST.qualifiedSigner",
            size: 0xffff,
            max: 66
        })
    );
}

#[test]
fn serialises_bytes_as_hex() {
    let attest = parse_attest(&real()).unwrap();
    let json = serde_json::to_value(&attest).unwrap();
    assert_eq!(json["extra_data"], hex::encode(crate::tpm::vectors::NONCE));
    assert_eq!(json["pcr_select"]["banks"][1][0], "sha1");
    let back: Attest = serde_json::from_value(json).unwrap();
    assert_eq!(back, attest);
}

fn arb_selection() -> impl Strategy<Value = PcrSelection> {
    let bank = prop_oneof![
        Just(HashAlg::Sha1),
        Just(HashAlg::Sha256),
        Just(HashAlg::Sha384),
        Just(HashAlg::Sha512)
    ];
    proptest::collection::btree_map(
        bank,
        proptest::collection::btree_set(any::<u8>(), 0..8),
        0..4,
    )
    .prop_map(|m| PcrSelection {
        banks: m.into_iter().collect(),
    })
}

fn arb_attest() -> impl Strategy<Value = Attest> {
    (
        proptest::collection::vec(any::<u8>(), 0..=66),
        proptest::collection::vec(any::<u8>(), 0..=66),
        (any::<u64>(), any::<u32>(), any::<u32>(), any::<bool>()),
        any::<u64>(),
        arb_selection(),
        proptest::collection::vec(any::<u8>(), 0..=64),
    )
        .prop_map(
            |(
                qualified_signer,
                extra_data,
                (clock, reset_count, restart_count, safe),
                firmware_version,
                pcr_select,
                pcr_digest,
            )| Attest {
                qualified_signer,
                extra_data,
                clock_info: ClockInfo {
                    clock,
                    reset_count,
                    restart_count,
                    safe,
                },
                firmware_version,
                pcr_select,
                pcr_digest,
            },
        )
}

proptest! {
    #[test]
    fn marshalled_quotes_parse_back(attest in arb_attest()) {
        prop_assert_eq!(parse_attest(&attest.marshal()).unwrap(), attest);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_attest(&bytes);
    }

    #[test]
    fn mutated_real_quotes_never_panic(i in 0usize..139, byte in any::<u8>(), cut in 0usize..140) {
        let mut bytes = real();
        let i = i % bytes.len();
        bytes[i] = byte;
        bytes.truncate(cut);
        let _ = parse_attest(&bytes);
    }
}
