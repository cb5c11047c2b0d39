//! Builds the eBPF programs (`ebpf/programs`) for the BPF target with nightly and bpf-linker
//! (aya-build), into `OUT_DIR`, where `src/lib.rs` embeds them.

fn main() -> aya_build::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../programs");
    let root = root.to_string_lossy().into_owned();
    println!("cargo:warning=palisade-ebpf: building the eBPF programs in Rust (aya-build, nightly, bpf-linker)");
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "palisade-ebpf-programs",
            root_dir: &root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
