//! Benchmarks of the semantic diff (`palisade_firewall::diff`) on generated 10k-rule rulesets:
//! identical, one rule changed, and 100 changes (changed, inserted, removed and moved rules spread
//! over the chains). `cargo bench -p palisade-firewall --bench diff`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark set-up"
)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use palisade_firewall::model::{Rule, Stmt, Verdict};
use palisade_firewall::testing::generate_json;
use palisade_firewall::{diff::diff, from_nft_json, Ruleset};

const RULES: usize = 10_000;

fn base() -> Ruleset {
    from_nft_json(generate_json(RULES).as_bytes()).unwrap()
}

/// The `i`-th rule chain of the generated table (`c0`, `c1`, …).
fn chain_rules(r: &mut Ruleset, c: usize) -> &mut Vec<Rule> {
    &mut r
        .tables
        .get_mut("inet gen")
        .unwrap()
        .chains
        .get_mut(&format!("c{c}"))
        .unwrap()
        .rules
}

fn drop_rule(n: usize) -> Rule {
    Rule {
        comment: Some(format!("bench {n}")),
        stmts: vec![Stmt::Verdict(Verdict::Drop)],
        ..Rule::default()
    }
}

/// `base` with `n` edits cycling through change, insert, remove and move, spread over the
/// ten chains of 1000 rules.
fn edited(base: &Ruleset, n: usize) -> Ruleset {
    let mut r = base.clone();
    for k in 0..n {
        let rules = chain_rules(&mut r, k % 10);
        let at = (k * 97 + 13) % (rules.len() - 1);
        match k % 4 {
            0 => rules[at] = drop_rule(k),
            1 => rules.insert(at, drop_rule(k)),
            2 => {
                rules.remove(at);
            }
            _ => {
                let moved = rules.remove(at);
                rules.insert((at + 300) % rules.len(), moved);
            }
        }
    }
    r
}

fn bench(c: &mut Criterion) {
    let base = base();
    assert_eq!(base.rule_count(), RULES + 1 + 10);
    let one = edited(&base, 1);
    let hundred = edited(&base, 100);
    assert_eq!(diff(&base, &one).counts().rules_changed, 1);
    assert!(!diff(&base, &hundred).is_empty());
    let mut g = c.benchmark_group("diff_10k");
    g.sample_size(20);
    g.bench_function("identical", |b| b.iter(|| diff(&base, &base)));
    g.bench_function("1_change", |b| b.iter(|| diff(&base, &one)));
    g.bench_function("100_changes", |b| b.iter(|| diff(&base, &hundred)));
    g.bench_function("100_changes_json_and_text", |b| {
        b.iter_batched(
            || diff(&base, &hundred),
            |d| (serde_json::to_vec(&d).unwrap(), d.to_text()),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
