//! `palisade-runtime-bench`: what palisade's eBPF programs cost the host, and what the agent
//! costs while nothing happens.
//!
//! `storm` runs syscall-heavy workloads with and without the programs attached (the monitor in
//! this process, its ring buffer drained by a thread, as the agent does), `ROUNDS` times in ABBA
//! order, and reports medians and the overhead in wall time and in CPU time (this process and
//! its children, user + system; steal time excluded): the median of the rounds' paired ratios,
//! which cancels the machine's slow drift, with a bootstrap 95 % confidence interval of it.
//! - `exec`: N short processes (`/bin/true`, spawned and waited for): `sched_process_exec`, and
//!   the syscall tracepoints' toll on every syscall;
//! - `socket`: 10·N UDP sockets created, bound and closed: `sys_enter_socket`, `sys_enter_bind`;
//! - `sendto`: 10·N UDP datagrams to loopback: `sys_enter_sendto` (the netlink check);
//! - `syscall`: 100·N `getpid(2)`: the toll alone, which any `sys_enter_*` tracepoint puts on
//!   every syscall of every process (the kernel's slow syscall path).
//!
//! `PALISADE_BENCH_SKIP=prog,prog` leaves those programs unattached, to find what costs what.
//! `PALISADE_BENCH_STATS=1` turns on the kernel's BPF run-time accounting while attached and
//! prints each program's runs and time per operation (the accounting adds two clock reads per
//! program run, so the overhead columns of such a run are slightly pessimistic).
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
use palisade_ebpf::{Monitor, Options, RunTimeStats};
use palisade_integration::palisade::{start_agent_with, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, Host};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    median_of(&v)
}

/// The middle element of a sorted slice (the default value for an empty one).
fn median_of<T: Copy + Default>(sorted: &[T]) -> T {
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// Spawns and waits for `n` short processes, from this process.
fn exec_loop(n: usize) -> Result<()> {
    for _ in 0..n {
        let ok = Command::new("/bin/true").status()?;
        if !ok.success() {
            bail!("/bin/true failed");
        }
    }
    Ok(())
}

/// `exec_loop` in a child process of its own, as on a real host the workload and the agent are
/// separate processes (the monitor's memory and threads stay out of the workload's process).
fn exec_storm(n: usize) -> Result<Duration> {
    let t = Instant::now();
    let status = Command::new(std::env::current_exe()?)
        .args(["exec-loop", &n.to_string()])
        .status()?;
    if !status.success() {
        bail!("exec-loop failed: {status}");
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

fn syscall_storm(n: usize) -> Result<Duration> {
    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..n * 100 {
        sum = sum.wrapping_add(u64::from(std::process::id())); // getpid(2), not cached
    }
    std::hint::black_box(sum);
    Ok(t.elapsed())
}

/// What the attached programs did: events read, and each program's runs and kernel run time.
struct Cost {
    events: u64,
    programs: Vec<(String, u64, Duration)>,
}

/// The monitor with a thread draining its ring buffer, until dropped.
struct Attached {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Cost>>,
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
        // The kernel's run-time accounting adds two clock reads per program run: opt-in.
        let stats = if std::env::var_os("PALISADE_BENCH_STATS").is_some() {
            Some(RunTimeStats::enable().context("BPF run-time statistics")?)
        } else {
            None
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen = 0u64;
            while !flag.load(Ordering::Relaxed) {
                if monitor.wait(Duration::from_millis(50)).unwrap_or(false) {
                    seen += monitor.drain(4096).events.len() as u64;
                }
            }
            drop(stats);
            Cost {
                events: seen,
                programs: monitor.program_costs(),
            }
        });
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) -> Result<Cost> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.take().context("stopped twice")?;
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("drain thread panicked"))
    }
}

/// One timed run: wall time, and the CPU time (user + system) this process and its children
/// used. CPU time leaves out the time the hypervisor took the vCPU away (steal), which wall
/// time includes.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
}

fn cpu_used() -> Result<Duration> {
    use nix::sys::resource::{getrusage, UsageWho};
    let mut total = Duration::ZERO;
    for who in [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN] {
        let u = getrusage(who)?;
        for t in [u.user_time(), u.system_time()] {
            total += Duration::from_secs(t.tv_sec().try_into()?)
                + Duration::from_micros(t.tv_usec().try_into()?);
        }
    }
    Ok(total)
}

fn measure(run: fn(usize) -> Result<Duration>, n: usize) -> Result<Sample> {
    let before = cpu_used()?;
    let wall = run(n)?;
    Ok(Sample {
        wall,
        cpu: cpu_used()?.saturating_sub(before),
    })
}

