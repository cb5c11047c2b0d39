//! Fuzzes `list::parse_binary` (`binary_runtime_measurements[_<alg>]`) with SHA-1 and SHA-256
//! template hashes: must never panic, and what parses must survive the checks in `common.rs`.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use palisade_ima::list::parse_binary;
use palisade_ima::HashAlg;

fuzz_target!(|data: &[u8]| {
    for alg in [HashAlg::Sha1, HashAlg::Sha256] {
        if let Ok(entries) = parse_binary(data, alg) {
            common::exercise(entries, alg, common::Origin::Binary);
        }
    }
});
