//! `palisade-event-bench`: latency from an nftables commit to the agent's PCR extend for it,
//! against a real agent, swtpm and kernel.
//!
//! A host runs the agent with the default fallback poll (30 s), so every measurement here is
//! event-driven. Per sample, a separate `nft` process commits one change inside the host
//! (alternately adding and deleting a set element, so the ruleset keeps its size). The bench
//! holds its own `NFNLGRP_NFTABLES` subscription in the host: the commit time is when that
//! subscription receives the NEWGEN (microseconds after the kernel committed). The extend time is
//! the timestamp of the agent's `measured seq=N` log line, written right after the PCR extend
//! returned and the entry became current. Both are the same machine's wall clock.
//!
//! At the end it pulls the agent's log and checks every sample's entry names the generation and
//! the `nft` process that made it.
//!
//! Then bursts: a shell loop of [`BURST`] separate `nft` commits, [`BURSTS`] times; reported are
//! the entries each burst became and the latency from the burst's last commit to the extend of
//! the entry at its generation. Then the network configuration: per sample a separate `ip`
//! process adds or deletes a route; the change time is when the bench's own rtnetlink
//! subscription in the host receives the notification, the extend time the agent's
//! `measured seq=N` line as above.
//!
//! Usage: `palisade-event-bench [SAMPLES]` (default 100). Prints median / p90 / p99 / max in ms.
#![forbid(unsafe_code)]
#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing by key never panics"
)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, ensure, Context as _, Result};
use palisade_collectors::network::NetworkEvents;
use palisade_collectors::nftables::events::{NftEvent, NftEvents};
use palisade_collectors::NetNs;
use palisade_evidence::log::kind;
use palisade_integration::palisade::{agent_config, fetch_evidence, Verifier, BASELINE_RULESET};
use palisade_integration::{bin, require_root_tools, Host, Proc};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const WARMUP: usize = 5;
/// Commits per burst.
const BURST: usize = 50;
/// Bursts measured.
const BURSTS: usize = 10;

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name:<16} n={:<5} median {:>7.3} ms   p90 {:>7.3} ms   p99 {:>7.3} ms   max {:>7.3} ms",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// Starts the agent in `host` with the default 30 s fallback poll.
fn start_agent(host: &Host, verifier: &Verifier) -> Result<Proc> {
    let path = agent_config(host, verifier, "")?;
    let text = std::fs::read_to_string(&path)?;
    let patched = text.replace("measure_interval_ms = 200", "measure_interval_ms = 30000");
    ensure!(
        text != patched,
        "the harness's agent configuration changed shape"
    );
    std::fs::write(&path, patched)?;
    let config = path.display().to_string();
    let agent = host.spawn(
        "agent",
        &bin("palisade-agent")?,
        &["-c", &config],
        &[("PALISADE_LOG", "info")],
    )?;
    agent.wait_for_log("enrolled with the verifier", Duration::from_secs(60))?;
    Ok(agent)
}

/// Runs `nft ARGS…` inside `host` as its own process; returns its pid.
fn nft(host: &Host, args: &[&str]) -> Result<u32> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", host.netns(), "nft"])
        .args(args)
        .spawn()?;
    let pid = child.id();
    ensure!(child.wait()?.success(), "nft {args:?} failed");
    Ok(pid)
}

