//! palisade on top of the harness: a verifier process in the root namespace, agent processes
//! inside hosts, the operator CLI, and direct pulls of an agent's evidence (as the verifier does).
//! Shared by the end-to-end tests, the demo and the benchmark.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use palisade_evidence::wire::{Evidence, QuoteRequest};
use palisade_transport::pki::{self, PemPair};
use serde_json::Value;

use crate::{bin, free_port, spawn_root, Host, Proc};

/// Port the agent's pull API listens on inside its host.
pub const AGENT_PORT: u16 = 9443;

/// A baseline host firewall: input drops by default; loopback, established traffic, the agent's
/// port and a service on 2222 are accepted.
pub const BASELINE_RULESET: &str = r#"
flush ruleset
table inet filter {
    chain input {
        type filter hook input priority 0; policy drop;
        iif lo accept
        ct state established,related accept
        tcp dport 9443 accept comment "palisade agent"
        tcp dport 2222 accept comment "admin service"
        icmp type echo-request accept
    }
    chain forward { type filter hook forward priority 0; policy drop; }
    chain output { type filter hook output priority 0; policy accept; }
}
"#;

/// A running verifier.
#[derive(Debug)]
pub struct Verifier {
    /// The process.
    pub proc: Proc,
    dir: tempfile::TempDir,
    port: u16,
}

impl Verifier {
    /// Starts `palisade-verifier` listening on all addresses, with a certificate valid for
    /// `names` (the gateway addresses agents reach it by). `interval` is the pull interval.
    pub fn start(names: &[Ipv4Addr], interval: Duration) -> Result<Self> {
        Self::start_with(names, interval, "")
    }

