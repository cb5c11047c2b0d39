//! Fuzzes `parse_signature` (TPMT_SIGNATURE): must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::parse_signature;

fuzz_target!(|data: &[u8]| {
    let _ = parse_signature(data);
});