/// The time of the agent's `measured seq=SEQ` log line, once it is there.
fn measured_at(agent: &Proc, seq: u64, timeout: Duration) -> Result<SystemTime> {
    let needle = format!(" measured seq={seq} ");
    let deadline = Instant::now() + timeout;
    loop {
        let log = agent.log();
        if let Some(line) = log.lines().find(|l| l.contains(&needle)) {
            let stamp = line.split_whitespace().next().unwrap_or_default();
            let t = OffsetDateTime::parse(stamp, &Rfc3339)
                .with_context(|| format!("timestamp of {line:?}"))?;
            return Ok(t.into());
        }
        if Instant::now() > deadline {
            bail!(
                "no `measured seq={seq}` in the agent log; tail:\n{}",
                agent.log_tail()
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100);
    require_root_tools()?;
    let host = Host::create("evbench")?;
    host.nft(BASELINE_RULESET)?;
    host.nft("table inet bench { set ports { type inet_service; }; }")?;
    let verifier = Verifier::start(&[host.gateway_ip()], Duration::from_secs(3600))?;
    let agent = start_agent(&host, &verifier)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = verifier.agent_client(&host)?;
    let log_len = |runtime: &tokio::runtime::Runtime| -> Result<u64> {
        let ev = runtime.block_on(fetch_evidence(&client, &host, &[0; 20], 0))?;
        Ok(u64::try_from(ev.log.entries.len())?)
    };
    let first_seq = log_len(&runtime)?;
    let mut events = NftEvents::subscribe(&NetNs::named(host.netns()))?;

    let mut latencies = Vec::with_capacity(n);
    let mut expected: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    for i in 0..n + WARMUP {
        let seq = first_seq + u64::try_from(i)?;
        let element = format!("{{ {} }}", 10_000 + i / 2);
        let verb = if i % 2 == 0 { "add" } else { "delete" };
        let pid = nft(
            &host,
            &[verb, "element", "inet", "bench", "ports", element.as_str()],
        )?;
        let (generation, committed) = match events.next_timeout(Duration::from_secs(5))? {
            Some(NftEvent::Committed {
                generation, pid: p, ..
            }) if p == pid => (generation, SystemTime::now()),
            other => bail!("expected the commit of pid {pid}, got {other:?}"),
        };
        let extended = measured_at(&agent, seq, Duration::from_secs(10))?;
        let latency = extended.duration_since(committed).unwrap_or(Duration::ZERO);
        expected.insert(seq, (generation, pid));
        if i >= WARMUP {
            latencies.push(latency);
        }
        // Keep samples apart, so each is its own burst.
        std::thread::sleep(Duration::from_millis(30));
    }

    // Attribution: every sample's entry names its generation and writer.
    let evidence = runtime.block_on(fetch_evidence(&client, &host, &[3; 20], first_seq))?;
    for entry in &evidence.log.entries {
        let Some((generation, pid)) = expected.get(&entry.seq) else {
            continue;
        };
        let a = &entry.annotations;
        ensure!(
            a.cause.as_deref() == Some("nfnetlink")
                && a.generation == Some(*generation)
                && a.writer.as_ref().map(|w| (w.pid, w.comm.as_str())) == Some((*pid, "nft")),
            "entry {} is not attributed to generation {generation} / pid {pid}: {a:?}",
            entry.seq
        );
    }
    ensure!(
        u64::try_from(evidence.log.entries.len())? == u64::try_from(n + WARMUP)?,
        "expected one entry per change, got {}",
        evidence.log.entries.len()
    );

    println!(
        "nftables commit -> PCR extend, event-driven (fallback poll 30 s), swtpm, {n} samples \
         ({WARMUP} warm-up), all entries attributed to the right generation and pid:"
    );
    summary("commit->extend", latencies);

    bursts(&host, &agent, &runtime, &client, &mut events)?;
    drop(events);
    network(&host, &agent, &runtime, &client, n)?;
    Ok(())
}

/// The agent's log length, pulled as the verifier does.
fn log_len(
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    host: &Host,
) -> Result<u64> {
    let ev = runtime.block_on(fetch_evidence(client, host, &[0; 20], 0))?;
    Ok(u64::try_from(ev.log.entries.len())?)
}

/// [`BURSTS`] shell loops of [`BURST`] `nft` commits each: entries per burst and last commit →
/// extend of the entry at the burst's last generation.
fn bursts(
    host: &Host,
    agent: &Proc,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    events: &mut NftEvents,
) -> Result<()> {
    let mut latencies = Vec::with_capacity(BURSTS);
    let mut entries_per_burst = Vec::with_capacity(BURSTS);
    for b in 0..BURSTS {
        let before = log_len(runtime, client, host)?;
        let verb = if b % 2 == 0 { "add" } else { "delete" };
        let script = format!(
            "for p in $(seq 20001 {}); do nft {verb} element inet bench ports \"{{ $p }}\" || exit 1; done",
            20_000 + BURST
        );
        let status = Command::new("ip")
            .args(["netns", "exec", host.netns(), "sh", "-c", &script])
            .status()?;
        ensure!(status.success(), "burst {b} failed");
        let (mut seen, mut last, mut first) = (0, (0, SystemTime::now()), 0);
        while seen < BURST {
            match events.next_timeout(Duration::from_secs(5))? {
                Some(NftEvent::Committed { generation, .. }) => {
                    if seen == 0 {
                        first = generation;
                    }
                    seen += 1;
                    last = (generation, SystemTime::now());
                }
                other => bail!("burst {b}: expected {BURST} commits, got {other:?} after {seen}"),
            }
        }
        // The entry at the last generation, and how many entries the burst became.
        let deadline = Instant::now() + Duration::from_secs(10);
        let (seq, count) = loop {
            let ev = runtime.block_on(fetch_evidence(client, host, &[5; 20], before))?;
            let mine: Vec<_> = ev
                .log
                .entries
                .iter()
                .filter(|e| e.kind == kind::NFTABLES)
                .collect();
            if let Some(e) = mine
                .iter()
                .find(|e| e.annotations.generation == Some(last.0))
            {
                break (e.seq, mine.len());
            }
            // The agent appends nothing when a re-measurement equals the current entry: if an
            // earlier window of the burst already listed the final ruleset, the last window's
            // measurement is a no-op and the newest entry (an earlier generation) covers it.
            if Instant::now() + Duration::from_secs(8) > deadline {
                if let Some(e) = mine.iter().rev().find(|e| {
                    e.annotations
                        .generation
                        .is_some_and(|g| g >= first && g <= last.0)
                }) {
                    break (e.seq, mine.len());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "burst {b}: no entry at generation {}",
                last.0
            );
            std::thread::sleep(Duration::from_millis(2));
        };
        let extended = measured_at(agent, seq, Duration::from_secs(10))?;
        latencies.push(extended.duration_since(last.1).unwrap_or(Duration::ZERO));
        entries_per_burst.push(count);
        std::thread::sleep(Duration::from_millis(100));
    }
    entries_per_burst.sort_unstable();
    println!(
        "bursts of {BURST} nft commits (separate processes, shell loop), {BURSTS} bursts: \
         entries per burst min {} median {} max {}; last commit -> extend of its entry:",
        entries_per_burst.first().copied().unwrap_or_default(),
        entries_per_burst
            .get(BURSTS / 2)
            .copied()
            .unwrap_or_default(),
        entries_per_burst.last().copied().unwrap_or_default(),
    );
    summary("burst-end->extend", latencies);
    Ok(())
}

/// Waits for the next rtnetlink notification on `events` (non-blocking socket).
fn next_network_event(events: &mut NetworkEvents, timeout: Duration) -> Result<SystemTime> {
    let deadline = Instant::now() + timeout;
    loop {
        if events.try_next()?.is_some() {
            return Ok(SystemTime::now());
        }
        ensure!(Instant::now() < deadline, "no rtnetlink notification");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Route added / deleted by a separate `ip` process → extend of the `network` entry.
fn network(
    host: &Host,
    agent: &Proc,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    n: usize,
) -> Result<()> {
    let mut events = NetworkEvents::subscribe(&NetNs::named(host.netns()))?;
    events.set_nonblocking(true)?;
    let mut latencies = Vec::with_capacity(n);
    let first_seq = log_len(runtime, client, host)?;
    for i in 0..n + WARMUP {
        let seq = first_seq + u64::try_from(i)?;
        let verb = if i % 2 == 0 { "add" } else { "del" };
        let route = format!("203.0.113.{}/32", 1 + (i / 2) % 250);
        let status = Command::new("ip")
            .args(["-n", host.netns(), "route", verb, "blackhole", &route])
            .status()?;
        ensure!(status.success(), "ip route {verb} {route} failed");
        let changed = next_network_event(&mut events, Duration::from_secs(5))?;
        let extended = measured_at(agent, seq, Duration::from_secs(10))?;
        while events.try_next()?.is_some() {}
        if i >= WARMUP {
            latencies.push(extended.duration_since(changed).unwrap_or(Duration::ZERO));
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    let evidence = runtime.block_on(fetch_evidence(client, host, &[6; 20], first_seq))?;
    ensure!(
        evidence.log.entries.iter().all(|e| e.kind == kind::NETWORK
            && e.annotations.cause.as_deref() == Some("rtnetlink")),
        "every entry of the network run is a network entry caused by rtnetlink"
    );
    ensure!(
        evidence.log.entries.len() == n + WARMUP,
        "expected one network entry per route change, got {}",
        evidence.log.entries.len()
    );
    println!(
        "route change (ip route add/del) -> PCR extend, event-driven, {n} samples ({WARMUP} warm-up), \
         includes the network coalescing window (25 ms):"
    );
    summary("route->extend", latencies);
    Ok(())
}
