//! Logs the kernel and firmware write beside the agent's own: the IMA measurement list (PCR 10)
//! and the UEFI boot event log (PCRs 0-7). What a quote request asks for, which runtime policy
//! judges an agent, and the judgement of both logs against the quoted PCRs (`ima.rs`, `boot.rs`).
//!
//! Both are judged after the evidence chain held, from the PCR values that quote verified, in
//! the policy's blocking task. A log that does not reproduce its PCRs (or does not parse) fails
//! the attestation like a broken chain: the verification state does not advance. A file the
//! runtime policy does not allow is a policy finding: the state advances (each entry is judged
//! once) and the finding stays in the running report, so the node keeps failing until the TPM
//! is reset or the policy changes (which re-judges the whole list).

mod boot;
mod ima;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use palisade_cluster_policy::PolicyRef;
use palisade_evidence::verify::VerifiedState;
use palisade_evidence::wire::{BootLog, Evidence, ImaSlice, QuoteRequest};
use palisade_evidence::{Reason, Sha256Digest};
use palisade_ima::policy::RuntimePolicy;

use crate::config::HostLogsConfig;
use crate::store::{AgentRecord, Store, StoreError};

/// PCRs the UEFI boot log measures that palisade verifies (PCRs 8-9 belong to the boot loader
/// and kernel on most distributions and are not in the firmware's log).
pub const BOOT_PCRS: std::ops::RangeInclusive<u8> = 0..=7;
/// The IMA PCR.
pub const IMA_PCR: u8 = 10;
/// The label that names an agent's IMA runtime policy.
pub const IMA_POLICY_LABEL: &str = "ima-policy";
/// Largest runtime policy file read.
const MAX_POLICY_BYTES: u64 = 256 * 1024 * 1024;

/// A runtime policy and the name and version it is stored under (`ima/<name>`).
#[derive(Debug)]
pub struct ImaPolicy {
    /// Its file name without extension.
    pub name: String,
    /// Stored name, version and hash.
    pub reference: PolicyRef,
    /// The parsed policy.
    pub policy: RuntimePolicy,
}

/// Which host logs are verified, and the runtime policies by name.
#[derive(Debug, Default)]
pub struct HostLogs {
    config: HostLogsConfig,
    policies: BTreeMap<String, Arc<ImaPolicy>>,
}

/// A runtime policy that cannot be loaded (the verifier does not start).
#[derive(Debug, thiserror::Error)]
pub enum HostLogsError {
    /// Reading the policy directory or a file.
    #[error("IMA runtime policy {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// A policy that does not parse.
    #[error("IMA runtime policy {path}: {source}")]
    Policy {
        /// The file.
        path: String,
        /// Why.
        source: palisade_ima::policy::PolicyError,
    },
    /// The default policy names no file in the directory.
    #[error("ima_default_policy {0:?} is not in ima_policy_dir")]
    UnknownDefault(String),
    /// Storing a policy version.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an agent sent of its host logs, with the PCR values its (verified) quote holds.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    /// Quoted SHA-256-bank PCR values.
    pub pcrs: BTreeMap<u8, Sha256Digest>,
    /// The IMA list from the requested entry.
    pub ima: Option<ImaSlice>,
    /// The UEFI boot event log.
    pub boot_log: Option<BootLog>,
}

impl Sent {
    /// The host-log parts of `evidence` (copied: judged off the async workers).
    pub fn of(evidence: &Evidence) -> Self {
        Self {
            pcrs: evidence.pcrs.clone(),
            ima: evidence.ima.clone(),
            boot_log: evidence.boot_log.clone(),
        }
    }

    /// Nothing to parse or hash: judging it is cheap enough for an async worker.
    pub fn is_light(&self) -> bool {
        self.ima.is_none() && self.boot_log.is_none()
    }
}

/// What the host logs of one attestation came to.
#[derive(Debug, Default)]
pub struct HostVerdict {
    /// Failed checks: an integrity reason (`is_host_log_integrity`) fails the attestation
    /// without advancing the state; an `ima_policy` reason is a finding like a policy's.
    pub reasons: Vec<Reason>,
}

impl HostVerdict {
    /// True when a log could not be trusted (the state must not advance).
    pub fn broken(&self) -> bool {
        self.reasons.iter().any(|r| r.code.is_host_log_integrity())
    }
}

impl HostLogs {
    /// Host logs as configured, without runtime policies (tests and benchmarks).
    pub fn new(config: HostLogsConfig) -> Self {
        Self {
            config,
            policies: BTreeMap::new(),
        }
    }

