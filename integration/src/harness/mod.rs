//! The end-to-end harness: hosts as network namespaces, each with swtpm behind a TPM multiplexer,
//! its own nftables ruleset and processes; child-process guards; small helpers.

mod host;
mod netns;
mod proc;
mod reap;
mod spawner;
mod swtpm;
pub mod tpm_mux;
mod util;

pub use host::Host;
pub use proc::{spawn_root, Proc};
pub use util::{bin, free_port, require_root_tools, wait_until};
