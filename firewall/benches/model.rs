//! Criterion benchmarks of the model's hot path on `testing::generate_json` listings (what nft
//! 1.0.6 prints for `testing::generate`): parse, canonical document + SHA-256, per-table
//! digests, exposure, and the verifier's `from_canonical`. No root needed; the comparison with
//! nft's own listing time is `palisade-nft-bench` (integration crate, BENCHMARKS.md).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_firewall::testing::generate_json;
use palisade_firewall::{from_nft_json, Ruleset};

fn model(c: &mut Criterion) {
    let mut g = c.benchmark_group("model");
    g.sample_size(10);
    for rules in [1_000usize, 10_000, 100_000] {
        let json = generate_json(rules);
        let Ok(ruleset) = from_nft_json(json.as_bytes()) else {
            return;
        };
        let Ok(doc) = ruleset.canonical() else {
            return;
        };
        g.throughput(Throughput::Bytes(json.len() as u64));
        g.bench_with_input(BenchmarkId::new("parse", rules), &json, |b, json| {
            b.iter(|| from_nft_json(json.as_bytes()));
        });
        g.bench_with_input(BenchmarkId::new("canonical", rules), &ruleset, |b, r| {
            b.iter(|| r.canonical());
        });
        g.bench_with_input(
            BenchmarkId::new("table_digests", rules),
            &ruleset,
            |b, r| {
                b.iter(|| r.table_digests());
            },
        );
        g.bench_with_input(BenchmarkId::new("exposure", rules), &ruleset, |b, r| {
            b.iter(|| palisade_firewall::exposure::exposure(r));
        });
        g.bench_with_input(BenchmarkId::new("from_canonical", rules), &doc, |b, d| {
            b.iter(|| Ruleset::from_canonical(d.as_bytes()));
        });
    }
    g.finish();
}

criterion_group!(benches, model);
criterion_main!(benches);
