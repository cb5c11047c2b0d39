//! Set-up shared by the scenarios: one host with the baseline firewall, a verifier, an agent.

use std::time::Duration;

use palisade_integration::palisade::{start_agent_with, Verifier, BASELINE_RULESET};
use palisade_integration::{require_root_tools, Host, Proc};
use serde_json::Value;

/// A verifier and one enrolled host.
pub struct World {
    pub host: Host,
    pub verifier: Verifier,
    pub agent: Proc,
}

/// Pull interval long enough that only explicit attestations run (deterministic tests).
pub const MANUAL: Duration = Duration::from_secs(3600);

impl World {
    pub fn start(label: &str) -> World {
        Self::start_with_interval(label, MANUAL)
    }

    pub fn start_with_interval(label: &str, interval: Duration) -> World {
        Self::start_with(label, interval, "")
    }

    /// `agent_extra` is agent TOML (lines starting with `tpm.` go into `[tpm]`).
    pub fn start_with(label: &str, interval: Duration, agent_extra: &str) -> World {
        Self::start_configured(label, interval, "", agent_extra)
    }

    /// `verifier_extra` is verifier TOML, `agent_extra` agent TOML.
    pub fn start_configured(
        label: &str,
        interval: Duration,
        verifier_extra: &str,
        agent_extra: &str,
    ) -> World {
        require_root_tools().unwrap();
        let host = Host::create(label).unwrap();
        host.nft(BASELINE_RULESET).unwrap();
        let verifier =
            Verifier::start_with(&[host.gateway_ip()], interval, verifier_extra).unwrap();
        let agent = start_agent_with(&host, &verifier, agent_extra).unwrap();
        World {
            host,
            verifier,
            agent,
        }
    }

    pub fn attest(&self) -> Value {
        self.verifier.attest(self.host.label()).unwrap()
    }

    /// Attests until the outcome is `outcome` (the agent re-measures every 200 ms).
    pub fn attest_until(&self, outcome: &str) -> Value {
        palisade_integration::wait_until(
            &format!("outcome {outcome}"),
            Duration::from_secs(20),
            || {
                let r = self.verifier.attest(self.host.label())?;
                Ok((r["outcome"] == outcome).then_some(r))
            },
        )
        .unwrap_or_else(|e| panic!("{e}\nagent log:\n{}", self.agent.log_tail()))
    }
}

pub fn reason_codes(result: &Value) -> Vec<String> {
    result["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// GET `url` and read the JSON body (panics on a transport error or a non-JSON body).
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let resp = client.get(url).send().await.unwrap();
    resp.json().await.unwrap()
}
