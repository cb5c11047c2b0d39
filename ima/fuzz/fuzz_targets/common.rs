//! Checks shared by the `ascii_list` and `binary_list` targets, run on every list that parses:
//! template-hash verification agrees with replay, replay agrees with a naive extend loop and
//! with incremental replay against the final quote, a policy created from the list allows it, and
//! the list survives the binary (and, where representable, ASCII) round trip.
#![allow(dead_code, reason = "each target constructs only its own origin")]

use palisade_ima::list::{
    parse_ascii_bank, parse_binary, to_ascii, to_binary, verify_template_hashes,
};
use palisade_ima::policy::{CreateOptions, RuntimePolicy};
use palisade_ima::replay::{replay_all, replay_to_quote, ImaState, Outcome, ReplayParams, IMA_PCR};
use palisade_ima::{Entry, HashAlg};

const BANKS: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

/// How the list was read, which decides what must round-trip.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Ascii,
    Binary,
}

pub fn exercise(mut entries: Vec<Entry>, template_alg: HashAlg, origin: Origin) {
    let params = ReplayParams {
        pcr: IMA_PCR,
        template_alg,
    };
    for entry in &entries {
        let _ = (entry.is_violation(), entry.name(), entry.digest());
        assert_eq!(entry.template_hash.len(), template_alg.len());
    }
    let _ = serde_json::to_string(&entries).expect("entries serialise");

    // As logged (a fuzzer cannot forge template hashes): the two checks must agree.
    let verified = verify_template_hashes(&entries, template_alg).is_ok();
    assert_eq!(verified, replay_all(&entries, &BANKS, &params).is_ok());

    round_trips(&entries, template_alg, origin);

    // With every template hash made right, the whole pipeline must accept the list.
    for entry in &mut entries {
        if !entry.is_violation() {
            entry.template_hash = template_alg.digest_buf(&[&entry.data]);
        }
    }
    verify_template_hashes(&entries, template_alg).expect("fixed-up hashes verify");
    let full = replay_all(&entries, &BANKS, &params).expect("fixed-up list replays");
    assert_eq!(full.state.entries, entries.len() as u64);
    let others: Vec<u64> = (1..)
        .zip(&entries)
        .filter(|(_, e)| e.pcr != IMA_PCR)
        .map(|(n, _)| n)
        .collect();
    assert_eq!(full.skipped, others);

    // The same values as a naive extend loop.
    for alg in BANKS {
        let mut pcr = alg.zero();
        for entry in entries.iter().filter(|e| e.pcr == IMA_PCR) {
            let m = if entry.is_violation() {
                vec![0xff; alg.len()]
            } else {
                alg.digest(&[&entry.data])
            };
            alg.extend(&mut pcr, &m);
        }
        assert_eq!(full.state.value(alg), Some(pcr.as_slice()));
    }

    // Incremental replay from half-way reaches the final quote with every remaining entry.
    let quotes: Vec<(HashAlg, &[u8])> = BANKS
        .iter()
        .filter_map(|alg| Some((*alg, full.state.value(*alg)?)))
        .collect();
    let half = entries.len() / 2;
    let (first, rest) = entries.split_at(half);
    let start = replay_all(first, &BANKS, &params)
        .expect("prefix replays")
        .state;
    match replay_to_quote(&start, rest, &quotes, &params).expect("resumes") {
        Outcome::Match {
            state,
            matched,
            skipped,
        } => {
            assert_eq!(matched, rest.len() as u64);
            assert_eq!(state, full.state);
            let later: Vec<u64> = full
                .skipped
                .iter()
                .copied()
                .filter(|n| *n > half as u64)
                .collect();
            assert_eq!(skipped, later);
        }
        Outcome::Mismatch { .. } => panic!("the final quote must match the whole list"),
    }
    match replay_to_quote(&ImaState::new(&BANKS), &entries, &quotes, &params).expect("replays") {
        Outcome::Match { state, .. } => assert_eq!(state, full.state),
        Outcome::Mismatch { .. } => panic!("the final quote must match from the start"),
    }

    // A policy created from the list allows every entry of it, and survives its own JSON.
    let options = CreateOptions {
        keyrings: true,
        ima_buf: true,
        ..CreateOptions::default()
    };
    let policy = RuntimePolicy::create(&entries, &options).expect("no excludes to compile");
    let report = policy.evaluate(&entries, 1);
    assert_eq!(report.total, entries.len() as u64);
    assert!(
        report.ok(),
        "created policy rejects its own list: {report:?}"
    );
    assert_eq!(
        report.violations,
        entries.iter().filter(|e| e.is_violation()).count() as u64
    );
    let back = RuntimePolicy::from_json(policy.to_json().as_bytes()).expect("written policy loads");
    assert_eq!(back, policy);
}

fn round_trips(entries: &[Entry], template_alg: HashAlg, origin: Origin) {
    let binary = to_binary(entries);
    assert_eq!(parse_binary(&binary, template_alg).as_deref(), Ok(entries));
    // The ASCII form cannot carry an empty name or a newline in one (the binary form can).
    let representable = entries
        .iter()
        .all(|e| !e.name().is_empty() && !e.name().contains('\n'));
    if origin == Origin::Ascii || representable {
        let text = to_ascii(entries);
        assert_eq!(
            parse_ascii_bank(text.as_bytes(), template_alg).as_deref(),
            Ok(entries)
        );
    }
}
