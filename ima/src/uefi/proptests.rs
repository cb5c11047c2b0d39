//! Property tests: arbitrary bytes, truncations and mutations of real logs never panic.

use proptest::prelude::*;

use super::synthetic_tests::{event2, synthetic};
use super::tests::fixture;
use super::{device_path_to_text, EventLog};

fn exercise(bytes: &[u8]) {
    if let Ok(log) = EventLog::parse(bytes) {
        let _ = log.replay();
        let _ = log.reference();
        let _ = serde_json::to_string(&log);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&bytes);
        let _ = device_path_to_text(&bytes);
    }

    #[test]
    fn arbitrary_event_data_never_panics(
        ty in prop_oneof![0u32..0x14, 0x8000_0000u32..0x8000_0010, 0x8000_00e0u32..0x8000_00e5],
        data in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let ev = event2(7, ty, &[(0x000b, vec![0; 32])], &data);
        let log = EventLog::parse(&synthetic(&[(0x000b, 32)], &[ev])).unwrap();
        let _ = log.replay();
        let _ = log.reference();
        let _ = serde_json::to_string(&log);
    }

    #[test]
    fn truncations_never_panic(
        name in prop::sample::select(vec![
            "binary_bios_measurements",
            "binary_bios_measurements-secureboot",
            "uefi_log.bin",
            "event-arch-linux.bin",
            "event-sd-boot-fedora37.bin",
        ]),
        cut in any::<prop::sample::Index>(),
    ) {
        let bytes = fixture(name);
        exercise(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn mutations_never_panic(
        name in prop::sample::select(vec![
            "binary_bios_measurements-secureboot",
            "uefi_log.bin",
            "event-arch-linux.bin",
            "event-sd-boot-fedora37.bin",
        ]),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = fixture(name).to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        exercise(&bytes);
    }
}
