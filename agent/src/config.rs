//! Agent configuration in two phases: a raw TOML document with `PALISADE_AGENT_*` environment
//! overrides, then a validated [`Config`]. Loading never binds ports or opens the TPM.
//!
//! Environment overrides name a key path with `__` between levels:
//! `PALISADE_AGENT_PCR=14`, `PALISADE_AGENT_TPM__TCTI=swtpm:port=2321`. Values are read as TOML
//! literals when they parse as one (`14`, `true`, `["a"]`), else as strings.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::tpm::KeyAlg;

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "PALISADE_AGENT_";

/// PCRs a dedicated log must never use: resettable from locality 0 (16: debug, 23: application).
pub const RESETTABLE_PCRS: [u8; 2] = [16, 23];
/// The PCR the kernel's IMA extends.
pub const IMA_PCR: u8 = 10;

pub use palisade_transport::config::ConfigError;

/// The configuration as written (serde shape).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Agent identifier; default: `agent-` + the first 16 hex digits of the EK fingerprint.
    pub agent_id: Option<String>,
    /// Where the AK, the log and the TLS identity live.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The dedicated PCR (8-15 or 17-22; never 16 or 23).
    #[serde(default = "default_pcr")]
    pub pcr: u8,
    /// Network namespace to measure: empty for the agent's own, a name from `ip netns`, or a path.
    #[serde(default)]
    pub netns: String,
    /// The fallback re-measurement interval, in milliseconds (default 30000). Changes are
    /// measured when the kernel announces them (nftables commits); this slow poll is only the
    /// safety net for events that were lost or never sent.
    #[serde(default = "default_interval_ms")]
    pub measure_interval_ms: u64,
    /// Operator labels sent at enrolment.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// TPM access.
    #[serde(default)]
    pub tpm: RawTpm,
    /// Measuring the network configuration (links, addresses, routes, rules, sysctls).
    #[serde(default)]
    pub network: RawNetwork,
    /// Measuring the runtime inventory (BPF programs and attachments, sockets, kernel) and
    /// watching it with eBPF.
    #[serde(default)]
    pub runtime: RawRuntime,
    /// The kernel's and firmware's logs sent beside the agent's own.
    #[serde(default)]
    pub host_logs: RawHostLogs,
    /// The pull API.
    pub api: RawApi,
    /// The verifier to enrol with.
    pub verifier: RawVerifier,
}

/// `[tpm]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTpm {
    /// TCTI string, e.g. `device:/dev/tpmrm0` or `swtpm:host=127.0.0.1,port=2321`.
    #[serde(default = "default_tcti")]
    pub tcti: String,
    /// EK algorithm.
    #[serde(default)]
    pub ek_alg: KeyAlg,
    /// AK algorithm.
    #[serde(default)]
    pub ak_alg: KeyAlg,
}

impl Default for RawTpm {
    fn default() -> Self {
        Self {
            tcti: default_tcti(),
            ek_alg: KeyAlg::Rsa,
            ak_alg: KeyAlg::Rsa,
        }
    }
}

/// `[network]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Measure the network configuration of `netns` as its own log entry (kind `network`,
    /// document `palisade.network/1`) at start and on every rtnetlink change (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How long a burst of rtnetlink notifications is collected before one measurement, in
    /// milliseconds (default 25; 1-1000).
    #[serde(default = "default_network_coalesce_ms")]
    pub coalesce_ms: u64,
}

impl Default for RawNetwork {
    fn default() -> Self {
        Self {
            enabled: true,
            coalesce_ms: default_network_coalesce_ms(),
        }
    }
}

/// Validated `[network]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Whether the network configuration is measured.
    pub enabled: bool,
    /// Its coalescing window.
    pub coalesce: Duration,
}

/// `[runtime]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    /// Measure the runtime inventory (kinds `bpf`, `sockets`, `kernel`) at start, on eBPF
    /// events and on the poll (default true).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Load palisade's eBPF programs for change events and attribution (default true). Without
    /// them, the inventory is measured by the poll only.
    #[serde(default = "default_true")]
    pub ebpf: bool,
    /// How long a burst of events is collected before one measurement, in milliseconds
    /// (default 15; 1-1000).
    #[serde(default = "default_runtime_coalesce_ms")]
    pub coalesce_ms: u64,
    /// Attributed events kept for the evidence (default 4096; 16-1000000).
    #[serde(default = "default_event_buffer")]
    pub event_buffer: usize,
    /// Size of the kernel ring buffer the eBPF programs write to, in bytes (a power of two,
    /// 4096-67108864; default 262144). Events that do not fit are counted and measured as lost.
    #[serde(default = "default_ring_bytes")]
    pub ring_bytes: u32,
}

