//! Network configuration of a namespace: links, addresses, routes of every table, policy rules
//! (rtnetlink), forwarding/rp_filter-family sysctls and legacy x_tables, reduced to the
//! canonical document `palisade.network/1` (rules in `docs/canonical-network.md`), and the
//! rtnetlink notifications that say when to read it again ([`NetworkEvents`]).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use palisade_collectors::{network, NetNs};
//! let config = network::read(&NetNs::named("web1"))?;
//! let canonical = config.canonical()?; // the measured bytes and their SHA-256
//! println!("{}", serde_json::to_string_pretty(&config)?);
//! # let _ = canonical; Ok(()) }
//! ```

pub mod convert;
pub(crate) mod dump;
mod events;
pub mod model;
mod names;
mod procfs;

use std::path::PathBuf;

pub use events::{classify_notifications, NetworkEvent, NetworkEvents};
pub use model::{
    Address, LegacyXtables, Link, NetworkConfig, NextHop, Route, Rule, Scalar, FORMAT,
    OTHER_NAMESPACE,
};

use crate::netns::{NetNs, NetNsError};

/// How often a snapshot is retaken when the kernel says a dump raced with a change, or a dump
/// refers to an interface the link dump did not list.
const MAX_ATTEMPTS: u32 = 8;

/// Failure to read a namespace's network configuration or its events.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The namespace could not be entered.
    #[error(transparent)]
    NetNs(#[from] NetNsError),
    /// A netlink socket operation failed.
    #[error("netlink {op}: {source}")]
    Socket {
        /// The operation (`socket`, `bind`, `send`, `recv`, …).
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel answered a dump request with an error.
    #[error("kernel refused the {what} dump: errno {errno}")]
    Kernel {
        /// What was dumped.
        what: &'static str,
        /// The (positive) errno.
        errno: i32,
    },
    /// A datagram was larger than the receive buffer.
    #[error("{what} dump datagram of {len} bytes was truncated")]
    Truncated {
        /// What was dumped.
        what: &'static str,
        /// Its real length.
        len: usize,
    },
    /// A message from the kernel could not be parsed.
    #[error("cannot parse a {what} message: {reason}")]
    Decode {
        /// What was dumped.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// The configuration kept changing while it was read.
    #[error("network configuration kept changing during {attempts} read attempts: {reason}")]
    Unstable {
        /// Attempts made.
        attempts: u32,
        /// What was inconsistent the last time.
        reason: String,
    },
    /// A file under `/proc` could not be read.
    #[error("cannot read {path}: {source}")]
    Proc {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl NetworkError {
    fn socket(op: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Socket { op, source }
    }

    fn decode(what: &'static str, e: &dyn std::fmt::Display) -> Self {
        Self::Decode {
            what,
            reason: e.to_string(),
        }
    }
}

/// Reads the network configuration of `netns`, normalised (ready for
/// [`NetworkConfig::canonical`]).
pub fn read(netns: &NetNs) -> Result<NetworkConfig, NetworkError> {
    netns.run(|| read_here(&procfs::ProcRoots::default()))?
}

/// The work of [`read`], on a thread already inside the namespace.
fn read_here(roots: &procfs::ProcRoots) -> Result<NetworkConfig, NetworkError> {
    let mut dumper = dump::Dumper::open()?;
    let mut reason = String::new();
    for _ in 0..MAX_ATTEMPTS {
        let dumped = dumper.snapshot()?;
        if dumped.interrupted {
            reason = "a dump was interrupted by a change (NLM_F_DUMP_INTR)".to_owned();
            continue;
        }
        let mut config = match convert::convert(&dumped.snapshot) {
            Ok(config) => config,
            Err(inconsistent) => {
                reason = inconsistent.to_string();
                continue;
            }
        };
        // Per-link values came with the link dump; `all`, `default` and `ip_forward` are read.
        let paths = procfs::sysctl_paths(std::iter::empty());
        config.sysctls.extend(procfs::read_sysctls(roots, &paths)?);
        config.legacy_xtables = procfs::read_legacy_xtables(roots)?;
        config.normalize();
        return Ok(config);
    }
    Err(NetworkError::Unstable {
        attempts: MAX_ATTEMPTS,
        reason,
    })
}

#[cfg(test)]
mod tests;
