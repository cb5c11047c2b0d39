//! `palisade-runtime-bench`: what palisade's eBPF programs cost the host, and what the agent
//! costs while nothing happens.
//!
//! `storm` runs syscall-heavy workloads with and without the programs attached (the monitor in
//! this process, its ring buffer drained by a thread, as the agent does), alternating
//! `ROUNDS` times, and reports medians and the overhead (the median of the rounds' paired
//! ratios, which cancels the machine's slow drift; the spread is their interquartile range):
//! - `exec`: N short processes (`/bin/true`, spawned and waited for): `sched_process_exec`, and
//!   the syscall tracepoints' toll on every syscall;
//! - `socket`: 10·N UDP sockets created, bound and closed: `sys_enter_socket`, `sys_enter_bind`;
//! - `sendto`: 10·N UDP datagrams to loopback: `sys_enter_sendto` (the netlink check).
//!
//! `PALISADE_BENCH_SKIP=prog,prog` leaves those programs unattached, to find what costs what.
//!
//! `idle` starts a host (network namespace, swtpm, nftables baseline), a verifier and the real
//! agent with its eBPF monitor, waits for it to settle, then samples the agent's resident memory
//! and CPU time over `SECONDS` of quiet.
//!
//! Usage (root, release build): `palisade-runtime-bench storm [N] [ROUNDS] [WORKLOAD]`
//! (default 20000 7, every workload),
//! `palisade-runtime-bench idle [SECONDS]` (default 60).
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its results")]

use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use palisade_ebpf::{Monitor, Options};
use palisade_integration::palisade::{start_agent_with, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, Host};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn exec_storm(n: usize) -> Result<Duration> {
    let t = Instant::now();
    for _ in 0..n {
        let ok = Command::new("/bin/true").status()?;
        if !ok.success() {
            bail!("/bin/true failed");
        }
    }
    Ok(t.elapsed())
}

fn socket_storm(n: usize) -> Result<Duration> {
    let t = Instant::now();
    for _ in 0..n * 10 {
        drop(UdpSocket::bind("127.0.0.1:0")?);
    }
    Ok(t.elapsed())
}

fn sendto_storm(n: usize) -> Result<Duration> {
    let rx = UdpSocket::bind("127.0.0.1:0")?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let to = rx.local_addr()?;
    rx.set_nonblocking(true)?;
    let mut buf = [0u8; 64];
    let t = Instant::now();
    for i in 0..n * 10 {
        tx.send_to(&[7u8; 32], to)?;
        if i % 64 == 0 {
            while rx.recv(&mut buf).is_ok() {}
        }
    }
    Ok(t.elapsed())
}

/// The monitor with a thread draining its ring buffer, until dropped.
struct Attached {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Attached {
    fn start() -> Result<Self> {
        let skip = std::env::var("PALISADE_BENCH_SKIP").unwrap_or_default();
        let options = Options {
            skip: skip
                .split(',')
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
            ..Options::default()
        };
        let mut monitor = Monitor::start(&options).context("starting the monitor")?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = 0u64;
            while !flag.load(Ordering::Relaxed) {
                if monitor.wait(Duration::from_millis(50)).unwrap_or(false) {
                    seen += monitor.drain(4096).events.len() as u64;
                }
            }
            seen
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

/// The median of the paired ratios `on[i] / off[i] − 1` and their interquartile range, in %.
fn paired_overhead(off: &[Duration], on: &[Duration]) -> (f64, f64) {
    let mut r: Vec<f64> = off
        .iter()
        .zip(on)
        .map(|(a, b)| (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0)
        .collect();
    r.sort_by(f64::total_cmp);
    let at = |q: usize| r.get(r.len() * q / 4).copied().unwrap_or(0.0);
    (at(2), at(3) - at(1))
}

fn storm(n: usize, rounds: usize, only: Option<&str>) -> Result<()> {
    type Workload = fn(usize) -> Result<Duration>;
    let workloads: [(&str, Workload, usize); 3] = [
        ("exec", exec_storm, n),
        ("socket", socket_storm, n),
        ("sendto", sendto_storm, n),
    ];
    println!(
        "| workload | operations | without programs (median) | with programs (median) | overhead (paired median) | spread (IQR) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, run, n) in workloads {
        if only.is_some_and(|w| w != name) {
            continue;
        }
        run(n / 10)?; // warm caches and the page cache of /bin/true
        let (mut off, mut on) = (Vec::new(), Vec::new());
        let mut events = 0;
        for _ in 0..rounds {
            off.push(run(n)?);
            let attached = Attached::start()?;
            on.push(run(n)?);
            events += attached.stop();
        }
        let (overhead, spread) = paired_overhead(&off, &on);
        let (off, on) = (median(off), median(on));
        let ops = if name == "exec" { n } else { n * 10 };
        println!(
            "| {name} | {ops} | {:.1} ms ({:.2} µs/op) | {:.1} ms ({:.2} µs/op) | {overhead:+.2}% | {spread:.2} pt |",
            off.as_secs_f64() * 1e3,
            off.as_secs_f64() * 1e6 / ops as f64,
            on.as_secs_f64() * 1e3,
            on.as_secs_f64() * 1e6 / ops as f64,
        );
        eprintln!("{name}: {events} events read while attached");
    }
    Ok(())
}

fn proc_stat(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmRSS")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit(')').next().context("stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // Fields after the command: state is 0, utime 11, stime 12 (clock ticks).
    Ok((rss, ticks(11) + ticks(12)))
}

fn idle(seconds: u64) -> Result<()> {
    require_root_tools()?;
    let host = Host::create("rtidle")?;
    host.nft(BASELINE_RULESET)?;
    let verifier = Verifier::start(&[host.gateway_ip()], Duration::from_secs(3600))?;
    let agent = start_agent_with(
        &host,
        &verifier,
        "measure_interval_ms = 30000\nruntime.enabled = true",
    )?;
    let pid = agent.pid();
    std::thread::sleep(Duration::from_secs(5));
    let (rss0, cpu0) = proc_stat(pid)?;
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let (rss1, cpu1) = proc_stat(pid)?;
    let hz = 100.0; // USER_HZ on Linux
    let cpu = (cpu1 - cpu0) as f64 / hz;
    println!(
        "agent idle over {:.0} s: RSS {rss0} KiB → {rss1} KiB, CPU {cpu:.2} s ({:.3}% of one core)",
        t.elapsed().as_secs_f64(),
        cpu / t.elapsed().as_secs_f64() * 100.0
    );
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, default: u64| -> Result<u64> {
        args.get(i)
            .map_or(Ok(default), |a| a.parse().context("a number"))
    };
    match args.first().map(String::as_str) {
        Some("storm") => storm(
            usize::try_from(num(1, 20_000)?)?,
            usize::try_from(num(2, 7)?)?,
            args.get(3).map(String::as_str),
        ),
        Some("idle") => idle(num(1, 60)?),
        _ => bail!("usage: palisade-runtime-bench storm [N] [ROUNDS] [exec|socket|sendto] | idle [SECONDS]"),
    }
}
