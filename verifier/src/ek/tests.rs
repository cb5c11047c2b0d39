//! EK certificate checks with certificates made here: trusted issuer, foreign issuer, another
//! key, expiry, and the status an enrolment gets without a certificate or a CA directory.

use base64::Engine as _;
use palisade_evidence::tpm::TpmPublic;
use palisade_transport::pki::{self, PemPair, Usage};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use super::*;

fn der(pem: &str) -> Vec<u8> {
    pki::certs_from_pem(pem, Path::new("test")).unwrap()[0]
        .as_ref()
        .to_vec()
}

/// A TPMT_PUBLIC of an ECC P-256 storage key with the point of `cert`'s key.
fn ek_of(cert: &PemPair) -> TpmPublic {
    let der = der(&cert.cert);
    let (_, parsed) = X509Certificate::from_der(&der).unwrap();
    let point = parsed.public_key().subject_public_key.data.to_vec();
    assert_eq!(point.len(), 65);
    let mut t = Vec::new();
    t.extend_from_slice(&0x0023u16.to_be_bytes()); // TPM_ALG_ECC
    t.extend_from_slice(&0x000Bu16.to_be_bytes()); // SHA-256 name
    t.extend_from_slice(&0x0003_0072u32.to_be_bytes()); // fixedTPM|fixedParent|sensitive|user|restricted|decrypt
    t.extend_from_slice(&0u16.to_be_bytes()); // empty authPolicy
    for v in [0x0006u16, 128, 0x0043, 0x0010, 0x0003, 0x0010] {
        t.extend_from_slice(&v.to_be_bytes()); // AES-128-CFB, no scheme, P-256, no KDF
    }
    for coord in [&point[1..33], &point[33..]] {
        t.extend_from_slice(&32u16.to_be_bytes());
        t.extend_from_slice(coord);
    }
    TpmPublic::parse(&t).unwrap()
}

fn trust_in(ca: &PemPair) -> (tempfile::TempDir, EkTrust) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.cert).unwrap();
    std::fs::write(dir.path().join("README"), "not a certificate, skipped").unwrap();
    let trust = EkTrust::load(dir.path()).unwrap();
    (dir, trust)
}

const NOW: i64 = 1_796_464_800;

#[test]
fn a_certificate_from_a_trusted_ca_for_the_enrolled_ek_verifies() {
    let ca = pki::new_ca("Manufacturer EK CA").unwrap();
    let leaf = pki::issue(&ca, "ek", &[], Usage::Client).unwrap();
    let (_dir, trust) = trust_in(&ca);
    let issuer = trust.check(&der(&leaf.cert), &ek_of(&leaf), NOW).unwrap();
    assert!(issuer.contains("Manufacturer EK CA"), "{issuer}");
}

#[test]
fn foreign_issuer_other_key_and_expiry_are_refused_with_the_reason() {
    let ca = pki::new_ca("Manufacturer EK CA").unwrap();
    let leaf = pki::issue(&ca, "ek", &[], Usage::Client).unwrap();
    let other = pki::issue(&ca, "other", &[], Usage::Client).unwrap();
    let (_dir, trust) = trust_in(&ca);
    let err = trust
        .check(&der(&leaf.cert), &ek_of(&other), NOW)
        .unwrap_err();
    assert!(err.contains("another key"), "{err}");
    // Same name, different key: the signature decides, not the issuer name.
    let impostor = pki::new_ca("Manufacturer EK CA").unwrap();
    let (_dir2, wrong) = trust_in(&impostor);
    let err = wrong
        .check(&der(&leaf.cert), &ek_of(&leaf), NOW)
        .unwrap_err();
    assert!(err.contains("not signed by a trusted EK CA"), "{err}");
    let err = trust
        .check(&der(&leaf.cert), &ek_of(&leaf), i64::MAX / 2)
        .unwrap_err();
    assert!(err.contains("not now"), "{err}");
    let err = trust.check(b"garbage", &ek_of(&leaf), NOW).unwrap_err();
    assert!(err.contains("does not parse"), "{err}");
}

#[test]
fn enrolment_status_without_certificate_or_ca_directory_and_when_required() {
    let ca = pki::new_ca("Manufacturer EK CA").unwrap();
    let leaf = pki::issue(&ca, "ek", &[], Usage::Client).unwrap();
    let ek = ek_of(&leaf);
    let (_dir, trust) = trust_in(&ca);
    let b64 = base64::engine::general_purpose::STANDARD.encode(der(&leaf.cert));
    let ok = status(Some(&trust), Some(&b64), &ek, true, NOW).unwrap();
    assert!(ok.starts_with(VERIFIED), "{ok}");
    let none = status(Some(&trust), None, &ek, false, NOW).unwrap();
    assert!(none.starts_with("unverified: the agent sent no EK certificate"));
    assert!(status(Some(&trust), None, &ek, true, NOW)
        .unwrap_err()
        .contains("requires an EK certificate"));
    let no_dir = status(None, Some(&b64), &ek, false, NOW).unwrap();
    assert!(no_dir.contains("ek_ca_dir"), "{no_dir}");
    assert!(status(Some(&trust), Some("%%%"), &ek, false, NOW)
        .unwrap_err()
        .contains("not base64"));
}

#[test]
fn a_directory_without_certificates_or_with_a_broken_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        EkTrust::load(dir.path()),
        Err(EkTrustError::Empty(_))
    ));
    std::fs::write(dir.path().join("bad.pem"), "no certificate here").unwrap();
    assert!(matches!(
        EkTrust::load(dir.path()),
        Err(EkTrustError::NotACertificate { .. })
    ));
}
