//! Replay tests: fixture values (cross-checked with an independent Python replay and the Keylime
//! bench generator's expected PCRs), the violation rule by hand, the prefix rule, and
//! boot_aggregate.

use super::*;
use crate::list::parse_ascii;

const GENERATED_LOG: &str = include_str!("../../testdata/generated/ima_200.log");
const GENERATED_EXPECTED: &str = include_str!("../../testdata/generated/expected_200.json");
const BANKS: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

fn entries(text: &str) -> Vec<Entry> {
    parse_ascii(text.as_bytes()).unwrap()
}

fn hexes(state: &ImaState) -> Vec<String> {
    state.banks.iter().map(|b| hex::encode(&b.value)).collect()
}

#[test]
fn fixtures_replay_to_known_values() {
    let cases = [
        (
            include_str!("../../testdata/ima-log-sha1"),
            "62e5bdf4783228f7deec959f0a89a4739af79ac5",
            "37c153b0a390c91993992d79eb0b9b05b5cb9085c6179528e1b71694ed19896c",
        ),
        (
            include_str!("../../testdata/ima-log-sha256"),
            "8adcb4304b78ee782bbba3733b191591e75dc83d",
            "8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d",
        ),
        (
            include_str!("../../testdata/ascii_runtime_measurements"),
            "82231c67a69da98dc5b3aa10f6343d33109225fc",
            "c4a065637fc6a7c55f2811dd06cb45dd037133be2b3dc5c3e6fbe6bf061db724",
        ),
    ];
    for (text, sha1, sha256) in cases {
        let list = entries(text);
        let done = replay_all(&list, &BANKS, &ReplayParams::default()).unwrap();
        assert_eq!(hexes(&done.state), [sha1, sha256]);
        assert_eq!(done.state.entries, list.len() as u64);
        assert!(done.skipped.is_empty());
    }
}

#[test]
fn generated_list_replays_to_the_generator_expected_pcrs() {
    let expected: serde_json::Value = serde_json::from_str(GENERATED_EXPECTED).unwrap();
    let list = entries(GENERATED_LOG);
    assert_eq!(list.len() as u64, expected["entries"].as_u64().unwrap());
    let done = replay_all(&list, &BANKS, &ReplayParams::default()).unwrap();
    assert_eq!(
        hexes(&done.state),
        [
            expected["pcr10_sha1"].as_str().unwrap(),
            expected["pcr10_sha256"].as_str().unwrap()
        ]
    );
    // The same through the quote path, from scratch, quoting both banks at once.
    let (q1, q256) = (
        done.state.banks[0].value.clone(),
        done.state.banks[1].value.clone(),
    );
    let quotes = [
        (HashAlg::Sha1, q1.as_slice()),
        (HashAlg::Sha256, q256.as_slice()),
    ];
    let outcome = replay_to_quote(
        &ImaState::new(&BANKS),
        &list,
        &quotes,
        &ReplayParams::default(),
    )
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Match {
            state: done.state,
            matched: 200,
            skipped: vec![]
        }
    );
}

#[test]
fn a_violation_extends_with_all_ones() {
    let list = entries(include_str!("../../testdata/ima-log-sha1"));
    assert!(list[0].is_violation());
    let done = replay_all(&list[..1], &BANKS, &ReplayParams::default()).unwrap();
    // By hand: H(zeros || ones).
    let sha1 = HashAlg::Sha1.digest(&[&[0; 20], &[0xff; 20]]);
    let sha256 = HashAlg::Sha256.digest(&[&[0; 32], &[0xff; 32]]);
    assert_eq!(done.state.banks[0].value, sha1);
    assert_eq!(done.state.banks[1].value, sha256);
    // Independently (Python hashlib): sha1(00*20 || ff*20), sha256(00*32 || ff*32).
    assert_eq!(
        hex::encode(&sha1),
        "bac37b84f007d0238af95af707cac8d61254870e"
    );
    assert_eq!(
        hex::encode(&sha256),
        "bba91ca85dc914b2ec3efb9e16e7267bf9193b14350d20fba8a8b406730ae30a"
    );
}

