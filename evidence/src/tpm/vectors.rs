//! Tests against vectors captured from swtpm 0.7.1 with tpm2-tools 5.4
//! (`evidence/testdata/swtpm/capture.sh`; every file is described in its README.md).

use super::*;

macro_rules! vector {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/swtpm/",
            $name
        ))
    };
}

pub(crate) const NONCE: &[u8] = vector!("nonce.bin");
pub(crate) const RSA_EK_PUB: &[u8] = vector!("rsa_ek.pub");
pub(crate) const ECC_EK_PUB: &[u8] = vector!("ecc_ek.pub");
pub(crate) const RSA_AK_PUB: &[u8] = vector!("rsa_ak.pub");
pub(crate) const ECC_AK_PUB: &[u8] = vector!("ecc_ak.pub");
pub(crate) const PSS_AK_PUB: &[u8] = vector!("pss_ak.pub");
pub(crate) const RSA_AK_TPMT: &[u8] = vector!("rsa_ak.tpmt");
pub(crate) const ECC_AK_TPMT: &[u8] = vector!("ecc_ak.tpmt");
pub(crate) const RSA_AK_NAME: &[u8] = vector!("rsa_ak.name");
pub(crate) const ECC_AK_NAME: &[u8] = vector!("ecc_ak.name");
pub(crate) const PSS_AK_NAME: &[u8] = vector!("pss_ak.name");

/// A quote captured from swtpm: the AK that signed it and what was asked for.
pub(crate) struct Quote {
    pub(crate) name: &'static str,
    pub(crate) ak: &'static [u8],
    pub(crate) attest: &'static [u8],
    pub(crate) sig: &'static [u8],
    pub(crate) pcrs: &'static [u8],
    pub(crate) multi: bool,
}

macro_rules! quote {
    ($prefix:literal, $ak:expr, $multi:expr) => {
        Quote {
            name: $prefix,
            ak: $ak,
            attest: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testdata/swtpm/",
                $prefix,
                ".attest"
            )),
            sig: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testdata/swtpm/",
                $prefix,
                ".sig"
            )),
            pcrs: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/testdata/swtpm/",
                $prefix,
                ".pcrs"
            )),
            multi: $multi,
        }
    };
}

pub(crate) fn quotes() -> [Quote; 5] {
    [
        quote!("rsa_quote_single", RSA_AK_PUB, false),
        quote!("rsa_quote_multi", RSA_AK_PUB, true),
        quote!("ecc_quote_single", ECC_AK_PUB, false),
        quote!("ecc_quote_multi", ECC_AK_PUB, true),
        quote!("pss_quote_single", PSS_AK_PUB, false),
    ]
}

fn ak(bytes: &[u8]) -> TpmPublic {
    TpmPublic::parse_tpm2b(bytes).unwrap()
}

/// SHA-256(0^32 || SHA-256(text)): a sha256-bank PCR extended once from reset.
fn extended_once(text: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 32];
    buf.extend_from_slice(&HashAlg::Sha256.hash(text.as_bytes()));
    HashAlg::Sha256.hash(&buf)
}

/// The PCR values capture.sh set up, in selection order.
fn expected_pcrs(multi: bool) -> Vec<Vec<u8>> {
    let pcr15 = extended_once("palisade pcr 15");
    if multi {
        vec![
            vec![0; 32],
            extended_once("palisade pcr 10"),
            pcr15,
            vec![0; 20],
        ]
    } else {
        vec![pcr15]
    }
}

#[test]
fn swtpm_quotes_verify_and_carry_the_nonce_selection_and_pcr_digest() {
    for q in quotes() {
        let attest =
            verify_quote(&ak(q.ak), q.attest, q.sig).unwrap_or_else(|e| panic!("{}: {e}", q.name));
        assert_eq!(attest.extra_data, NONCE, "{}", q.name);

        let expected_selection = if q.multi {
            PcrSelection {
                banks: vec![
                    (HashAlg::Sha256, [0, 10, 15].into()),
                    (HashAlg::Sha1, [0].into()),
                ],
            }
        } else {
            PcrSelection::sha256(&[15])
        };
        assert_eq!(attest.pcr_select, expected_selection, "{}", q.name);

        // The values tpm2_quote -o wrote are the known extends, in selection order ...
        let values = expected_pcrs(q.multi);
        assert_eq!(q.pcrs, values.concat(), "{}", q.name);
        // ... and hash (with the signature's SHA-256) to the digest the TPM signed.
        let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
        assert_eq!(
            pcr_digest(HashAlg::Sha256, &refs),
            attest.pcr_digest,
            "{}",
            q.name
        );
        let mut wrong = values.clone();
        wrong[0][0] ^= 1;
        let refs: Vec<&[u8]> = wrong.iter().map(Vec::as_slice).collect();
        assert_ne!(pcr_digest(HashAlg::Sha256, &refs), attest.pcr_digest);

        // A freshly manufactured swtpm after one TPM2_Startup(CLEAR): one reset, no restart,
        // clock within the first hour.
        let c = attest.clock_info;
        assert_eq!(
            (c.reset_count, c.restart_count, c.safe),
            (1, 0, true),
            "{}",
            q.name
        );
        assert!(
            c.clock > 0 && c.clock < 3_600_000,
            "{}: clock {}",
            q.name,
            c.clock
        );
        assert_eq!(attest, parse_attest(q.attest).unwrap());
    }
}

