//! Tests of the UEFI event log on synthetic logs: unknown algorithms, framing errors naming event
//! and offset, event data that does not decode, device paths that are malformed.

use super::tests::fixture;
use super::*;
use crate::HashAlg;

/// A synthetic log: Spec ID declaring `algs` (id, size), then `events` as raw TCG_PCR_EVENT2s.
pub(super) fn synthetic(algs: &[(u16, u16)], events: &[Vec<u8>]) -> Vec<u8> {
    let mut spec = b"Spec ID Event03\0".to_vec();
    spec.extend(0u32.to_le_bytes());
    spec.extend([0, 2, 0, 2]);
    spec.extend((algs.len() as u32).to_le_bytes());
    for (id, size) in algs {
        spec.extend(id.to_le_bytes());
        spec.extend(size.to_le_bytes());
    }
    spec.push(0);
    let mut log = Vec::new();
    log.extend(0u32.to_le_bytes());
    log.extend(3u32.to_le_bytes());
    log.extend([0; 20]);
    log.extend((spec.len() as u32).to_le_bytes());
    log.extend(spec);
    for e in events {
        log.extend(e);
    }
    log
}

pub(super) fn event2(pcr: u32, ty: u32, digests: &[(u16, Vec<u8>)], data: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend(pcr.to_le_bytes());
    e.extend(ty.to_le_bytes());
    e.extend((digests.len() as u32).to_le_bytes());
    for (id, d) in digests {
        e.extend(id.to_le_bytes());
        e.extend(d);
    }
    e.extend((data.len() as u32).to_le_bytes());
    e.extend(data);
    e
}

#[test]
fn unknown_algorithm_is_skipped_by_its_declared_size() {
    let ev = event2(
        4,
        0x8000_0007,
        &[(0x0099, vec![7; 5]), (0x000b, vec![1; 32])],
        b"hi",
    );
    let log = EventLog::parse(&synthetic(&[(0x0099, 5), (0x000b, 32)], &[ev])).unwrap();
    assert_eq!(
        log.events()[1].digest(Bank::Unknown(0x99)),
        Some(&[7u8; 5][..])
    );
    assert_eq!(log.unreplayable_banks(), [0x99]);
    let pcrs = log.replay();
    let mut expected = HashAlg::Sha256.zero();
    HashAlg::Sha256.extend(&mut expected, &[1; 32]);
    assert_eq!(pcrs[&HashAlg::Sha256][&4], expected);
    assert_eq!(pcrs.len(), 1);
}

#[test]
fn framing_errors_name_event_and_offset() {
    let algs = [(0x000b, 32)];
    let good = event2(1, 0x8000_0007, &[(0x000b, vec![0; 32])], b"x");
    let header_len = synthetic(&algs, &[]).len();
    // Undeclared algorithm.
    let undeclared = event2(1, 4, &[(0x0004, vec![0; 20])], &[0; 4]);
    let err = EventLog::parse(&synthetic(&algs, &[good.clone(), undeclared])).unwrap_err();
    let offset = header_len + good.len();
    assert_eq!(
        err,
        UefiError::Invalid {
            event: 2,
            offset,
            reason: "digest algorithm sha1 is not declared in the Spec ID event".into()
        }
    );
    // Digest count above the declared algorithms.
    let mut many = good.clone();
    many[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = EventLog::parse(&synthetic(&algs, &[many])).unwrap_err();
    assert!(matches!(err, UefiError::Invalid { event: 1, .. }), "{err}");
    // Event size beyond the end.
    let mut big = good.clone();
    let at = big.len() - 5;
    big[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = EventLog::parse(&synthetic(&algs, &[big])).unwrap_err();
    assert!(
        matches!(err, UefiError::Truncated { event: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("event data"), "{err}");
    // Declared size that contradicts the algorithm.
    let err = EventLog::parse(&synthetic(&[(0x000b, 20)], &[])).unwrap_err();
    assert!(matches!(err, UefiError::NotCryptoAgile { .. }), "{err}");
    // Truncated fixture: the last event is cut.
    let real = fixture("uefi_log.bin");
    let err = EventLog::parse(&real[..real.len() - 1]).unwrap_err();
    assert!(
        matches!(err, UefiError::Truncated { event: 123, .. }),
        "{err}"
    );
}

#[test]
fn bad_event_data_is_kept_with_a_note() {
    let algs = [(0x000b, 32)];
    let mut var = vec![0; 16];
    var.extend(u64::MAX.to_le_bytes());
    var.extend(0u64.to_le_bytes());
    let events = [
        event2(7, 0x8000_0001, &[(0x000b, vec![0; 32])], &var),
        event2(4, 0x8000_0003, &[(0x000b, vec![0; 32])], &[1, 2, 3]),
        event2(0, 0x8000_0008, &[(0x000b, vec![0; 32])], &[0; 15]),
    ];
    let log = EventLog::parse(&synthetic(&algs, &events)).unwrap();
    for e in log.events().iter().skip(1) {
        assert!(
            matches!(e.decoded, EventData::Invalid { .. }),
            "{:?}",
            e.decoded
        );
        assert!(!e.data.is_empty());
    }
    assert_eq!(log.reference().boot_applications.len(), 1);
}

#[test]
fn device_path_never_fails() {
    assert_eq!(device_path_to_text(&[]), "");
    assert_eq!(
        device_path_to_text(&[9, 9, 6, 0, 0xab, 0xcd, 0x7f, 0xff, 4, 0]),
        "Path(9,9,abcd)"
    );
    assert_eq!(device_path_to_text(&[1, 1, 2, 0]), "Invalid(01010200)");
    assert_eq!(device_path_to_text(&[1, 1, 6, 0, 3]), "Invalid(0101060003)");
    // A known node too short for its structure prints generically.
    assert_eq!(device_path_to_text(&[1, 1, 5, 0, 3]), "Path(1,1,03)");
    let mac = [
        &[3u8, 11, 37, 0][..],
        &[0x52, 0x54, 0, 0x12, 0x34, 0x56],
        &[0; 26],
        &[1],
    ]
    .concat();
    assert_eq!(device_path_to_text(&mac), "MAC(525400123456,0x1)");
}
