//! palisade's eBPF programs: tracepoints on the syscalls and socket state changes that can
//! change or bypass a host's firewall, each writing an attributed [`Event`] into one ring
//! buffer. They only report; the agent re-reads the state an event touched.
//!
//! Built for the BPF target by `palisade-ebpf`'s build script (aya-build, nightly, bpf-linker);
//! for the host it is an empty binary so that `cargo build --workspace` works.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod programs;

#[cfg(not(target_arch = "bpf"))]
fn main() {}

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier proves programs cannot panic; this is never reached.
    loop {}
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
