//! The collectors' integration tests, one binary (ripgrep's layout), one module per area. They
//! need root: they create network namespaces and configure them with iproute2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]

mod bpf;
mod events;
mod exposure;
mod network;
mod nftables;
mod runtime;
mod support;
