//! Benchmarks of IMA measurement-list verification on a 100k-entry ima-ng list and its Keylime
//! runtime policy: parse only; parse + replay against the quoted PCR 10 (template hashes checked
//! on the way); the whole check (parse + replay + policy), per bank as Keylime runs it, in three
//! steps over a parsed list (`full`) and in one pass over the text (`one_pass`, what the
//! verifier runs).
//!
//! Input: `PALISADE_BENCH_IMA_DIR=DIR` reads `DIR/ima_N.log`, `policy_N.json` and
//! `expected_N.json` written by `/work/shared/bench/keylime-ima/gen_ima.py --n N --seed 1
//! --out-dir DIR` (the files Keylime's own benchmark times), with N from `PALISADE_BENCH_IMA_N`
//! (default 100000). Without it the bench generates a list of the same shape itself (ima-ng,
//! sha256 file digests, realistic paths, 1 % re-measured paths, a policy allowing every entry).
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark set-up: a wrong input must stop the run"
)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palisade_ima::list::parse_ascii;
use palisade_ima::policy::{CreateOptions, RuntimePolicy};
use palisade_ima::replay::{replay_to_quote, ImaState, Outcome, ReplayParams};
use palisade_ima::verify::verify_ascii;
use palisade_ima::HashAlg;

const DEFAULT_N: usize = 100_000;

/// The global allocator of every palisade binary that verifies IMA lists (regorus, linked by the
/// verifier and the `palisade` CLI, installs it), so the bench measures what they run.
#[global_allocator]
static ALLOCATOR: regorus_mimalloc::mimalloc::Mimalloc = regorus_mimalloc::mimalloc::Mimalloc;

/// A measurement list, its policy, and the PCR 10 values a quote would carry after it.
struct Input {
    log: Vec<u8>,
    policy: Vec<u8>,
    pcr10: Vec<(HashAlg, Vec<u8>)>,
    entries: usize,
}

impl Input {
    fn quoted(&self, alg: HashAlg) -> &[u8] {
        self.pcr10
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v.as_slice())
            .expect("expected PCR value for every bank")
    }
}

fn load() -> Input {
    let n = std::env::var("PALISADE_BENCH_IMA_N")
        .ok()
        .map(|s| s.parse().expect("PALISADE_BENCH_IMA_N is a number"))
        .unwrap_or(DEFAULT_N);
    let input = match std::env::var_os("PALISADE_BENCH_IMA_DIR") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            let read = |name: String| {
                let path = dir.join(&name);
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            };
            let expected: serde_json::Value =
                serde_json::from_slice(&read(format!("expected_{n}.json"))).expect("expected JSON");
            let pcr = |key: &str| {
                let hex = expected.get(key).and_then(|v| v.as_str()).expect(key);
                hex::decode(hex).expect("hex PCR value")
            };
            Input {
                log: read(format!("ima_{n}.log")),
                policy: read(format!("policy_{n}.json")),
                pcr10: vec![
                    (HashAlg::Sha1, pcr("pcr10_sha1")),
                    (HashAlg::Sha256, pcr("pcr10_sha256")),
                ],
                entries: n,
            }
        }
        None => generate(n, 1),
    };
    let sha = hex::encode(HashAlg::Sha256.digest(&[&input.log]));
    let policy_sha = hex::encode(HashAlg::Sha256.digest(&[&input.policy]));
    eprintln!(
        "ima bench input: {} entries, list {} B sha256 {sha}, policy {} B sha256 {policy_sha}",
        input.entries,
        input.log.len(),
        input.policy.len()
    );
    input
}

// The generator's vocabulary, after gen_ima.py's (same path shapes and proportions).
const BIN: &str = "bash ls cat cp mv rm ln grep sed awk find xargs sort uniq head tail tar gzip xz \
    zstd ssh scp curl wget python3 perl systemctl journalctl udevadm mount umount ip ss ps top kill \
    chmod chown id env date sleep true false dbus-daemon sudo su login agetty bc dc file stat touch \
    mkdir rmdir df du free uname";
const SBIN: &str =
    "init sshd cron rsyslogd agetty ldconfig modprobe insmod lvm mdadm chronyd iptables nft dhclient";
