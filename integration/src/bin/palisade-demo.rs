//! `palisade-demo`: one host (a network namespace with its own swtpm and a real nftables
//! ruleset) runs the agent; the verifier runs outside it. The host "boots" a real UEFI event log
//! and "runs" a real IMA list into its swtpm (no firmware or IMA here). It attests PASS; one
//! firewall rule changes and the next attestation FAILs naming the rule; an executable outside
//! the IMA runtime policy runs and the next FAILs naming it. Everything is torn down at the end.
#![forbid(unsafe_code)]
#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing by key never panics"
)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use palisade_integration::measured;
use palisade_integration::palisade::{open_ssh, start_agent_with, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, wait_until, Host};

fn step(n: u32, text: &str) {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("\n\x1b[1m[{n}/7] {text}\x1b[0m");
    } else {
        println!("\n[{n}/7] {text}");
    }
}

fn show(verifier: &Verifier, id: &str) -> Result<()> {
    println!("    $ palisade agents show {id}");
    for line in verifier.cli_raw(&["agents", "show", id])?.lines() {
        println!("    {line}");
    }
    Ok(())
}

/// Waits until the latest stored result of `id` has `outcome` and returns it.
fn latest(verifier: &Verifier, id: &str, outcome: &str) -> Result<serde_json::Value> {
    wait_until(
        &format!("a {outcome} result"),
        Duration::from_secs(30),
        || {
            let shown = verifier.cli(&["agents", "show", id])?;
            let latest = shown["latest"].clone();
            Ok((latest["outcome"] == outcome).then_some(latest))
        },
    )
}

fn main() -> Result<()> {
    require_root_tools()?;
    println!("palisade demo: TPM-attested firewall state");

    step(1, "creating host web1: network namespace, veth, swtpm");
    let host = Host::create("web1")?;
    println!(
        "    namespace {} at {}, TPM at {} (EK certificate: {})",
        host.netns(),
        host.ip(),
        host.tcti(),
        host.has_ek_cert()
    );

    step(
        2,
        "loading web1's firewall (nftables, inside the namespace)",
    );
    host.nft(BASELINE_RULESET)?;
    for line in host
        .run("nft", &["list", "chain", "inet", "filter", "input"])?
        .lines()
    {
        println!("    {line}");
    }

    println!("    booting web1: a real UEFI event log (Secure Boot on) extended into PCRs 0-7,");
    println!(
        "    a real IMA list (826 entries) extended into PCR 10, as firmware and the kernel would"
    );
    let (verifier_toml, agent_toml, list) = measured::configure(host.dir())?;
    measured::boot_and_run(&host, &list)?;

    step(
        3,
        "starting the verifier (root namespace; polls every second; IMA runtime policy `host`)",
    );
    let verifier =
        Verifier::start_with(&[host.gateway_ip()], Duration::from_secs(1), &verifier_toml)?;
    println!(
        "    listening on port {}, state in {}",
        verifier.port(),
        verifier.dir().display()
    );

    step(4, "starting the agent inside web1: measure into PCR 15, enrol with MakeCredential/ActivateCredential");
    let agent = start_agent_with(&host, &verifier, &agent_toml)?;
    println!("    enrolled; agent log: {}", agent.log_path().display());

    step(
        5,
        "attesting web1: quote → replay PCR 15's log, the boot log (PCRs 0-7), IMA (PCR 10) → digests → policies",
    );
    latest(&verifier, "web1", "pass")?;
    show(&verifier, "web1")?;
    let started = Instant::now();
    let timed = verifier.attest("web1")?;
    let wall = started.elapsed();
    if timed["outcome"] != "pass" {
        bail!("expected PASS, got {timed}");
    }

    step(
        6,
        "changing one rule on web1: `tcp dport 2222 accept` becomes `tcp dport 22 accept`",
    );
    open_ssh(&host)?;
    let changed = Instant::now();
    let fail = latest(&verifier, "web1", "fail")?;
    println!("    detected {:.1} s after the change (agent re-measures every 200 ms, verifier polls every 1 s)", changed.elapsed().as_secs_f64());
    show(&verifier, "web1")?;
    let named = fail["reasons"].as_array().into_iter().flatten().any(|r| {
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains("accepts tcp/22"))
    });
    if !named {
        bail!("the failure does not name the changed rule: {fail}");
    }

    step(
        7,
        "running an executable the IMA runtime policy does not list: /usr/local/bin/cryptominer",
    );
    let miner = measured::executable("/usr/local/bin/cryptominer", b"not in the policy");
    measured::measure(&host, std::slice::from_ref(&miner))?;
    measured::append(&list, &[miner])?;
    wait_until("an ima_policy failure", Duration::from_secs(30), || {
        let shown = verifier.cli(&["agents", "show", "web1"])?;
        let latest = shown["latest"].clone();
        let named = latest["reasons"].as_array().into_iter().flatten().any(|r| {
            r["code"] == "ima_policy"
                && r["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("cryptominer"))
        });
        Ok(named.then_some(latest))
    })?;
    show(&verifier, "web1")?;

    println!(
        "\none full attestation (quote + verify + policy + store), verifier-side: {:.1} ms; through the CLI: {:.1} ms",
        timed["duration_us"].as_f64().context("duration")? / 1000.0,
        wall.as_secs_f64() * 1000.0
    );
    println!("demo complete: PASS, then FAIL naming the changed rule, then FAIL naming the unknown executable. Cleaning up.");
    Ok(())
}