impl Default for RawRuntime {
    fn default() -> Self {
        Self {
            enabled: true,
            ebpf: true,
            coalesce_ms: default_runtime_coalesce_ms(),
            event_buffer: default_event_buffer(),
            ring_bytes: default_ring_bytes(),
        }
    }
}

/// Validated `[runtime]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeSettings {
    /// Whether the runtime inventory is measured.
    pub enabled: bool,
    /// Whether the eBPF monitor is loaded.
    pub ebpf: bool,
    /// The coalescing window of each runtime object.
    pub coalesce: Duration,
    /// Events kept for the evidence.
    pub event_buffer: usize,
    /// The eBPF ring buffer's size in bytes.
    pub ring_bytes: u32,
}

/// `[api]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL the verifier reaches this agent at (`https://host:port`).
    pub contact: String,
    /// Extra names for the agent's self-signed certificate (the contact host is always included).
    #[serde(default)]
    pub tls_names: Vec<String>,
}

/// `[host_logs]`: files the verifier may ask for; a missing file is not sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostLogs {
    /// The ASCII IMA measurement list; `""`: never sent.
    #[serde(default = "default_ima_list")]
    pub ima_list: PathBuf,
    /// The binary UEFI (TCG2) event log; `""`: never sent.
    #[serde(default = "default_boot_log")]
    pub boot_log: PathBuf,
}

impl Default for RawHostLogs {
    fn default() -> Self {
        Self {
            ima_list: default_ima_list(),
            boot_log: default_boot_log(),
        }
    }
}

impl RawHostLogs {
    /// The paths, with empty ones meaning "never sent".
    pub fn paths(&self) -> crate::host_logs::HostLogPaths {
        let given = |p: &PathBuf| (!p.as_os_str().is_empty()).then(|| p.clone());
        crate::host_logs::HostLogPaths {
            ima_list: given(&self.ima_list),
            boot_log: given(&self.boot_log),
        }
    }
}

fn default_ima_list() -> PathBuf {
    PathBuf::from(crate::host_logs::DEFAULT_IMA_LIST)
}
fn default_boot_log() -> PathBuf {
    PathBuf::from(crate::host_logs::DEFAULT_BOOT_LOG)
}

/// `[verifier]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerifier {
    /// The verifier's base URL (`https://host:port`).
    pub url: String,
    /// The verifier's CA certificate: trusted for the verifier's server certificate and as the
    /// issuer of the client certificates allowed to call the pull API.
    pub ca_cert: PathBuf,
    /// Push mode: the agent sends its evidence to the verifier (for hosts the verifier cannot
    /// reach) instead of waiting to be pulled. The pull API keeps serving either way.
    #[serde(default)]
    pub push: bool,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/palisade-agent")
}
fn default_pcr() -> u8 {
    15
}
fn default_interval_ms() -> u64 {
    30_000
}
fn default_true() -> bool {
    true
}
fn default_network_coalesce_ms() -> u64 {
    u64::try_from(crate::triggers::NETWORK_COALESCE_WINDOW.as_millis()).unwrap_or(25)
}
fn default_runtime_coalesce_ms() -> u64 {
    u64::try_from(crate::triggers::COALESCE_WINDOW.as_millis()).unwrap_or(15)
}
fn default_event_buffer() -> usize {
    4096
}
fn default_ring_bytes() -> u32 {
    256 * 1024
}
fn default_tcti() -> String {
    "device:/dev/tpmrm0".to_owned()
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Explicit agent id, if configured.
    pub agent_id: Option<String>,
    /// State directory.
    pub state_dir: PathBuf,
    /// The dedicated PCR.
    pub pcr: u8,
    /// Namespace to measure.
    pub netns: palisade_collectors::NetNs,
    /// Fallback re-measurement interval (changes are measured on events).
    pub measure_interval: Duration,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// TPM settings.
    pub tpm: RawTpm,
    /// Network configuration measurement.
    pub network: NetworkSettings,
    /// Runtime inventory measurement and eBPF monitoring.
    pub runtime: RuntimeSettings,
    /// Where the IMA list and the boot log are.
    pub host_logs: crate::host_logs::HostLogPaths,
    /// API settings.
    pub api: RawApi,
    /// Verifier settings.
    pub verifier: RawVerifier,
}

