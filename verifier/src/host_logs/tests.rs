//! Host-log judgement on real logs: the generated Keylime-bench IMA list (with a boot_aggregate
//! of all-zero PCRs 0-7, as swtpm has them) and peer projects' UEFI logs with their golden PCRs.

use std::collections::BTreeMap;

use palisade_evidence::verify::VerifiedState;
use palisade_evidence::wire::{BootLog, ImaSlice};
use palisade_evidence::{ReasonCode, Sha256Digest};
use palisade_ima::list::{parse_ascii, to_ascii};
use palisade_ima::replay::{replay_all, ReplayParams};
use palisade_ima::{Entry, FileDigest, HashAlg};

use super::*;
use crate::config::HostLogsConfig;

const LOG: &[u8] = include_bytes!("../../../ima/testdata/generated/ima_200.log");
const POLICY: &[u8] = include_bytes!("../../../ima/testdata/generated/policy_200.json");
const UEFI: &[u8] = include_bytes!("../../../ima/testdata/binary_bios_measurements-secureboot");
const UEFI_PCRS: &str =
    include_str!("../../../ima/testdata/golden/binary_bios_measurements-secureboot.pcrs.json");

/// The generated list, its boot_aggregate recomputed over all-zero PCRs 0-7.
fn entries() -> Vec<Entry> {
    let mut entries = parse_ascii(LOG).unwrap();
    let digest = FileDigest::of(HashAlg::Sha256, &[&[0u8; 32 * 8]]);
    entries[0] = Entry::ima_ng(10, digest, "boot_aggregate");
    entries
}

fn pcr10(entries: &[Entry]) -> Sha256Digest {
    let state = replay_all(entries, &[HashAlg::Sha256], &ReplayParams::default())
        .unwrap()
        .state;
    Sha256Digest(state.value(HashAlg::Sha256).unwrap().try_into().unwrap())
}

/// What an agent whose kernel logged `list` from `offset` sends, quoting PCR 10 at `quoted`.
fn sent(list: &[Entry], offset: u64, quoted: &[Entry]) -> Sent {
    let mut pcrs: BTreeMap<u8, Sha256Digest> = BOOT_PCRS.map(|i| (i, Sha256Digest::ZERO)).collect();
    pcrs.insert(IMA_PCR, pcr10(quoted));
    Sent {
        pcrs,
        ima: Some(ImaSlice {
            offset,
            list: to_ascii(list),
        }),
        boot_log: None,
    }
}

fn host_logs(with_policy: bool) -> HostLogs {
    let mut logs = HostLogs::new(HostLogsConfig {
        ima: true,
        measured_boot: true,
        ima_default_policy: with_policy.then(|| "bench".to_owned()),
        ..Default::default()
    });
    if with_policy {
        let policy = ImaPolicy {
            name: "bench".into(),
            reference: PolicyRef {
                name: "ima/bench".into(),
                version: 1,
                hash: "ab".repeat(32),
            },
            policy: RuntimePolicy::load(POLICY).unwrap(),
        };
        logs.policies.insert("bench".into(), Arc::new(policy));
    }
    logs
}

fn no_labels() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn a_real_ima_list_replays_to_the_quoted_pcr_and_passes_its_policy() {
    let (logs, entries) = (host_logs(true), entries());
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &sent(&entries, 0, &entries), &mut state);
    assert!(verdict.reasons.is_empty(), "{:?}", verdict.reasons);
    let ima = state.ima.unwrap();
    assert_eq!(ima.entries, 200);
    assert_eq!(ima.summary["ok"], true);
    assert_eq!(ima.summary["boot_aggregate"], "match");
    assert_eq!(ima.summary["policy"]["name"], "bench");
    assert_eq!(ima.policy.as_deref(), Some("ab".repeat(32).as_str()));
}

#[test]
fn incremental_judging_resumes_from_the_checkpoint_with_the_prefix_rule() {
    let (logs, entries) = (host_logs(true), entries());
    let mut state = VerifiedState::default();
    // The kernel appended 80 entries after the quote: the first 120 are judged.
    let first = logs.judge(
        &no_labels(),
        &sent(&entries, 0, &entries[..120]),
        &mut state,
    );
    assert!(first.reasons.is_empty(), "{:?}", first.reasons);
    assert_eq!(state.ima.as_ref().unwrap().entries, 120);
    let request = logs.request(&agent(), &state, vec![0; 20]);
    assert_eq!(request.ima_offset, Some(120));
    let rest = sent(&entries[120..], 120, &entries);
    let second = logs.judge(&no_labels(), &rest, &mut state);
    assert!(second.reasons.is_empty(), "{:?}", second.reasons);
    let mut whole = VerifiedState::default();
    logs.judge(&no_labels(), &sent(&entries, 0, &entries), &mut whole);
    assert_eq!(state.ima, whole.ima);
}

#[test]
fn an_altered_entry_fails_naming_it_and_the_state_does_not_advance() {
    let (logs, entries) = (host_logs(true), entries());
    let mut sent = sent(&entries, 0, &entries);
    let path = entries[56].name().to_owned();
    let ima = sent.ima.as_mut().unwrap();
    ima.list = ima.list.replace(&path, &path.replace('/', "\\"));
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &sent, &mut state);
    assert!(verdict.broken());
    let reason = &verdict.reasons[0];
    assert_eq!(reason.code, ReasonCode::ImaLogMalformed);
    assert!(
        reason.message.contains("IMA entry 57"),
        "{}",
        reason.message
    );
    assert!(state.ima.is_none());
}