const LIB: &str = "c m pthread dl rt ssl crypto z lzma zstd bz2 systemd udev dbus-1 glib-2.0 \
    gio-2.0 gobject-2.0 ffi pcre2-8 selinux acl attr cap crypt keyutils krb5 gssapi_krb5 k5crypto \
    com_err resolv nss_files nsl tinfo ncursesw readline gmp mpfr stdc++ gcc_s expat xml2 yaml-0.1 \
    sqlite3 curl nghttp2 idn2 unistring psl ssh2 elf tss2-esys tss2-mu tss2-sys tss2-tctildr json-c \
    uuid blkid mount fdisk seccomp";
const PY: &str =
    "yaml requests urllib3 idna certifi chardet six dbus gi apt debian cryptography jsonschema attr";
const KO: &str = "drivers/net/ethernet/intel/e1000e drivers/nvme/host drivers/scsi \
    drivers/usb/core drivers/block drivers/char/tpm drivers/gpu/drm fs/ext4 fs/xfs fs/btrfs net/ipv4 \
    net/netfilter crypto lib arch/x86/crypto drivers/md sound/core";
const SYLL: &str = "ab ac ad al am an ar as at ba be bi bo ca ce co da de di do el en er es et fa \
    fi fo ga ge go ha he hi ho in io ir is it ka ke ki ko la le li lo ma me mi mo na ne ni no on or \
    os pa pe pi po ra re ri ro sa se si so ta te ti to ul un ur us va ve vi vo za ze zi zo";
const EXT: &str = "sh pl rb lua js";

/// SplitMix64: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn pick<'a>(&mut self, words: &'a str) -> &'a str {
        let count = words.split_whitespace().count() as u64;
        let i = self.next() % count;
        words.split_whitespace().nth(i as usize).unwrap_or_default()
    }
    fn word(&mut self, lo: u64, hi: u64) -> String {
        (0..self.range(lo, hi)).map(|_| self.pick(SYLL)).collect()
    }
    fn digest(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        out
    }
    fn path(&mut self) -> String {
        let r = self.unit();
        let w = |rng: &mut Self| rng.word(2, 4);
        if r < 0.12 {
            format!("/usr/bin/{}-{}", self.pick(BIN), w(self))
        } else if r < 0.17 {
            format!("/usr/sbin/{}-{}", self.pick(SBIN), w(self))
        } else if r < 0.45 {
            let (stem, word) = (self.pick(LIB), w(self));
            let (a, b, c) = (self.range(0, 9), self.range(0, 40), self.range(0, 9));
            format!("/usr/lib/x86_64-linux-gnu/lib{stem}-{word}.so.{a}.{b}.{c}")
        } else if r < 0.70 {
            let (pkg, a, b, c) = (self.pick(PY), w(self), w(self), self.word(1, 3));
            format!("/usr/lib/python3/dist-packages/{pkg}/{a}/{b}_{c}.py")
        } else if r < 0.82 {
            let (dir, a, b) = (self.pick(KO), w(self), self.word(1, 2));
            format!("/usr/lib/modules/6.1.0-18-amd64/kernel/{dir}/{a}_{b}.ko")
        } else if r < 0.90 {
            let (a, b, c) = (w(self), w(self), self.word(1, 2));
            format!("/usr/libexec/{a}/{b}-{c}")
        } else if r < 0.95 {
            format!("/etc/{}/{}.conf", w(self), w(self))
        } else {
            let (a, b, c, ext) = (w(self), w(self), w(self), self.pick(EXT));
            format!("/usr/share/{a}/{b}/{c}.{ext}")
        }
    }
}

