//! `palisade`: the operator CLI. Talks to the verifier's API over mutual TLS with the operator
//! certificate from the verifier's state directory; `palisade diff` also compares two ruleset
//! files without any verifier, and `eventlog` / `ima` read boot and IMA logs offline.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use palisade_evidence::wire::ErrorBody;
use palisade_transport::pki::{self, PemPair};
use palisade_verifier::api::AgentSummary;
use palisade_verifier::store::ResultRecord;
use serde_json::Value;
use show::{print_list, print_result, print_show};

#[path = "palisade/approvals.rs"]
mod approvals;
#[path = "palisade/audit.rs"]
mod audit;
#[path = "palisade/credentials.rs"]
mod credentials;
#[path = "palisade/diff.rs"]
mod diff;
#[path = "palisade/eventlog.rs"]
mod eventlog;
#[path = "palisade/fleet.rs"]
mod fleet;
#[path = "palisade/ima.rs"]
mod ima;
#[path = "palisade/policies.rs"]
mod policies;
#[path = "palisade/policy.rs"]
mod policy;
#[path = "palisade/show.rs"]
mod show;
#[path = "palisade/watch.rs"]
mod watch;

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
    /// Client certificate to present (PEM) instead of the state directory's operator one.
    #[arg(long, env = "PALISADE_CERT", requires = "key")]
    cert: Option<PathBuf>,
    /// Its private key (PEM).
    #[arg(long, env = "PALISADE_KEY", requires = "cert")]
    key: Option<PathBuf>,
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
    /// Semantic diff of two nftables rulesets (exit 0: identical, 1: different, 2: error).
    ///
    /// `palisade diff OLD.json NEW.json` compares two files, each a canonical document (as the
    /// agent measures it) or raw `nft -j list ruleset` output (detected). `palisade diff --agent
    /// ID FROM TO` compares the rulesets two stored results of an agent judged (result ids, as
    /// `agents results` lists them).
    Diff(DiffArgs),
    /// Durable attestation records: export them, re-check an export offline.
    #[command(subcommand)]
    Audit(audit::Audit),
    /// Fleet summary: agents by state, per label, and those not passing.
    Status,
    /// Node policies the verifier has run, by name and version.
    #[command(subcommand)]
    Policies(policies::Policies),
    /// Cluster policies offline (templates and constraints): evaluate over a file, run Rego
    /// unit tests with coverage.
    #[command(subcommand)]
    Policy(policy::Policy),
    /// UEFI boot event logs offline: PCR replay, events, boot reference state.
    #[command(subcommand)]
    Eventlog(eventlog::Eventlog),
    /// IMA measurement lists offline: replay, judge by or create a Keylime runtime policy.
    #[command(subcommand)]
    Ima(ima::Ima),
    /// API credentials (client certificates with a role); admin only.
    #[command(subcommand)]
    Credentials(credentials::Credentials),
    /// Follow results, enrolments and removals live (until interrupted).
    Watch {
        /// Only this agent.
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
struct DiffArgs {
    /// Compare two stored results of this agent instead of two files.
    #[arg(long)]
    agent: Option<String>,
    /// With --agent: the document key (`nftables/<netns>`); default: the results' only
    /// nftables document.
    #[arg(long, requires = "agent")]
    key: Option<String>,
    /// Output format (`--json` is the same as `--format json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The old ruleset: a file, or with --agent a result id.
    from: String,
    /// The new ruleset: a file, or with --agent a result id.
    to: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The summary line and one line per change.
    Text,
    /// The diff as JSON (`palisade.nftables-diff/1`, see docs/diff.md).
    Json,
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
    /// A result as an EAR (RATS attestation result with an AR4SI trust vector): the claims, or
    /// with --jwt the ES256-signed token (verify with the key from `GET /v1/audit/key`).
    Ear {
        id: String,
        /// Result id (default: the latest).
        result: Option<i64>,
        /// Print the signed JWT instead of the claims.
        #[arg(long)]
        jwt: bool,
    },
    /// Approve an agent for monitoring (the verifier's `require_approval`): before it
    /// registers, or while it waits after proving its TPM. Its `KEY=VALUE` labels override the
    /// agent's own.
    Enroll {
        id: String,
        /// Accept only this EK (SHA-256 of its public area, as `agents show` prints it).
        #[arg(long = "ek")]
        ek_fingerprint: Option<String>,
        /// Labels to set.
        #[arg(value_parser = parse_label)]
        labels: Vec<(String, String)>,
    },
    /// Every approval given with `agents enroll`.
    Approvals,
    /// Set (`KEY=VALUE`) or remove (`--remove KEY`) labels of an agent.
    Label {
        id: String,
        /// Labels to set.
        #[arg(value_parser = parse_label)]
        set: Vec<(String, String)>,
        /// Label keys to remove.
        #[arg(long)]
        remove: Vec<String>,
    },
}

fn parse_label(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // diff(1)'s convention for the offline file commands: 2 is trouble, 1 is "different".
    let trouble_is_2 = matches!(
        cli.command,
        Command::Diff(_)
            | Command::Eventlog(_)
            | Command::Ima(_)
            | Command::Policy(policy::Policy::Eval { .. } | policy::Policy::Test { .. })
    );
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("palisade: error: {e:#}");
            ExitCode::from(if trouble_is_2 { 2 } else { 1 })
        }
    }
}