#[test]
fn quotes_of_one_tpm_have_increasing_clocks() {
    let clock = |q: &Quote| parse_attest(q.attest).unwrap().clock_info.clock;
    let q = quotes();
    assert!(q.windows(2).all(|w| clock(&w[0]) <= clock(&w[1])));
}

#[test]
fn a_flipped_bit_in_the_attestation_fails_the_signature() {
    for q in quotes() {
        let key = ak(q.ak);
        for i in 0..q.attest.len() {
            let mut bad = q.attest.to_vec();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    verify_quote(&key, &bad, q.sig),
                    Err(QuoteError::BadSignature)
                ),
                "{} byte {i}",
                q.name
            );
        }
    }
}

#[test]
fn a_flipped_bit_in_the_signature_fails() {
    for q in quotes() {
        let key = ak(q.ak);
        // The signature value starts after sigAlg, hash and the first size field.
        for i in 6..q.sig.len() {
            let mut bad = q.sig.to_vec();
            bad[i] ^= 0x80;
            let err = verify_quote(&key, q.attest, &bad).unwrap_err();
            // In an ECDSA signature, bytes 38-39 are the size of s.
            let in_size_field = key.kind() != (KeyKind::Rsa { bits: 2048 }) && (i == 38 || i == 39);
            if in_size_field {
                assert!(
                    matches!(err, QuoteError::Parse(_)),
                    "{} byte {i}: {err}",
                    q.name
                );
            } else {
                assert!(
                    matches!(err, QuoteError::BadSignature),
                    "{} byte {i}: {err}",
                    q.name
                );
            }
        }
        // Header bytes: algorithm, hash and size.
        for i in 0..6 {
            let mut bad = q.sig.to_vec();
            bad[i] ^= 0x01;
            assert!(
                verify_quote(&key, q.attest, &bad).is_err(),
                "{} byte {i}",
                q.name
            );
        }
    }
}

#[test]
fn trailing_bytes_are_rejected_everywhere() {
    let q = &quotes()[0];
    let key = ak(q.ak);
    let mut attest = q.attest.to_vec();
    attest.push(0);
    assert!(matches!(
        parse_attest(&attest),
        Err(ParseError::TrailingBytes { .. })
    ));
    // The signature covers the exact bytes, so extra bytes already break it.
    assert!(matches!(
        verify_quote(&key, &attest, q.sig),
        Err(QuoteError::BadSignature)
    ));
    let mut sig = q.sig.to_vec();
    sig.push(0);
    assert!(matches!(
        verify_quote(&key, q.attest, &sig),
        Err(QuoteError::Parse(ParseError::TrailingBytes {
            what: "TPMT_SIGNATURE",
            count: 1
        }))
    ));
    let mut public = RSA_AK_TPMT.to_vec();
    public.push(0);
    assert!(matches!(
        TpmPublic::parse(&public),
        Err(ParseError::TrailingBytes { .. })
    ));
}

#[test]
fn every_truncation_is_an_error() {
    for q in quotes() {
        for n in 0..q.attest.len() {
            assert!(parse_attest(&q.attest[..n]).is_err());
        }
        for n in 0..q.sig.len() {
            assert!(parse_signature(&q.sig[..n]).is_err());
        }
    }
    for public in [RSA_AK_TPMT, ECC_AK_TPMT] {
        for n in 0..public.len() {
            assert!(TpmPublic::parse(&public[..n]).is_err());
        }
    }
}