    /// As [`Verifier::start`], with `extra` TOML lines added to the configuration.
    pub fn start_with(names: &[Ipv4Addr], interval: Duration, extra: &str) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("palisade-verifier-")
            .tempdir()?;
        let port = free_port()?;
        let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        let config = format!(
            "state_dir = {:?}\nlisten = \"0.0.0.0:{port}\"\ntls_names = [{}]\ninterval_ms = {}\nquote_timeout_ms = 5000\n{extra}\n",
            dir.path().display().to_string(),
            names.join(", "),
            interval.as_millis(),
        );
        std::fs::write(dir.path().join("verifier.toml"), config)?;
        let proc = Self::spawn(dir.path(), "verifier")?;
        Ok(Self { proc, dir, port })
    }

    fn spawn(dir: &Path, name: &str) -> Result<Proc> {
        let cfg = dir.join("verifier.toml").display().to_string();
        let proc = spawn_root(
            name,
            dir,
            &bin("palisade-verifier")?,
            &["-c", &cfg],
            &[("PALISADE_LOG", "info")],
        )?;
        proc.wait_for_log("verifier listening", Duration::from_secs(30))?;
        Ok(proc)
    }

    /// `kill -9` of the verifier, then a new one on the same state, configuration and port
    /// (its log is `verifier-restarted.log`).
    pub fn kill_and_restart(&mut self) -> Result<()> {
        self.proc.kill();
        self.proc = Self::spawn(self.dir.path(), "verifier-restarted")?;
        Ok(())
    }

    /// The verifier's state directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The API port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate agents trust.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir.path().join("tls").join("ca.crt")
    }

    /// The URL `host` reaches the verifier at.
    pub fn url_for(&self, host: &Host) -> String {
        format!("https://{}:{}", host.gateway_ip(), self.port)
    }

    /// Runs the operator CLI with `--json` and returns its output.
    pub fn cli(&self, args: &[&str]) -> Result<Value> {
        let out = self.cli_raw(&[&["--json"], args].concat())?;
        serde_json::from_str(&out)
            .with_context(|| format!("palisade {args:?} printed non-JSON: {out}"))
    }

    /// The operator CLI as a command aimed at this verifier (`args` after the connection flags).
    pub fn cli_command(&self, args: &[&str]) -> Result<std::process::Command> {
        let url = format!("https://127.0.0.1:{}", self.port);
        let dir = self.dir.path().display().to_string();
        let mut command = std::process::Command::new(bin("palisade")?);
        command
            .args(["--verifier", &url, "--state-dir", &dir])
            .args(args);
        Ok(command)
    }

    /// Runs the operator CLI and returns what it printed (error on a non-zero exit).
    pub fn cli_raw(&self, args: &[&str]) -> Result<String> {
        let out = self.cli_command(args)?.output()?;
        if !out.status.success() {
            bail!(
                "palisade {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }

    /// Attests `agent` now; returns the stored result (`outcome`, `reasons`, ...).
    pub fn attest(&self, agent: &str) -> Result<Value> {
        self.cli(&["agents", "attest", agent])
    }

    /// Every stored result of `agent`, newest first.
    pub fn results(&self, agent: &str) -> Result<Vec<Value>> {
        let v = self.cli(&["agents", "results", agent, "--limit", "1000"])?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// The operator API's base URL (`https://127.0.0.1:PORT`).
    pub fn api_base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// An HTTPS client for the operator API trusting the verifier's CA and presenting the state
    /// directory's operator certificate (the first admin), or no certificate (`anonymous`).
    pub fn api_client(&self, anonymous: bool) -> Result<reqwest::Client> {
        let ca = pki::read_certs(&self.ca_cert())?;
        let operator = if anonymous {
            None
        } else {
            Some(
                PemPair::read(&self.dir.path().join("tls"), "operator")?
                    .context("operator certificate")?,
            )
        };
        Ok(palisade_transport::client::ca_client(
            &ca,
            operator.as_ref(),
            Duration::from_secs(10),
        )?)
    }

    /// An HTTPS client for `host`'s agent, as the verifier has it: pinned to the agent's
    /// certificate and presenting the verifier's client certificate.
    pub fn agent_client(&self, host: &Host) -> Result<reqwest::Client> {
        let agent_cert = pki::read_certs(&host.dir().join("agent-state/tls/agent.crt"))?.remove(0);
        let identity = PemPair::read(&self.dir.path().join("tls"), "client")?
            .context("verifier client certificate")?;
        Ok(palisade_transport::client::pinned_client(
            agent_cert,
            Some(&identity),
            Duration::from_secs(10),
        )?)
    }
}

/// Writes the agent configuration for `host` (agent id = the host's label).
/// `extra` is top-level TOML; a line starting with `tpm.` or `verifier.` goes into that table
/// instead (`tpm.ek_alg = "ecc"`, `verifier.push = true`).
///
/// The runtime inventory is off unless `extra` configures it (`runtime.…`): BPF programs are
/// global, so every agent on this one test machine would see the others' programs come and go
/// and log it, which scenarios about something else must not depend on.
pub fn agent_config(host: &Host, verifier: &Verifier, extra: &str) -> Result<PathBuf> {
    // Each default applies unless `extra` sets that key itself.
    let defaults: Vec<&str> = [
        ("runtime.", "runtime.enabled = false"),
        ("measure_interval_ms", "measure_interval_ms = 200"),
    ]
    .iter()
    .filter(|(key, _)| !extra.contains(key))
    .map(|&(_, line)| line)
    .collect();
    let extra = format!("{}\n{extra}", defaults.join("\n"));
    let table = |prefix: &str| -> String {
        let lines: Vec<&str> = extra
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect();
        lines.join("\n")
    };
    let (tpm_extra, verifier_extra) = (table("tpm."), table("verifier."));
    let top: Vec<&str> = extra
        .lines()
        .filter(|l| !l.starts_with("tpm.") && !l.starts_with("verifier."))
        .collect();
    let extra = top.join("\n");
    let config = format!(
        "agent_id = {:?}\nstate_dir = {:?}\n{extra}\n\
         [tpm]\ntcti = {:?}\n{tpm_extra}\n\
         [api]\nlisten = \"{ip}:{AGENT_PORT}\"\ncontact = \"https://{ip}:{AGENT_PORT}\"\n\
         [verifier]\nurl = {:?}\nca_cert = {:?}\n{verifier_extra}\n\
         [labels]\nrole = \"web\"\n",
        host.label(),
        host.dir().join("agent-state").display().to_string(),
        host.tcti(),
        verifier.url_for(host),
        verifier.ca_cert().display().to_string(),
        ip = host.ip(),
    );
    let path = host.dir().join("agent.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

/// Starts the agent in `host` and waits until it has enrolled.
pub fn start_agent(host: &Host, verifier: &Verifier) -> Result<Proc> {
    start_agent_with(host, verifier, "")
}

/// Like [`start_agent`], with extra top-level TOML in the agent's configuration.
pub fn start_agent_with(host: &Host, verifier: &Verifier, extra: &str) -> Result<Proc> {
    let config = agent_config(host, verifier, extra)?;
    let cfg = config.display().to_string();
    let proc = host.spawn(
        "agent",
        &bin("palisade-agent")?,
        &["-c", &cfg],
        &[("PALISADE_LOG", "info")],
    )?;
    proc.wait_for_log("enrolled with the verifier", Duration::from_secs(60))?;
    Ok(proc)
}

/// Replaces the rule accepting tcp/2222 with one accepting tcp/22 (the demo's change).
pub fn open_ssh(host: &Host) -> Result<()> {
    let listing = host.run("nft", &["-a", "list", "chain", "inet", "filter", "input"])?;
    let handle = listing
        .lines()
        .find(|l| l.contains("dport 2222"))
        .and_then(|l| l.rsplit("handle ").next())
        .map(str::trim)
        .context("no tcp/2222 rule in the input chain")?
        .to_owned();
    host.run(
        "nft",
        &[
            "replace", "rule", "inet", "filter", "input", "handle", &handle, "tcp", "dport", "22",
            "accept",
        ],
    )?;
    Ok(())
}

/// Pulls evidence from `host`'s agent directly with the given nonce (as the verifier does),
/// quoting PCR 15 only.
pub async fn fetch_evidence(
    client: &reqwest::Client,
    host: &Host,
    nonce: &[u8],
    log_offset: u64,
) -> Result<Evidence> {
    let req = QuoteRequest {
        nonce: nonce.to_vec(),
        pcrs: vec![15],
        log_offset,
        event_cursor: None,
        ima_offset: None,
        boot_log: false,
    };
    fetch_evidence_for(client, host, &req).await
}

/// Pulls evidence from `host`'s agent directly for `req` (a verifier's challenge, say).
pub async fn fetch_evidence_for(
    client: &reqwest::Client,
    host: &Host,
    req: &QuoteRequest,
) -> Result<Evidence> {
    let url = format!(
        "https://{}:{AGENT_PORT}/v1/quote?{}",
        host.ip(),
        req.to_query()
    );
    let resp = client.get(url).send().await?;
    if !resp.status().is_success() {
        bail!("agent answered {}: {}", resp.status(), resp.text().await?);
    }
    Ok(resp.json().await?)
}
