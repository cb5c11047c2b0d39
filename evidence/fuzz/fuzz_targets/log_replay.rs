//! Fuzzes the dedicated-log entries an agent sends: JSON lines of `LogEntry`, validated and
//! replayed against a quoted value taken from the input. Must never panic; a match must be real.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::log::{replay, EventLog, LogEntry, LogState, ReplayOutcome};
use palisade_evidence::Sha256Digest;

fuzz_target!(|data: &[u8]| {
    let Some((quoted, rest)) = data.split_first_chunk::<32>() else { return };
    let Ok(entries) = serde_json::from_slice::<Vec<LogEntry>>(rest) else { return };
    let quoted = Sha256Digest(*quoted);
    if let Ok(ReplayOutcome::Matched { covered, state }) = replay(&LogState::GENESIS, &entries, &quoted) {
        let prefix = EventLog::from_entries(entries[..covered].to_vec()).expect("matched prefix is valid");
        assert_eq!(prefix.pcr(), state.pcr);
        assert_eq!(state.pcr, quoted);
    }
});
