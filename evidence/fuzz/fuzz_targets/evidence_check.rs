//! Fuzzes the verifier's whole pure pipeline on evidence JSON from a (hostile) agent:
//! `Evidence` parsing then `verify::check` against the swtpm ECC AK. Must never panic, and can
//! only pass with a genuine signature (which a fuzzer cannot forge).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::TpmPublic;
use palisade_evidence::verify::{check, Checked, Expectations, VerifiedState};
use palisade_evidence::wire::Evidence;

const AK: &[u8] = include_bytes!("../../testdata/swtpm/ecc_ak.tpmt");

fuzz_target!(|data: &[u8]| {
    let Ok(evidence) = serde_json::from_slice::<Evidence>(data) else { return };
    let ak = TpmPublic::parse(AK).expect("vector parses");
    let previous = VerifiedState::default();
    let expect = Expectations { ak: &ak, nonce: b"fuzz-nonce-0123456789", pcrs: &[15], dedicated_pcr: 15, log_offset: 0, previous: &previous };
    if let Checked::Judged(j) = check(&expect, &evidence) {
        assert!(!j.reasons.is_empty() || j.state.is_some());
    }
});
