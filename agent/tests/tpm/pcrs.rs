//! PCR reads and extends on the SHA-256 bank, checked against SHA-256 computed here and against
//! `tpm2_pcrread`.

use palisade_agent::tpm::{KeyAlg, Tpm, TpmError};
use sha2::{Digest, Sha256};

use super::open;
use crate::support::{assert_success, tempdir, Swtpm};

#[test]
fn extend_gives_sha256_of_old_value_and_digest_and_agrees_with_tpm2_pcrread() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Rsa);

    let mut expected = tpm.read_pcrs(&[15]).expect("read")[0];
    assert_eq!(
        expected, [0; 32],
        "PCR 15 starts at zero after TPM2_Startup(CLEAR)"
    );
    for i in 0..3u8 {
        let digest: [u8; 32] = Sha256::digest([b'e', i]).into();
        tpm.extend(15, &digest).expect("extend");
        expected = Sha256::new()
            .chain_update(expected)
            .chain_update(digest)
            .finalize()
            .into();
        assert_eq!(
            tpm.read_pcrs(&[15]).expect("read"),
            vec![expected],
            "after extend {i}"
        );
    }

    // All 24 PCRs (more than the eight one TPM2_PCR_Read returns), then the same in a scrambled
    // order with duplicates: values come back in the order asked.
    let all = tpm
        .read_pcrs(&(0..24).collect::<Vec<u8>>())
        .expect("read all");
    assert_eq!(all.len(), 24);
    assert_eq!(all[15], expected);
    let order: Vec<u8> = (0..24).rev().chain([15, 0, 15, 7]).collect();
    let scrambled = tpm.read_pcrs(&order).expect("read scrambled");
    assert_eq!(scrambled.len(), order.len());
    for (pcr, value) in order.iter().zip(&scrambled) {
        assert_eq!(value, &all[usize::from(*pcr)], "PCR {pcr}");
    }
    assert_eq!(
        tpm.read_pcrs(&[]).expect("read nothing"),
        Vec::<[u8; 32]>::new()
    );

    // swtpm serves one client at a time: release it, then ask tpm2-tools.
    drop(tpm);
    let out = dir.path().join("pcrs.bin");
    let selection = format!(
        "sha256:{}",
        (0..24).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    let output = swtpm.tool(
        "tpm2_pcrread",
        &[&selection, "-o", out.to_str().expect("path")],
    );
    assert_success("tpm2_pcrread", &output);
    let raw = std::fs::read(&out).expect("tpm2_pcrread output");
    assert_eq!(raw, all.concat(), "tpm2_pcrread disagrees with read_pcrs");
}

#[test]
fn pcr_indices_above_23_are_invalid_requests() {
    let swtpm = Swtpm::start();
    let dir = tempdir();
    let mut tpm = open(&swtpm, dir.path(), KeyAlg::Rsa);
    for pcr in [24, 31, 255] {
        assert!(
            matches!(tpm.read_pcrs(&[0, pcr]), Err(TpmError::InvalidRequest(_))),
            "read {pcr}"
        );
        assert!(
            matches!(tpm.extend(pcr, &[1; 32]), Err(TpmError::InvalidRequest(_))),
            "extend {pcr}"
        );
        assert!(
            matches!(
                tpm.quote(b"nonce", &[pcr]),
                Err(TpmError::InvalidRequest(_))
            ),
            "quote {pcr}"
        );
    }
    // Nothing was extended by the rejected calls, and the TPM is still usable.
    assert_eq!(tpm.read_pcrs(&[23]).expect("read 23"), vec![[0; 32]]);
}
