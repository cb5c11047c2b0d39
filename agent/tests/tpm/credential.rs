//! Credential activation: `tpm2_makecredential --tcti=none` (software, as a verifier would) seals a
//! secret to the EK and the AK's Name; `activate_credential` must return it for RSA and ECC EKs,
//! and fail cleanly for a credential made for another AK.

use std::path::Path;

use palisade_agent::tpm::{KeyAlg, Tpm, TpmError, TpmIdentity};
use rand::RngCore;

use super::{config, open, tpm2b, ALGS};
use crate::support::{assert_success, run, tempdir, write, Swtpm};

use palisade_agent::tpm::esapi::EsapiTpm;

/// tpm2-tools' credential file: magic, version, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET.
const CREDENTIAL_MAGIC: [u8; 4] = [0xba, 0xdc, 0xc0, 0xde];

/// Runs `tpm2_makecredential` offline and returns (credential blob, encrypted secret), both
/// without their size prefixes.
fn make_credential(dir: &Path, ek_public: &[u8], name: &[u8], secret: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ek = write(dir, "ek.pub", &tpm2b(ek_public));
    let secret = write(dir, "secret.bin", secret);
    let out = dir.join("credential.out");
    let output = run(
        "tpm2_makecredential",
        &[
            "--tcti=none",
            "-u",
            &ek,
            "-s",
            &secret,
            "-n",
            &hex::encode(name),
            "-o",
            out.to_str().expect("path"),
        ],
    );
    assert_success("tpm2_makecredential", &output);
    parse_credential_file(&std::fs::read(out).expect("credential file"))
}

fn parse_credential_file(file: &[u8]) -> (Vec<u8>, Vec<u8>) {
    assert_eq!(file[..4], CREDENTIAL_MAGIC, "magic");
    assert_eq!(file[4..8], [0, 0, 0, 1], "version");
    let mut rest = &file[8..];
    let mut take = || {
        let size = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let value = rest[2..2 + size].to_vec();
        rest = &rest[2 + size..];
        value
    };
    let blob = take();
    let secret = take();
    assert!(rest.is_empty(), "trailing bytes in the credential file");
    (blob, secret)
}

fn random_secret() -> Vec<u8> {
    let mut secret = vec![0; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    secret
}

fn activate(
    tpm: &mut EsapiTpm,
    id: &TpmIdentity,
    dir: &Path,
    name: &[u8],
) -> (Vec<u8>, Result<Vec<u8>, TpmError>) {
    let secret = random_secret();
    let (blob, encrypted) = make_credential(dir, &id.ek_public, name, &secret);
    (secret, tpm.activate_credential(&blob, &encrypted))
}

#[test]
fn activate_credential_returns_the_secret_for_rsa_and_ecc_eks() {
    for alg in ALGS {
        let swtpm = Swtpm::start();
        let dir = tempdir();
        let mut tpm = open(&swtpm, dir.path(), alg);
        let id = tpm.identity().expect("identity");
        // Repeatedly: each activation starts a policy session and must flush it (swtpm keeps
        // only three loaded sessions).
        for round in 0..6 {
            let (secret, activated) = activate(&mut tpm, &id, dir.path(), &id.ak_name);
            let activated = activated.unwrap_or_else(|e| panic!("{alg:?} round {round}: {e}"));
            assert_eq!(activated, secret, "{alg:?} round {round}");
        }
    }
}

#[test]
fn activation_fails_cleanly_for_a_credential_made_for_another_ak() {
    for alg in ALGS {
        let swtpm = Swtpm::start();
        let dir = tempdir();
        let mut tpm = open(&swtpm, dir.path(), alg);
        let id = tpm.identity().expect("identity");
        let mut other_name = id.ak_name.clone();
        *other_name.last_mut().expect("non-empty name") ^= 0x01;
        for _ in 0..4 {
            let (_, activated) = activate(&mut tpm, &id, dir.path(), &other_name);
            match activated {
                Err(TpmError::Command { command, .. }) => assert_eq!(command, "ActivateCredential"),
                other => panic!("{alg:?}: expected ActivateCredential to fail, got {other:?}"),
            }
        }
        // The failures leaked no session: a proper credential still activates.
        let (secret, activated) = activate(&mut tpm, &id, dir.path(), &id.ak_name);
        assert_eq!(activated.expect("activate after failures"), secret);
    }
}

#[test]
fn credential_for_another_tpms_ek_does_not_activate() {
    let (a, b) = (Swtpm::start(), Swtpm::start());
    let (dir_a, dir_b) = (tempdir(), tempdir());
    let id_a = open(&a, dir_a.path(), KeyAlg::Rsa)
        .identity()
        .expect("identity A");
    let mut tpm_b = EsapiTpm::open(config(&b, dir_b.path(), KeyAlg::Rsa, KeyAlg::Rsa)).expect("B");
    // Made for TPM A's EK but naming TPM B's AK: B cannot recover the seed.
    let name_b = tpm_b.identity().expect("identity B").ak_name;
    let (blob, encrypted) =
        make_credential(dir_a.path(), &id_a.ek_public, &name_b, &random_secret());
    assert!(matches!(
        tpm_b.activate_credential(&blob, &encrypted),
        Err(TpmError::Command {
            command: "ActivateCredential",
            ..
        })
    ));
}

#[test]
fn oversized_credential_buffers_are_invalid_requests() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Rsa);
    assert!(matches!(
        tpm.activate_credential(&[0; 4096], &[0; 256]),
        Err(TpmError::InvalidRequest(_))
    ));
    assert!(matches!(
        tpm.activate_credential(&[0; 16], &[0; 4096]),
        Err(TpmError::InvalidRequest(_))
    ));
    // Well-sized garbage reaches the TPM and fails there, as an error (libtpms answers
    // TPM_RC_FAILURE for a seed it cannot decrypt, yet stays operational).
    assert!(matches!(
        tpm.activate_credential(&[0; 66], &[0; 256]),
        Err(TpmError::Command {
            command: "ActivateCredential",
            ..
        })
    ));
    tpm.quote(b"still usable", &[0])
        .expect("quote after a failed activation");
    let id = tpm.identity().expect("identity");
    let (secret, activated) = activate(&mut tpm, &id, dir.path(), &id.ak_name);
    assert_eq!(activated.expect("activate after garbage"), secret);
}
