//! Arbitrary bytes as `nft -j list ruleset` output: parsing never panics, and whatever parses
//! has a canonical document that reads back (`from_canonical`) to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_firewall::{from_nft_json, Ruleset};

fuzz_target!(|data: &[u8]| {
    let Ok(ruleset) = from_nft_json(data) else {
        return;
    };
    // An integer with no exact RFC 8785 form is a refusal, not a bug.
    let Ok(first) = ruleset.canonical() else {
        return;
    };
    let back = match Ruleset::from_canonical(first.as_bytes()) {
        Ok(back) => back,
        Err(e) => panic!(
            "canonical document does not read back: {e}\n{}",
            first.as_str()
        ),
    };
    let second = back
        .canonical()
        .unwrap_or_else(|e| panic!("re-canonicalise: {e}"));
    assert_eq!(
        first.as_bytes(),
        second.as_bytes(),
        "canonical form is not a fixed point"
    );
    assert_eq!(
        back, ruleset,
        "the model does not survive its canonical document"
    );
    let _ = ruleset.table_digests();
    let _ = palisade_firewall::render::nft_script(&ruleset);
});
