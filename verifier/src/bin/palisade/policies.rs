//! `palisade policies list|show|versions|add`: the policies the verifier has run or holds (each
//! result names the node policy that judged it, by name, version and hash; cluster templates
//! and constraint sets are versioned the same way), and adding cluster policy through the API.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::{json, Value};

use super::Api;

#[derive(Debug, clap::Subcommand)]
pub enum Policies {
    /// Every policy version the verifier has run or holds; `*` marks the node policy and the
    /// cluster policy objects in force.
    List,
    /// One policy's Rego modules (default: the current policy).
    Show {
        /// Policy hash (as `policies list` or a result shows it; a unique prefix will do).
        hash: Option<String>,
    },
    /// The versions of one policy name, oldest first.
    Versions { name: String },
    /// Put cluster policy in force (admin): a template directory (`template.json` +
    /// `template.rego`), a constraints file (a JSON array), or a directory laid out like
    /// `cluster_policy_dir` (every template, then all constraints files as one set). Each
    /// object is checked against the whole set before the verifier stores it.
    Add { path: PathBuf },
}

/// Runs a policies command.
pub async fn run(api: &Api, command: &Policies, json: bool) -> anyhow::Result<()> {
    if let Policies::Add { path } = command {
        return add(api, path, json).await;
    }
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
                let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
                let current = flag("current") || flag("in_force");
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
        Policies::Add { .. } => {}
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

/// `policies add PATH`.
async fn add(api: &Api, path: &Path, json: bool) -> anyhow::Result<()> {
    let (templates, constraints) = read_policy(path)?;
    let mut stored = Vec::new();
    for (name, body) in templates {
        stored.push(put(api, &format!("/v1/cluster/templates/{name}"), &body).await?);
    }
    if let Some(set) = constraints {
        stored.push(put(api, "/v1/cluster/constraints", &set).await?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&stored)?);
        return Ok(());
    }
    for s in &stored {
        let field = |k: &str| s.get(k).map(ToString::to_string).unwrap_or_default();
        println!(
            "in force: {}@{}  {}",
            s.get("name").and_then(Value::as_str).unwrap_or("?"),
            field("version"),
            s.get("hash").and_then(Value::as_str).unwrap_or("?")
        );
    }
    Ok(())
}

async fn put(api: &Api, path: &str, body: &Value) -> anyhow::Result<Value> {
    let request = api.client.put(format!("{}{path}", api.base)).json(body);
    let response = api.send(request).await?;
    response
        .json()
        .await
        .context("reading the verifier's answer")
}

/// Templates (`name`, PUT body) and the constraint set under `path`.
type PolicyFiles = (Vec<(String, Value)>, Option<Value>);

fn read_policy(path: &Path) -> anyhow::Result<PolicyFiles> {
    let read = |p: &Path| -> anyhow::Result<Value> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
    };
    if path.is_file() {
        let set = read(path)?;
        anyhow::ensure!(
            set.is_array(),
            "{}: a constraints file is a JSON array",
            path.display()
        );
        return Ok((Vec::new(), Some(set)));
    }
    let mut templates = Vec::new();
    let mut constraints: Vec<Value> = Vec::new();
    let mut any_constraints = false;
    let files = palisade_verifier::cluster::walk(path)?;
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name == "template.json" {
            let spec = read(file)?;
            let rego_path = file.with_file_name("template.rego");
            let rego = std::fs::read_to_string(&rego_path)
                .with_context(|| format!("reading {}", rego_path.display()))?;
            let tname = spec
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            templates.push((tname, json!({"template": spec, "rego": rego})));
        } else if name == "constraints.json" || name.ends_with(".constraints.json") {
            let set = read(file)?;
            let items = set.as_array().with_context(|| {
                format!("{}: a constraints file is a JSON array", file.display())
            })?;
            constraints.extend(items.iter().cloned());
            any_constraints = true;
        }
    }
    anyhow::ensure!(
        !templates.is_empty() || any_constraints,
        "{}: no template.json or constraints file",
        path.display()
    );
    Ok((
        templates,
        any_constraints.then_some(Value::Array(constraints)),
    ))
}
