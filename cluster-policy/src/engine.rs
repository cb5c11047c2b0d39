//! The policy engine: modules loaded once into a regorus engine, cloned per evaluation, run
//! with a time limit; every module defines a `violation` set.
//!
//! Pitfalls this avoids (DESIGN.md): only the interpreter is used (never regorus's compiled RVM
//! path); the loaded engine is cloned instead of re-parsed; evaluation is synchronous and must be
//! called off async workers (`spawn_blocking`) by the caller.

use std::num::NonZeroU32;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Why a policy could not be loaded or evaluated. An evaluation error is never a pass: the
/// caller reports it as "could not evaluate".
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A module does not parse or declares no `violation` rule.
    #[error("policy {policy}: module {module}: {reason}")]
    Load {
        /// Policy name.
        policy: String,
        /// Module path.
        module: String,
        /// What regorus or the check reported.
        reason: String,
    },
    /// Evaluation failed (runtime error, time limit, malformed result).
    #[error("policy {policy}: evaluation of {rule} failed: {reason}")]
    Eval {
        /// Policy name.
        policy: String,
        /// Rule being evaluated.
        rule: String,
        /// What regorus reported.
        reason: String,
    },
}

/// Identifies exactly which policy judged a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// Policy name.
    pub name: String,
    /// Version number (increases with every change).
    pub version: u32,
    /// SHA-256 over the modules (paths and sources, in path order).
    pub hash: String,
}

/// Limits on one evaluation. Exceeding one makes the evaluation fail ("could not evaluate").
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock limit of one evaluation.
    pub time: Duration,
    /// Bytes one evaluation may grow the heap by (`None`: unlimited); see [`crate::memory`].
    pub memory: Option<u64>,
}

impl Limits {
    /// Default time limit.
    pub const DEFAULT_TIME: Duration = Duration::from_millis(Self::DEFAULT_TIME_MS);
    /// Default memory limit: 512 MiB.
    pub const DEFAULT_MEMORY: u64 = 512 << 20;
    /// Default time limit in milliseconds, as configuration files and flags give it.
    pub const DEFAULT_TIME_MS: u64 = 2000;
    /// Default memory limit in MiB, as configuration files and flags give it.
    pub const DEFAULT_MEMORY_MIB: u64 = Self::DEFAULT_MEMORY >> 20;

    /// Limits as configuration files and flags give them: milliseconds, and MiB with 0 meaning
    /// unlimited.
    pub fn from_ms_mib(time_ms: u64, memory_mib: u64) -> Self {
        Self {
            time: Duration::from_millis(time_ms),
            memory: (memory_mib > 0).then(|| memory_mib.saturating_mul(1 << 20)),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Self::DEFAULT_TIME,
            memory: Some(Self::DEFAULT_MEMORY),
        }
    }
}

/// One violation a policy reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The Rego package that reported it (`data.palisade...`).
    pub package: String,
    /// What an operator reads (`msg` of the violation object).
    pub message: String,
    /// The whole violation object.
    pub details: serde_json::Value,
}

/// A named, versioned set of Rego modules, parsed once.
#[derive(Clone)]
pub struct Policy {
    reference: PolicyRef,
    modules: Vec<(String, String)>,
    packages: Vec<String>,
    engine: regorus::Engine,
    limits: Limits,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("reference", &self.reference)
            .field("packages", &self.packages)
            .finish()
    }
}

impl Policy {
    /// Parses `modules` (path, Rego source). Every module must declare a `violation` rule.
    pub fn load(
        name: &str,
        version: u32,
        mut modules: Vec<(String, String)>,
        limits: Limits,
    ) -> Result<Self, PolicyError> {
        modules.sort();
        let mut hasher = Sha256::new();
        let mut engine = crate::new_engine().map_err(|reason| PolicyError::Load {
            policy: name.to_owned(),
            module: String::new(),
            reason,
        })?;
        let mut packages = Vec::new();
        for (path, source) in &modules {
            hasher.update((path.len() as u64).to_be_bytes());
            hasher.update(path.as_bytes());
            hasher.update((source.len() as u64).to_be_bytes());
            hasher.update(source.as_bytes());
            let load_err = |reason: String| PolicyError::Load {
                policy: name.to_owned(),
                module: path.clone(),
                reason,
            };
            let package = engine
                .add_policy(path.clone(), source.clone())
                .map_err(|e| load_err(e.to_string()))?;
            let declares = engine
                .has_declared_rule_rooted_at(path, "violation")
                .map_err(|e| load_err(e.to_string()))?;
            if !declares {
                return Err(load_err("declares no `violation` rule".to_owned()));
            }
            if !packages.contains(&package) {
                packages.push(package);
            }
        }
        let reference = PolicyRef {
            name: name.to_owned(),
            version,
            hash: hex::encode(hasher.finalize()),
        };
        Ok(Self {
            reference,
            modules,
            packages,
            engine,
            limits,
        })
    }

