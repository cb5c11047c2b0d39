//! palisade's end-to-end tests: one test binary. Every test builds real hosts (network namespaces
//! with swtpm and nftables), runs the real agent and verifier binaries, and checks outcomes
//! through the operator CLI or direct pulls. Run as root after `cargo build --workspace --bins`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed step should stop the test with its message"
)]

mod e2e;
mod harness;
