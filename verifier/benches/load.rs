//! Load harness: the real verifier pipeline (scheduler, pinned mTLS clients, quote and log
//! checks, policy, SQLite store with durable records) against N TEST-ONLY simulated agents
//! (software P-256 AKs from `palisade_evidence::testing`, served by a child process over HTTPS).
//! Reports attestations per second, verifier CPU per attestation (attestations per verifier
//! core-second) and the latency distribution. Never part of a deployment: it exists only as a
//! bench target.
//!
//! `cargo bench -p palisade-verifier --bench load -- [AGENTS] [SECONDS] [INTERVAL_MS]`

#[path = "load/agents.rs"]
mod agents;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use palisade_cluster_policy::{library, Limits};
use palisade_evidence::testing::SoftTpm;
use palisade_evidence::wire::RegisterRequest;
use palisade_transport::pki::{self, PemPair, Usage};
use palisade_verifier::agents::AgentClients;
use palisade_verifier::attest::Context;
use palisade_verifier::audit::key::RecordKey;
use palisade_verifier::metrics::Metrics;
use palisade_verifier::scheduler::{Cadence, Scheduler};
use palisade_verifier::store::Store;
use sqlx::Row as _;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let Some(("agents", rest)) = args.split_first().map(|(a, r)| (a.as_str(), r)) {
        return agents::serve(rest);
    }
    let n: usize = args.first().map_or(Ok(1000), |a| a.parse())?;
    let seconds: u64 = args.get(1).map_or(Ok(30), |a| a.parse())?;
    let interval_ms: u64 = args.get(2).map_or(Ok(2000), |a| a.parse())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(
            n,
            Duration::from_secs(seconds),
            Duration::from_millis(interval_ms),
        ))
}

async fn run(n: usize, window: Duration, interval: Duration) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ca = pki::new_ca("load-ca")?;
    let client = pki::issue(&ca, "verifier", &[], Usage::Client)?;
    let server = pki::self_signed_server("sim-agents", &["127.0.0.1".to_owned()])?;
    server.write(dir.path(), "server")?;
    ca.write(dir.path(), "ca")?;
    let port = free_port()?;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["agents", &n.to_string(), &port.to_string()])
        .arg(dir.path())
        .spawn()
        .context("starting the simulated agents")?;
    let result = measure(n, window, interval, dir.path(), port, &client, &server).await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

