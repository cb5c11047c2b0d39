//! Fuzzes runtime-policy loading (`RuntimePolicy::from_json`, the older JSON allowlist, the flat
//! allowlist, `load`) and exclude lists: must never panic; a policy that loads must read back
//! equal from its own JSON and evaluate a real list (`testdata/generated/ima_200.log`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_ima::list::parse_ascii;
use palisade_ima::policy::{parse_excludes_list, PolicyError, RuntimePolicy};
use palisade_ima::Entry;

const LOG: &[u8] = include_bytes!("../../testdata/generated/ima_200.log");

fn entries() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| parse_ascii(LOG).expect("fixture parses"))
}

fn exercise(loaded: Result<RuntimePolicy, PolicyError>) {
    let Ok(policy) = loaded else { return };
    let back = RuntimePolicy::from_json(policy.to_json().as_bytes()).expect("written policy loads");
    assert_eq!(back, policy);
    let report = policy.evaluate(entries(), 1);
    assert_eq!(report.total, entries().len() as u64);
    let _ = report.summary(Some(&policy), Some("fuzz"));
}

fuzz_target!(|data: &[u8]| {
    exercise(RuntimePolicy::from_json(data));
    exercise(RuntimePolicy::from_legacy_json_allowlist(data));
    exercise(RuntimePolicy::from_flat_allowlist(data));
    exercise(RuntimePolicy::load(data));
    if let Ok(patterns) = parse_excludes_list(data) {
        let mut policy = RuntimePolicy::default();
        if policy.add_excludes(patterns).is_ok() {
            let _ = policy.evaluate(entries(), 1);
        }
    }
});
