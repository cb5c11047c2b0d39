//! Tests for the dedicated-PCR log: header layout, replay, the prefix rule, incremental replay.

use super::*;
use proptest::prelude::*;

fn entry(seq: u64, name: &str) -> LogEntry {
    LogEntry {
        seq,
        kind: kind::NFTABLES.to_owned(),
        name: name.to_owned(),
        digest: Sha256Digest::of(name.as_bytes()),
        annotations: Annotations::default(),
    }
}

fn log_of(n: u64) -> EventLog {
    let mut log = EventLog::new();
    for i in 0..n {
        let e = log
            .next_entry(
                kind::NFTABLES,
                &format!("ns{i}"),
                Sha256Digest::of(&i.to_be_bytes()),
                Annotations::default(),
            )
            .unwrap();
        log.push(e).unwrap();
    }
    log
}

#[test]
fn header_layout_is_fixed() {
    let e = entry(7, "host");
    let h = e.header();
    let mut expected = b"palisade-log-v1\0".to_vec();
    expected.extend_from_slice(&[0, 8]);
    expected.extend_from_slice(b"nftables");
    expected.extend_from_slice(&[0, 4]);
    expected.extend_from_slice(b"host");
    expected.extend_from_slice(Sha256Digest::of(b"host").as_bytes());
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(h, expected);
    assert_eq!(e.extend_value(), Sha256Digest::of(&expected));
}

#[test]
fn annotations_are_not_bound() {
    let mut a = entry(0, "x");
    let b = a.clone();
    a.annotations.cause = Some("poll".into());
    assert_eq!(a.extend_value(), b.extend_value());
    a.annotations.cause = Some("nfnetlink".into());
    a.annotations.generation = Some(42);
    a.annotations.writer = Some(Writer {
        pid: 1234,
        comm: "nft".into(),
    });
    a.annotations.other_writers = vec![Writer {
        pid: 99,
        comm: "firewalld".into(),
    }];
    assert_eq!(a.extend_value(), b.extend_value());
    assert_eq!(a.header(), b.header());
}

#[test]
fn empty_annotations_are_omitted_and_writers_round_trip() {
    let plain = entry(0, "x");
    let json = serde_json::to_value(&plain).unwrap();
    assert!(json.get("annotations").is_none(), "{json}");

    let mut a = entry(1, "x");
    a.annotations.cause = Some("nfnetlink".into());
    a.annotations.generation = Some(7);
    a.annotations.writer = Some(Writer {
        pid: 10,
        comm: "nft".into(),
    });
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(
        json["annotations"],
        serde_json::json!({"cause": "nfnetlink", "generation": 7, "writer": {"pid": 10, "comm": "nft"}})
    );
    assert_eq!(serde_json::from_value::<LogEntry>(json).unwrap(), a);

    // Entries written before these fields existed still parse.
    let old = serde_json::json!({"seq": 1, "kind": "nftables", "name": "x",
        "digest": a.digest, "annotations": {"cause": "poll"}});
    let parsed: LogEntry = serde_json::from_value(old).unwrap();
    assert_eq!(parsed.annotations.writer, None);
    assert!(parsed.annotations.other_writers.is_empty());
}

#[test]
fn every_bound_field_changes_the_extend_value() {
    let base = entry(3, "x");
    let mut k = base.clone();
    k.kind = "boot".into();
    let mut n = base.clone();
    n.name = "y".into();
    let mut d = base.clone();
    d.digest = Sha256Digest::ZERO;
    let mut s = base.clone();
    s.seq = 4;
    for other in [k, n, d, s] {
        assert_ne!(base.extend_value(), other.extend_value());
    }
}

#[test]
fn replay_matches_full_log() {
    let log = log_of(5);
    let out = replay(&LogState::GENESIS, log.entries(), &log.pcr()).unwrap();
    assert_eq!(
        out,
        ReplayOutcome::Matched {
            covered: 5,
            state: LogState {
                offset: 5,
                pcr: log.pcr()
            }
        }
    );
}