    /// Name, version and hash of this policy.
    pub fn reference(&self) -> &PolicyRef {
        &self.reference
    }

    /// The Rego packages (`data.…`) whose `violation` sets are evaluated.
    pub fn packages(&self) -> &[String] {
        &self.packages
    }

    /// The modules (path, source), in path order: what the hash covers.
    pub fn modules(&self) -> &[(String, String)] {
        &self.modules
    }

    /// Evaluates every package's `violation` set against `input`. Blocking: call it from
    /// `spawn_blocking` or a dedicated thread.
    pub fn evaluate(&self, input: &serde_json::Value) -> Result<Vec<Violation>, PolicyError> {
        self.evaluate_value(regorus::Value::from(input.clone()))
    }

    /// As [`Policy::evaluate`], over an input already converted to a regorus value (callers
    /// that evaluate one document under many policies convert it once).
    pub fn evaluate_value(&self, input: regorus::Value) -> Result<Vec<Violation>, PolicyError> {
        self.session().evaluate(input)
    }

    /// An engine of its own for several evaluations in a row (one clone instead of one per
    /// input; regorus resets its evaluation state on every call). Blocking, like `evaluate`.
    pub fn session(&self) -> Session<'_> {
        let mut engine = self.engine.clone();
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: self.limits.time,
            check_interval: TIMER_CHECK_INTERVAL,
        });
        Session {
            policy: self,
            engine,
        }
    }
}

/// Evaluation steps between two reads of the clock for the time limit: a read per step
/// costs more than many policies' own work.
const TIMER_CHECK_INTERVAL: NonZeroU32 = match NonZeroU32::new(64) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

/// A policy's engine, reused across evaluations.
pub struct Session<'p> {
    policy: &'p Policy,
    engine: regorus::Engine,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("policy", &self.policy.reference)
            .finish()
    }
}

impl Session<'_> {
    /// Evaluates every package's `violation` set against `input`.
    pub fn evaluate(&mut self, input: regorus::Value) -> Result<Vec<Violation>, PolicyError> {
        let _budget = crate::memory::Budget::enter(self.policy.limits.memory);
        self.engine.set_input(input);
        let mut violations = Vec::new();
        for package in &self.policy.packages {
            let rule = format!("{package}.violation");
            let eval_err = |reason: String| PolicyError::Eval {
                policy: self.policy.reference.name.clone(),
                rule: rule.clone(),
                reason,
            };
            let value = self
                .engine
                .eval_rule(rule.clone())
                .map_err(|e| eval_err(e.to_string()))?;
            violations.extend(to_violations(package, &value).map_err(eval_err)?);
        }
        Ok(violations)
    }
}

fn to_violations(package: &str, value: &regorus::Value) -> Result<Vec<Violation>, String> {
    if *value == regorus::Value::Undefined {
        return Ok(Vec::new());
    }
    let json: serde_json::Value = value
        .to_json_str()
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))?;
    let items = match json {
        serde_json::Value::Array(items) => items,
        other => return Err(format!("`violation` must be a set, got {other}")),
    };
    Ok(items
        .into_iter()
        .map(|details| {
            let message = match &details {
                serde_json::Value::String(s) => s.clone(),
                other => other
                    .get("msg")
                    .and_then(serde_json::Value::as_str)
                    .map_or_else(|| other.to_string(), str::to_owned),
            };
            Violation {
                package: package.to_owned(),
                message,
                details,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests;
