//! The one-pass verifier against the three-step pipeline it replaces (parse the list, replay it
//! to the quote, judge the matched prefix), on random lists, policies and quotes; and its errors.

use proptest::prelude::*;

use super::*;
use crate::list::tests_prop::arb_entry;
use crate::list::{parse_ascii, to_ascii};
use crate::policy::CreateOptions;
use crate::replay::{replay_all, replay_to_quote};

const BANKS: [HashAlg; 2] = [HashAlg::Sha1, HashAlg::Sha256];

/// Parse, replay to the quote, judge the matched prefix: what `verify_ascii` must equal.
fn three_steps(
    list: &[u8],
    state: &ImaState,
    quotes: &[(HashAlg, &[u8])],
    policy: Option<&RuntimePolicy>,
) -> (Outcome, PolicyReport, Option<Entry>) {
    let params = ReplayParams::default();
    let entries = parse_ascii(list).unwrap();
    let outcome = replay_to_quote(state, &entries, quotes, &params).unwrap();
    let mut report = PolicyReport::default();
    if let (Some(policy), Outcome::Match { matched, .. }) = (policy, &outcome) {
        let judged = &entries[..*matched as usize];
        policy.evaluate_into(&mut report, judged, state.entries + 1);
    }
    (outcome, report, entries.first().cloned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn one_pass_equals_parse_replay_and_judge_the_matched_prefix(
        entries in prop::collection::vec(arb_entry(), 0..12),
        known in prop::collection::vec(any::<bool>(), 12),
        at in any::<prop::sample::Index>(),
        resumed in 0u64..3,
        junk in any::<bool>(),
        with_policy in any::<bool>(),
    ) {
        let params = ReplayParams::default();
        let allowed = entries.iter().zip(&known).filter(|(_, k)| **k).map(|(e, _)| e);
        let policy = RuntimePolicy::create(allowed, &CreateOptions::default()).unwrap();
        let policy = with_policy.then_some(&policy);
        // The quote of some prefix (the kernel appended the rest after quoting), or junk.
        let n = at.index(entries.len() + 1);
        let quoted = replay_all(&entries[..n], &BANKS, &params).unwrap().state;
        let quote = if junk { vec![7; 32] } else { quoted.banks[1].value.clone() };
        let quotes = [(HashAlg::Sha256, quote.as_slice())];
        let state = ImaState { entries: resumed, ..ImaState::new(&BANKS) };
        let list = to_ascii(&entries);

        let one = verify_ascii(list.as_bytes(), &state, &quotes, &params, policy).unwrap();
        let (outcome, report, first) = three_steps(list.as_bytes(), &state, &quotes, policy);
        prop_assert_eq!(one.outcome, outcome);
        prop_assert_eq!(one.report, report);
        prop_assert_eq!(one.first, first);
    }
}

fn entry(path: &str, fill: u8) -> Entry {
    let digest = hex::encode([fill; 32]);
    let line = format!("10 {} ima-ng sha256:{digest} {path}", "0".repeat(39) + "1");
    let mut e = parse_ascii(line.as_bytes()).unwrap().remove(0);
    e.template_hash = HashAlg::Sha1.digest_buf(&[&e.data]);
    e
}

/// `verify_ascii` of `list` from the start, against the SHA-256 bank's `quote`.
fn verify_from_zero(
    list: &str,
    quote: &[u8],
    policy: Option<&RuntimePolicy>,
) -> Result<Verified, VerifyError> {
    let state = ImaState::new(&[HashAlg::Sha256]);
    let quotes = [(HashAlg::Sha256, quote)];
    verify_ascii(
        list.as_bytes(),
        &state,
        &quotes,
        &ReplayParams::default(),
        policy,
    )
}

fn final_quote(entries: &[Entry]) -> Vec<u8> {
    let replayed = replay_all(entries, &[HashAlg::Sha256], &ReplayParams::default()).unwrap();
    replayed.state.banks[0].value.clone()
}

#[test]
fn an_altered_entry_is_named_by_its_path() {
    let entries = [entry("/usr/bin/a", 1), entry("/usr/bin/b", 2)];
    let quote = final_quote(&entries);
    // The second entry's digest changed after its template hash was logged.
    let list = to_ascii(&entries).replace(&hex::encode([2u8; 32]), &hex::encode([3u8; 32]));
    let err = verify_from_zero(&list, &quote, None).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Replay {
            error: ReplayError::TemplateHash {
                entry: 2,
                alg: HashAlg::Sha1
            },
            name: Some("/usr/bin/b".into()),
        }
    );
}

#[test]
fn a_malformed_line_after_the_quoted_prefix_is_still_an_error() {
    let entries = [entry("/usr/bin/a", 1)];
    let quote = final_quote(&entries);
    let list = to_ascii(&entries) + "10 not-a-hash ima-ng\n";
    let err = verify_from_zero(&list, &quote, None).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::List(ListError::Malformed { entry: 2, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn entries_after_the_quote_are_not_judged() {
    let entries = [entry("/usr/bin/a", 1), entry("/usr/bin/unknown", 2)];
    let quote = final_quote(&entries[..1]);
    let policy = RuntimePolicy::create(&entries[..1], &CreateOptions::default()).unwrap();
    let v = verify_from_zero(&to_ascii(&entries), &quote, Some(&policy)).unwrap();
    assert!(matches!(v.outcome, Outcome::Match { matched: 1, .. }));
    assert_eq!((v.report.total, v.report.unknown), (1, 0));
}