async fn measure(
    n: usize,
    window: Duration,
    interval: Duration,
    dir: &Path,
    port: u16,
    client: &PemPair,
    server: &PemPair,
) -> anyhow::Result<()> {
    // `PALISADE_BENCH_DATABASE=postgres://…` measures on a PostgreSQL server instead.
    let url = std::env::var("PALISADE_BENCH_DATABASE")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("palisade.db").display()));
    let store = Store::open(&url).await?;
    let started = Instant::now();
    enrol(&store, n, port, &server.cert).await?;
    eprintln!(
        "enrolled {n} agents in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    wait_for_port(port).await?;
    let policy = Arc::new(library::foundation(Limits::default())?);
    store
        .save_policy(policy.reference(), policy.modules())
        .await?;
    let ctx = Arc::new(Context {
        host_logs: Default::default(),
        store,
        policy,
        clients: AgentClients::new(client.clone(), Duration::from_secs(10)),
        exposures: Arc::default(),
        records: Arc::new(RecordKey::generate()),
        metrics: Metrics::default(),
        live: Default::default(),
        verdicts: Default::default(),
        cluster: None,
    });
    let scheduler = Scheduler::new(ctx.clone(), 64);
    tokio::spawn(scheduler.run(Cadence::new(interval, interval)));
    // Warm-up: every agent's first (full-log) attestation, then steady state.
    let warm = Instant::now();
    while count(&url, 0).await? < n as i64 {
        if warm.elapsed() > Duration::from_secs(600) {
            bail!("warm-up did not finish");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "warm-up (first attestation of each agent) took {:.1} s",
        warm.elapsed().as_secs_f64()
    );
    let first_id = max_id(&url).await?;
    let cpu0 = cpu_seconds()?;
    let t0 = Instant::now();
    tokio::time::sleep(window).await;
    let cpu = cpu_seconds()? - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    report(&url, first_id, n, wall, cpu, interval).await
}

/// Registers and activates `n` agents directly in the store (the registrar's MakeCredential
/// round trip is not what this harness measures).
async fn enrol(store: &Store, n: usize, port: u16, cert: &str) -> anyhow::Result<()> {
    for i in 0..n {
        let id = agents::agent_id(i);
        let tpm = SoftTpm::new(i as u64, agents::PCR);
        let request = RegisterRequest {
            agent_id: id.clone(),
            ek_public: vec![0],
            ek_certificate: None,
            ak_public: tpm.ak_public().to_vec(),
            contact: format!("https://127.0.0.1:{port}/sim/{id}"),
            tls_certificate: cert.to_owned(),
            pcr: agents::PCR,
            labels: [("role".to_owned(), "web".to_owned())].into(),
            push: false,
        };
        store
            .register(&request, b"s", "2999-01-01T00:00:00Z")
            .await?;
        let pending = store.pending(&id).await?.context("registration vanished")?;
        store
            .activate(&pending, "unverified: simulated", None, false)
            .await?;
    }
    Ok(())
}

async fn report(
    url: &str,
    first_id: i64,
    n: usize,
    wall: f64,
    cpu: f64,
    interval: Duration,
) -> anyhow::Result<()> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let rows =
        sqlx::query("SELECT outcome, reasons, error, duration_us FROM results WHERE id > $1")
            .bind(first_id)
            .fetch_all(&pool)
            .await?;
    let mut durations: Vec<i64> = Vec::with_capacity(rows.len());
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut why = std::collections::BTreeMap::<String, usize>::new();
    for row in &rows {
        durations.push(row.try_get("duration_us")?);
        *outcomes.entry(row.try_get("outcome")?).or_default() += 1;
        let error: Option<String> = row.try_get("error")?;
        let reasons: String = row.try_get("reasons")?;
        if let Some(text) = error.or((reasons != "[]").then_some(reasons)) {
            *why.entry(text.chars().take(300).collect()).or_default() += 1;
        }
    }
    durations.sort_unstable();
    let done = durations.len() as f64;
    let pct = |p: f64| {
        let i = ((done * p).ceil() as usize).saturating_sub(1);
        durations.get(i).copied().unwrap_or_default() as f64 / 1000.0
    };
    let per_core = done / cpu.max(1e-9);
    println!("agents                     {n}");
    println!("interval                   {} ms", interval.as_millis());
    println!("window                     {wall:.1} s");
    println!("attestations               {} ({outcomes:?})", rows.len());
    for (text, count) in &why {
        println!("  {count} × {text}");
    }
    println!(
        "attestations/s             {:.0} (target {:.0})",
        done / wall,
        n as f64 / interval.as_secs_f64()
    );
    println!(
        "verifier CPU               {cpu:.1} s ({:.2} cores)",
        cpu / wall
    );
    println!("attestations/core-second   {per_core:.0}");
    println!(
        "agents/core at this interval {:.0}",
        per_core * interval.as_secs_f64()
    );
    println!(
        "latency p50/p90/p99/max    {:.1} / {:.1} / {:.1} / {:.1} ms",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

async fn count(url: &str, after: i64) -> anyhow::Result<i64> {
    let pool = sqlx::AnyPool::connect(url).await?;
    let n: i64 = sqlx::query("SELECT COUNT(DISTINCT agent_id) AS n FROM results WHERE id > $1")
        .bind(after)
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    Ok(n)
}

async fn max_id(url: &str) -> anyhow::Result<i64> {
    let pool = sqlx::AnyPool::connect(url).await?;
    Ok(
        sqlx::query("SELECT COALESCE(MAX(id), 0) AS id FROM results")
            .fetch_one(&pool)
            .await?
            .try_get("id")?,
    )
}

/// utime + stime of this process (the verifier side; the agents run in the child).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat.rsplit_once(')').context("stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("utime")?.parse::<f64>()?
        + fields.get(12).context("stime")?.parse::<f64>()?;
    Ok(ticks / 100.0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_for_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the simulated agents did not listen on {port}")
}
