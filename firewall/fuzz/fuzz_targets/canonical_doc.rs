//! Arbitrary bytes as a canonical ruleset document (what the verifier reads from the agent):
//! reading never panics, and an accepted document re-canonicalises to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_firewall::Ruleset;

fuzz_target!(|data: &[u8]| {
    if let Ok(ruleset) = Ruleset::from_canonical(data) {
        let again = ruleset
            .canonical()
            .unwrap_or_else(|e| panic!("accepted document does not re-canonicalise: {e}"));
        assert_eq!(again.as_bytes(), data);
        let _ = ruleset.flags();
        let _ = palisade_firewall::exposure::exposure(&ruleset);
    }
});
