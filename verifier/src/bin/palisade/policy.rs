//! `palisade policy eval|test|report|explain`: cluster policies. Offline, for CI pipelines:
//! evaluate templates and constraints over a cluster input file, run Rego unit tests with
//! coverage. Online: the verifier's fleet report, and why one node is (not) compliant.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use palisade_cluster_policy::cluster::Report;
use palisade_cluster_policy::testing::{self, Outcome};
use palisade_cluster_policy::{library, Enforcement, Evaluator, Finding, Limits};
use palisade_verifier::cluster::{load_dir, walk};
use serde_json::Value;

use super::Api;

#[derive(Debug, clap::Subcommand)]
pub enum Policy {
    /// Evaluate constraints over a cluster input file (`{"nodes": {ID: NODE}, "now": SECONDS}`;
    /// exit 1 when a `deny` constraint is violated or could not be evaluated, 2 when the input
    /// or the policy directory is unusable).
    Eval {
        /// The cluster input.
        #[arg(long)]
        input: PathBuf,
        /// A directory of templates (`<name>/template.json` + `template.rego`, added to or
        /// replacing the shipped ones) and constraints (`constraints.json`, `*.constraints.json`).
        #[arg(long)]
        policy: PathBuf,
        /// Wall-clock limit of one evaluation, in milliseconds.
        #[arg(long, default_value_t = Limits::DEFAULT_TIME_MS)]
        time_limit_ms: u64,
        /// Heap one evaluation may grow by, in MiB (0: unlimited).
        #[arg(long, default_value_t = Limits::DEFAULT_MEMORY_MIB)]
        memory_limit_mib: u64,
    },
    /// Run the `test_*` rules of every `.rego` under DIR (default: the shipped library), like
    /// `opa test`; exit 1 unless all pass, 2 when a module does not load.
    Test {
        dir: Option<PathBuf>,
        /// Print line coverage per module.
        #[arg(long)]
        coverage: bool,
    },
    /// The verifier's fleet report under its cluster policies (exit 1 on a `deny` violation).
    Report,
    /// One node's findings and the facts they were judged on.
    Explain { node: String },
}

/// Runs a policy command (`api` only for the online ones).
pub async fn run(
    command: &Policy,
    api: impl FnOnce() -> anyhow::Result<Api>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        Policy::Eval {
            input,
            policy,
            time_limit_ms,
            memory_limit_mib,
        } => {
            let limits = Limits::from_ms_mib(*time_limit_ms, *memory_limit_mib);
            eval(input, policy, limits, json)
        }
        Policy::Test { dir, coverage } => test(dir.as_deref(), *coverage, json),
        Policy::Report => {
            let bytes = api()?.get_bytes("/v1/cluster/report").await?;
            let report: Report =
                serde_json::from_slice(&bytes).context("the verifier's report does not parse")?;
            show(&report, json)
        }
        Policy::Explain { node } => explain(&api()?, node, json).await,
    }
}

