//! Fuzzes `verify_quote` end to end. Input layout: `ak_len (u16 BE) || attest_len (u16 BE) ||
//! TPMT_PUBLIC (ak_len bytes) || TPMS_ATTEST (attest_len bytes) || TPMT_SIGNATURE (the rest)`.
//! Must never panic. Seeds built from the swtpm vectors reach the signature check and succeed;
//! mutations of them must fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::{verify_quote, TpmPublic};

fuzz_target!(|data: &[u8]| {
    let Some((lens, rest)) = data.split_first_chunk::<4>() else { return };
    let ak_len = usize::from(u16::from_be_bytes([lens[0], lens[1]]));
    let attest_len = usize::from(u16::from_be_bytes([lens[2], lens[3]]));
    let Some((ak, rest)) = rest.split_at_checked(ak_len) else { return };
    let Some((attest, signature)) = rest.split_at_checked(attest_len) else { return };
    let Ok(ak) = TpmPublic::parse(ak) else { return };
    if let Ok(quote) = verify_quote(&ak, attest, signature) {
        // Only reachable with a real signature by this AK over these exact bytes.
        assert!(ak.is_restricted_signing_key());
        assert!(quote.pcr_digest.len() >= 32);
    }
});
