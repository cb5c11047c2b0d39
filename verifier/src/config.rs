//! Verifier configuration: TOML with `PALISADE_VERIFIER_*` environment overrides, validated
//! into [`Config`]. Loading never binds ports or opens the database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade_cluster_policy::Limits;
use serde::Deserialize;

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "PALISADE_VERIFIER_";

pub use palisade_transport::config::ConfigError;

/// The configuration as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Database, CA and certificates live here.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Address of the API (registrar + operator).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Names and addresses agents and operators reach the verifier by (server certificate SANs).
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// Database URL; default `sqlite://<state_dir>/palisade.db`.
    pub database: Option<String>,
    /// How often each agent is attested, in milliseconds.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u64,
    /// Longest delay between attempts at an agent that keeps being unreachable (the interval
    /// doubles after each error up to this), in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Timeout of one quote request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub quote_timeout_ms: u64,
    /// Attestations in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Accept agents whose dedicated PCR is resettable (16, 23). Off: such agents are refused.
    #[serde(default)]
    pub allow_resettable_pcr: bool,
    /// Directory of trusted TPM-manufacturer CA certificates (PEM/DER) EK certificates are
    /// checked against; unset: every agent's EK is `unverified`.
    pub ek_ca_dir: Option<PathBuf>,
    /// Refuse agents that send no EK certificate (needs `ek_ca_dir`).
    #[serde(default)]
    pub require_ek_certificate: bool,
    /// Monitor an agent only once an operator approved it (`palisade agents enroll`), before
    /// or after it registers; until then it waits, proven but unmonitored.
    #[serde(default)]
    pub require_approval: bool,
    /// Directory of `.rego` modules to use as the node policy instead of the shipped baseline.
    pub policy_dir: Option<PathBuf>,
    /// Cluster policies: templates (added to the shipped library) and constraints
    /// (`constraints.json`) evaluated over every node and the fleet (`docs/cluster-policy.md`).
    pub cluster_policy_dir: Option<PathBuf>,
    /// Wall-clock limit of one policy evaluation (node policy, one constraint over a node or
    /// the fleet), in milliseconds; past it the result is "could not evaluate".
    #[serde(default = "default_policy_time_limit_ms")]
    pub policy_time_limit_ms: u64,
    /// Heap one policy evaluation may grow by, in MiB (0: unlimited); past it the result is
    /// "could not evaluate".
    #[serde(default = "default_policy_memory_limit_mib")]
    pub policy_memory_limit_mib: u64,
    /// Verify the kernel's IMA measurement list (PCR 10) of agents that have one.
    #[serde(default = "yes")]
    pub ima: bool,
    /// Directory of IMA runtime policies: `<name>.json` (Keylime runtime policy, format 1) or
    /// `<name>.txt` (flat allowlist, `digest  path` lines). An agent's `ima-policy` label names
    /// the one it is judged by.
    pub ima_policy_dir: Option<PathBuf>,
    /// The runtime policy of agents without an `ima-policy` label (none: IMA entries are
    /// replayed and summarised, not judged).
    pub ima_default_policy: Option<String>,
    /// Verify the UEFI boot event log (PCRs 0-7) of agents that have one.
    #[serde(default = "yes")]
    pub measured_boot: bool,
    /// Webhook (Alertmanager-compatible JSON) that receives an alert on every state change.
    pub alert_webhook: Option<String>,
    /// File holding the webhook's HMAC key; default `<state_dir>/alert-hmac.key`, created.
    pub alert_hmac_key_file: Option<PathBuf>,
    /// CA certificates (PEM) an `https` webhook is checked against; default: the verifier's CA.
    pub alert_webhook_ca: Option<PathBuf>,
}

