//! Fuzzes `TpmPublic::parse` and `parse_tpm2b`: must never panic; a parsed key keeps its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::TpmPublic;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = TpmPublic::parse(data) {
        assert_eq!(key.as_bytes(), data);
        assert_eq!(TpmPublic::parse_tpm2b(&key.to_tpm2b()).as_ref(), Ok(&key));
        let _ = (key.name(), key.fingerprint(), key.kind(), key.is_storage_key());
        let _ = key.is_restricted_signing_key();
    }
    let _ = TpmPublic::parse_tpm2b(data);
});