#[test]
fn other_pcrs_are_skipped_and_reported() {
    let mut list = entries(GENERATED_LOG);
    list.truncate(5);
    let params = ReplayParams::default();
    let base = replay_all(&list, &BANKS, &params).unwrap();
    list[2].pcr = 11;
    let skipped = replay_all(&list, &BANKS, &params).unwrap();
    assert_eq!(skipped.skipped, vec![3]);
    assert_ne!(skipped.state, base.state);
    let mut without = list.clone();
    without.remove(2);
    assert_eq!(
        hexes(&replay_all(&without, &BANKS, &params).unwrap().state),
        hexes(&skipped.state)
    );
    // A different IMA PCR replays only that PCR's entries.
    let pcr11 = ReplayParams { pcr: 11, ..params };
    let only = replay_all(&list, &[HashAlg::Sha1], &pcr11).unwrap();
    let mut third = list[2].clone();
    third.pcr = 10;
    assert_eq!(
        only.state.banks[0].value,
        replay_all(&[third], &[HashAlg::Sha1], &params)
            .unwrap()
            .state
            .banks[0]
            .value
    );
    assert_eq!(only.skipped, vec![1, 2, 4, 5]);
}

#[test]
fn the_prefix_rule_and_incremental_resume() {
    let list = entries(GENERATED_LOG);
    let params = ReplayParams::default();
    let at = |n: usize| replay_all(&list[..n], &BANKS, &params).unwrap().state;
    // The quote lags the log by 7 entries: match at 193, resume from there later.
    let quote = at(193).banks[1].value.clone();
    let start = ImaState::new(&BANKS);
    let outcome = replay_to_quote(&start, &list, &[(HashAlg::Sha256, &quote)], &params).unwrap();
    let Outcome::Match { state, matched, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!((matched, &state), (193, &at(193)));
    let json = serde_json::to_string(&state).unwrap();
    let state: ImaState = serde_json::from_str(&json).unwrap();
    let final_quote = at(200).banks[0].value.clone();
    let outcome = replay_to_quote(
        &state,
        &list[193..],
        &[(HashAlg::Sha1, &final_quote)],
        &params,
    )
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Match {
            state: at(200),
            matched: 7,
            skipped: vec![]
        }
    );
    // No new entries and an unchanged PCR: the empty prefix matches.
    let outcome =
        replay_to_quote(&at(200), &[], &[(HashAlg::Sha1, &final_quote)], &params).unwrap();
    assert_eq!(
        outcome,
        Outcome::Match {
            state: at(200),
            matched: 0,
            skipped: vec![]
        }
    );
    // A value no prefix reaches: a mismatch that says what was replayed.
    let bogus = vec![0x42; 20];
    let outcome =
        replay_to_quote(&state, &list[193..], &[(HashAlg::Sha1, &bogus)], &params).unwrap();
    let want = BankMismatch {
        alg: HashAlg::Sha1,
        replayed: final_quote.clone(),
        quoted: bogus,
    };
    assert_eq!(
        outcome,
        Outcome::Mismatch {
            new_entries: 7,
            banks: vec![want]
        }
    );
}

#[test]
fn replay_refuses_bad_template_hashes_quotes_and_states() {
    let mut list = entries(GENERATED_LOG);
    let params = ReplayParams::default();
    list[4].template_hash[3] ^= 0x10;
    assert_eq!(
        replay_all(&list, &BANKS, &params),
        Err(ReplayError::TemplateHash {
            entry: 5,
            alg: HashAlg::Sha1
        })
    );
    let mut state = ImaState::new(&BANKS);
    state.entries = 100;
    let q = vec![0; 32];
    let err = replay_to_quote(&state, &list, &[(HashAlg::Sha256, &q)], &params).unwrap_err();
    assert_eq!(
        err,
        ReplayError::TemplateHash {
            entry: 105,
            alg: HashAlg::Sha1
        }
    );
    assert_eq!(
        err.to_string(),
        "entry 105: template hash does not match sha1 of the template data"
    );
    let sha256 = ReplayParams {
        template_alg: HashAlg::Sha256,
        ..params
    };
    assert!(matches!(
        replay_all(&list, &BANKS, &sha256),
        Err(ReplayError::TemplateHashLength {
            entry: 1,
            len: 20,
            expected: 32
        })
    ));
    let list = &list[..2];
    let start = ImaState::new(&BANKS);
    assert_eq!(
        replay_to_quote(&start, list, &[], &params),
        Err(ReplayError::NoQuote)
    );
    assert_eq!(
        replay_to_quote(&start, list, &[(HashAlg::Sha384, &[0; 48])], &params),
        Err(ReplayError::NoBank(HashAlg::Sha384))
    );
    assert_eq!(
        replay_to_quote(&start, list, &[(HashAlg::Sha1, &[0; 32])], &params),
        Err(ReplayError::QuoteLength {
            alg: HashAlg::Sha1,
            len: 32
        })
    );
    let mut bad = start.clone();
    bad.banks[0].value.pop();
    assert!(matches!(
        replay_to_quote(&bad, list, &[(HashAlg::Sha256, &q)], &params),
        Err(ReplayError::BadState(_))
    ));
    let dup = ImaState {
        entries: 0,
        banks: vec![start.banks[0].clone(), start.banks[0].clone()],
    };
    assert!(matches!(replay_all(list, &[], &params).map(|_| ()), Ok(())));
    assert!(matches!(
        replay_to_quote(&dup, list, &[(HashAlg::Sha1, &[0; 20])], &params),
        Err(ReplayError::BadState(_))
    ));
}

