//! palisade's canonical model of an nftables ruleset. Pure: no files, processes or sockets, so
//! the agent (which runs `nft`) and the verifier (which re-reads measured documents) share it.
//!
//! - [`from_nft_json`] reads `nft -j list ruleset` output into a typed, normalised [`Ruleset`]
//!   (the whole libnftables JSON schema; what the model does not know is kept verbatim and
//!   flagged, never dropped);
//! - [`Ruleset::canonical`] writes the canonical document (format [`FORMAT`], RFC 8785) and its
//!   SHA-256; [`Ruleset::table_digests`] digests each table; [`Ruleset::from_canonical`] reads a
//!   canonical document back (the verifier's direction);
//! - [`render`] prints a ruleset in nft's own syntax (`nft -f`) and single rules for humans.
//!
//! The canonicalisation rules are in `docs/canonical-nftables.md`, one test each in
//! `src/canonical/tests.rs`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical;
pub mod diff;
pub mod exposure;
pub mod flags;
pub mod model;
mod normalize;
pub mod parse;
pub mod render;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
mod walk;

pub use canonical::{CanonicalizeError, DocumentError, FORMAT};
pub use flags::{Flag, FlagKind};
pub use model::{Chain, Expr, Rule, Ruleset, Set, Stmt, Table};
pub use parse::{from_nft_json, ParseError};
