//! nftables: read the ruleset of a network namespace with `nft -j list ruleset` and reduce it
//! to palisade's canonical form (see [`canonical`]).

pub mod canonical;

use std::process::Command;

use palisade_evidence::Canonical;

use crate::netns::{NetNs, NetNsError};

/// Failure to read or canonicalise a ruleset.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The namespace could not be entered.
    #[error(transparent)]
    NetNs(#[from] NetNsError),
    /// `nft` could not be started (not installed?).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program run.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `nft` exited with an error.
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        /// The program run.
        program: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// The output is not the JSON schema `nft -j` documents.
    #[error("unexpected nft JSON: {0}")]
    Json(String),
    /// The model could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] palisade_evidence::CanonicalError),
}

/// Reads rulesets with the `nft` binary.
#[derive(Debug, Clone)]
pub struct NftReader {
    program: String,
}

impl Default for NftReader {
    fn default() -> Self {
        Self {
            program: "nft".to_owned(),
        }
    }
}

impl NftReader {
    /// A reader running a specific `nft` binary.
    pub fn with_program(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
        }
    }

    /// `nft -j list ruleset` inside `netns`, parsed.
    pub fn list_ruleset(&self, netns: &NetNs) -> Result<serde_json::Value, NftError> {
        let program = self.program.clone();
        let output = netns.run(move || {
            Command::new(&program)
                .args(["-j", "list", "ruleset"])
                .output()
        })?;
        let output = output.map_err(|source| NftError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        if !output.status.success() {
            return Err(NftError::Failed {
                program: self.program.clone(),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        serde_json::from_slice(&output.stdout).map_err(|e| NftError::Json(e.to_string()))
    }

    /// The canonical ruleset document of `netns`.
    pub fn measure(&self, netns: &NetNs) -> Result<Canonical, NftError> {
        let raw = self.list_ruleset(netns)?;
        let model = canonical::canonicalize(&raw)?;
        Ok(Canonical::from_value(&model)?)
    }
}
