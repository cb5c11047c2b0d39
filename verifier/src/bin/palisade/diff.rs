//! `palisade diff`: two ruleset files, or the rulesets two stored results of an agent judged.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use palisade_firewall::diff::{diff, RulesetDiff};
use palisade_firewall::Ruleset;
use palisade_verifier::store::ResultRecord;
use serde_json::Value;

use super::{Api, Cli, DiffArgs, Format};

/// `palisade diff`: prints the diff; exit code 0 when identical, 1 when different.
pub async fn run_diff(cli: &Cli, args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (old, new) = match &args.agent {
        None => (
            read_file(Path::new(&args.from))?,
            read_file(Path::new(&args.to))?,
        ),
        Some(agent) => {
            let api = Api::new(cli)?;
            stored(&api, agent, args.key.as_deref(), &args.from, &args.to).await?
        }
    };
    let d = diff(&old, &new);
    print_diff(&d, if cli.json { Format::Json } else { args.format })?;
    Ok(if d.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn print_diff(d: &RulesetDiff, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Text => print!("{}", d.to_text()),
        Format::Json => println!("{}", serde_json::to_string_pretty(d)?),
    }
    Ok(())
}

/// A ruleset file: a canonical document, or `nft -j list ruleset` output (it has `nftables`).
pub fn read_file(path: &Path) -> anyhow::Result<Ruleset> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_ruleset(&bytes).with_context(|| format!("reading {}", path.display()))
}

pub fn parse_ruleset(bytes: &[u8]) -> anyhow::Result<Ruleset> {
    let value: Value = serde_json::from_slice(bytes).context("not JSON")?;
    if value.get("nftables").is_some() {
        Ok(palisade_firewall::from_nft_json(bytes).context("not a valid `nft -j` listing")?)
    } else if value.get("format").is_some() {
        Ok(Ruleset::from_canonical(bytes).context("not a valid canonical ruleset document")?)
    } else {
        bail!("neither a canonical ruleset document (`format`) nor `nft -j list ruleset` output (`nftables`)")
    }
}

/// The rulesets results `from` and `to` of `agent` judged, under `key` (default: their only
/// nftables document).
pub async fn stored(
    api: &Api,
    agent: &str,
    key: Option<&str>,
    from: &str,
    to: &str,
) -> anyhow::Result<(Ruleset, Ruleset)> {
    let mut results = Vec::new();
    for id in [from, to] {
        let id: i64 = id
            .parse()
            .with_context(|| format!("result id {id:?} is not a number"))?;
        let bytes = api
            .get_bytes(&format!("/v1/agents/{agent}/results/{id}"))
            .await?;
        let r: ResultRecord = serde_json::from_slice(&bytes).context("reading a stored result")?;
        results.push(r);
    }
    let key = match key {
        Some(k) => k.to_owned(),
        None => {
            let keys: std::collections::BTreeSet<&String> = results
                .iter()
                .flat_map(|r| r.documents.keys())
                .filter(|k| palisade_verifier::changes::is_nftables(k))
                .collect();
            match keys.into_iter().collect::<Vec<_>>().as_slice() {
                [only] => (*only).clone(),
                [] => bail!("the results hold no nftables document"),
                many => bail!("several nftables documents ({many:?}): choose one with --key"),
            }
        }
    };
    let mut rulesets = Vec::new();
    for r in &results {
        let digest = r.documents.get(&key).with_context(|| {
            format!(
                "result {} has no document {key:?} (it has: {:?})",
                r.id,
                r.documents.keys()
            )
        })?;
        let bytes = api.get_bytes(&format!("/v1/documents/{digest}")).await?;
        let ruleset = Ruleset::from_canonical(&bytes).with_context(|| {
            format!(
                "document {digest} of result {} is not a canonical ruleset",
                r.id
            )
        })?;
        rulesets.push(ruleset);
    }
    let new = rulesets.pop().context("two results")?;
    let old = rulesets.pop().context("two results")?;
    Ok((old, new))
}
