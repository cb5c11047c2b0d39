//! `palisade`: the operator CLI. Talks to the verifier's API over mutual TLS with the operator
//! certificate from the verifier's state directory.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};
use palisade_evidence::wire::ErrorBody;
use palisade_transport::pki::{self, PemPair};
use palisade_verifier::api::AgentSummary;
use palisade_verifier::store::ResultRecord;
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(name = "palisade", version, about = "Operate a palisade verifier")]
struct Cli {
    /// The verifier's API.
    #[arg(
        long,
        env = "PALISADE_VERIFIER_URL",
        default_value = "https://127.0.0.1:8443"
    )]
    verifier: String,
    /// The verifier's state directory (for `tls/ca.crt` and `tls/operator.{crt,key}`).
    #[arg(
        long,
        env = "PALISADE_STATE_DIR",
        default_value = "/var/lib/palisade-verifier"
    )]
    state_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrolled agents.
    #[command(subcommand)]
    Agents(Agents),
}

#[derive(Debug, Subcommand)]
enum Agents {
    /// List agents with their latest outcome.
    List,
    /// Show one agent with its latest verdict and reasons.
    Show { id: String },
    /// Recent results of one agent.
    Results {
        id: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Attest one agent now and print the result.
    Attest { id: String },
    /// Remove an agent and its results.
    Remove { id: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let tls = cli.state_dir.join("tls");
    let ca =
        pki::read_certs(&tls.join("ca.crt")).context("reading the verifier's CA certificate")?;
    let operator = PemPair::read(&tls, "operator")?
        .context("no operator certificate in the state directory")?;
    let client =
        palisade_transport::client::ca_client(&ca, Some(&operator), Duration::from_secs(30))?;
    let base = cli.verifier.trim_end_matches('/');
    let (method, path) = match &cli.command {
        Command::Agents(Agents::List) => ("GET", "/v1/agents".to_owned()),
        Command::Agents(Agents::Show { id }) => ("GET", format!("/v1/agents/{id}")),
        Command::Agents(Agents::Results { id, limit }) => {
            ("GET", format!("/v1/agents/{id}/results?limit={limit}"))
        }
        Command::Agents(Agents::Attest { id }) => ("POST", format!("/v1/agents/{id}/attest")),
        Command::Agents(Agents::Remove { id }) => ("DELETE", format!("/v1/agents/{id}")),
    };
    let request = match method {
        "POST" => client.post(format!("{base}{path}")),
        "DELETE" => client.delete(format!("{base}{path}")),
        _ => client.get(format!("{base}{path}")),
    };
    let response = request
        .send()
        .await
        .with_context(|| format!("calling the verifier at {base}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the verifier's answer is not JSON")?;
    if !status.is_success() {
        let err: ErrorBody = serde_json::from_value(body)?;
        bail!("{} ({status}): {}", err.kind, err.message);
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(());
    }
    match cli.command {
        Command::Agents(Agents::List) => print_list(serde_json::from_value(body)?),
        Command::Agents(Agents::Show { .. }) => print_show(&body)?,
        Command::Agents(Agents::Results { .. }) => {
            for r in serde_json::from_value::<Vec<ResultRecord>>(body)? {
                print_result(&r);
            }
        }
        Command::Agents(Agents::Attest { .. }) => print_result(&serde_json::from_value(body)?),
        Command::Agents(Agents::Remove { id }) => println!("removed {id}"),
    }
    Ok(())
}

fn print_list(agents: Vec<AgentSummary>) {
    println!(
        "{:<24} {:<11} {:<8} {:<28} LABELS",
        "AGENT", "STATUS", "OUTCOME", "CONTACT"
    );
    for a in agents {
        let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<24} {:<11} {:<8} {:<28} {}",
            a.id,
            a.status,
            a.last_outcome.to_uppercase(),
            a.contact,
            labels.join(",")
        );
    }
}

fn print_show(body: &Value) -> anyhow::Result<()> {
    let agent = &body["agent"];
    println!(
        "agent {} ({})",
        agent["id"].as_str().unwrap_or("?"),
        agent["status"].as_str().unwrap_or("?")
    );
    println!(
        "  contact:        {}",
        agent["contact"].as_str().unwrap_or("?")
    );
    println!(
        "  dedicated PCR:  {}  (log entries verified: {})",
        agent["pcr"], body["log_entries_verified"]
    );
    println!(
        "  AK:             sha256:{}",
        body["ak_fingerprint"].as_str().unwrap_or("?")
    );
    match body.get("latest").filter(|v| !v.is_null()) {
        Some(latest) => print_result(&serde_json::from_value(latest.clone())?),
        None => println!("  no attestation yet"),
    }
    Ok(())
}

fn print_result(r: &ResultRecord) {
    let policy = r.policy.as_ref().map_or(String::new(), |p| {
        format!(
            "  [policy {} v{} sha256:{}]",
            p.name,
            p.version,
            p.hash.get(..12).unwrap_or(&p.hash)
        )
    });
    println!(
        "  #{} {} at {} ({} ms){}",
        r.id,
        r.outcome.as_str().to_uppercase(),
        r.at,
        r.duration_us / 1000,
        policy
    );
    if let Some(e) = &r.error {
        println!("    - could not attest: {e}");
    }
    for reason in &r.reasons {
        println!("    - {reason}");
    }
}