    /// Loads every runtime policy in the configured directory and stores each as a named,
    /// versioned policy (`ima/<name>`), like node and cluster policies.
    pub async fn load(config: &HostLogsConfig, store: &Store) -> Result<Self, HostLogsError> {
        let mut policies = BTreeMap::new();
        if let Some(dir) = &config.ima_policy_dir {
            for (name, path) in policy_files(dir)? {
                let bytes = read_policy(&path)?;
                let policy = tokio::task::spawn_blocking({
                    let bytes = bytes.clone();
                    move || RuntimePolicy::load(&bytes)
                })
                .await
                .map_err(|e| HostLogsError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::other(e),
                })?
                .map_err(|source| HostLogsError::Policy {
                    path: path.display().to_string(),
                    source,
                })?;
                let file = path
                    .file_name()
                    .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let reference = store
                    .record_policy(&format!("ima/{name}"), 1, &[(file, text)])
                    .await?;
                tracing::info!(policy = %name, version = reference.version, digests = policy.digests.len(), "IMA runtime policy loaded");
                let loaded = ImaPolicy {
                    name: name.clone(),
                    reference,
                    policy,
                };
                policies.insert(name, Arc::new(loaded));
            }
        }
        if let Some(default) = &config.ima_default_policy {
            if !policies.contains_key(default) {
                return Err(HostLogsError::UnknownDefault(default.clone()));
            }
        }
        Ok(Self {
            config: config.clone(),
            policies,
        })
    }

    /// The runtime policy that judges an agent with `labels`: its `ima-policy` label, else the
    /// default. A label naming no loaded policy judges by none (the summary says which).
    pub fn policy_for(&self, labels: &BTreeMap<String, String>) -> Option<&Arc<ImaPolicy>> {
        let name = labels
            .get(IMA_POLICY_LABEL)
            .or(self.config.ima_default_policy.as_ref())?;
        self.policies.get(name)
    }

    /// The quote request for `agent` continuing from `state`: its dedicated PCR, PCRs 0-7 and
    /// 10 when those logs are verified, the IMA list from the first entry not yet judged by
    /// the agent's current policy, and the boot log while this boot's is not verified.
    pub fn request(
        &self,
        agent: &AgentRecord,
        state: &VerifiedState,
        nonce: Vec<u8>,
    ) -> QuoteRequest {
        let mut pcrs = vec![agent.pcr];
        if self.config.measured_boot || self.config.ima {
            pcrs.extend(BOOT_PCRS);
        }
        if self.config.ima {
            pcrs.push(IMA_PCR);
        }
        pcrs.sort_unstable();
        pcrs.dedup();
        let ima_offset = self.config.ima.then(|| {
            let policy = self.policy_for(&agent.labels).map(|p| &p.reference.hash);
            state
                .ima
                .as_ref()
                .filter(|c| c.policy.as_ref() == policy)
                .map_or(0, |c| c.entries)
        });
        QuoteRequest {
            nonce,
            pcrs,
            log_offset: state.log_offset(),
            event_cursor: state.event_cursor.clone(),
            ima_offset,
            boot_log: self.config.measured_boot
                && (state.boot.is_none() || agent.last_outcome == "fail"),
        }
    }

    /// Judges the host logs an agent sent against the PCR values its quote verified, and
    /// moves `state`'s checkpoints on. Blocking unless `sent.is_light()` (hashing, policy).
    pub fn judge(
        &self,
        labels: &BTreeMap<String, String>,
        sent: &Sent,
        state: &mut VerifiedState,
    ) -> HostVerdict {
        let mut verdict = HostVerdict::default();
        if self.config.measured_boot {
            match boot::judge(sent, state.boot.as_ref()) {
                Ok(checkpoint) => state.boot = checkpoint,
                Err(reason) => verdict.reasons.push(reason),
            }
        }
        if self.config.ima {
            let policy = self.policy_for(labels).map(Arc::as_ref);
            let wanted = labels.get(IMA_POLICY_LABEL).map(String::as_str);
            match ima::judge(sent, state.ima.as_ref(), policy, wanted) {
                Ok(judged) => {
                    state.ima = judged.checkpoint;
                    verdict.reasons.extend(judged.finding);
                }
                Err(reason) => verdict.reasons.push(reason),
            }
        }
        verdict
    }
}

/// `(name, path)` of every `*.json` / `*.txt` file in `dir`, by name.
fn policy_files(dir: &Path) -> Result<BTreeMap<String, std::path::PathBuf>, HostLogsError> {
    let io = |source| HostLogsError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let ext = path.extension().and_then(|e| e.to_str());
        if !matches!(ext, Some("json" | "txt")) || !path.is_file() {
            continue;
        }
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
            out.insert(stem.to_owned(), path.clone());
        }
    }
    Ok(out)
}

fn read_policy(path: &Path) -> Result<Vec<u8>, HostLogsError> {
    use std::io::Read as _;
    let io = |source| HostLogsError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(io(std::io::Error::other(format!(
            "larger than {MAX_POLICY_BYTES} bytes"
        ))));
    }
    Ok(bytes)
}
