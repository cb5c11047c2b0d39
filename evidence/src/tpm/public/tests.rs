//! Tests for `TpmPublic`: hostile edits of real AK public areas and arbitrary bytes.

use super::*;
use crate::tpm::vectors::{ECC_AK_TPMT, RSA_AK_TPMT};
use proptest::prelude::*;

// Offsets in the swtpm RSA AK TPMT_PUBLIC: type 0, nameAlg 2, objectAttributes 4,
// authPolicy size 8 (empty), symmetric 10, scheme 12, scheme hash 14, keyBits 16, exponent 18,
// modulus size 22, modulus 24.
fn rsa() -> Vec<u8> {
    RSA_AK_TPMT.to_vec()
}

// ECC AK: ... scheme 12, scheme hash 14, curveID 16, kdf 18, x size 20, x 22, y size 54, y 56.
fn ecc() -> Vec<u8> {
    ECC_AK_TPMT.to_vec()
}

fn set16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn reads_the_fields_of_a_real_ak() {
    let ak = TpmPublic::parse(&rsa()).unwrap();
    assert_eq!(ak.object_attributes(), 0x0005_0072);
    assert!(ak.auth_policy().is_empty());
    assert_eq!(ak.symmetric(), None);
    let PublicKey::Rsa {
        bits,
        exponent,
        modulus,
    } = ak.public_key()
    else {
        panic!("rsa")
    };
    assert_eq!(
        (*bits, *exponent, modulus.len()),
        (2048, 65537, 256),
        "exponent 0 means 65537"
    );
    let ak = TpmPublic::parse(&ecc()).unwrap();
    let PublicKey::Ecc { curve, kdf, x, y } = ak.public_key() else {
        panic!("ecc")
    };
    assert_eq!(
        (*curve, *kdf, x.len(), y.len()),
        (EccCurve::NistP256, None, 32, 32)
    );
    assert_eq!(
        serde_json::to_string(&ak.kind()).unwrap(),
        r#"{"type":"ecc","curve":"nist_p256"}"#
    );
}

#[test]
fn attribute_checks_need_every_bit() {
    for (clear, set) in [
        (object_attr::RESTRICTED, 0),
        (object_attr::FIXED_TPM, 0),
        (object_attr::FIXED_PARENT, 0),
        (object_attr::SENSITIVE_DATA_ORIGIN, 0),
        (object_attr::SIGN_ENCRYPT, 0),
        (0, object_attr::DECRYPT),
    ] {
        let mut bytes = rsa();
        let attrs = (0x0005_0072 & !clear) | set;
        bytes[4..8].copy_from_slice(&u32::to_be_bytes(attrs));
        assert!(
            !TpmPublic::parse(&bytes)
                .unwrap()
                .is_restricted_signing_key(),
            "{attrs:#x}"
        );
    }
}

#[test]
fn unsupported_types_and_algorithms_are_named() {
    let cases: [(usize, u16, &str); 5] = [
        (0, alg_id::KEYEDHASH, "TPMT_PUBLIC.type"),
        (2, alg_id::SM3_256, "TPMT_PUBLIC.nameAlg"),
        (10, alg_id::XOR, "symmetric"),
        (12, alg_id::ECDSA, "TPMT_RSA_SCHEME.scheme"),
        (14, alg_id::SM3_256, "scheme hashAlg"),
    ];
    for (at, id, what) in cases {
        let mut bytes = rsa();
        set16(&mut bytes, at, id);
        assert_eq!(
            TpmPublic::parse(&bytes),
            Err(ParseError::UnsupportedAlgorithm { what, id }),
            "{what}"
        );
    }
    let mut bytes = ecc();
    set16(&mut bytes, 16, 0x0020); // TPM_ECC_SM2_P256
    assert_eq!(
        TpmPublic::parse(&bytes),
        Err(ParseError::UnsupportedAlgorithm {
            what: "ECC curve",
            id: 0x0020
        })
    );
    let mut bytes = ecc();
    set16(&mut bytes, 12, alg_id::RSASSA);
    assert!(matches!(
        TpmPublic::parse(&bytes),
        Err(ParseError::UnsupportedAlgorithm { .. })
    ));
}

#[test]
fn key_sizes_must_be_consistent() {
    let mut bytes = rsa();
    set16(&mut bytes, 16, 2000);
    assert_eq!(TpmPublic::parse(&bytes), Err(ParseError::RsaKeyBits(2000)));
    let mut bytes = rsa();
    set16(&mut bytes, 16, 3072);
    assert_eq!(
        TpmPublic::parse(&bytes),
        Err(ParseError::WrongSize {
            what: "RSA modulus",
            expected: 384,
            actual: 256
        })
    );
    // An x coordinate of 33 bytes on P-256.
    let mut bytes = ecc();
    set16(&mut bytes, 20, 33);
    assert_eq!(
        TpmPublic::parse(&bytes),
        Err(ParseError::TooLarge {
            what: "TPMS_ECC_POINT.x",
            size: 33,
            max: 32
        })
    );
}

#[test]
fn an_auth_policy_must_be_empty_or_a_name_alg_digest() {
    let mut bytes = rsa();
    set16(&mut bytes, 8, 3);
    bytes.splice(10..10, [1, 2, 3]);
    assert_eq!(
        TpmPublic::parse(&bytes),
        Err(ParseError::WrongSize {
            what: "TPMT_PUBLIC.authPolicy",
            expected: 32,
            actual: 3
        })
    );
    let mut bytes = rsa();
    set16(&mut bytes, 8, 32);
    bytes.splice(10..10, [7; 32]);
    assert_eq!(TpmPublic::parse(&bytes).unwrap().auth_policy(), [7; 32]);
}

#[test]
fn the_tpm2b_size_must_cover_the_structure_exactly() {
    let mut short = vec![0x01, 0x17];
    short.extend_from_slice(&rsa());
    assert!(matches!(
        TpmPublic::parse_tpm2b(&short),
        Err(ParseError::TrailingBytes { .. })
    ));
    let mut long = vec![0x01, 0x19];
    long.extend_from_slice(&rsa());
    assert!(matches!(
        TpmPublic::parse_tpm2b(&long),
        Err(ParseError::Truncated { .. })
    ));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = TpmPublic::parse(&bytes);
        let _ = TpmPublic::parse_tpm2b(&bytes);
    }

    #[test]
    fn mutated_real_keys_never_panic(i in 0usize..280, byte in any::<u8>(), ecc_key in any::<bool>()) {
        let mut bytes = if ecc_key { ecc() } else { rsa() };
        let i = i % bytes.len();
        bytes[i] = byte;
        if let Ok(key) = TpmPublic::parse(&bytes) {
            prop_assert_eq!(key.as_bytes(), &bytes[..]);
        }
    }
}
