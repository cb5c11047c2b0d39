//! The agent's integration tests, one binary (ripgrep's layout): `support` is the shared harness
//! (a private swtpm per test, temporary directories, running tpm2-tools), one module per area.
//!
//! The modules are `cfg(test)` so clippy applies the workspace's test allowances (unwrap, expect,
//! panic, indexing) to the helpers too, not only to `#[test]` functions.

#[cfg(test)]
mod support;
#[cfg(test)]
mod tpm;
