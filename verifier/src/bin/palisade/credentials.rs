//! `palisade credentials issue|list|revoke` (admin): API credentials — client certificates with
//! a role (viewer, operator, admin) — from the verifier's CA.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use palisade_transport::pki::PemPair;
use palisade_verifier::store::Credential;
use serde_json::{json, Value};

use super::Api;

#[derive(Debug, clap::Subcommand)]
pub enum Credentials {
    /// Issue a credential; writes NAME.crt and NAME.key (0600) into --out.
    Issue {
        name: String,
        /// viewer (reads), operator (also attests and labels), admin (also removes agents and
        /// manages credentials).
        #[arg(long)]
        role: String,
        /// Directory for the certificate and key.
        #[arg(long, short, default_value = ".")]
        out: PathBuf,
    },
    /// Every credential, revoked ones included.
    List,
    /// Revoke a credential: its certificate is refused from now on.
    Revoke { name: String },
}

/// Runs a credentials command.
pub async fn run(api: &Api, command: &Credentials, json_out: bool) -> anyhow::Result<()> {
    match command {
        Credentials::Issue { name, role, out } => {
            let body = json!({ "name": name, "role": role });
            let answer: Value = api
                .send(
                    api.client
                        .post(format!("{}/v1/credentials", api.base))
                        .json(&body),
                )
                .await?
                .json()
                .await
                .context("the verifier's answer is not JSON")?;
            write(&answer, name, out)?;
            if json_out {
                let mut shown = answer.clone();
                if let Some(o) = shown.as_object_mut() {
                    o.remove("key");
                    o.remove("cert");
                }
                println!("{}", serde_json::to_string_pretty(&shown)?);
            } else {
                println!(
                    "issued {name} ({role}): {}/{name}.crt and {name}.key; use with --cert and --key",
                    out.display()
                );
            }
        }
        Credentials::List => {
            let bytes = api.get_bytes("/v1/credentials").await?;
            let list: Vec<Credential> =
                serde_json::from_slice(&bytes).context("reading the list")?;
            if json_out {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<24} {:<9} {:<22} {:<22} FINGERPRINT",
                    "NAME", "ROLE", "ISSUED", "REVOKED"
                );
                for c in list {
                    println!(
                        "{:<24} {:<9} {:<22} {:<22} {}",
                        c.name,
                        c.role.as_str(),
                        c.issued_at,
                        c.revoked_at.as_deref().unwrap_or("-"),
                        c.fingerprint.get(..16).unwrap_or(&c.fingerprint)
                    );
                }
            }
        }
        Credentials::Revoke { name } => {
            api.send(
                api.client
                    .delete(format!("{}/v1/credentials/{name}", api.base)),
            )
            .await?;
            println!("revoked {name}");
        }
    }
    Ok(())
}

fn write(answer: &Value, name: &str, out: &Path) -> anyhow::Result<()> {
    let field = |k: &str| {
        answer
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("the verifier's answer has no {k}"))
    };
    let pair = PemPair {
        cert: field("cert")?,
        key: field("key")?,
    };
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    pair.write(out, name)
        .with_context(|| format!("writing {name}.crt and {name}.key in {}", out.display()))
}