impl Config {
    /// Reads `path` (if given), applies environment overrides from `env`, validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        palisade_transport::config::load::<RawConfig>(path, ENV_PREFIX, env)?.validate()
    }

    /// Parses TOML text, applies overrides, validates.
    pub fn from_toml(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        palisade_transport::config::parse::<RawConfig>(text, ENV_PREFIX, env)?.validate()
    }
}

impl RawConfig {
    /// Checks ranges and consistency.
    pub fn validate(self) -> Result<Config, ConfigError> {
        if RESETTABLE_PCRS.contains(&self.pcr) {
            return Err(ConfigError::invalid(
                "pcr",
                format!(
                    "PCR {} can be reset from locality 0, so a root attacker could reset it and replay a clean log; use one of 8-15",
                    self.pcr
                ),
            ));
        }
        if self.pcr == IMA_PCR {
            return Err(ConfigError::invalid(
                "pcr",
                "PCR 10 is the kernel's IMA PCR; use another of 8-15",
            ));
        }
        if self.pcr > 23 || self.pcr < 8 {
            return Err(ConfigError::invalid(
                "pcr",
                format!(
                    "PCR {} is not usable: 0-7 belong to firmware, the highest is 23",
                    self.pcr
                ),
            ));
        }
        if let Some(id) = &self.agent_id {
            if !palisade_evidence::wire::valid_agent_id(id) {
                return Err(ConfigError::Invalid {
                    field: "agent_id",
                    reason: "must be 1-128 characters of [A-Za-z0-9._-]".into(),
                });
            }
        }
        if self.measure_interval_ms < 50 {
            return Err(ConfigError::Invalid {
                field: "measure_interval_ms",
                reason: "must be at least 50".into(),
            });
        }
        if !(1..=1000).contains(&self.network.coalesce_ms) {
            return Err(ConfigError::Invalid {
                field: "network.coalesce_ms",
                reason: "must be 1-1000".into(),
            });
        }
        if !(1..=1000).contains(&self.runtime.coalesce_ms) {
            return Err(ConfigError::Invalid {
                field: "runtime.coalesce_ms",
                reason: "must be 1-1000".into(),
            });
        }
        if !(16..=1_000_000).contains(&self.runtime.event_buffer) {
            return Err(ConfigError::Invalid {
                field: "runtime.event_buffer",
                reason: "must be 16-1000000".into(),
            });
        }
        let ring = self.runtime.ring_bytes;
        if !ring.is_power_of_two() || !(4096..=64 << 20).contains(&ring) {
            return Err(ConfigError::Invalid {
                field: "runtime.ring_bytes",
                reason: "must be a power of two, 4096-67108864".into(),
            });
        }
        for (field, url) in [
            ("api.contact", &self.api.contact),
            ("verifier.url", &self.verifier.url),
        ] {
            if !url.starts_with("https://") {
                return Err(ConfigError::Invalid {
                    field,
                    reason: format!("{url:?} must be an https:// URL"),
                });
            }
        }
        let netns = match self.netns.as_str() {
            "" => palisade_collectors::NetNs::Current,
            s if s.contains('/') => palisade_collectors::NetNs::Path(PathBuf::from(s)),
            name => palisade_collectors::NetNs::named(name),
        };
        Ok(Config {
            agent_id: self.agent_id,
            state_dir: self.state_dir,
            pcr: self.pcr,
            netns,
            measure_interval: Duration::from_millis(self.measure_interval_ms),
            labels: self.labels,
            tpm: self.tpm,
            network: NetworkSettings {
                enabled: self.network.enabled,
                coalesce: Duration::from_millis(self.network.coalesce_ms),
            },
            runtime: RuntimeSettings {
                enabled: self.runtime.enabled,
                ebpf: self.runtime.ebpf,
                coalesce: Duration::from_millis(self.runtime.coalesce_ms),
                event_buffer: self.runtime.event_buffer,
                ring_bytes: self.runtime.ring_bytes,
            },
            host_logs: self.host_logs.paths(),
            api: self.api,
            verifier: self.verifier,
        })
    }
}

impl Config {
    /// The host part of the contact URL (for the TLS certificate's names).
    pub fn contact_host(&self) -> Option<String> {
        let rest = self.api.contact.strip_prefix("https://")?;
        let authority = rest.split('/').next()?;
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next()?,
            None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
        };
        Some(host.to_owned())
    }
}

#[cfg(test)]
mod tests;
