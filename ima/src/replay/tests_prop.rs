//! Property tests of replay: incremental replay split anywhere equals one-shot replay, and the
//! prefix rule accepts the quote of any prefix and refuses a value no prefix reaches.

use proptest::prelude::*;

use super::*;
use crate::list::tests_prop::arb_entry;

const BANKS: [HashAlg; 3] = [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sm3];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn incremental_replay_equals_one_shot(
        entries in prop::collection::vec(arb_entry(), 0..12),
        split in any::<prop::sample::Index>(),
    ) {
        let params = ReplayParams::default();
        let whole = replay_all(&entries, &BANKS, &params).unwrap();
        let k = split.index(entries.len() + 1);
        let head = replay_all(&entries[..k], &BANKS, &params).unwrap();
        let quote = whole.state.banks[1].value.clone();
        let outcome = replay_to_quote(&head.state, &entries[k..], &[(HashAlg::Sha256, &quote)], &params).unwrap();
        match outcome {
            Outcome::Match { state, matched, skipped } => {
                // The longest prefix reaching the final value is all of it.
                prop_assert_eq!(matched as usize, entries.len() - k);
                prop_assert_eq!(&state, &whole.state);
                let tail: Vec<u64> = whole.skipped.iter().copied().filter(|n| *n > k as u64).collect();
                prop_assert_eq!(skipped, tail);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn the_prefix_rule_accepts_any_prefix_and_refuses_others(
        entries in prop::collection::vec(arb_entry(), 1..12),
        at in any::<prop::sample::Index>(),
        junk in prop::collection::vec(any::<u8>(), 20),
    ) {
        let params = ReplayParams::default();
        let n = at.index(entries.len() + 1);
        let prefix = replay_all(&entries[..n], &BANKS, &params).unwrap().state;
        let start = ImaState::new(&BANKS);
        let quote = prefix.banks[0].value.clone();
        match replay_to_quote(&start, &entries, &[(HashAlg::Sha1, &quote)], &params).unwrap() {
            Outcome::Match { state, matched, .. } => {
                // A longer prefix can match only by adding entries for other PCRs.
                prop_assert!(matched as usize >= n);
                prop_assert!(entries[n..matched as usize].iter().all(|e| e.pcr != params.pcr));
                prop_assert_eq!(state.banks, prefix.banks);
            }
            other => prop_assert!(false, "{:?}", other),
        }
        let outcome = replay_to_quote(&start, &entries, &[(HashAlg::Sha1, &junk)], &params).unwrap();
        let is_mismatch = matches!(outcome, Outcome::Mismatch { .. });
        prop_assert!(is_mismatch);
    }
}
