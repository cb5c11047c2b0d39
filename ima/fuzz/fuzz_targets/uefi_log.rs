//! Fuzzes `uefi::EventLog::parse` (`binary_bios_measurements`), then `replay()`, `reference()`
//! and serialisation: must never panic. The input is parsed alone and again after a real log's
//! Spec ID event, so mutations reach the event-data decoders without rediscovering the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_ima::uefi::{device_path_to_text, BootReference, EventLog};

const REAL_LOG: &[u8] = include_bytes!("../../testdata/binary_bios_measurements");

/// The Spec ID event of `REAL_LOG`: 32 bytes of `TCG_PCR_EVENT` header, then its data.
fn header() -> &'static [u8] {
    let size = REAL_LOG
        .get(28..32)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    REAL_LOG.get(..32 + size as usize).unwrap_or_default()
}

fn exercise(bytes: &[u8]) {
    let Ok(log) = EventLog::parse(bytes) else {
        return;
    };
    assert!(!log.events().is_empty());
    for (alg, bank) in log.replay() {
        assert!(bank.values().all(|v| v.len() == alg.len()));
    }
    let _ = (
        log.pcr0_locality(),
        log.unreplayable_banks(),
        log.spec_id().uintn_bytes(),
    );
    let reference = log.reference();
    let json = serde_json::to_string(&reference).expect("reference serialises");
    let back: BootReference = serde_json::from_str(&json).expect("reference reads back");
    assert_eq!(back, reference);
    let _ = serde_json::to_string(&log).expect("log serialises");
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    let mut framed = header().to_vec();
    framed.extend_from_slice(data);
    exercise(&framed);
    let _ = device_path_to_text(data);
});