fn yes() -> bool {
    true
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/palisade-verifier")
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8443))
}
fn default_interval_ms() -> u64 {
    2000
}
fn default_max_backoff_ms() -> u64 {
    60_000
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_concurrency() -> usize {
    32
}
fn default_policy_time_limit_ms() -> u64 {
    Limits::DEFAULT_TIME_MS
}
fn default_policy_memory_limit_mib() -> u64 {
    Limits::DEFAULT_MEMORY_MIB
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// State directory.
    pub state_dir: PathBuf,
    /// API address.
    pub listen: SocketAddr,
    /// Server certificate names.
    pub tls_names: Vec<String>,
    /// Database URL.
    pub database: String,
    /// Attestation interval.
    pub interval: Duration,
    /// Longest backoff after errors (never below `interval`).
    pub max_backoff: Duration,
    /// Quote request timeout.
    pub quote_timeout: Duration,
    /// Concurrent attestations.
    pub max_concurrency: usize,
    /// Whether resettable PCRs are accepted.
    pub allow_resettable_pcr: bool,
    /// Trusted EK CA certificates.
    pub ek_ca_dir: Option<PathBuf>,
    /// Refuse agents without an EK certificate.
    pub require_ek_certificate: bool,
    /// Monitor only operator-approved agents.
    pub require_approval: bool,
    /// Custom policy directory.
    pub policy_dir: Option<PathBuf>,
    /// Cluster policy directory.
    pub cluster_policy_dir: Option<PathBuf>,
    /// Limits of every policy evaluation.
    pub policy_limits: Limits,
    /// Which kernel- and firmware-written logs are verified, and by which runtime policies.
    pub host_logs: HostLogsConfig,
    /// Alert delivery, if a webhook is configured.
    pub alerts: Option<AlertConfig>,
}

/// Which kernel- and firmware-written logs are verified (`host_logs.rs`).
#[derive(Debug, Clone, Default)]
pub struct HostLogsConfig {
    /// Verify IMA (PCR 10).
    pub ima: bool,
    /// IMA runtime policies by file name.
    pub ima_policy_dir: Option<PathBuf>,
    /// The runtime policy of agents without an `ima-policy` label.
    pub ima_default_policy: Option<String>,
    /// Verify the UEFI boot event log (PCRs 0-7).
    pub measured_boot: bool,
}

/// Where alerts go.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The webhook URL (`http` or `https`).
    pub webhook: String,
    /// The HMAC key file.
    pub hmac_key_file: PathBuf,
    /// CA file for an `https` webhook (default: the verifier's CA).
    pub ca: Option<PathBuf>,
}

impl Config {
    /// Reads `path` (if any), applies overrides from `env`, validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        palisade_transport::config::load::<RawConfig>(path, ENV_PREFIX, env)?.validate()
    }
}