#[test]
fn an_unknown_executable_fails_naming_it_until_the_policy_changes() {
    let (logs, mut entries) = (host_logs(true), entries());
    let evil = FileDigest {
        alg: HashAlg::Sha256,
        bytes: palisade_ima::DigestBuf::new(&[0xee; 32]).unwrap(),
    };
    entries.push(Entry::ima_ng(10, evil, "/tmp/evil"));
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &sent(&entries, 0, &entries), &mut state);
    assert!(!verdict.broken());
    let reason = &verdict.reasons[0];
    assert_eq!(reason.code, ReasonCode::ImaPolicy);
    assert!(reason.message.contains("/tmp/evil"), "{}", reason.message);
    assert_eq!(state.ima.as_ref().unwrap().entries, 201);
    // Nothing new next time: the finding stays.
    let again = sent(&[], 201, &entries);
    let verdict = logs.judge(&no_labels(), &again, &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::ImaPolicy);
    // Judged by no policy, the whole list is replayed and summarised but not judged.
    let request = host_logs(false).request(&agent(), &state, vec![0; 20]);
    assert_eq!(request.ima_offset, Some(0));
}

#[test]
fn a_list_that_never_reaches_the_quote_fails() {
    let (logs, entries) = (host_logs(false), entries());
    let mut sent = sent(&entries, 0, &entries);
    sent.pcrs.insert(IMA_PCR, Sha256Digest([7; 32]));
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &sent, &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::ImaReplayMismatch);
    assert!(state.ima.is_none());
}

#[test]
fn a_boot_aggregate_of_other_pcrs_fails() {
    let logs = host_logs(false);
    let entries = parse_ascii(LOG).unwrap(); // aggregate of a real machine's PCRs
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &sent(&entries, 0, &entries), &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::ImaBootAggregate);
}

#[test]
fn no_list_and_an_unextended_pcr10_mean_no_ima_but_an_extended_one_fails() {
    let logs = host_logs(false);
    let mut none = sent(&[], 0, &[]);
    none.ima = None;
    let mut state = VerifiedState::default();
    assert!(logs
        .judge(&no_labels(), &none, &mut state)
        .reasons
        .is_empty());
    assert!(state.ima.is_none());
    none.pcrs.insert(IMA_PCR, Sha256Digest([1; 32]));
    let verdict = logs.judge(&no_labels(), &none, &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::ImaLogMalformed);
}

fn golden_pcrs() -> BTreeMap<u8, Sha256Digest> {
    let golden: serde_json::Value = serde_json::from_str(UEFI_PCRS).unwrap();
    BOOT_PCRS
        .map(|i| {
            let hex = golden["pcrs"]["sha256"][i.to_string()].as_str().unwrap();
            (i, hex.parse().unwrap())
        })
        .collect()
}

fn boot_sent(bytes: &[u8], pcrs: BTreeMap<u8, Sha256Digest>) -> Sent {
    let mut pcrs = pcrs;
    pcrs.insert(IMA_PCR, Sha256Digest::ZERO);
    Sent {
        pcrs,
        ima: None,
        boot_log: Some(BootLog {
            bytes: bytes.to_vec(),
        }),
    }
}

#[test]
fn a_real_uefi_log_replays_to_its_golden_pcrs_and_gives_the_boot_reference() {
    let logs = host_logs(false);
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &boot_sent(UEFI, golden_pcrs()), &mut state);
    assert!(verdict.reasons.is_empty(), "{:?}", verdict.reasons);
    let boot = state.boot.clone().unwrap();
    assert_eq!(boot.summary["secure_boot"], true);
    assert_eq!(boot.summary["events"], 99);
    // Later attestations send no log: the PCRs must stay as verified.
    let mut later = boot_sent(UEFI, golden_pcrs());
    later.boot_log = None;
    assert!(logs
        .judge(&no_labels(), &later, &mut state)
        .reasons
        .is_empty());
    later.pcrs.insert(4, Sha256Digest([4; 32]));
    let verdict = logs.judge(&no_labels(), &later, &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::BootLogReplayMismatch);
    assert!(verdict.reasons[0].message.contains("PCR 4"));
}

#[test]
fn a_uefi_log_that_does_not_reach_the_quote_or_does_not_parse_fails() {
    let logs = host_logs(false);
    let mut pcrs = golden_pcrs();
    pcrs.insert(7, Sha256Digest([7; 32]));
    let mut state = VerifiedState::default();
    let verdict = logs.judge(&no_labels(), &boot_sent(UEFI, pcrs), &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::BootLogReplayMismatch);
    assert!(verdict.reasons[0].message.contains("PCR 7"));
    let bogus = include_bytes!("../../../ima/testdata/binary_bios_measurements-bogus");
    let verdict = logs.judge(&no_labels(), &boot_sent(bogus, golden_pcrs()), &mut state);
    assert_eq!(verdict.reasons[0].code, ReasonCode::BootLogMalformed);
    assert!(state.boot.is_none());
}

#[test]
fn requests_quote_the_boot_and_ima_pcrs_and_ask_for_what_is_unverified() {
    let logs = host_logs(false);
    let request = logs.request(&agent(), &VerifiedState::default(), vec![0; 20]);
    assert_eq!(request.pcrs, vec![0, 1, 2, 3, 4, 5, 6, 7, 10, 15]);
    assert_eq!(request.ima_offset, Some(0));
    assert!(request.boot_log);
    let off = HostLogs::new(HostLogsConfig::default());
    let request = off.request(&agent(), &VerifiedState::default(), vec![0; 20]);
    assert_eq!(
        (request.pcrs, request.ima_offset, request.boot_log),
        (vec![15], None, false)
    );
}

fn agent() -> AgentRecord {
    AgentRecord::for_tests("a1", 15)
}
