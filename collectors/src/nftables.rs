//! nftables: read the ruleset of a network namespace with `nft -j list ruleset` and reduce it to
//! palisade's canonical form (`palisade_firewall`, format [`palisade_firewall::FORMAT`]; the
//! rules are in `docs/canonical-nftables.md`).

pub mod events;

use std::collections::BTreeMap;
use std::process::Command;

use palisade_evidence::{Canonical, Sha256Digest};
use palisade_firewall::{CanonicalizeError, ParseError, Ruleset};

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
    /// The output is not the JSON `nft -j` prints.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The model could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] CanonicalizeError),
}

/// One measurement of a namespace's ruleset.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// The typed, normalised model.
    pub ruleset: Ruleset,
    /// The canonical document (RFC 8785 bytes) and its SHA-256.
    pub canonical: Canonical,
    /// SHA-256 of each table's canonical bytes, by `"<family> <name>"`.
    pub table_digests: BTreeMap<String, Sha256Digest>,
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

    /// The raw output of `nft -j list ruleset` inside `netns`. Blocking: call it off async
    /// workers.
    pub fn list_ruleset_json(&self, netns: &NetNs) -> Result<Vec<u8>, NftError> {
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
        Ok(output.stdout)
    }

    /// `nft -j list ruleset` inside `netns`, read into the normalised model.
    pub fn list_ruleset(&self, netns: &NetNs) -> Result<Ruleset, NftError> {
        Ok(palisade_firewall::from_nft_json(
            &self.list_ruleset_json(netns)?,
        )?)
    }

    /// The canonical ruleset document of `netns` (what the agent records).
    pub fn measure(&self, netns: &NetNs) -> Result<Canonical, NftError> {
        Ok(self.list_ruleset(netns)?.canonical()?)
    }

    /// The model, canonical document and per-table digests of `netns`.
    pub fn measure_all(&self, netns: &NetNs) -> Result<Measurement, NftError> {
        measurement(self.list_ruleset(netns)?)
    }
}

/// The canonical document and per-table digests of a parsed ruleset.
pub fn measurement(ruleset: Ruleset) -> Result<Measurement, NftError> {
    let canonical = ruleset.canonical()?;
    let table_digests = ruleset.table_digests()?;
    Ok(Measurement {
        ruleset,
        canonical,
        table_digests,
    })
}
