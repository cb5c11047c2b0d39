//! `palisade-bench`: time of one full attestation against a real agent and swtpm, and its parts.
//!
//! - `attest`: the verifier's own measurement of one attestation (fetch evidence over mTLS, which
//!   includes the TPM quote; verify; replay; policy; store), triggered through the API;
//! - `pull`: one evidence pull from the agent (TPM read–quote–read, JSON, mTLS), client side;
//! - `check`: the pure checks (`verify::check`) on pulled evidence, in process.
//!
//! Usage: `palisade-bench [ITERATIONS] [rsa|ecc]` (default 200, rsa: the EK and AK algorithm).
//! Prints median / p90 / p99 in ms.
#![forbid(unsafe_code)]
#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing by key never panics"
)]

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::verify::{check, Checked, Expectations, VerifiedState};
use palisade_integration::palisade::{
    fetch_evidence, start_agent_with, Verifier, BASELINE_RULESET,
};
use palisade_integration::{require_root_tools, Host};
use palisade_transport::pki::{self, PemPair};

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "{name:<8} n={:<5} median {:>7.3} ms   p90 {:>7.3} ms   p99 {:>7.3} ms",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99)
    );
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let alg = std::env::args().nth(2).unwrap_or_else(|| "rsa".to_owned());
    anyhow::ensure!(
        alg == "rsa" || alg == "ecc",
        "key algorithm must be rsa or ecc"
    );
    require_root_tools()?;
    let host = Host::create("bench")?;
    host.nft(BASELINE_RULESET)?;
    let verifier = Verifier::start(&[host.gateway_ip()], Duration::from_secs(3600))?;
    let _agent = start_agent_with(
        &host,
        &verifier,
        &format!("tpm.ek_alg = \"{alg}\"\ntpm.ak_alg = \"{alg}\""),
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    // attest: through the verifier's API with the operator certificate.
    let tls = verifier.dir().join("tls");
    let operator = PemPair::read(&tls, "operator")?.context("operator certificate")?;
    let api = palisade_transport::client::ca_client(
        &pki::read_certs(&tls.join("ca.crt"))?,
        Some(&operator),
        Duration::from_secs(30),
    )?;
    let url = format!(
        "https://127.0.0.1:{}/v1/agents/bench/attest",
        verifier.port()
    );
    let mut server_side = Vec::with_capacity(n);
    let mut client_side = Vec::with_capacity(n);
    runtime.block_on(async {
        for i in 0..n + 5 {
            let started = Instant::now();
            let r: serde_json::Value = api.post(&url).send().await?.json().await?;
            let wall = started.elapsed();
            anyhow::ensure!(r["outcome"] == "pass", "attestation did not pass: {r}");
            if i >= 5 {
                server_side.push(Duration::from_micros(
                    r["duration_us"].as_u64().unwrap_or(0),
                ));
                client_side.push(wall);
            }
        }
        anyhow::Ok(())
    })?;

    // pull and check: directly against the agent, as the verifier does.
    let client = verifier.agent_client(&host)?;
    let ak = TpmPublic::parse(&std::fs::read(host.dir().join("agent-state/tpm/ak.pub"))?)?;
    let nonce = [9u8; 20];
    let mut pulls = Vec::with_capacity(n);
    let mut evidence = None;
    for _ in 0..n {
        let started = Instant::now();
        evidence = Some(runtime.block_on(fetch_evidence(&client, &host, &nonce, 0))?);
        pulls.push(started.elapsed());
    }
    let evidence = evidence.context("no evidence")?;
    let previous = VerifiedState::default();
    let expect = Expectations {
        ak: &ak,
        nonce: &nonce,
        pcrs: &[15],
        dedicated_pcr: 15,
        log_offset: 0,
        previous: &previous,
    };
    let mut checks = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let judged = check(&expect, &evidence);
        checks.push(started.elapsed());
        anyhow::ensure!(
            matches!(&judged, Checked::Judged(j) if j.reasons.is_empty()),
            "check failed: {judged:?}"
        );
    }

    println!("one full attestation against swtpm (EK and AK: {alg}), {n} iterations:");
    summary("attest", server_side);
    summary("via-api", client_side);
    summary("pull", pulls);
    summary("check", checks);
    Ok(())
}