#[test]
fn state_serializes_with_hex_values() {
    let json =
        serde_json::to_value(ImaState::new(&[HashAlg::Sha1, HashAlg::Sha1, HashAlg::Sm3])).unwrap();
    assert_eq!(json["entries"], 0);
    assert_eq!(json["banks"][0]["alg"], "sha1");
    assert_eq!(json["banks"][0]["value"], "0".repeat(40));
    assert_eq!(json["banks"][1]["alg"], "sm3");
}

fn pcrs(alg: HashAlg, n: u32) -> Vec<(u32, Vec<u8>)> {
    (0..n)
        .map(|i| (i, alg.digest(&[&i.to_le_bytes()])))
        .collect()
}

#[test]
fn boot_aggregate_candidates_and_check() {
    let sha1 = pcrs(HashAlg::Sha1, 10);
    let want = HashAlg::Sha1.digest(
        &sha1[..8]
            .iter()
            .map(|(_, v)| v.as_slice())
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        boot_aggregate(HashAlg::Sha1, &sha1).unwrap(),
        vec![want.clone()]
    );
    let sha256 = pcrs(HashAlg::Sha256, 10);
    let all: Vec<&[u8]> = sha256.iter().map(|(_, v)| v.as_slice()).collect();
    let ten = HashAlg::Sha256.digest(&all);
    let eight = HashAlg::Sha256.digest(&all[..8]);
    assert_eq!(
        boot_aggregate(HashAlg::Sha256, &sha256).unwrap(),
        vec![ten.clone(), eight.clone()]
    );
    assert_eq!(
        boot_aggregate(HashAlg::Sha256, &sha256[..8]).unwrap(),
        vec![eight]
    );
    assert_eq!(
        boot_aggregate(HashAlg::Sha256, &sha256[..7]),
        Err(BootAggregateError::MissingPcr(7))
    );
    assert!(matches!(
        boot_aggregate(HashAlg::Sha256, &sha1),
        Err(BootAggregateError::PcrLength { pcr: 0, .. })
    ));

    let line = format!(
        "10 {} ima-ng sha256:{} boot_aggregate",
        "1".repeat(40),
        hex::encode(&ten)
    );
    let entry = entries(&line).remove(0);
    assert_eq!(
        check_boot_aggregate(&entry, &sha256),
        Ok(BootAggregate::Match)
    );
    let other = pcrs(HashAlg::Sha256, 9);
    assert!(matches!(
        check_boot_aggregate(&entry, &other),
        Ok(BootAggregate::Mismatch { .. })
    ));
    let legacy = format!(
        "10 {} ima {} boot_aggregate",
        "1".repeat(40),
        hex::encode(&want)
    );
    assert_eq!(
        check_boot_aggregate(&entries(&legacy)[0], &sha1),
        Ok(BootAggregate::Match)
    );
    // The fixture logged by a machine without a TPM: all zeros.
    let no_tpm = entries(include_str!("../../testdata/ima-log-sha1"));
    assert_eq!(
        check_boot_aggregate(&no_tpm[0], &[]),
        Ok(BootAggregate::Zero)
    );
    assert!(matches!(
        check_boot_aggregate(&no_tpm[1], &sha1),
        Err(BootAggregateError::NotBootAggregate(_))
    ));
}
