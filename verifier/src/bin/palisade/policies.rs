//! `palisade policies list|show|versions`: the node policies the verifier has run (each result
//! names the one that judged it, by name, version and hash).

use anyhow::Context as _;
use serde_json::Value;

use super::Api;

#[derive(Debug, clap::Subcommand)]
pub enum Policies {
    /// Every policy version the verifier has run; `*` marks the current one.
    List,
    /// One policy's Rego modules (default: the current policy).
    Show {
        /// Policy hash (as `policies list` or a result shows it; a unique prefix will do).
        hash: Option<String>,
    },
    /// The versions of one policy name, oldest first.
    Versions { name: String },
}

/// Runs a policies command.
pub async fn run(api: &Api, command: &Policies, json: bool) -> anyhow::Result<()> {
    let list: Vec<Value> = serde_json::from_slice(&api.get_bytes("/v1/policies").await?)
        .context("reading the policy list")?;
    match command {
        Policies::List | Policies::Versions { .. } => {
            let wanted = match command {
                Policies::Versions { name } => Some(name.as_str()),
                _ => None,
            };
            let shown: Vec<&Value> = list
                .iter()
                .filter(|p| wanted.is_none_or(|n| p.get("name").and_then(Value::as_str) == Some(n)))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return Ok(());
            }
            println!("  {:<24} {:>7}  {:<20}  HASH", "NAME", "VERSION", "ADDED");
            for p in shown {
                let field = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
                let current = p.get("current").and_then(Value::as_bool).unwrap_or(false);
                println!(
                    "{} {:<24} {:>7}  {:<20}  {}",
                    if current { "*" } else { " " },
                    field("name"),
                    p.get("version").and_then(Value::as_u64).unwrap_or(0),
                    field("added_at"),
                    field("hash")
                );
            }
        }
        Policies::Show { hash } => {
            let hash = resolve(&list, hash.as_deref())?;
            let policy: Value =
                serde_json::from_slice(&api.get_bytes(&format!("/v1/policies/{hash}")).await?)
                    .context("reading the policy")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&policy)?);
                return Ok(());
            }
            let modules = policy
                .get("modules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for m in modules {
                let path = m.get(0).and_then(Value::as_str).unwrap_or("?");
                let source = m.get(1).and_then(Value::as_str).unwrap_or("");
                println!("# {path}\n{source}");
            }
        }
    }
    Ok(())
}

/// The full hash `prefix` names (default: the current policy's).
fn resolve(list: &[Value], prefix: Option<&str>) -> anyhow::Result<String> {
    let hashes: Vec<&str> = list
        .iter()
        .filter(|p| match prefix {
            Some(prefix) => p
                .get("hash")
                .and_then(Value::as_str)
                .is_some_and(|h| h.starts_with(prefix)),
            None => p.get("current").and_then(Value::as_bool).unwrap_or(false),
        })
        .filter_map(|p| p.get("hash").and_then(Value::as_str))
        .collect();
    match hashes.as_slice() {
        [one] => Ok((*one).to_owned()),
        [] => anyhow::bail!("no policy matches {}", prefix.unwrap_or("(current)")),
        many => anyhow::bail!(
            "{} policies match {:?}; give more of the hash",
            many.len(),
            prefix
        ),
    }
}
