//! Exposure of generated rulesets (`testing::generate_json`: 1k to 100k rules in one inet
//! table, address/port/set/range/limit/reject rules behind jumps): the time from the parsed
//! model to the exposure document, and its serialisation to JSON (what the verifier hands to
//! Rego). Numbers in BENCHMARKS.md ("Exposure").
#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark set-up"
)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_firewall::exposure::exposure;
use palisade_firewall::{from_nft_json, testing};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("exposure");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    for rules in [1_000usize, 10_000, 100_000] {
        let json = testing::generate_json(rules);
        let ruleset = from_nft_json(json.as_bytes()).expect("generated listing parses");
        g.throughput(Throughput::Elements(rules as u64));
        g.bench_with_input(BenchmarkId::new("compute", rules), &ruleset, |b, r| {
            b.iter(|| exposure(r));
        });
        let e = exposure(&ruleset);
        eprintln!(
            "exposure {rules}: {} open-port facts, {} input classes, truncated: {}",
            e.open_ports.len(),
            e.families["ipv4"].hooks["input"].accepted.len(),
            e.truncated
        );
        g.bench_with_input(BenchmarkId::new("to_json", rules), &e, |b, e| {
            b.iter(|| serde_json::to_vec(e).expect("serialises"));
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
