//! `palisade ima policy create`: a Keylime runtime policy (format version 1) that allows every
//! file a measurement list measured, as `keylime-policy create runtime --ima-measurement-list`
//! builds it. Offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use palisade_ima::policy::{parse_excludes_list, CreateOptions, RuntimePolicy};
use palisade_ima::HashAlg;
use serde_json::json;

use super::ima_list::{emit, read_list, ListArgs};

#[derive(Debug, clap::Subcommand)]
pub enum ImaPolicy {
    /// Build a runtime policy from a measurement list (every measured path with its digests,
    /// `boot_aggregate` included), like `keylime-policy create runtime -m LIST`.
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The measurement list (ASCII or binary).
    #[arg(long, short = 'm', visible_alias = "ima-measurement-list")]
    pub list: PathBuf,
    #[command(flatten)]
    pub read: ListArgs,
    /// Write the policy here instead of to standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// An exclude list: one path regex per line, `#` comments (repeatable).
    #[arg(long, short = 'e', visible_alias = "excludelist")]
    pub excludes: Vec<PathBuf>,
    /// Record digests of keys measured into keyrings (`keyrings`).
    #[arg(long)]
    pub keyrings: bool,
    /// Record digests of other measured buffers (`ima-buf`).
    #[arg(long)]
    pub ima_buf: bool,
    /// Keyrings whose keys are not recorded and not checked (`ima.ignored_keyrings`;
    /// repeatable or comma-separated, `*` for all).
    #[arg(long, value_delimiter = ',')]
    pub ignored_keyrings: Vec<String>,
    /// `meta.timestamp` (default: now, UTC, written as Keylime writes it).
    #[arg(long)]
    pub timestamp: Option<String>,
}

/// Runs a runtime-policy command.
pub fn run(command: &ImaPolicy, json: bool) -> anyhow::Result<ExitCode> {
    match command {
        ImaPolicy::Create(args) => {
            let (policy, entries) = create(args)?;
            let text = policy.to_json();
            match &args.output {
                None => emit(&format!("{text}\n"))?,
                Some(out) => {
                    std::fs::write(out, &text)
                        .with_context(|| format!("writing {}", out.display()))?;
                    let summary = json!({
                        "output": out.display().to_string(),
                        "entries": entries,
                        "digests": policy.digests.len(),
                        "excludes": policy.excludes.patterns().len(),
                        "keyrings": policy.keyrings.len(),
                        "ima_buf": policy.ima_buf.len(),
                    });
                    if json {
                        println!("{}", serde_json::to_string_pretty(&summary)?);
                    } else {
                        println!(
                            "wrote {}: {} paths from {entries} entries, {} excludes, {} keyrings, \
                             {} buffers",
                            out.display(),
                            policy.digests.len(),
                            policy.excludes.patterns().len(),
                            policy.keyrings.len(),
                            policy.ima_buf.len()
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Builds the policy; also returns how many entries the list has. A list with a wrong
/// template hash is refused: its entries are not what the TPM measured.
pub fn create(args: &CreateArgs) -> anyhow::Result<(RuntimePolicy, usize)> {
    let template_alg = args.read.template_alg.unwrap_or(HashAlg::Sha1);
    let (entries, _) = read_list(&args.list, &args.read, template_alg)?;
    if let Some((n, entry)) = (1u64..)
        .zip(entries.iter())
        .find(|(_, e)| !e.template_hash_ok(template_alg))
    {
        bail!(
            "{}: entry {n} ({}): template hash does not match {template_alg} of the template \
             data; not creating a policy from it",
            args.list.display(),
            entry.name()
        );
    }
    let mut excludes = Vec::new();
    for path in &args.excludes {
        excludes.extend(read_excludes(path)?);
    }
    let options = CreateOptions {
        excludes,
        keyrings: args.keyrings,
        ima_buf: args.ima_buf,
        ignored_keyrings: args.ignored_keyrings.clone(),
        timestamp: Some(args.timestamp.clone().unwrap_or_else(now)),
        ..CreateOptions::default()
    };
    let policy = RuntimePolicy::create(&entries, &options)
        .with_context(|| format!("creating a policy from {}", args.list.display()))?;
    Ok((policy, entries.len()))
}

fn read_excludes(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_excludes_list(&bytes).with_context(|| format!("reading {}", path.display()))
}

/// The current time as Python's `str(datetime.now())` writes it (here in UTC).
fn now() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_looks_like_python_datetime() {
        let t = now();
        assert_eq!(t.len(), "2024-09-12 13:44:44.797331".len(), "{t}");
        assert_eq!(&t[10..11], " ");
        assert_eq!(&t[19..20], ".");
    }
}
