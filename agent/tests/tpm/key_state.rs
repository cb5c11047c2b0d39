//! The persisted AK is never silently replaced: mismatched algorithms, corrupted or foreign key
//! blobs and partial state are `KeyState` errors that leave the files untouched; TPMs that cannot
//! be reached are `Connect` errors; objects leaked by a dead client are recovered from.

use std::path::Path;

use palisade_agent::tpm::esapi::EsapiTpm;
use palisade_agent::tpm::{KeyAlg, Tpm, TpmError};

use super::{config, open};
use crate::support::{assert_success, tempdir, Swtpm};

const FILES: [&str; 3] = ["ak.pub", "ak.priv", "ak.json"];

fn snapshot(state: &Path) -> Vec<Option<Vec<u8>>> {
    FILES
        .iter()
        .map(|f| std::fs::read(state.join(f)).ok())
        .collect()
}

/// Opens with `ek`/`ak` and expects a KeyState error naming `file`, with the files unchanged.
fn expect_key_state(swtpm: &Swtpm, state: &Path, ek: KeyAlg, ak: KeyAlg, file: &str) -> String {
    let before = snapshot(state);
    match EsapiTpm::open(config(swtpm, state, ek, ak)) {
        Err(TpmError::KeyState { path, reason }) => {
            assert!(
                path.ends_with(file),
                "KeyState names {path:?}, expected {file}: {reason}"
            );
            assert_eq!(snapshot(state), before, "the AK files were modified");
            reason
        }
        Err(other) => panic!("expected KeyState for {file}, got {other}"),
        Ok(tpm) => panic!("expected KeyState for {file}, but the TPM opened: {tpm:?}"),
    }
}

#[test]
fn stored_ecc_ak_is_refused_when_the_config_says_rsa() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let enrolled = open(&swtpm, dir.path(), KeyAlg::Ecc)
        .identity()
        .expect("identity");

    let reason = expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa, "ak.json");
    assert!(reason.contains("refusing to replace"), "{reason}");
    // Only the AK, or only the EK, differing is refused as well.
    expect_key_state(&swtpm, dir.path(), KeyAlg::Ecc, KeyAlg::Rsa, "ak.json");
    expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Ecc, "ak.json");

    // The matching configuration still opens the enrolled AK.
    assert_eq!(
        open(&swtpm, dir.path(), KeyAlg::Ecc)
            .identity()
            .expect("identity"),
        enrolled
    );
}

#[test]
fn ak_json_saying_ecc_is_refused_when_the_config_says_rsa() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    drop(open(&swtpm, dir.path(), KeyAlg::Rsa));
    let meta = dir.path().join("ak.json");
    let edited = std::fs::read_to_string(&meta)
        .expect("ak.json")
        .replace("\"rsa\"", "\"ecc\"");
    std::fs::write(&meta, edited).expect("write ak.json");
    expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa, "ak.json");
}

#[test]
fn corrupted_ak_priv_is_refused_not_replaced() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    drop(open(&swtpm, dir.path(), KeyAlg::Rsa));
    let path = dir.path().join("ak.priv");
    let good = std::fs::read(&path).expect("ak.priv");

    // A flipped bit inside the encrypted sensitive area: the TPM's integrity check fails.
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    std::fs::write(&path, &flipped).expect("write");
    let reason = expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa, "ak.priv");
    assert!(reason.contains("refuses to load"), "{reason}");

    // Truncated, empty, and too large for a TPM2B_PRIVATE.
    for bytes in [&good[..good.len() / 2], &[][..], &[0u8; 2000][..]] {
        std::fs::write(&path, bytes).expect("write");
        expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa, "ak.priv");
    }

    // Restored, the enrolled AK loads again.
    std::fs::write(&path, &good).expect("restore");
    open(&swtpm, dir.path(), KeyAlg::Rsa);
}

#[test]
fn garbage_ak_pub_is_refused() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    drop(open(&swtpm, dir.path(), KeyAlg::Rsa));
    std::fs::write(dir.path().join("ak.pub"), b"not a TPMT_PUBLIC").expect("write");
    expect_key_state(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa, "ak.pub");
}

#[test]
fn ak_made_by_another_tpm_is_refused() {
    let (a, b) = (Swtpm::start(), Swtpm::start());
    let dir = tempdir();
    drop(open(&a, dir.path(), KeyAlg::Ecc));
    // TPM B has another endorsement seed, so another EK: the AK's outer wrapping fails.
    expect_key_state(&b, dir.path(), KeyAlg::Ecc, KeyAlg::Ecc, "ak.priv");
}

#[test]
fn partial_ak_state_is_refused() {
    let swtpm = Swtpm::start();
    for missing in FILES {
        let dir = tempdir();
        drop(open(&swtpm, dir.path(), KeyAlg::Rsa));
        std::fs::remove_file(dir.path().join(missing)).expect("remove");
        let before = snapshot(dir.path());
        match EsapiTpm::open(config(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa)) {
            Err(TpmError::KeyState { reason, .. }) => assert!(reason.contains(missing), "{reason}"),
            other => panic!("missing {missing}: expected KeyState, got {other:?}"),
        }
        assert_eq!(snapshot(dir.path()), before);
    }
}

#[test]
fn unreachable_or_malformed_tcti_is_a_connect_error() {
    let dir = tempdir();
    for tcti in ["swtpm:host=127.0.0.1,port=1", "no-such-tcti:whatever"] {
        let config = palisade_agent::tpm::esapi::EsapiConfig::new(tcti, dir.path());
        match EsapiTpm::open(config) {
            Err(TpmError::Connect { tcti: reported, .. }) => assert_eq!(reported, tcti),
            other => panic!("{tcti}: expected Connect, got {other:?}"),
        }
    }
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "no AK was written"
    );
}

#[test]
fn open_recovers_from_objects_leaked_by_a_dead_client() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let enrolled = open(&swtpm, dir.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity");
    // Without a resource manager, each tpm2_createprimary leaves its primary loaded when it
    // exits, as a crashed agent would leave its EK and AK: fill all transient slots.
    for i in 0..3 {
        let ctx = dir.path().join(format!("leak{i}.ctx"));
        let output = swtpm.tool(
            "tpm2_createprimary",
            &["-C", "o", "-G", "ecc", "-c", ctx.to_str().expect("path")],
        );
        assert_success("tpm2_createprimary", &output);
    }
    let output = swtpm.tool("tpm2_getcap", &["handles-transient"]);
    assert_success("tpm2_getcap", &output);
    assert!(
        String::from_utf8_lossy(&output.stdout).lines().count() >= 3,
        "expected leaked transient objects: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let reopened = open(&swtpm, dir.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity");
    assert_eq!(reopened, enrolled);
}

#[test]
fn endorsement_password_is_a_command_error_not_a_key_state_verdict() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    drop(open(&swtpm, dir.path(), KeyAlg::Rsa));
    let before = snapshot(dir.path());
    let output = swtpm.tool("tpm2_changeauth", &["-c", "e", "endorsement-secret"]);
    assert_success("tpm2_changeauth", &output);
    match EsapiTpm::open(config(&swtpm, dir.path(), KeyAlg::Rsa, KeyAlg::Rsa)) {
        Err(TpmError::Command { command, .. }) => assert_eq!(command, "CreatePrimary (EK)"),
        other => panic!("expected the EK creation to fail, got {other:?}"),
    }
    assert_eq!(snapshot(dir.path()), before, "the AK files were modified");
}
