//! Fuzzes `Canonical::verify_bytes` and `Canonical::check_bytes` (documents an agent sends) and
//! the JCS fixed point: whatever parses and is accepted as canonical must re-canonicalise to the
//! same bytes and digest, and the streaming check must accept exactly what the full parse does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::Canonical;

fuzz_target!(|data: &[u8]| {
    if let Ok((canonical, value)) = Canonical::verify_bytes(data) {
        assert_eq!(canonical.as_bytes(), data);
        let again = Canonical::from_value(&value).expect("accepted value canonicalises");
        assert_eq!(again.digest(), canonical.digest());
    }
    assert_eq!(
        Canonical::check_bytes(data).ok(),
        Canonical::verify_bytes(data).ok().map(|(c, _)| c),
        "streaming check and full parse disagree"
    );
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(c) = Canonical::from_value(&value) {
            let (back, _) = Canonical::verify_bytes(c.as_bytes()).expect("canonical output verifies");
            assert_eq!(back, c);
        }
    }
});