impl RawConfig {
    /// Checks ranges.
    pub fn validate(self) -> Result<Config, ConfigError> {
        if self.interval_ms < 100 {
            return Err(ConfigError::Invalid {
                field: "interval_ms",
                reason: "must be at least 100".into(),
            });
        }
        if self.quote_timeout_ms < 100 {
            return Err(ConfigError::Invalid {
                field: "quote_timeout_ms",
                reason: "must be at least 100".into(),
            });
        }
        if self.require_ek_certificate && self.ek_ca_dir.is_none() {
            return Err(ConfigError::Invalid {
                field: "require_ek_certificate",
                reason: "needs ek_ca_dir (the CAs certificates are checked against)".into(),
            });
        }
        if self.policy_time_limit_ms < 10 {
            return Err(ConfigError::Invalid {
                field: "policy_time_limit_ms",
                reason: "must be at least 10".into(),
            });
        }
        if self.max_concurrency == 0 {
            return Err(ConfigError::Invalid {
                field: "max_concurrency",
                reason: "must be at least 1".into(),
            });
        }
        let database = self.database.unwrap_or_else(|| {
            format!("sqlite://{}", self.state_dir.join("palisade.db").display())
        });
        if let Err(e) = crate::store::Backend::of(&database) {
            return Err(ConfigError::Invalid {
                field: "database",
                reason: e.to_string(),
            });
        }
        let alerts = match self.alert_webhook {
            None => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(AlertConfig {
                    webhook: url,
                    hmac_key_file: self
                        .alert_hmac_key_file
                        .unwrap_or_else(|| self.state_dir.join("alert-hmac.key")),
                    ca: self.alert_webhook_ca,
                })
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    field: "alert_webhook",
                    reason: "must be an http:// or https:// URL".into(),
                })
            }
        };
        let mut tls_names = self.tls_names;
        for default in ["localhost", "127.0.0.1"] {
            if !tls_names.iter().any(|n| n == default) {
                tls_names.push(default.to_owned());
            }
        }
        Ok(Config {
            state_dir: self.state_dir,
            listen: self.listen,
            tls_names,
            database,
            interval: Duration::from_millis(self.interval_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms),
            quote_timeout: Duration::from_millis(self.quote_timeout_ms),
            max_concurrency: self.max_concurrency,
            allow_resettable_pcr: self.allow_resettable_pcr,
            ek_ca_dir: self.ek_ca_dir,
            require_ek_certificate: self.require_ek_certificate,
            require_approval: self.require_approval,
            policy_dir: self.policy_dir,
            cluster_policy_dir: self.cluster_policy_dir,
            policy_limits: Limits::from_ms_mib(
                self.policy_time_limit_ms,
                self.policy_memory_limit_mib,
            ),
            host_logs: HostLogsConfig {
                ima: self.ima,
                ima_policy_dir: self.ima_policy_dir,
                ima_default_policy: self.ima_default_policy,
                measured_boot: self.measured_boot,
            },
            alerts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::load(
            None,
            env(&[
                ("PALISADE_VERIFIER_INTERVAL_MS", "500"),
                ("PALISADE_VERIFIER_STATE_DIR", "/tmp/v"),
            ]),
        )
        .unwrap();
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.database, "sqlite:///tmp/v/palisade.db");
        assert!(c.tls_names.contains(&"127.0.0.1".to_owned()));
        assert!(!c.allow_resettable_pcr);
    }

    #[test]
    fn invalid_values_are_refused() {
        assert!(Config::load(None, env(&[("PALISADE_VERIFIER_INTERVAL_MS", "5")])).is_err());
        assert!(Config::load(None, env(&[("PALISADE_VERIFIER_DATABASE", "mysql://x")])).is_err());
        let pg = "postgres://palisade@db.example:5432/palisade?sslmode=require";
        let c = Config::load(None, env(&[("PALISADE_VERIFIER_DATABASE", pg)])).unwrap();
        assert_eq!(c.database, pg);
        assert!(Config::load(None, env(&[("PALISADE_VERIFIER_BOGUS", "1")])).is_err());
    }

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        palisade_transport::config::parse::<RawConfig>(text, ENV_PREFIX, env)?.validate()
    }

    #[test]
    fn policy_limits_default_to_the_engine_defaults() {
        let limits = parse("", &[]).unwrap().policy_limits;
        assert_eq!(limits.time, Limits::DEFAULT_TIME);
        assert_eq!(limits.memory, Some(Limits::DEFAULT_MEMORY));
    }

    #[test]
    fn policy_limits_come_from_the_file_and_the_environment() {
        let c = parse(
            "policy_time_limit_ms = 250\npolicy_memory_limit_mib = 64",
            &[("PALISADE_VERIFIER_POLICY_MEMORY_LIMIT_MIB", "128")],
        )
        .unwrap();
        assert_eq!(c.policy_limits.time, Duration::from_millis(250));
        assert_eq!(c.policy_limits.memory, Some(128 << 20));
        let unlimited = parse("policy_memory_limit_mib = 0", &[]).unwrap();
        assert_eq!(unlimited.policy_limits.memory, None);
    }

    #[test]
    fn a_policy_time_limit_below_10_ms_is_refused() {
        let err = parse("policy_time_limit_ms = 5", &[]).unwrap_err();
        assert!(err.to_string().contains("policy_time_limit_ms"), "{err}");
    }
}
