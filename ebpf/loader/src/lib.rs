//! Loads palisade's eBPF programs (aya) and turns their ring-buffer events into attributed
//! runtime events: the agent's change triggers ("something touched the BPF subsystem, a
//! socket, the routing or firewall configuration — re-read it") and the "who" of its alerts.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use palisade_ebpf::{decode, Monitor, Options};
//! let mut monitor = Monitor::start(&Options::default())?;
//! let clock = decode::Clock::now();
//! loop {
//!     if monitor.wait(std::time::Duration::from_secs(1))? {
//!         for (seq, (event, exe)) in monitor.drain(256).events.iter().enumerate() {
//!             println!("{}", decode::decode(event, exe.clone(), &clock, seq as u64).summary);
//!         }
//!     }
//! }
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod btf;
pub mod decode;
mod monitor;

pub use monitor::{Batch, Monitor, MonitorError, Options, RunTimeStats, Status};
pub use palisade_ebpf_common::{kind, Event};

/// The programs, built for the BPF target by `build.rs` (aya-build: nightly, bpf-linker).
pub static PROGRAMS: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/palisade-ebpf-programs"));
