//! Fuzzes the agent's parsing of a quote request (`nonce`, `pcrs`, `log_offset`, `event_cursor`,
//! `ima_offset`, `boot_log` from the query string): never panics, and an accepted request
//! round-trips through its query form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::wire::{QuoteQuery, QuoteRequest};

fuzz_target!(|data: (String, String, u64, Option<String>, Option<u64>, bool)| {
    let (nonce, pcrs, log_offset, event_cursor, ima_offset, boot_log) = data;
    let raw = QuoteQuery { nonce, pcrs, log_offset, event_cursor, ima_offset, boot_log };
    if let Ok(req) = QuoteRequest::parse(&raw) {
        assert!(!req.pcrs.is_empty() && req.pcrs.windows(2).all(|w| w[0] < w[1]));
        let query = req.to_query();
        assert!(query.starts_with("nonce="));
    }
});
