//! End-to-end scenarios, grouped by what they guard.

mod api;
mod attestation;
mod audit;
mod diff;
mod events;
mod inspect;
mod network;
mod runtime;
mod support;
