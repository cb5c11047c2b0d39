//! Harness for end-to-end tests: hosts as network namespaces, each with swtpm and an agent.
//!
//! A [`Host`] is a network namespace joined to the root namespace by a veth pair, with its own
//! swtpm (reached through a command-level multiplexer, as `/dev/tpmrm0` would be: see
//! [`tpm_mux`]), its own nftables ruleset and the processes started in it. The verifier runs in the
//! root namespace ([`spawn_root`]) and reaches hosts at [`Host::ip`]. Every resource is released
//! when its guard drops, also while a test panics; children are killed with the harness process
//! even if it is SIGKILLed, and namespaces/veths left by a killed run are removed by the next one.
//!
//! Names, subnets and temp dirs derive from the process id and a per-process counter, so tests can
//! run in parallel threads and in several processes at once.
#![forbid(unsafe_code)]

mod harness;
pub mod measured;
pub mod palisade;

pub use harness::tpm_mux;
pub use harness::{bin, free_port, require_root_tools, spawn_root, wait_until, Host, Proc};
