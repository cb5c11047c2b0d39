//! Identity: EK and AK public areas, the AK Name, the AK persisted across restarts, and the EK
//! certificate read from NV.

use std::os::unix::fs::PermissionsExt;

use palisade_agent::tpm::{KeyAlg, Tpm};
use sha2::{Digest, Sha256};
use tss_esapi::structures::Public;
use tss_esapi::traits::{Marshall, UnMarshall};

use super::{open, ALGS};
use crate::support::{tempdir, Swtpm};

#[test]
fn ak_is_persisted_and_identical_after_reopening() {
    for alg in ALGS {
        let swtpm = Swtpm::start();
        let dir = tempdir();
        // Two levels that do not exist yet: `open` creates them.
        let state = dir.path().join("var/palisade");

        let first = open(&swtpm, &state, alg).identity().expect("identity");

        let ek = Public::unmarshall(&first.ek_public).expect("EK is a TPMT_PUBLIC");
        match (alg, &ek) {
            (KeyAlg::Rsa, Public::Rsa { .. }) | (KeyAlg::Ecc, Public::Ecc { .. }) => {}
            _ => panic!("{alg:?} EK has the wrong type: {ek:?}"),
        }
        assert!(ek.object_attributes().restricted() && ek.object_attributes().decrypt());
        assert_eq!(
            first.ek_certificate, None,
            "a fresh swtpm has no EK certificate"
        );

        let ak = Public::unmarshall(&first.ak_public).expect("AK is a TPMT_PUBLIC");
        assert_eq!(
            ak.marshall().expect("marshal"),
            first.ak_public,
            "AK public round-trips"
        );
        let attrs = ak.object_attributes();
        assert!(attrs.restricted() && attrs.sign_encrypt() && !attrs.decrypt());
        assert!(attrs.fixed_tpm() && attrs.fixed_parent() && attrs.sensitive_data_origin());
        match (alg, &ak) {
            (KeyAlg::Rsa, Public::Rsa { .. }) | (KeyAlg::Ecc, Public::Ecc { .. }) => {}
            _ => panic!("{alg:?} AK has the wrong type: {ak:?}"),
        }

        // Name = nameAlg (TPM_ALG_SHA256) || SHA-256(TPMT_PUBLIC), computed here independently.
        let mut name = vec![0x00, 0x0b];
        name.extend_from_slice(&Sha256::digest(&first.ak_public));
        assert_eq!(first.ak_name, name);

        // Persisted with owner-only permissions.
        assert_eq!(
            std::fs::read(state.join("ak.pub")).expect("ak.pub"),
            first.ak_public
        );
        let mode = |p: &str| {
            std::fs::metadata(state.join(p))
                .expect("stat")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(""), 0o700, "state directory mode");
        for file in ["ak.pub", "ak.priv", "ak.json"] {
            assert_eq!(mode(file), 0o600, "{file} mode");
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.join("ak.json")).expect("ak.json"))
                .expect("ak.json is JSON");
        let alg_name = serde_json::to_value(alg).expect("alg");
        assert_eq!(meta["ek_alg"], alg_name);
        assert_eq!(meta["ak_alg"], alg_name);
        assert_eq!(meta["ak_name"], hex::encode(&first.ak_name));
        let files_before: Vec<Vec<u8>> = ["ak.pub", "ak.priv", "ak.json"]
            .iter()
            .map(|f| std::fs::read(state.join(f)).expect("read"))
            .collect();

        // A restart (the first context is gone; its objects were flushed) loads the same AK,
        // and recreates the same EK from the endorsement seed.
        let second = open(&swtpm, &state, alg)
            .identity()
            .expect("identity after reopening");
        assert_eq!(second, first, "{alg:?}: identity changed across restarts");
        let files_after: Vec<Vec<u8>> = ["ak.pub", "ak.priv", "ak.json"]
            .iter()
            .map(|f| std::fs::read(state.join(f)).expect("read"))
            .collect();
        assert_eq!(files_after, files_before, "reopening rewrote the AK files");
    }
}

#[test]
fn separate_state_dirs_get_separate_aks_under_the_same_ek() {
    let swtpm = Swtpm::start();
    let (a, b) = (tempdir(), tempdir());
    let first = open(&swtpm, a.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity");
    let second = open(&swtpm, b.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity");
    assert_eq!(first.ek_public, second.ek_public, "the EK is deterministic");
    assert_ne!(
        first.ak_name, second.ak_name,
        "each state directory has its own AK"
    );
}

#[test]
fn ek_certificate_is_read_from_nv_when_the_tpm_carries_one() {
    let swtpm = Swtpm::start_manufactured();

    let dir = tempdir();
    let rsa = open(&swtpm, dir.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity");
    let cert = rsa
        .ek_certificate
        .expect("swtpm_setup wrote an RSA-2048 EK certificate");
    assert_eq!(cert.first(), Some(&0x30), "DER SEQUENCE");
    // The certificate certifies this EK: its SubjectPublicKeyInfo holds the EK's modulus.
    let Public::Rsa { unique, .. } = Public::unmarshall(&rsa.ek_public).expect("EK") else {
        panic!("RSA EK expected");
    };
    assert_eq!(unique.value().len(), 256);
    assert!(
        cert.windows(256).any(|w| w == unique.value()),
        "the EK certificate does not contain the EK modulus"
    );

    // swtpm_setup certifies a P-384 ECC EK, not the P-256 one: absent, and not an error.
    let dir = tempdir();
    let ecc = open(&swtpm, dir.path(), KeyAlg::Ecc)
        .identity()
        .expect("identity");
    assert_eq!(ecc.ek_certificate, None);
}