/// An HTTPS client for the verifier's operator API.
struct Api {
    client: reqwest::Client,
    base: String,
    ca: Vec<rustls::pki_types::CertificateDer<'static>>,
    operator: PemPair,
}

impl Api {
    fn new(cli: &Cli) -> anyhow::Result<Self> {
        let tls = cli.state_dir.join("tls");
        let ca = pki::read_certs(&tls.join("ca.crt"))
            .context("reading the verifier's CA certificate")?;
        let operator = match (&cli.cert, &cli.key) {
            (Some(cert), Some(key)) => PemPair {
                cert: std::fs::read_to_string(cert)
                    .with_context(|| format!("reading {}", cert.display()))?,
                key: std::fs::read_to_string(key)
                    .with_context(|| format!("reading {}", key.display()))?,
            },
            _ => PemPair::read(&tls, "operator")?
                .context("no operator certificate in the state directory")?,
        };
        let client =
            palisade_transport::client::ca_client(&ca, Some(&operator), Duration::from_secs(30))?;
        Ok(Self {
            client,
            base: cli.verifier.trim_end_matches('/').to_owned(),
            ca,
            operator,
        })
    }

    /// A client for the live stream (no limit on the response, `idle` on each read).
    fn stream_client(&self, idle: Duration) -> anyhow::Result<reqwest::Client> {
        Ok(palisade_transport::client::stream_client(
            &self.ca,
            Some(&self.operator),
            idle,
        )?)
    }

