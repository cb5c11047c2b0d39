//! Fuzzes the EK certificate check on a hostile certificate (an enrolling agent sends it): X.509
//! parsing, validity, signature against the trusted CAs (here the same hostile bytes, so the
//! self-signed path is exercised too) and the key comparison. Must never panic; a certificate
//! can only verify if it certifies the fixed EK below, which no input can forge a signature for
//! unless it is a genuine self-signed certificate of that key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_evidence::tpm::TpmPublic;
use palisade_verifier::ek::EkTrust;

/// A P-256 storage key whose point is the curve's generator (TPMT_PUBLIC).
fn ek() -> Option<TpmPublic> {
    let x = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
    let y = "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    let mut t = Vec::new();
    t.extend_from_slice(&0x0023u16.to_be_bytes());
    t.extend_from_slice(&0x000Bu16.to_be_bytes());
    t.extend_from_slice(&0x0003_0072u32.to_be_bytes());
    t.extend_from_slice(&0u16.to_be_bytes());
    for v in [0x0006u16, 128, 0x0043, 0x0010, 0x0003, 0x0010] {
        t.extend_from_slice(&v.to_be_bytes());
    }
    for coord in [x, y] {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&coord[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect();
        t.extend_from_slice(&32u16.to_be_bytes());
        t.extend_from_slice(&bytes);
    }
    TpmPublic::parse(&t).ok()
}

fuzz_target!(|data: &[u8]| {
    let Some(ek) = ek() else { return };
    let trust = EkTrust::from_der(vec![data.to_vec()]);
    for now in [0, 1_796_464_800, i64::MAX] {
        let _ = trust.check(data, &ek, now);
    }
});
