//! `palisade audit export|verify`: durable records out of the verifier, and their offline
//! re-check (no verifier, no network).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use palisade_verifier::audit::verify::{verify, Report};
use palisade_verifier::audit::{Export, EXPORT_FORMAT};
use serde::Deserialize;

use super::Api;

/// Records fetched per request.
const PAGE: usize = 1000;

#[derive(Debug, clap::Subcommand)]
pub enum Audit {
    /// Write durable records, with the documents and policies they name, to a file.
    Export {
        /// Only this agent (default: every agent with records, removed ones included).
        #[arg(long)]
        agent: Option<String>,
        /// First record (per agent).
        #[arg(long, default_value_t = 1)]
        from_seq: u64,
        /// Output file (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Re-check an export offline: hashes, signatures, chains, every quote, log replay and
    /// policy (exit 0: every record holds, 1: problems found or the file is unreadable).
    Verify {
        /// An export written by `palisade audit export`.
        file: PathBuf,
    },
}

#[derive(Debug, Deserialize)]
struct KeyAnswer {
    verifier_key: String,
    agents: Vec<String>,
}

/// Runs an audit command. `api` is only built for `export`.
pub async fn run(
    command: &Audit,
    api: impl FnOnce() -> anyhow::Result<Api>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match command {
        Audit::Export {
            agent,
            from_seq,
            output,
        } => {
            let export = fetch(&api()?, agent.as_deref(), *from_seq).await?;
            write(&export, output.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Audit::Verify { file } => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let export: Export = serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not an audit export", file.display()))?;
            let report = verify(&export)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print_report(&report);
            }
            Ok(if report.holds() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Every page of every selected agent's records, merged into one export.
async fn fetch(api: &Api, agent: Option<&str>, from_seq: u64) -> anyhow::Result<Export> {
    let key: KeyAnswer = serde_json::from_slice(&api.get_bytes("/v1/audit/key").await?)
        .context("reading the verifier's key")?;
    let agents = match agent {
        Some(a) => vec![a.to_owned()],
        None => key.agents,
    };
    let mut all = Export {
        format: EXPORT_FORMAT.to_owned(),
        verifier_key: key.verifier_key,
        ..Export::default()
    };
    for agent in &agents {
        let mut next = from_seq;
        let mut count = 0usize;
        loop {
            let path = format!("/v1/audit/records?agent={agent}&from_seq={next}&limit={PAGE}");
            let page: Export = serde_json::from_slice(&api.get_bytes(&path).await?)
                .context("reading a page of records")?;
            anyhow::ensure!(
                page.verifier_key == all.verifier_key,
                "the verifier's key changed during the export"
            );
            let got = page.records.len();
            next = page.records.last().map_or(next, |r| r.seq + 1);
            count += got;
            all.exported_at = page.exported_at;
            all.records.extend(page.records);
            all.documents.extend(page.documents);
            all.policies.extend(page.policies);
            eprint!("\r{agent}: {count} records");
            if got < PAGE {
                break;
            }
        }
        eprintln!();
    }
    Ok(all)
}

fn write(export: &Export, output: Option<&Path>) -> anyhow::Result<()> {
    let text = serde_json::to_vec_pretty(export)?;
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "wrote {} records, {} documents, {} policies to {}",
                export.records.len(),
                export.documents.len(),
                export.policies.len(),
                path.display()
            );
        }
        None => std::io::stdout().write_all(&text)?,
    }
    Ok(())
}

fn print_report(report: &Report) {
    for note in &report.notes {
        println!("note: {note}");
    }
    for p in &report.problems {
        println!("PROBLEM {}#{}: {}", p.agent, p.seq, p.problem);
    }
    println!(
        "{} records of {} agents: {} quotes re-checked, {} policies re-evaluated, {} without their policy",
        report.records,
        report.agents,
        report.quotes_rechecked,
        report.policies_rechecked,
        report.policies_missing
    );
    if report.host_log_reasons_taken > 0 {
        println!(
            "{} records' IMA / boot-log reasons taken as recorded (those logs are not exported)",
            report.host_log_reasons_taken
        );
    }
    if report.holds() {
        println!("every record holds: hashes, signatures, chains and re-checks agree");
    } else {
        println!("{} records do not hold", report.problems.len());
    }
}
