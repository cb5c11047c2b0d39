//! End-to-end scenarios, grouped by what they guard.

mod api;
mod attestation;
mod support;
