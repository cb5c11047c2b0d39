//! The runtime inventory: what runs in and beside the network stack, read as canonical
//! snapshots without eBPF (the agent's eBPF programs only say when to read again, and who
//! changed something). Each part is its own measured document:
//!
//! - `bpf`: loaded BPF programs and where they are attached (XDP, tc, tcx, cgroups,
//!   netfilter, flow dissector, sk_lookup);
//! - `sockets`: listening TCP/UDP sockets, raw and packet sockets, with their owners;
//! - `kernel`: kernel modules (or the fact that the kernel has none) and security sysctls.
//!
//! Rules of each canonical form: `docs/canonical-runtime.md`.

pub mod bpf;
pub mod kernel;
pub mod sockets;