/// A list of `n` ima-ng entries (boot_aggregate first, 1 % re-measured paths) in the ASCII
/// format, a Keylime policy allowing all of them, and the final PCR 10 values.
fn generate(n: usize, seed: u64) -> Input {
    let mut rng = Rng(seed);
    let mut log = String::with_capacity(n * 170);
    let mut pcr10: Vec<(HashAlg, Vec<u8>)> = [HashAlg::Sha1, HashAlg::Sha256]
        .into_iter()
        .map(|a| (a, a.zero()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut paths: Vec<String> = Vec::new();
    for i in 0..n {
        let path = if i == 0 {
            "boot_aggregate".to_owned()
        } else if !paths.is_empty() && rng.unit() < 0.01 {
            let k = (rng.next() % paths.len() as u64) as usize;
            paths.get(k).cloned().unwrap_or_default()
        } else {
            let mut p = rng.path();
            while !seen.insert(p.clone()) {
                p = rng.path();
            }
            paths.push(p.clone());
            p
        };
        let digest = rng.digest();
        let mut data = Vec::with_capacity(path.len() + 50);
        data.extend_from_slice(&40u32.to_le_bytes());
        data.extend_from_slice(b"sha256:\0");
        data.extend_from_slice(&digest);
        data.extend_from_slice(&(path.len() as u32 + 1).to_le_bytes());
        data.extend_from_slice(path.as_bytes());
        data.push(0);
        let template_hash = hex::encode(HashAlg::Sha1.digest(&[&data]));
        log.push_str(&format!(
            "10 {template_hash} ima-ng sha256:{} {path}\n",
            hex::encode(digest)
        ));
        for (alg, value) in &mut pcr10 {
            let m = alg.digest(&[&data]);
            alg.extend(value, &m);
        }
    }
    let entries = parse_ascii(log.as_bytes()).expect("generated list parses");
    let options = CreateOptions {
        timestamp: Some("synthetic".into()),
        ..CreateOptions::default()
    };
    let policy = RuntimePolicy::create(&entries, &options).expect("policy from the list");
    Input {
        log: log.into_bytes(),
        policy: policy.to_json().into_bytes(),
        pcr10,
        entries: n,
    }
}

/// The banks a run replays and checks against the quote: one, as Keylime does per call, or both.
const BANKS: [(&str, &[HashAlg]); 3] = [
    ("sha1", &[HashAlg::Sha1]),
    ("sha256", &[HashAlg::Sha256]),
    ("sha1+sha256", &[HashAlg::Sha1, HashAlg::Sha256]),
];

/// Parse, then replay from zero against the quoted values (every template hash is checked on
/// the way); the whole list must match.
fn verify(input: &Input, banks: &[HashAlg]) -> Vec<palisade_ima::Entry> {
    let entries = parse_ascii(&input.log).expect("list parses");
    let quotes: Vec<(HashAlg, &[u8])> = banks.iter().map(|a| (*a, input.quoted(*a))).collect();
    let params = ReplayParams::default();
    match replay_to_quote(&ImaState::new(banks), &entries, &quotes, &params) {
        Ok(Outcome::Match { matched, .. }) if matched == entries.len() as u64 => entries,
        other => panic!("the list does not replay to the expected PCR 10: {other:?}"),
    }
}

fn ima(c: &mut Criterion) {
    let input = load();
    let policy = RuntimePolicy::from_json(&input.policy).expect("policy loads");
    let n = input.entries as u64;

    let mut g = c.benchmark_group("ima_verify");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(n));
    g.bench_function(BenchmarkId::new("parse", n), |b| {
        b.iter(|| parse_ascii(&input.log).expect("list parses"))
    });
    for (name, banks) in BANKS {
        g.bench_function(BenchmarkId::new(format!("parse_replay/{name}"), n), |b| {
            b.iter(|| verify(&input, banks))
        });
    }
    for (name, banks) in BANKS {
        g.bench_function(BenchmarkId::new(format!("full/{name}"), n), |b| {
            b.iter(|| {
                let entries = verify(&input, banks);
                let report = policy.evaluate(&entries, 1);
                assert!(report.ok() && report.total == n, "policy rejects the list");
                report
            })
        });
    }
    for (name, banks) in BANKS {
        g.bench_function(BenchmarkId::new(format!("one_pass/{name}"), n), |b| {
            b.iter(|| {
                let quotes: Vec<(HashAlg, &[u8])> =
                    banks.iter().map(|a| (*a, input.quoted(*a))).collect();
                let state = ImaState::new(banks);
                let params = ReplayParams::default();
                let v = verify_ascii(&input.log, &state, &quotes, &params, Some(&policy))
                    .expect("list verifies");
                let whole = matches!(v.outcome, Outcome::Match { matched, .. } if matched == n);
                assert!(
                    whole && v.report.ok() && v.report.total == n,
                    "list rejected"
                );
                v.report
            })
        });
    }
    g.finish();

    // Not part of verifying a quote (Keylime does not time it either): loading the policy.
    let mut g = c.benchmark_group("ima_policy");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(input.policy.len() as u64));
    g.bench_function(BenchmarkId::new("from_json", n), |b| {
        b.iter(|| RuntimePolicy::from_json(&input.policy).expect("policy loads"))
    });
    g.finish();
}

criterion_group!(benches, ima);
criterion_main!(benches);
