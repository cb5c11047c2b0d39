//! Property tests of the rule edit script: its positions are a consistent way of turning the
//! old rule list into the new one, whatever the two lists are.

use proptest::prelude::*;

use super::{mirror, normalised};
use crate::diff::{diff, RuleChange, RuleChangeKind};
use crate::model::{Chain, Rule, Ruleset, Stmt, Table, Verdict};
use crate::render::rule_text;

/// Rule number `n` (rules with the same number are equal; odd and even share a statement).
fn rule(n: u32) -> Rule {
    Rule {
        comment: Some(format!("r{n}")),
        stmts: vec![Stmt::Verdict(if n.is_multiple_of(2) {
            Verdict::Accept
        } else {
            Verdict::Drop
        })],
        ..Rule::default()
    }
}

fn rules(ns: &[u32]) -> Vec<Rule> {
    ns.iter().copied().map(rule).collect()
}

fn ruleset(rules: Vec<Rule>) -> Ruleset {
    let mut t = Table::new("inet", "t");
    t.chains.insert(
        "c".into(),
        Chain {
            rules,
            ..Chain::default()
        },
    );
    let mut r = Ruleset::default();
    r.tables.insert(t.key(), t);
    r
}

/// The edit script of the chain `c` from `old` to `new`.
fn script(old: &[Rule], new: &[Rule]) -> Vec<RuleChange> {
    let d = diff(&ruleset(old.to_vec()), &ruleset(new.to_vec()));
    assert_eq!(d.is_empty(), old == new);
    d.tables
        .first()
        .map(|t| t.chains[0].rules.clone())
        .unwrap_or_default()
}

/// Checks that `s` turns `old` into `new`: the positions each side's entries use are distinct
/// and in range, the rules no entry mentions pair up in order and are equal, moved rules are
/// equal, changed rules differ, texts are the rules', and the counts reconcile.
fn check(old: &[Rule], new: &[Rule], s: &[RuleChange]) {
    let mut used_old = vec![false; old.len()];
    let mut used_new = vec![false; new.len()];
    let mut count = [0usize; 4];
    for c in s {
        count[c.change as usize] += 1;
        if let Some(o) = &c.old {
            assert!((1..=old.len()).contains(&o.position), "{c:?}");
            assert!(
                !std::mem::replace(&mut used_old[o.position - 1], true),
                "old {o:?} twice"
            );
            assert_eq!(o.rule, rule_text(&old[o.position - 1]));
        }
        if let Some(n) = &c.new {
            assert!((1..=new.len()).contains(&n.position), "{c:?}");
            assert!(
                !std::mem::replace(&mut used_new[n.position - 1], true),
                "new {n:?} twice"
            );
            assert_eq!(n.rule, rule_text(&new[n.position - 1]));
        }
        match (c.change, &c.old, &c.new) {
            (RuleChangeKind::Added, None, Some(_)) | (RuleChangeKind::Removed, Some(_), None) => {}
            (RuleChangeKind::Moved, Some(o), Some(n)) => {
                assert_eq!(old[o.position - 1], new[n.position - 1]);
            }
            (RuleChangeKind::Changed, Some(o), Some(n)) => {
                assert_ne!(old[o.position - 1], new[n.position - 1]);
            }
            _ => panic!("malformed entry {c:?}"),
        }
    }
    let kept_old: Vec<&Rule> = old
        .iter()
        .zip(&used_old)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r)
        .collect();
    let kept_new: Vec<&Rule> = new
        .iter()
        .zip(&used_new)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| r)
        .collect();
    assert_eq!(
        kept_old, kept_new,
        "unmentioned rules must be the same rules in the same order"
    );
    let [added, removed, moved, changed] = count;
    assert_eq!(old.len(), kept_old.len() + removed + moved + changed);
    assert_eq!(new.len(), kept_new.len() + added + moved + changed);
}

/// `old` and a list derived from it by `edits` (insert, delete, replace, move).
fn edited(old: &[u32], edits: &[(u8, usize, usize, u32)]) -> Vec<u32> {
    let mut new = old.to_vec();
    for &(op, at, to, value) in edits {
        let len = new.len();
        match op % 4 {
            0 => new.insert(at % (len + 1), value),
            1 if len > 0 => {
                new.remove(at % len);
            }
            2 if len > 0 => new[at % len] = value,
            3 if len > 0 => {
                let r = new.remove(at % len);
                new.insert(to % len, r);
            }
            _ => {}
        }
    }
    new
}

fn pair() -> impl Strategy<Value = (Vec<u32>, Vec<u32>)> {
    let edits = proptest::collection::vec((0u8..4, 0usize..100, 0usize..100, 0u32..60), 0..8);
    prop_oneof![
        // Independent lists over small alphabets: many duplicates.
        (
            proptest::collection::vec(0u32..6, 0..30),
            proptest::collection::vec(0u32..6, 0..30)
        ),
        // A list and an edited copy (mostly unique rules).
        (proptest::collection::vec(0u32..60, 0..40), edits).prop_map(|(old, edits)| {
            let new = edited(&old, &edits);
            (old, new)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn edit_script_positions_are_consistent((old, new) in pair()) {
        let (old, new) = (rules(&old), rules(&new));
        check(&old, &new, &script(&old, &new));
    }

    #[test]
    fn edit_script_in_reverse_is_the_mirror_image((old, new) in pair()) {
        let (a, b) = (ruleset(rules(&old)), ruleset(rules(&new)));
        prop_assert_eq!(normalised(&diff(&b, &a)), normalised(&mirror(&diff(&a, &b))));
    }
}

/// A deterministic pseudo-random sequence (no extra dependency for a fixed test).
fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn scattered_edits_in_a_long_chain_stay_small() {
    let mut seed = 7;
    let old: Vec<u32> = (0..20_000).collect();
    let edits: Vec<(u8, usize, usize, u32)> = (0..200)
        .map(|_| {
            let op = (lcg(&mut seed) % 3) as u8; // insert, delete, replace
            (
                op,
                lcg(&mut seed) as usize,
                0,
                100_000 + lcg(&mut seed) as u32 % 1000,
            )
        })
        .collect();
    let new = edited(&old, &edits);
    let (old, new) = (rules(&old), rules(&new));
    let s = script(&old, &new);
    check(&old, &new, &s);
    assert!(s.len() <= 200, "{} entries for 200 edits", s.len());
}

#[test]
fn no_unique_rules_and_a_large_distance_fall_back_consistently() {
    // Two random lists over {0, 1}: no anchors, an edit distance beyond Myers' cap.
    let mut seed = 11;
    let old: Vec<u32> = (0..30_000).map(|_| (lcg(&mut seed) % 2) as u32).collect();
    let new: Vec<u32> = (0..30_000).map(|_| (lcg(&mut seed) % 2) as u32).collect();
    let (old, new) = (rules(&old), rules(&new));
    // The work budget bounds the time (measured in `benches/diff.rs`); here only correctness.
    let s = script(&old, &new);
    check(&old, &new, &s);
}

#[test]
fn block_moves_and_duplicates_are_consistent() {
    let old: Vec<u32> = (0..1000).map(|i| i % 300).collect();
    let mut new = old.clone();
    new.rotate_left(250);
    let (old, new) = (rules(&old), rules(&new));
    check(&old, &new, &script(&old, &new));
}
