//! Fuzzes `Canonical::verify_bytes` (documents an agent sends) and the JCS fixed point: whatever
//! parses and is accepted as canonical must re-canonicalise to the same bytes and digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::Canonical;

fuzz_target!(|data: &[u8]| {
    if let Ok((canonical, value)) = Canonical::verify_bytes(data) {
        assert_eq!(canonical.as_bytes(), data);
        let again = Canonical::from_value(&value).expect("accepted value canonicalises");
        assert_eq!(again.digest(), canonical.digest());
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(c) = Canonical::from_value(&value) {
            let (back, _) = Canonical::verify_bytes(c.as_bytes()).expect("canonical output verifies");
            assert_eq!(back, c);
        }
    }
});