async fn explain(api: &Api, node: &str, json: bool) -> anyhow::Result<ExitCode> {
    let bytes = api.get_bytes(&format!("/v1/cluster/nodes/{node}")).await?;
    let body: Value =
        serde_json::from_slice(&bytes).context("the verifier's answer is not JSON")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    let doc = body.get("node").cloned().unwrap_or(Value::Null);
    let findings: Vec<Finding> =
        serde_json::from_value(body.get("findings").cloned().unwrap_or(Value::Null))
            .context("findings")?;
    let attestation = doc.get("attestation").cloned().unwrap_or(Value::Null);
    let field = |v: &Value, k: &str| v.get(k).map_or("?".to_owned(), |x| x.to_string());
    println!("node {node}");
    println!(
        "  labels:      {}",
        doc.get("labels").unwrap_or(&Value::Null)
    );
    println!(
        "  attestation: outcome {}, verified {}, at {}",
        field(&attestation, "outcome"),
        field(&attestation, "verified"),
        field(&attestation, "at")
    );
    let firewall = doc.get("firewall").cloned().unwrap_or(Value::Null);
    println!("  firewall:    {}", field(&firewall, "digests"));
    if findings.is_empty() {
        println!("  no cluster policy names it");
    }
    for f in &findings {
        println!(
            "  {} {} ({}): {}",
            format!("{:?}", f.enforcement).to_uppercase(),
            f.constraint,
            f.template,
            f.message
        );
        if !f.details.is_null() {
            println!("      {}", f.details);
        }
    }
    Ok(
        if findings.iter().any(|f| f.enforcement == Enforcement::Deny) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

fn eval(input: &Path, dir: &Path, limits: Limits, json: bool) -> anyhow::Result<ExitCode> {
    let doc: Value = serde_json::from_slice(
        &std::fs::read(input).with_context(|| format!("reading {}", input.display()))?,
    )
    .with_context(|| format!("{} is not JSON", input.display()))?;
    let Some(nodes) = doc.get("nodes").and_then(Value::as_object) else {
        bail!("{}: want {{\"nodes\": {{ID: NODE, …}}}}", input.display());
    };
    let now = doc
        .get("now")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let set = load_dir(dir, limits)?;
    if set.constraints().is_empty() {
        bail!("no constraints (constraints.json) under {}", dir.display());
    }
    let mut evaluator = Evaluator::new(set);
    evaluator.load_all(nodes.iter().map(|(k, v)| (k.clone(), v.clone())), now);
    show(&evaluator.report(), json)
}

/// Prints `report`; exit 1 when a `deny` constraint is violated or could not be evaluated.
fn show(report: &Report, json: bool) -> anyhow::Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print_report(report);
    }
    let denied = report.totals.iter().any(|t| {
        t.enforcement == Enforcement::Deny && (t.violations > 0 || t.could_not_evaluate > 0)
    });
    Ok(if denied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_report(report: &Report) {
    println!(
        "{:<32} {:<22} {:<8} {:>8} {:>10} {:>8}",
        "CONSTRAINT", "TEMPLATE", "ACTION", "SELECTED", "VIOLATIONS", "FAILED"
    );
    for t in &report.totals {
        println!(
            "{:<32} {:<22} {:<8} {:>8} {:>10} {:>8}",
            t.constraint,
            t.template,
            format!("{:?}", t.enforcement).to_lowercase(),
            t.nodes_selected,
            t.violations,
            t.could_not_evaluate
        );
    }
    for f in &report.violations {
        println!(
            "{} {} [{}]: {}",
            format!("{:?}", f.enforcement).to_uppercase(),
            f.constraint,
            f.nodes.join(","),
            f.message
        );
    }
    for u in &report.could_not_evaluate {
        let node = u.node.as_deref().unwrap_or("cluster");
        println!("COULD NOT EVALUATE {} [{node}]: {}", u.constraint, u.reason);
    }
}

fn test(dir: Option<&Path>, coverage: bool, json: bool) -> anyhow::Result<ExitCode> {
    let modules = match dir {
        None => library::test_modules(),
        Some(dir) => walk(dir)?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "rego"))
            .map(|p| Ok((p.display().to_string(), std::fs::read_to_string(&p)?)))
            .collect::<anyhow::Result<_>>()?,
    };
    let report = testing::run(&modules)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.cases {
            let (word, why) = match &c.outcome {
                Outcome::Pass => ("PASS", String::new()),
                Outcome::Fail => ("FAIL", String::new()),
                Outcome::Error(e) => ("ERROR", format!(": {e}")),
            };
            let us = c.duration.as_micros();
            println!("{word:<5} {}.{} ({us} µs){why}", c.package, c.name);
        }
        let passed = report
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Pass)
            .count();
        println!("{passed}/{} passed", report.cases.len());
        if coverage {
            for f in &report.coverage {
                println!("{:>6.1} % {}", f.percent(), f.path);
            }
        }
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
