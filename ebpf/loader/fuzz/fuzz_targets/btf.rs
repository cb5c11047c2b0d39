//! Arbitrary bytes as a BTF blob (what the loader reads from `/sys/kernel/btf/vmlinux`): parsing
//! and member lookups never panic (and libFuzzer's timeout flags any input that makes them slow).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_ebpf::btf::Btf;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::parse(data) else {
        return;
    };
    let _ = btf.type_count();
    for (structure, path) in [
        ("task_struct", &["nsproxy"][..]),
        ("nsproxy", &["net_ns"]),
        ("net", &["ns", "inum"]),
        ("a", &["b", "c", "d"]),
        ("", &[""]),
        ("a", &[]),
    ] {
        let _ = btf.member_offset(structure, path);
    }
});
