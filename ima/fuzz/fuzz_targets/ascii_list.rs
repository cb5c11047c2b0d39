//! Fuzzes `list::parse_ascii` / `parse_ascii_bank` (the kernel's ASCII measurement list an agent
//! forwards): must never panic; a list that parses goes through template-hash verification,
//! replay (sha1 and sha256 banks), policy creation and evaluation, and both round trips
//! (`common.rs`).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use palisade_ima::list::{parse_ascii, parse_ascii_bank};
use palisade_ima::HashAlg;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = parse_ascii(data) {
        common::exercise(entries, HashAlg::Sha1, common::Origin::Ascii);
    }
    if let Ok(entries) = parse_ascii_bank(data, HashAlg::Sha256) {
        common::exercise(entries, HashAlg::Sha256, common::Origin::Ascii);
    }
});