/// The paired ratios `on[i] / off[i] − 1`, in %, sorted.
fn paired_ratios(off: &[Duration], on: &[Duration]) -> Vec<f64> {
    let mut r: Vec<f64> = off
        .iter()
        .zip(on)
        .map(|(a, b)| (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0)
        .collect();
    r.sort_by(f64::total_cmp);
    r
}

/// A 95 % confidence interval of the median of `sorted`: percentile bootstrap, 2,000
/// resamples, a fixed-seed xorshift so that a run is reproducible from its samples.
fn median_ci(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut medians = Vec::with_capacity(2000);
    let mut sample = vec![0.0; n];
    for _ in 0..2000 {
        for x in &mut sample {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *x = sorted
                .get((state % n as u64) as usize)
                .copied()
                .unwrap_or(0.0);
        }
        sample.sort_by(f64::total_cmp);
        medians.push(median_of(&sample));
    }
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians.get((q * 2000.0) as usize).copied().unwrap_or(0.0);
    (at(0.025), at(0.975))
}

/// The overhead: the median of the paired ratios with its 95 % interval, as a table cell.
fn overhead_cell(off: &[Duration], on: &[Duration]) -> String {
    let r = paired_ratios(off, on);
    let (lo, hi) = median_ci(&r);
    format!("{:+.2}% [{lo:+.2}, {hi:+.2}]", median_of(&r))
}

/// Runs a workload `rounds` times without and with the programs (ABBA order, so a slow drift of
/// the machine adds as much to one side as to the other); also sums what each program cost.
fn rounds_of(
    run: fn(usize) -> Result<Duration>,
    n: usize,
    rounds: usize,
) -> Result<(Vec<Sample>, Vec<Sample>, Cost)> {
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let mut total = Cost {
        events: 0,
        programs: Vec::new(),
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            off.push(measure(run, n)?);
        }
        let attached = Attached::start()?;
        on.push(measure(run, n)?);
        let cost = attached.stop()?;
        total.events += cost.events;
        for (name, runs, time) in cost.programs {
            match total.programs.iter_mut().find(|(p, _, _)| *p == name) {
                Some(p) => (p.1, p.2) = (p.1 + runs, p.2 + time),
                None => total.programs.push((name, runs, time)),
            }
        }
        if round % 2 == 1 {
            off.push(measure(run, n)?);
        }
    }
    Ok((off, on, total))
}

fn storm(n: usize, rounds: usize, only: Option<&str>) -> Result<()> {
    type Workload = fn(usize) -> Result<Duration>;
    let workloads: [(&str, Workload, usize); 4] = [
        ("exec", exec_storm, 1),
        ("socket", socket_storm, 10),
        ("sendto", sendto_storm, 10),
        ("syscall", syscall_storm, 100),
    ];
    println!(
        "| workload | operations | without programs (median) | with programs (median) | overhead, wall time (paired median [95 % CI]) | overhead, CPU time (paired median [95 % CI]) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, run, ops_per_n) in workloads {
        if only.is_some_and(|w| w != name) {
            continue;
        }
        run(n / 10)?; // warm caches and the page cache of /bin/true
        let (off, on, cost) = rounds_of(run, n, rounds)?;
        let wall = |v: &[Sample]| v.iter().map(|s| s.wall).collect::<Vec<_>>();
        let cpu = |v: &[Sample]| v.iter().map(|s| s.cpu).collect::<Vec<_>>();
        let w = overhead_cell(&wall(&off), &wall(&on));
        let c = overhead_cell(&cpu(&off), &cpu(&on));
        let ops = n * ops_per_n;
        let per_op = |v: &[Sample]| median(wall(v)).as_secs_f64() * 1e6 / ops as f64;
        println!(
            "| {name} | {ops} | {:.2} µs/op | {:.2} µs/op | {w} | {c} |",
            per_op(&off),
            per_op(&on),
        );
        eprintln!("{name}: {} events read while attached", cost.events);
        let all_ops = (ops * rounds) as f64;
        for (program, runs, time) in cost.programs.iter().filter(|(_, runs, _)| *runs > 0) {
            eprintln!(
                "{name}: {program}: {:.2} runs/op, {:.1} ns/op in the program ({:.0} ns/run)",
                *runs as f64 / all_ops,
                time.as_nanos() as f64 / all_ops,
                time.as_nanos() as f64 / *runs as f64,
            );
        }
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
        Some("exec-loop") => exec_loop(usize::try_from(num(1, 1)?)?),
        _ => bail!("usage: palisade-runtime-bench storm [N] [ROUNDS] [exec|socket|sendto|syscall] | idle [SECONDS]"),
    }
}
