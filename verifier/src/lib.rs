//! The palisade verifier as a library: registrar, attestation pipeline, scheduler, store and
//! API. The binaries (`palisade-verifier`, `palisade`) are thin wiring over it.
#![forbid(unsafe_code)]

pub mod agents;
pub mod alerts;
pub mod api;
pub mod app;
pub mod attest;
pub mod audit;
pub mod changes;
pub mod cluster;
pub mod config;
pub mod ear;
pub mod ek;
pub mod error;
pub mod exposures;
pub mod host_logs;
pub mod input;
pub mod live;
pub mod metrics;
pub mod pki;
pub mod push;
pub mod registrar;
pub mod roles;
pub mod scheduler;
pub mod store;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod verdicts;
