//! Fuzzes `list::parse_ascii` / `parse_ascii_bank` (the kernel's ASCII measurement list an agent
//! forwards): must never panic; a list that parses goes through template-hash verification,
//! replay (sha1 and sha256 banks), policy creation and evaluation, and both round trips
//! (`common.rs`). The one-pass verifier (`verify::verify_ascii`, what the verifier runs) must
//! never panic either, must fail wherever the parser fails, and must reach the replay's outcome
//! wherever it parses. Parsing every line into one reused entry (`AsciiEntries::next_into`, as
//! the one pass does) must give exactly the entries a fresh parse gives, errors included.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use palisade_ima::list::{parse_ascii, parse_ascii_bank, AsciiEntries};
use palisade_ima::policy::RuntimePolicy;
use palisade_ima::replay::{replay_to_quote, ImaState, ReplayParams, IMA_PCR};
use palisade_ima::verify::{verify_ascii, VerifyError};
use palisade_ima::{Entry, HashAlg};

fuzz_target!(|data: &[u8]| {
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        one_pass_agrees(data, alg);
        reused_entry_agrees(data, alg);
    }
    if let Ok(entries) = parse_ascii(data) {
        common::exercise(entries, HashAlg::Sha1, common::Origin::Ascii);
    }
    if let Ok(entries) = parse_ascii_bank(data, HashAlg::Sha256) {
        common::exercise(entries, HashAlg::Sha256, common::Origin::Ascii);
    }
});

/// `verify_ascii` against parse + `replay_to_quote` on the same bytes (a quote of all zeros: the
/// empty prefix, or a list with no entry for PCR 10, matches it).
fn one_pass_agrees(data: &[u8], template_alg: HashAlg) {
    let params = ReplayParams {
        pcr: IMA_PCR,
        template_alg,
    };
    let state = ImaState::new(&[HashAlg::Sha256]);
    let zero = [0u8; 32];
    let quotes = [(HashAlg::Sha256, zero.as_slice())];
    let policy = RuntimePolicy::default();
    let one = verify_ascii(data, &state, &quotes, &params, Some(&policy));
    match parse_ascii_bank(data, template_alg) {
        Err(_) => assert!(one.is_err(), "the parser fails, the one pass must too"),
        Ok(entries) => match (replay_to_quote(&state, &entries, &quotes, &params), one) {
            (Ok(outcome), Ok(verified)) => assert_eq!(outcome, verified.outcome),
            (Err(e), Err(VerifyError::Replay { error, .. })) => assert_eq!(e, error),
            (replayed, one) => panic!("replay {replayed:?} but one pass {one:?}"),
        },
    }
}

/// The entries (and the error) of `data` parsed into one reused entry equal a fresh parse's.
fn reused_entry_agrees(data: &[u8], template_alg: HashAlg) {
    let mut fresh = AsciiEntries::new(data, template_alg);
    let mut reused = AsciiEntries::new(data, template_alg);
    let mut entry = Entry::blank();
    loop {
        match (fresh.next(), reused.next_into(&mut entry)) {
            (None, None) => return,
            (Some(Ok(expected)), Some(Ok(()))) => assert_eq!(expected, entry),
            (Some(Err(expected)), Some(Err(error))) => assert_eq!(expected, error),
            (fresh, reused) => panic!("fresh {fresh:?} but reused {reused:?}"),
        }
    }
}
