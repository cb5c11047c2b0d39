//! Fuzzes `parse_attest` (TPMS_ATTEST of a quote): must never panic; what parses must be a quote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::{parse_attest, PcrSelection};

fuzz_target!(|data: &[u8]| {
    if let Ok(attest) = parse_attest(data) {
        // A selection that parsed marshals to something that parses to the same selection.
        let again = PcrSelection::parse(&attest.pcr_select.marshal());
        assert_eq!(again.as_ref(), Ok(&attest.pcr_select));
    }
    let _ = PcrSelection::parse(data);
});
