//! Quotes: the TPM's TPMS_ATTEST and TPMT_SIGNATURE, verified by `tpm2_checkquote` (OpenSSL, no
//! TPM) for RSA and ECC AKs; nonce limits; long runs without exhausting TPM slots; the clock.

use palisade_agent::tpm::{KeyAlg, Tpm, TpmError};
use sha2::{Digest, Sha256};

use super::{open, tpm2b, ALGS};
use crate::support::{assert_success, run, tempdir, write, Swtpm};

/// TPM_GENERATED_VALUE, the first four bytes of every TPMS_ATTEST.
const TPM_GENERATED: [u8; 4] = [0xff, 0x54, 0x43, 0x47];
/// TPM_ST_ATTEST_QUOTE.
const ST_ATTEST_QUOTE: [u8; 2] = [0x80, 0x18];

#[test]
fn quotes_verify_with_tpm2_checkquote_and_fail_for_a_wrong_nonce() {
    for alg in ALGS {
        let swtpm = Swtpm::start();
        let dir = tempdir();
        let mut tpm = open(&swtpm, dir.path(), alg);
        tpm.extend(15, &Sha256::digest(b"nft ruleset").into())
            .expect("extend");

        let pcrs = [0u8, 10, 15];
        let nonce = b"palisade verifier nonce 0123456789";
        let quote = tpm.quote(nonce, &pcrs).expect("quote");
        assert_eq!(quote.attest[..4], TPM_GENERATED, "{alg:?}: magic");
        assert_eq!(quote.attest[4..6], ST_ATTEST_QUOTE, "{alg:?}: type");
        assert!(
            quote.attest.windows(nonce.len()).any(|w| w == nonce),
            "nonce in extraData"
        );
        let values = tpm.read_pcrs(&pcrs).expect("read");
        let identity = tpm.identity().expect("identity");

        let d = dir.path();
        let ak_pub = write(d, "ak.pub", &tpm2b(&identity.ak_public));
        let msg = write(d, "quote.msg", &quote.attest);
        let sig = write(d, "quote.sig", &quote.signature);
        let pcr_file = write(d, "quote.pcrs", &values.concat());
        let check = |nonce_hex: &str, pcr_file: &str, msg: &str| {
            run(
                "tpm2_checkquote",
                &[
                    "-u",
                    &ak_pub,
                    "-m",
                    msg,
                    "-s",
                    &sig,
                    "-q",
                    nonce_hex,
                    "-g",
                    "sha256",
                    "-f",
                    pcr_file,
                    "-l",
                    "sha256:0,10,15",
                ],
            )
        };

        let good = check(&hex::encode(nonce), &pcr_file, &msg);
        assert_success(&format!("{alg:?}: tpm2_checkquote"), &good);

        let mut wrong_nonce = nonce.to_vec();
        wrong_nonce[0] ^= 1;
        let bad = check(&hex::encode(&wrong_nonce), &pcr_file, &msg);
        assert!(
            !bad.status.success(),
            "{alg:?}: checkquote accepted a wrong nonce"
        );

        let mut wrong_pcrs = values.concat();
        wrong_pcrs[40] ^= 1;
        let wrong_pcrs = write(d, "wrong.pcrs", &wrong_pcrs);
        let bad = check(&hex::encode(nonce), &wrong_pcrs, &msg);
        assert!(
            !bad.status.success(),
            "{alg:?}: checkquote accepted wrong PCR values"
        );

        let mut tampered = quote.attest.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        let tampered = write(d, "tampered.msg", &tampered);
        let bad = check(&hex::encode(nonce), &pcr_file, &tampered);
        assert!(
            !bad.status.success(),
            "{alg:?}: checkquote accepted a tampered TPMS_ATTEST"
        );
    }
}

#[test]
fn nonce_sizes_up_to_64_bytes_are_accepted_and_longer_ones_rejected() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Ecc);
    let ak_public = tpm.identity().expect("identity").ak_public;
    let all: Vec<u8> = (0..24).collect();
    // Every nonce size, and selections from none to all 24 PCRs: tss-esapi hands back a parsed
    // TPMS_ATTEST that `EsapiTpm` marshals again, so check the signature still covers exactly
    // those bytes for each shape.
    for (len, pcrs) in [
        (0, &all[..0]),
        (1, &all[15..16]),
        (32, &all[..]),
        (64, &all[..8]),
    ] {
        let nonce = vec![0xa5; len];
        let quote = tpm
            .quote(&nonce, pcrs)
            .unwrap_or_else(|e| panic!("{len}: {e}"));
        assert_eq!(quote.attest[..4], TPM_GENERATED);
        let d = dir.path();
        let mut args = vec![
            "-u".to_owned(),
            write(d, "ak.pub", &tpm2b(&ak_public)),
            "-m".to_owned(),
            write(d, "quote.msg", &quote.attest),
            "-s".to_owned(),
            write(d, "quote.sig", &quote.signature),
            "-g".to_owned(),
            "sha256".to_owned(),
        ];
        if !nonce.is_empty() {
            args.extend(["-q".to_owned(), hex::encode(&nonce)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_success(
            &format!("checkquote, nonce of {len}"),
            &run("tpm2_checkquote", &args),
        );
    }
    assert!(matches!(
        tpm.quote(&[0; 65], &[15]),
        Err(TpmError::InvalidRequest(_))
    ));
}

#[test]
fn hundreds_of_quotes_and_extends_do_not_exhaust_tpm_slots() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Rsa);
    let all: Vec<u8> = (0..24).collect();
    for i in 0..200u32 {
        let nonce = i.to_be_bytes();
        let quote = tpm
            .quote(&nonce, &all)
            .unwrap_or_else(|e| panic!("quote {i}: {e}"));
        assert!(quote.attest.windows(4).any(|w| w == nonce));
        if i % 4 == 0 {
            tpm.extend(15, &Sha256::digest(nonce).into())
                .unwrap_or_else(|e| panic!("extend {i}: {e}"));
        }
        if i % 20 == 0 {
            tpm.clock().unwrap_or_else(|e| panic!("clock {i}: {e}"));
        }
    }
}

#[test]
fn clock_moves_forward_within_one_boot() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Rsa);
    let first = tpm.clock().expect("clock");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let second = tpm.clock().expect("clock");
    assert!(second.clock > first.clock, "{first:?} then {second:?}");
    assert_eq!(
        (second.reset_count, second.restart_count),
        (first.reset_count, first.restart_count)
    );
    assert!(second.safe);
}
