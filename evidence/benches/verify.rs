//! Benchmarks of the verifier's pure hot path: quote signature verification (real swtpm
//! vectors), canonicalisation of a realistic ruleset document, and dedicated-log replay.
#![allow(
    clippy::expect_used,
    clippy::type_complexity,
    reason = "benchmark set-up"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_evidence::log::{replay, Annotations, EventLog, LogState};
use palisade_evidence::tpm::{pcr_digest, verify_quote, HashAlg, TpmPublic};
use palisade_evidence::{Canonical, Sha256Digest};
use serde_json::json;

macro_rules! vector {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/swtpm/",
            $name
        ))
    };
}

fn quotes(c: &mut Criterion) {
    let mut g = c.benchmark_group("verify_quote");
    let cases: [(&str, &[u8], &[u8], &[u8], &[u8]); 2] = [
        (
            "rsa2048_rsassa",
            vector!("rsa_ak.pub"),
            vector!("rsa_quote_single.attest"),
            vector!("rsa_quote_single.sig"),
            vector!("rsa_quote_single.pcrs"),
        ),
        (
            "ecc_p256_ecdsa",
            vector!("ecc_ak.pub"),
            vector!("ecc_quote_single.attest"),
            vector!("ecc_quote_single.sig"),
            vector!("ecc_quote_single.pcrs"),
        ),
    ];
    for (name, ak, attest, sig, pcrs) in cases {
        let ak = TpmPublic::parse_tpm2b(ak).expect("vector");
        g.bench_function(name, |b| {
            b.iter(|| {
                let a = verify_quote(&ak, attest, sig).expect("valid quote");
                assert_eq!(pcr_digest(HashAlg::Sha256, &[pcrs]), a.pcr_digest);
            });
        });
    }
    g.finish();
}

/// A ruleset of `rules` rules in the canonical model's shape.
fn ruleset(rules: usize) -> serde_json::Value {
    let rules: Vec<_> = (0..rules)
        .map(|i| json!({"expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": format!("10.{}.{}.0", i / 256, i % 256), "len": 24}}}},
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443, 8000 + i]}}},
            {"counter": {}}, {"accept": null}
        ]}))
        .collect();
    json!({"format": "palisade.nftables/0", "tables": {"inet filter": {"family": "inet", "name": "filter",
        "chains": {"input": {"type": "filter", "hook": "input", "prio": 0, "policy": "drop", "rules": rules}},
        "sets": {}, "objects": {}}}})
}

fn canonical(c: &mut Criterion) {
    let mut g = c.benchmark_group("canonical_ruleset");
    for rules in [100usize, 10_000] {
        let doc = ruleset(rules);
        let bytes = Canonical::from_value(&doc).expect("canonical").into_bytes();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(BenchmarkId::new("serialise", rules), &doc, |b, doc| {
            b.iter(|| Canonical::from_value(doc))
        });
        g.bench_with_input(
            BenchmarkId::new("verify_bytes", rules),
            &bytes,
            |b, bytes| b.iter(|| Canonical::verify_bytes(bytes)),
        );
        g.bench_with_input(
            BenchmarkId::new("check_bytes", rules),
            &bytes,
            |b, bytes| b.iter(|| Canonical::check_bytes(bytes)),
        );
    }
    g.finish();
}

fn log_replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("log_replay");
    for n in [10u64, 10_000] {
        let mut log = EventLog::new();
        for i in 0..n {
            let e = log
                .next_entry(
                    "nftables",
                    "host",
                    Sha256Digest::of(&i.to_be_bytes()),
                    Annotations::default(),
                )
                .expect("entry");
            log.push(e).expect("push");
        }
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(n), &log, |b, log| {
            b.iter(|| replay(&LogState::GENESIS, log.entries(), &log.pcr()));
        });
    }
    g.finish();
}

criterion_group!(benches, quotes, canonical, log_replay);
criterion_main!(benches);
