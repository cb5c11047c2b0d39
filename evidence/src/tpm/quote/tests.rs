//! Tests for `verify_quote` with software keys in real AK public areas: what swtpm vectors
//! cannot show (other hashes, salt lengths, weak or invalid keys, unsupported curves).

use super::*;
use crate::tpm::alg_id;
use crate::tpm::vectors::{quotes, ECC_AK_TPMT, RSA_AK_TPMT};
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use rsa::traits::PublicKeyParts as _;
use rsa::RsaPrivateKey;

fn attest() -> Vec<u8> {
    quotes()[0].attest.to_vec()
}

/// The swtpm RSA AK's public area with another key size, modulus and scheme hash.
fn rsa_ak(bits: u16, modulus: &[u8], scheme: u16, hash: u16) -> TpmPublic {
    let mut b = RSA_AK_TPMT[..24].to_vec();
    b[12..14].copy_from_slice(&scheme.to_be_bytes());
    b[14..16].copy_from_slice(&hash.to_be_bytes());
    b[16..18].copy_from_slice(&bits.to_be_bytes());
    b[22..24].copy_from_slice(&u16::try_from(modulus.len()).unwrap().to_be_bytes());
    b.extend_from_slice(modulus);
    TpmPublic::parse(&b).unwrap()
}

/// The swtpm ECC AK's public area with another curve and point.
fn ecc_ak(curve: u16, x: &[u8], y: &[u8]) -> TpmPublic {
    let mut b = ECC_AK_TPMT[..20].to_vec();
    b[16..18].copy_from_slice(&curve.to_be_bytes());
    for c in [x, y] {
        b.extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
        b.extend_from_slice(c);
    }
    TpmPublic::parse(&b).unwrap()
}

fn rsa_sig(scheme: u16, hash: HashAlg, sig: &[u8]) -> Vec<u8> {
    let mut out = scheme.to_be_bytes().to_vec();
    out.extend_from_slice(&hash.tpm_id().to_be_bytes());
    out.extend_from_slice(&u16::try_from(sig.len()).unwrap().to_be_bytes());
    out.extend_from_slice(sig);
    out
}

fn ecdsa_sig(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00, 0x18, 0x00, 0x0b];
    for c in [r, s] {
        out.extend_from_slice(&u16::try_from(c.len()).unwrap().to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

#[test]
fn software_rsa_signatures_verify_with_every_accepted_padding() {
    let mut rng = StdRng::seed_from_u64(10);
    let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let n = key.n().to_bytes_be();
    let attest = attest();
    let digest = HashAlg::Sha256.hash(&attest);

    let sig = key.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).unwrap();
    let ak = rsa_ak(2048, &n, alg_id::RSASSA, alg_id::SHA256);
    assert!(verify_quote(
        &ak,
        &attest,
        &rsa_sig(alg_id::RSASSA, HashAlg::Sha256, &sig)
    )
    .is_ok());

    // PSS with a digest-sized salt and with the longest salt (2048-bit key: 256 - 32 - 2).
    let ak = rsa_ak(2048, &n, alg_id::RSAPSS, alg_id::SHA256);
    for salt in [32, 222] {
        let sig = key
            .sign_with_rng(&mut rng, Pss::new_with_salt::<Sha256>(salt), &digest)
            .unwrap();
        let sig = rsa_sig(alg_id::RSAPSS, HashAlg::Sha256, &sig);
        assert!(verify_quote(&ak, &attest, &sig).is_ok(), "salt {salt}");
    }
    // Any other salt length is not what a TPM produces.
    let sig = key
        .sign_with_rng(&mut rng, Pss::new_with_salt::<Sha256>(20), &digest)
        .unwrap();
    let sig = rsa_sig(alg_id::RSAPSS, HashAlg::Sha256, &sig);
    assert_eq!(
        verify_quote(&ak, &attest, &sig),
        Err(QuoteError::BadSignature)
    );
}

#[test]
fn the_pcr_digest_must_be_as_long_as_the_signing_hash() {
    // A SHA-384 AK signing a quote whose PCR digest is 32 bytes: not something a TPM makes.
    let mut rng = StdRng::seed_from_u64(11);
    let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let ak = rsa_ak(2048, &key.n().to_bytes_be(), alg_id::RSASSA, alg_id::SHA384);
    let attest = attest();
    let sig = key
        .sign(
            Pkcs1v15Sign::new::<Sha384>(),
            &HashAlg::Sha384.hash(&attest),
        )
        .unwrap();
    assert!(matches!(
        verify_quote(
            &ak,
            &attest,
            &rsa_sig(alg_id::RSASSA, HashAlg::Sha384, &sig)
        ),
        Err(QuoteError::Parse(ParseError::WrongSize {
            expected: 48,
            actual: 32,
            ..
        }))
    ));
}

#[test]
fn rsa_1024_aks_are_too_weak() {
    let mut rng = StdRng::seed_from_u64(12);
    let key = RsaPrivateKey::new(&mut rng, 1024).unwrap();
    let ak = rsa_ak(1024, &key.n().to_bytes_be(), alg_id::RSASSA, alg_id::SHA256);
    let attest = attest();
    let sig = key
        .sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &HashAlg::Sha256.hash(&attest),
        )
        .unwrap();
    assert_eq!(
        verify_quote(
            &ak,
            &attest,
            &rsa_sig(alg_id::RSASSA, HashAlg::Sha256, &sig)
        ),
        Err(QuoteError::WeakKey { bits: 1024 })
    );
}

#[test]
fn ecdsa_accepts_both_s_forms_and_short_scalars() {
    let mut rng = StdRng::seed_from_u64(13);
    let signer = p256::ecdsa::SigningKey::random(&mut rng);
    let point = signer.verifying_key().to_encoded_point(false);
    let ak = ecc_ak(0x0003, point.x().unwrap(), point.y().unwrap());
    let attest = attest();
    let sig: p256::ecdsa::Signature = signer.sign_prehash(&HashAlg::Sha256.hash(&attest)).unwrap();
    let (r, s) = (sig.r().to_bytes(), sig.s().to_bytes());
    assert!(verify_quote(&ak, &attest, &ecdsa_sig(&r, &s)).is_ok());
    // TPMs do not normalise s; (r, n - s) is the same signature and must verify too.
    let high = p256::ecdsa::Signature::from_scalars(r, (-*sig.s()).to_bytes()).unwrap();
    assert!(verify_quote(&ak, &attest, &ecdsa_sig(&r, &high.s().to_bytes())).is_ok());
    // A scalar sent without its leading zero bytes is padded back.
    let mut padded = [0u8; 32];
    padded[1..].copy_from_slice(&r[..31]);
    assert_eq!(left_pad::<32>(&r[..31]), Some(padded));
    assert_eq!(left_pad::<32>(&[0u8; 33]), None);
    // Scalars longer than the curve's are refused.
    assert_eq!(
        verify_quote(&ak, &attest, &ecdsa_sig(&[0; 33], &s)),
        Err(QuoteError::BadSignature)
    );
}

#[test]
fn ecc_keys_off_p256_are_refused() {
    let attest = attest();
    let sig = ecdsa_sig(&[1; 32], &[1; 32]);
    let p384 = ecc_ak(0x0004, &[1; 48], &[2; 48]);
    assert_eq!(
        verify_quote(&p384, &attest, &sig),
        Err(QuoteError::UnsupportedCurve(EccCurve::NistP384))
    );
    let off_curve = ecc_ak(0x0003, &[1; 32], &[2; 32]);
    assert!(matches!(
        verify_quote(&off_curve, &attest, &sig),
        Err(QuoteError::InvalidKey { .. })
    ));
}
