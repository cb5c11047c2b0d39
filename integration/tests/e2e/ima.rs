//! IMA and measured boot end to end: a real UEFI event log and a real IMA measurement list are
//! replayed into the host's swtpm (PCRs 0-7 and 10, as firmware and the kernel would), the
//! agent sends both files, and the verifier replays them against its quotes and judges the IMA
//! entries by a Keylime-format runtime policy built from the same list.

use std::path::PathBuf;

use palisade_ima::Entry;
use palisade_integration::measured::{append, boot_and_run, configure, executable, measure};

use super::support::{reason_codes, World, MANUAL};

struct Booted {
    world: World,
    list: PathBuf,
    entries: Vec<Entry>,
    _dir: tempfile::TempDir,
}

/// A host booted with the UEFI log and running with the IMA list, its agent sending both, and
/// a verifier judging IMA by a policy made from the list.
fn booted(label: &str) -> Booted {
    let dir = tempfile::tempdir().unwrap();
    let (verifier, agent, list) = configure(dir.path()).unwrap();
    let world = World::start_configured(label, MANUAL, &verifier, &agent);
    let entries = boot_and_run(&world.host, &list).unwrap();
    Booted {
        world,
        list,
        entries,
        _dir: dir,
    }
}

#[test]
fn a_real_ima_list_and_uefi_log_pass_then_an_unknown_executable_fails_naming_it() {
    let b = booted("ima1");
    let w = &b.world;
    let first = w.attest();
    assert_eq!(first["outcome"], "pass", "{first}\n{}", w.agent.log_tail());
    let shown = w.verifier.cli(&["agents", "show", "ima1"]).unwrap();
    let logs = &shown["host_logs"];
    assert_eq!(logs["boot"]["secure_boot"], true, "{shown}");
    assert_eq!(logs["boot"]["events"], 99);
    assert_eq!(logs["ima"]["entries"], 826);
    assert_eq!(logs["ima"]["ok"], true);
    assert_eq!(logs["ima"]["boot_aggregate"], "match");
    assert_eq!(logs["ima"]["policy"]["name"], "host");
    let text = w.verifier.cli_raw(&["agents", "show", "ima1"]).unwrap();
    assert!(text.contains("Secure Boot on, 99 events"), "{text}");
    assert!(
        text.contains("826 entries replayed to PCR 10; runtime policy host: all allowed"),
        "{text}"
    );

    // The kernel measures an executable the policy does not know, and logs it.
    let miner = executable("/usr/local/bin/cryptominer", b"evil");
    measure(&w.host, std::slice::from_ref(&miner)).unwrap();
    append(&b.list, &[miner]).unwrap();
    let r = w.attest();
    assert_eq!(reason_codes(&r), vec!["ima_policy"], "{r}");
    let message = r["reasons"][0]["message"].as_str().unwrap();
    assert!(message.contains("/usr/local/bin/cryptominer"), "{message}");
    // Only the new entry was judged, and the finding stays on later attestations.
    assert_eq!(reason_codes(&w.attest()), vec!["ima_policy"]);
    let shown = w.verifier.cli(&["agents", "show", "ima1"]).unwrap();
    assert_eq!(shown["host_logs"]["ima"]["entries"], 827);
    assert_eq!(shown["host_logs"]["ima"]["unknown"], 1);
}

#[test]
fn an_altered_ima_entry_fails_naming_it_and_the_honest_list_then_passes() {
    let b = booted("ima2");
    let w = &b.world;
    let honest = std::fs::read_to_string(&b.list).unwrap();
    // Altered before the verifier has seen it: the first attestation reads every entry.
    let path = b.entries[99].name().to_owned();
    std::fs::write(&b.list, honest.replacen(&path, &format!("{path}.evil"), 1)).unwrap();
    let r = w.attest();
    assert_eq!(reason_codes(&r), vec!["ima_log_malformed"], "{r}");
    let message = r["reasons"][0]["message"].as_str().unwrap();
    assert!(message.contains("IMA entry 100"), "{message}");
    // The state did not advance: the honest list is judged from entry 0 and passes.
    std::fs::write(&b.list, &honest).unwrap();
    let r = w.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    // PCR 10 extended behind the list's back: no prefix reaches the quote.
    w.host.pcr_extend(10, [0x42; 32]).unwrap();
    let r = w.attest();
    assert_eq!(reason_codes(&r), vec!["ima_replay_mismatch"], "{r}");
}

#[test]
fn a_pcr_extended_after_the_boot_log_was_verified_fails_naming_it() {
    let b = booted("ima3");
    let w = &b.world;
    assert_eq!(w.attest()["outcome"], "pass");
    w.host.pcr_extend(4, [0x44; 32]).unwrap();
    let r = w.attest();
    assert_eq!(reason_codes(&r)[0], "boot_log_replay_mismatch", "{r}");
    assert!(r["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .contains("PCR 4"));
}

#[test]
fn a_killed_verifier_resumes_ima_from_its_stored_checkpoint() {
    let mut b = booted("ima4");
    assert_eq!(b.world.attest()["outcome"], "pass");
    b.world.verifier.kill_and_restart().unwrap();
    // An entry the verifier already verified is rewritten in the file: a verifier that lost its
    // checkpoint would re-read it and fail; one that resumed asks only for new entries.
    let honest = std::fs::read_to_string(&b.list).unwrap();
    let path = b.entries[9].name().to_owned();
    std::fs::write(&b.list, honest.replacen(&path, &format!("{path}.x"), 1)).unwrap();
    let again = b.entries[5].clone(); // a file the policy allows, measured again
    measure(&b.world.host, std::slice::from_ref(&again)).unwrap();
    append(&b.list, &[again]).unwrap();
    let r = b.world.attest();
    assert_eq!(r["outcome"], "pass", "{r}");
    let shown = b.world.verifier.cli(&["agents", "show", "ima4"]).unwrap();
    assert_eq!(shown["host_logs"]["ima"]["entries"], 827);
    assert_eq!(shown["host_logs"]["boot"]["secure_boot"], true);
}
