//! Fuzzes the nftables change-event parser (`nftables::events::parse_datagram`), which walks
//! netlink and attribute headers by hand: on any bytes it must not panic, and what it accepts
//! must be bounded by the input (at most one event per 16-byte header, names no longer than
//! the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_collectors::nftables::events::{parse_datagram, NftEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = parse_datagram(data) {
        assert!(events.len() <= data.len() / 16);
        for event in events {
            if let NftEvent::Committed { comm, .. } = event {
                assert!(comm.len() <= 64 * 3, "lossy UTF-8 of at most 64 bytes");
            }
        }
    }
});
