//! Host readers that turn kernel state into canonical documents. Every reader takes the network
//! namespace it reads ([`NetNs`]): rulesets and routes are per namespace.

pub mod netns;
pub mod network;
pub mod nftables;
pub mod runtime;

pub use netns::{NetNs, NetNsError};