#[test]
fn quoted_value_may_match_any_prefix() {
    let log = log_of(5);
    let prefix = EventLog::from_entries(log.entries()[..2].to_vec()).unwrap();
    match replay(&LogState::GENESIS, log.entries(), &prefix.pcr()).unwrap() {
        ReplayOutcome::Matched { covered, state } => {
            assert_eq!(covered, 2);
            assert_eq!(state.offset, 2);
        }
        other => panic!("{other:?}"),
    }
    // The empty prefix: a quote from before any entry.
    assert!(matches!(
        replay(&LogState::GENESIS, log.entries(), &Sha256Digest::ZERO).unwrap(),
        ReplayOutcome::Matched { covered: 0, .. }
    ));
}

#[test]
fn pcr_extended_behind_the_logs_back_is_a_mismatch() {
    let log = log_of(3);
    let tampered = log.pcr().extend(&Sha256Digest::of(b"attacker"));
    assert_eq!(
        replay(&LogState::GENESIS, log.entries(), &tampered).unwrap(),
        ReplayOutcome::Mismatch {
            replayed: log.pcr()
        }
    );
}

#[test]
fn edited_entry_is_a_mismatch() {
    let log = log_of(3);
    let mut entries = log.entries().to_vec();
    entries[1].digest = Sha256Digest::of(b"other document");
    assert!(matches!(
        replay(&LogState::GENESIS, &entries, &log.pcr()).unwrap(),
        ReplayOutcome::Mismatch { .. }
    ));
}

#[test]
fn sequence_gaps_are_errors_even_after_the_matched_prefix() {
    let log = log_of(4);
    let mut entries = log.entries().to_vec();
    entries.remove(1);
    assert_eq!(
        replay(&LogState::GENESIS, &entries, &log.pcr()).unwrap_err(),
        LogError::SequenceGap {
            expected: 1,
            found: 2
        }
    );
    let mut entries = log.entries().to_vec();
    entries[3].seq = 9;
    let first = EventLog::from_entries(entries[..1].to_vec()).unwrap();
    assert_eq!(
        replay(&LogState::GENESIS, &entries, &first.pcr()).unwrap_err(),
        LogError::SequenceGap {
            expected: 3,
            found: 9
        }
    );
}

#[test]
fn kinds_and_names_are_validated() {
    let mut e = entry(0, "x");
    e.kind = "NFT".into();
    assert!(matches!(e.validate(), Err(LogError::BadKind { .. })));
    let mut e = entry(0, "x");
    e.name = "a\nb".into();
    assert_eq!(e.validate(), Err(LogError::BadName { seq: 0 }));
    let mut e = entry(0, "x");
    e.name = "n".repeat(MAX_NAME_LEN + 1);
    assert_eq!(e.validate(), Err(LogError::BadName { seq: 0 }));
}

#[test]
fn pop_drops_an_unextended_tail_entry() {
    let mut log = log_of(3);
    let before = EventLog::from_entries(log.entries()[..2].to_vec()).unwrap();
    log.pop();
    assert_eq!(log.pcr(), before.pcr());
    assert_eq!(log.len(), 2);
}

proptest! {
    #[test]
    fn incremental_replay_equals_full_replay(n in 1u64..40, split in 0usize..40, quote_at in 0usize..40) {
        let log = log_of(n);
        let split = split.min(log.len());
        let quote_at = quote_at.clamp(split, log.len());
        let quoted = EventLog::from_entries(log.entries()[..quote_at].to_vec()).unwrap().pcr();
        // First pass up to the split point, then continue from the checkpoint.
        let checkpoint = match replay(&LogState::GENESIS, &log.entries()[..split], &EventLog::from_entries(log.entries()[..split].to_vec()).unwrap().pcr()).unwrap() {
            ReplayOutcome::Matched { state, .. } => state,
            other => panic!("{other:?}"),
        };
        let out = replay(&checkpoint, log.since(checkpoint.offset), &quoted).unwrap();
        let full = replay(&LogState::GENESIS, log.entries(), &quoted).unwrap();
        match (out, full) {
            (ReplayOutcome::Matched { state: a, covered }, ReplayOutcome::Matched { state: b, .. }) => {
                prop_assert_eq!(a, b);
                prop_assert_eq!(covered, quote_at - split);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
