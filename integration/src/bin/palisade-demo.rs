//! `palisade-demo`: one host (a network namespace with its own swtpm and a real nftables
//! ruleset) runs the agent; the verifier runs outside it. The host attests PASS; one firewall rule
//! changes; the next attestation FAILs naming the rule. Everything is torn down at the end.
#![forbid(unsafe_code)]
#![allow(
    clippy::indexing_slicing,
    reason = "serde_json::Value indexing by key never panics"
)]

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use palisade_integration::palisade::{open_ssh, start_agent, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, wait_until, Host};

fn step(n: u32, text: &str) {
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!("\n\x1b[1m[{n}/6] {text}\x1b[0m");
    } else {
        println!("\n[{n}/6] {text}");
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

    step(
        3,
        "starting the verifier (root namespace; polls every second)",
    );
    let verifier = Verifier::start(&[host.gateway_ip()], Duration::from_secs(1))?;
    println!(
        "    listening on port {}, state in {}",
        verifier.port(),
        verifier.dir().display()
    );

    step(4, "starting the agent inside web1: measure into PCR 15, enrol with MakeCredential/ActivateCredential");
    let agent = start_agent(&host, &verifier)?;
    println!("    enrolled; agent log: {}", agent.log_path().display());

    step(
        5,
        "attesting web1: quote → replay PCR 15's log → check the ruleset digest → Rego policy",
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

    println!(
        "\none full attestation (quote + verify + policy + store), verifier-side: {:.1} ms; through the CLI: {:.1} ms",
        timed["duration_us"].as_f64().context("duration")? / 1000.0,
        wall.as_secs_f64() * 1000.0
    );
    println!("demo complete: PASS, then FAIL naming the changed rule. Cleaning up.");
    Ok(())
}
