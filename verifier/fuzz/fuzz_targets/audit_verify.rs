//! Fuzzes `palisade audit verify` on a hostile export file: parsing, then the offline re-check
//! (hashes, signatures, chains, evidence through the pure checks). Must never panic; a record can
//! only hold with a genuine signature of the file's key over its exact body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_verifier::audit::verify::verify;
use palisade_verifier::audit::Export;

fuzz_target!(|data: &[u8]| {
    let Ok(export) = serde_json::from_slice::<Export>(data) else { return };
    if let Ok(report) = verify(&export) {
        // Every problem names a record of the export.
        assert!(report.problems.iter().all(|p| export.records.iter().any(|r| r.agent == p.agent && r.seq == p.seq)));
    }
});