    /// Sends the request; a non-success answer becomes an error with the verifier's message.
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .with_context(|| format!("calling the verifier at {}", self.base))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(err) => bail!("{} ({status}): {}", err.kind, err.message),
            Err(_) => bail!("the verifier answered {status}"),
        }
    }

    async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let request = self.client.get(format!("{}{path}", self.base));
        let response = self.send(request).await?;
        Ok(response
            .bytes()
            .await
            .context("reading the verifier's answer")?
            .to_vec())
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Diff(args) => return diff::run_diff(&cli, args).await,
        Command::Eventlog(command) => return eventlog::run(command, cli.json),
        Command::Ima(command) => return ima::run(command, cli.json),
        Command::Audit(command) => return audit::run(command, || Api::new(&cli), cli.json).await,
        Command::Policy(command) => return policy::run(command, || Api::new(&cli), cli.json).await,
        Command::Policies(command) => {
            policies::run(&Api::new(&cli)?, command, cli.json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Credentials(command) => {
            credentials::run(&Api::new(&cli)?, command, cli.json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Status => {
            let api = Api::new(&cli)?;
            let agents: Vec<AgentSummary> =
                serde_json::from_slice(&api.get_bytes("/v1/agents").await?)
                    .context("the verifier's agent list does not parse")?;
            let status = fleet::summarise(&agents);
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                print!("{}", fleet::render(&status));
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Watch { agent } => {
            watch::run(&Api::new(&cli)?, agent.as_deref(), cli.json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Agents(Agents::Enroll {
            id,
            ek_fingerprint,
            labels,
        }) => {
            let api = Api::new(&cli)?;
            approvals::enroll(&api, id, ek_fingerprint.as_deref(), labels, cli.json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Agents(Agents::Approvals) => {
            approvals::list(&Api::new(&cli)?, cli.json).await?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Agents(Agents::Ear { id, result, jwt }) => {
            let api = Api::new(&cli)?;
            // `latest` is resolved by the verifier, with the cluster findings that go with it.
            let result = result.map_or_else(|| "latest".to_owned(), |r| r.to_string());
            let path = format!("/v1/agents/{id}/results/{result}/ear");
            if *jwt {
                let token = api.get_bytes(&path).await?;
                println!("{}", String::from_utf8_lossy(&token));
            } else {
                let claims: Value =
                    serde_json::from_slice(&api.get_bytes(&format!("{path}?format=json")).await?)
                        .context("the verifier's EAR is not JSON")?;
                println!("{}", serde_json::to_string_pretty(&claims)?);
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Agents(_) => {}
    }
    let api = Api::new(&cli)?;
    let (client, base) = (&api.client, api.base.as_str());
    let (method, path) = match &cli.command {
        Command::Diff(_)
        | Command::Eventlog(_)
        | Command::Ima(_)
        | Command::Audit(_)
        | Command::Status
        | Command::Credentials(_)
        | Command::Policies(_)
        | Command::Policy(_)
        | Command::Watch { .. } => bail!("unreachable: handled above"),
        Command::Agents(Agents::List) => ("GET", "/v1/agents".to_owned()),
        Command::Agents(Agents::Show { id }) => ("GET", format!("/v1/agents/{id}")),
        Command::Agents(Agents::Results { id, limit }) => {
            ("GET", format!("/v1/agents/{id}/results?limit={limit}"))
        }
        Command::Agents(Agents::Attest { id }) => ("POST", format!("/v1/agents/{id}/attest")),
        Command::Agents(Agents::Remove { id }) => ("DELETE", format!("/v1/agents/{id}")),
        Command::Agents(Agents::Label { id, .. }) => ("PATCH", format!("/v1/agents/{id}/labels")),
        Command::Agents(Agents::Ear { .. } | Agents::Enroll { .. } | Agents::Approvals) => {
            bail!("unreachable: handled above")
        }
    };
    let request = match (method, &cli.command) {
        ("PATCH", Command::Agents(Agents::Label { set, remove, .. })) => client
            .patch(format!("{base}{path}"))
            .json(&serde_json::json!({ "set": set.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(), "remove": remove })),
        ("POST", _) => client.post(format!("{base}{path}")),
        ("DELETE", _) => client.delete(format!("{base}{path}")),
        _ => client.get(format!("{base}{path}")),
    };
    let body: Value = api
        .send(request)
        .await?
        .json()
        .await
        .context("the verifier's answer is not JSON")?;
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(ExitCode::SUCCESS);
    }
    match cli.command {
        Command::Diff(_)
        | Command::Eventlog(_)
        | Command::Ima(_)
        | Command::Audit(_)
        | Command::Status
        | Command::Credentials(_)
        | Command::Policies(_)
        | Command::Policy(_)
        | Command::Watch { .. }
        | Command::Agents(Agents::Ear { .. } | Agents::Enroll { .. } | Agents::Approvals) => {}
        Command::Agents(Agents::Label { id, .. }) => {
            println!("{id}: {}", show::labels_text(body.get("labels")));
        }
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
    Ok(ExitCode::SUCCESS)
}
