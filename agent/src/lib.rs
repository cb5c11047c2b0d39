//! The palisade agent as a library: configuration, the TPM seam, measurement, the pull API.
//! `main.rs` is thin wiring over this.

pub mod api;
pub mod app;
pub mod config;
pub mod enrol;
pub mod measure;
pub mod recovery;
pub mod store;
pub mod tpm;
pub mod tpm_actor;
