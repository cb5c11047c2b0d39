//! The palisade agent as a library: configuration, the TPM seam, measurement, the pull API.
//! `main.rs` is thin wiring over this.
#![forbid(unsafe_code)]

pub mod api;
pub mod app;
pub mod config;
pub mod enrol;
pub mod events;
pub mod host_logs;
pub mod inspect;
pub mod measure;
pub mod network;
pub mod nftables;
pub mod push;
pub mod recovery;
pub mod runtime;
pub mod store;
pub mod tpm;
pub mod tpm_actor;
pub mod triggers;
pub mod watch;