#[test]
fn a_quote_does_not_verify_with_another_ak() {
    let [rsa, _, ecc, _, pss] = quotes();
    // RSA signature, ECC key and the reverse: the scheme cannot come from that key.
    assert!(matches!(
        verify_quote(&ak(ECC_AK_PUB), rsa.attest, rsa.sig),
        Err(QuoteError::SchemeMismatch {
            signature: SignatureScheme::RsaSsa,
            ..
        })
    ));
    assert!(matches!(
        verify_quote(&ak(RSA_AK_PUB), ecc.attest, ecc.sig),
        Err(QuoteError::SchemeMismatch {
            signature: SignatureScheme::Ecdsa,
            ..
        })
    ));
    // The PSS AK is fixed to RSAPSS: an RSASSA signature cannot be its own.
    assert!(matches!(
        verify_quote(&ak(PSS_AK_PUB), rsa.attest, rsa.sig),
        Err(QuoteError::KeySchemeMismatch { .. })
    ));
    assert!(matches!(
        verify_quote(&ak(RSA_AK_PUB), pss.attest, pss.sig),
        Err(QuoteError::KeySchemeMismatch { .. })
    ));
    // Same scheme, other key: the PSS AK's modulus with its scheme rewritten to RSASSA-SHA256.
    let mut other = ak(PSS_AK_PUB).as_bytes().to_vec();
    let at = other
        .windows(4)
        .position(|w| w == [0x00, 0x16, 0x00, 0x0b])
        .unwrap();
    other[at + 1] = 0x14;
    let other = TpmPublic::parse(&other).unwrap();
    assert_eq!(other.scheme(), KeyScheme::RsaSsa(HashAlg::Sha256));
    assert!(matches!(
        verify_quote(&other, rsa.attest, rsa.sig),
        Err(QuoteError::BadSignature)
    ));
    // The EK is no signing key at all.
    assert!(matches!(
        verify_quote(
            &TpmPublic::parse_tpm2b(RSA_EK_PUB).unwrap(),
            rsa.attest,
            rsa.sig
        ),
        Err(QuoteError::NotASigningKey)
    ));
}

#[test]
fn a_sha1_signature_is_refused_before_it_is_checked() {
    let q = &quotes()[0];
    let mut sig = q.sig.to_vec();
    sig[3] = 0x04; // hash: TPM_ALG_SHA1
    assert_eq!(
        verify_quote(&ak(q.ak), q.attest, &sig),
        Err(QuoteError::WeakHash(HashAlg::Sha1))
    );
}

#[test]
fn aks_are_restricted_signing_keys_and_eks_are_storage_keys() {
    for bytes in [RSA_AK_PUB, ECC_AK_PUB, PSS_AK_PUB] {
        let ak = ak(bytes);
        assert!(ak.is_restricted_signing_key());
        assert!(!ak.is_storage_key());
        assert_eq!(ak.name_alg(), HashAlg::Sha256);
    }
    // The TCG EK policy: PolicySecret(TPM_RH_ENDORSEMENT).
    let ek_policy = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";
    let aes128_cfb = Some(SymDef {
        algorithm: alg_id::AES,
        key_bits: 128,
        mode: alg_id::CFB,
    });
    for (bytes, kind) in [
        (RSA_EK_PUB, KeyKind::Rsa { bits: 2048 }),
        (
            ECC_EK_PUB,
            KeyKind::Ecc {
                curve: EccCurve::NistP256,
            },
        ),
    ] {
        let ek = TpmPublic::parse_tpm2b(bytes).unwrap();
        assert!(ek.is_storage_key());
        assert!(!ek.is_restricted_signing_key());
        assert_eq!(ek.kind(), kind);
        assert_eq!(hex::encode(ek.auth_policy()), ek_policy);
        assert_eq!(ek.symmetric(), aes128_cfb);
        assert_eq!(ek.scheme(), KeyScheme::Null);
    }
    assert_eq!(ak(RSA_AK_PUB).kind(), KeyKind::Rsa { bits: 2048 });
    assert_eq!(
        ak(ECC_AK_PUB).kind(),
        KeyKind::Ecc {
            curve: EccCurve::NistP256
        }
    );
    assert_eq!(ak(RSA_AK_PUB).scheme(), KeyScheme::RsaSsa(HashAlg::Sha256));
    assert_eq!(ak(ECC_AK_PUB).scheme(), KeyScheme::Ecdsa(HashAlg::Sha256));
    assert_eq!(ak(PSS_AK_PUB).scheme(), KeyScheme::RsaPss(HashAlg::Sha256));
}

#[test]
fn ak_names_match_what_tpm2_tools_reports() {
    for (public, name) in [
        (RSA_AK_PUB, RSA_AK_NAME),
        (ECC_AK_PUB, ECC_AK_NAME),
        (PSS_AK_PUB, PSS_AK_NAME),
    ] {
        assert_eq!(ak(public).name(), name);
    }
}

#[test]
fn tpmt_and_tpm2b_forms_are_the_same_key() {
    for (tpm2b, tpmt) in [(RSA_AK_PUB, RSA_AK_TPMT), (ECC_AK_PUB, ECC_AK_TPMT)] {
        let a = TpmPublic::parse_tpm2b(tpm2b).unwrap();
        let b = TpmPublic::parse(tpmt).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_bytes(), tpmt);
        assert_eq!(a.to_tpm2b(), tpm2b);
        assert_eq!(a.fingerprint(), hex::encode(HashAlg::Sha256.hash(tpmt)));
        // A TPM2B is not a TPMT and the other way round.
        assert!(TpmPublic::parse(tpm2b).is_err());
        assert!(TpmPublic::parse_tpm2b(tpmt).is_err());
    }
}
