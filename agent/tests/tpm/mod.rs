//! `EsapiTpm` against a real swtpm: identity and AK persistence, PCRs, quotes checked by
//! `tpm2_checkquote`, credential activation against `tpm2_makecredential`, key-state refusals,
//! and timings.

mod credential;
mod identity;
mod key_state;
mod pcrs;
mod quote;
mod timing;

use std::path::Path;

use palisade_agent::tpm::esapi::{EsapiConfig, EsapiTpm};
use palisade_agent::tpm::KeyAlg;

use crate::support::Swtpm;

/// Both algorithms, for tests that run once per algorithm.
const ALGS: [KeyAlg; 2] = [KeyAlg::Rsa, KeyAlg::Ecc];

fn config(swtpm: &Swtpm, state_dir: &Path, ek_alg: KeyAlg, ak_alg: KeyAlg) -> EsapiConfig {
    EsapiConfig {
        tcti: swtpm.tcti(),
        ek_alg,
        ak_alg,
        state_dir: state_dir.to_path_buf(),
    }
}

/// Opens the TPM with EK and AK both of `alg`.
fn open(swtpm: &Swtpm, state_dir: &Path, alg: KeyAlg) -> EsapiTpm {
    EsapiTpm::open(config(swtpm, state_dir, alg, alg))
        .unwrap_or_else(|e| panic!("open {alg:?} TPM: {e}"))
}

/// A TPM2B: the bytes behind a big-endian u16 size, as tpm2-tools' "tss" files hold them.
fn tpm2b(bytes: &[u8]) -> Vec<u8> {
    let size = u16::try_from(bytes.len()).expect("TPM2B fits u16");
    let mut out = size.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}
