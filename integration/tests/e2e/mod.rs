//! End-to-end scenarios, grouped by what they guard.

mod alerts;
mod api;
mod approvals;
mod attestation;
mod audit;
mod cluster;
mod cluster_api;
mod diff;
mod ear;
mod ek;
mod events;
mod fleet;
mod ima;
mod ima_cli;
mod inspect;
mod network;
mod policy_cli;
mod postgres;
mod push;
mod roles;
mod runtime;
mod support;
