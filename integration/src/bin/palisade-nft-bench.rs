//! `palisade-nft-bench`: the cost of measuring an nftables ruleset, split into nft's part (the
//! floor: `nft -j list ruleset`, which the agent cannot avoid) and ours (parse + canonical
//! document + SHA-256 + per-table digests + exposure), at 1k, 10k and 100k rules
//! (`palisade_firewall::testing::generate`) loaded into a throwaway network namespace.
//!
//! Wall times are medians of several runs. Memory is measured in fresh child processes (this
//! binary re-executed), so nothing else shares the numbers:
//! - nft: `ru_maxrss` of the `nft -j list ruleset` grandchild (`getrusage(RUSAGE_CHILDREN)` in a
//!   child that only ran nft);
//! - ours: the child reads the listing into memory, resets its peak (`/proc/self/clear_refs` ← 5),
//!   runs our part, and reports `VmHWM` − `VmRSS` before the run, i.e. the peak memory our part
//!   adds on top of holding the listing.
//!
//! Usage (root, release build): `palisade-nft-bench [RULES…]` (default 1000 10000 100000).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use palisade_collectors::nftables::NftReader;
use palisade_collectors::NetNs;

/// Runs of each timed part, by ruleset size.
fn runs(rules: usize) -> usize {
    if rules >= 100_000 {
        5
    } else {
        9
    }
}

/// A network namespace deleted on drop.
struct Ns(String);

impl Ns {
    fn new(rules: usize) -> Result<Self> {
        let name = format!("palnftbench-{}-{rules}", std::process::id());
        let ok = Command::new("ip").args(["netns", "add", &name]).status()?;
        ensure!(ok.success(), "ip netns add {name}");
        Ok(Self(name))
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The splits of our part, one run.
#[derive(Default, Clone, Copy)]
struct Ours {
    parse: Duration,
    canonical: Duration,
    tables: Duration,
    exposure: Duration,
}

impl Ours {
    fn total(&self) -> Duration {
        self.parse + self.canonical + self.tables + self.exposure
    }
}

/// Parse + canonical document and digest + per-table digests + exposure, timed.
fn our_part(json: &[u8]) -> Result<(Ours, usize)> {
    let t0 = Instant::now();
    let ruleset = palisade_firewall::from_nft_json(json)?;
    let t1 = Instant::now();
    let doc = ruleset.canonical()?;
    let t2 = Instant::now();
    let tables = ruleset.table_digests()?;
    let t3 = Instant::now();
    let exposure = palisade_firewall::exposure::exposure(&ruleset);
    let t4 = Instant::now();
    std::hint::black_box((&doc.digest(), &tables, &exposure));
    Ok((
        Ours {
            parse: t1 - t0,
            canonical: t2 - t1,
            tables: t3 - t2,
            exposure: t4 - t3,
        },
        doc.as_bytes().len(),
    ))
}

fn status_kib(field: &str) -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .with_context(|| format!("no {field} in /proc/self/status"))?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("bad line {line:?}"))?;
    Ok(kib.parse()?)
}

/// Child mode `--ours FILE`: prints `<peak KiB added> <listing KiB>`.
fn child_ours(path: &str) -> Result<()> {
    let json = std::fs::read(path)?;
    std::fs::write("/proc/self/clear_refs", "5").context("reset VmHWM")?;
    let before = status_kib("VmRSS:")?;
    our_part(&json)?;
    let peak = status_kib("VmHWM:")?;
    println!("{} {}", peak.saturating_sub(before), json.len() / 1024);
    Ok(())
}

/// Child mode `--nft NETNS`: runs the listing once, prints nft's `ru_maxrss` in KiB.
fn child_nft(netns: &str) -> Result<()> {
    NftReader::default().list_ruleset_json(&NetNs::named(netns))?;
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    println!("{}", usage.max_rss());
    Ok(())
}

fn child(args: &[&str]) -> Result<String> {
    let out = Command::new(std::env::current_exe()?)
        .args(args)
        .stderr(Stdio::inherit())
        .output()?;
    ensure!(out.status.success(), "child {args:?} failed");
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn load(ns: &Ns, script: &str) -> Result<()> {
    let mut nft = Command::new("ip")
        .args(["netns", "exec", &ns.0, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .spawn()?;
    nft.stdin
        .take()
        .context("nft stdin")?
        .write_all(script.as_bytes())?;
    ensure!(nft.wait()?.success(), "nft -f failed");
    Ok(())
}

fn bench(rules: usize) -> Result<()> {
    let ns = Ns::new(rules)?;
    load(&ns, &palisade_firewall::testing::generate(rules))?;
    let netns = NetNs::named(&ns.0);
    let reader = NftReader::default();
    let mut json = Vec::new();
    let mut listing = Vec::new();
    for _ in 0..runs(rules) {
        let t = Instant::now();
        json = reader.list_ruleset_json(&netns)?;
        listing.push(t.elapsed());
    }
    let mut ours = Vec::new();
    let mut doc_len = 0;
    for _ in 0..runs(rules) {
        let (o, len) = our_part(&json)?;
        ours.push(o);
        doc_len = len;
    }
    let pick = |f: fn(&Ours) -> Duration| median(ours.iter().map(f).collect());
    let (floor, total) = (median(listing), pick(Ours::total));
    let file = std::env::temp_dir().join(format!("palisade-nft-bench-{rules}.json"));
    std::fs::write(&file, &json)?;
    let mem = child(&["--ours", &file.to_string_lossy()])?;
    let _ = std::fs::remove_file(&file);
    let nft_rss = child(&["--nft", &ns.0])?;
    let mut mem = mem.split_whitespace();
    let (peak, listing_kib) = (mem.next().unwrap_or("?"), mem.next().unwrap_or("?"));
    println!(
        "| {rules} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | **{:.1}%** | {} | {} | {} | {} |",
        ms(floor),
        ms(pick(|o| o.parse)),
        ms(pick(|o| o.canonical)),
        ms(pick(|o| o.tables)),
        ms(pick(|o| o.exposure)),
        ms(total),
        100.0 * total.as_secs_f64() / floor.as_secs_f64(),
        listing_kib,
        doc_len / 1024,
        nft_rss,
        peak,
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["--ours", path] => return child_ours(path),
        ["--nft", netns] => return child_nft(netns),
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("needs root (network namespaces)");
    }
    let sizes: Vec<usize> = if args.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        args.iter().map(|a| a.parse()).collect::<Result<_, _>>()?
    };
    println!("| rules | nft -j list (ms) | parse | canonical+SHA-256 | table digests | exposure | ours total (ms) | ours / nft | listing KiB | document KiB | nft maxrss KiB | ours peak added KiB |");
    println!(
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for rules in sizes {
        bench(rules)?;
    }
    Ok(())
}
