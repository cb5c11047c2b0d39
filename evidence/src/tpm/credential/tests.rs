//! Tests for `make_credential`: known answers from an independent implementation (Python, in
//! capture.sh), a software ActivateCredential with keys whose private half the test holds, and
//! the helper capture.sh uses to activate palisade's output on swtpm.

use super::*;
use crate::tpm::vectors::{ECC_AK_NAME, ECC_EK_PUB, RSA_AK_NAME, RSA_AK_PUB, RSA_EK_PUB};
use rand::rngs::StdRng;
use rand::SeedableRng as _;
use rsa::traits::PublicKeyParts as _;
use rsa::RsaPrivateKey;
use serde_json::Value;

const KDF_VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/swtpm/kdf_vectors.json"
));

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn alg(v: &Value) -> HashAlg {
    v.as_str().unwrap().parse().unwrap()
}

fn bits(v: &Value) -> u32 {
    u32::try_from(v.as_u64().unwrap()).unwrap()
}

#[test]
fn kdfa_kdfe_and_the_blob_match_an_independent_implementation() {
    let v: Value = serde_json::from_str(KDF_VECTORS).unwrap();
    for t in v["kdfa"].as_array().unwrap() {
        let label = t["label"].as_str().unwrap().as_bytes();
        let out = kdf::kdfa(
            alg(&t["hash"]),
            &hx(&t["key"]),
            label,
            &hx(&t["context_u"]),
            &hx(&t["context_v"]),
            bits(&t["bits"]),
        )
        .unwrap();
        assert_eq!(out, hx(&t["out"]), "kdfa {t}");
    }
    for t in v["kdfe"].as_array().unwrap() {
        let label = t["label"].as_str().unwrap().as_bytes();
        let out = kdf::kdfe(
            alg(&t["hash"]),
            &hx(&t["z"]),
            label,
            &hx(&t["party_u"]),
            &hx(&t["party_v"]),
            bits(&t["bits"]),
        )
        .unwrap();
        assert_eq!(out, hx(&t["out"]), "kdfe {t}");
    }
    for t in v["credential_blob"].as_array().unwrap() {
        let aes_bits = u16::try_from(t["aes_bits"].as_u64().unwrap()).unwrap();
        let out = credential_blob(
            alg(&t["hash"]),
            aes_bits,
            &hx(&t["seed"]),
            &hx(&t["ak_name"]),
            &hx(&t["credential"]),
        )
        .unwrap();
        assert_eq!(out, hx(&t["out"]), "blob {t}");
    }
}

#[test]
fn kdfa_first_block_is_the_spec_formula() {
    // SP 800-108 counter mode, one block: HMAC(key, 00000001 || "STORAGE" 00 || ctx || 00000080).
    let key = [7u8; 32];
    let mut msg = vec![0, 0, 0, 1];
    msg.extend_from_slice(b"STORAGE\0");
    msg.extend_from_slice(b"ctx");
    msg.extend_from_slice(&128u32.to_be_bytes());
    let block = kdf::hmac(HashAlg::Sha256, &key, &[&msg]).unwrap();
    let out = kdf::kdfa(HashAlg::Sha256, &key, b"STORAGE", b"ctx", b"", 128).unwrap();
    assert_eq!(out, block[..16]);
    // A label that already ends in NUL gets no second one (the TPM reference code's rule).
    assert_eq!(
        out,
        kdf::kdfa(HashAlg::Sha256, &key, b"STORAGE\0", b"ctx", b"", 128).unwrap()
    );
    // Sizes that are not whole bytes keep only the low bits of the first byte.
    let odd = kdf::kdfa(HashAlg::Sha256, &key, b"X", b"", b"", 12).unwrap();
    assert_eq!(odd.len(), 2);
    assert_eq!(odd[0] & 0xf0, 0);
    assert!(kdf::kdfa(HashAlg::Sha256, &key, b"X", b"", b"", 0).is_err());
}

/// `TPM2_ActivateCredential` after the seed is recovered: checks the outer HMAC and decrypts.
fn activate_with_seed(seed: &[u8], ak_name: &[u8], blob: &[u8]) -> Option<Vec<u8>> {
    let (size, rest) = blob.split_at(2);
    let (hmac, enc) = rest.split_at(usize::from(u16::from_be_bytes([size[0], size[1]])));
    let hmac_key = kdf::kdfa(HashAlg::Sha256, seed, b"INTEGRITY", b"", b"", 256).unwrap();
    if kdf::hmac(HashAlg::Sha256, &hmac_key, &[enc, ak_name]).unwrap() != hmac {
        return None;
    }
    let sym = kdf::kdfa(HashAlg::Sha256, seed, b"STORAGE", ak_name, b"", 128).unwrap();
    let mut plain = enc.to_vec();
    cfb_mode::Decryptor::<Aes128>::new_from_slices(&sym, &[0; 16])
        .unwrap()
        .decrypt(&mut plain);
    let len = usize::from(u16::from_be_bytes([plain[0], plain[1]]));
    assert_eq!(plain.len(), 2 + len);
    Some(plain[2..].to_vec())
}

/// The swtpm RSA EK's public area with the modulus of a key this test holds.
fn software_rsa_ek(rng: &mut StdRng) -> (TpmPublic, RsaPrivateKey) {
    let private = RsaPrivateKey::new(rng, 2048).unwrap();
    let mut bytes = TpmPublic::parse_tpm2b(RSA_EK_PUB)
        .unwrap()
        .as_bytes()
        .to_vec();
    let at = bytes.len() - 256;
    bytes[at..].copy_from_slice(&private.n().to_bytes_be());
    (TpmPublic::parse(&bytes).unwrap(), private)
}

/// The swtpm ECC EK's public area with the point of a key this test holds.
fn software_ecc_ek(rng: &mut StdRng) -> (TpmPublic, p256::SecretKey) {
    let private = p256::SecretKey::random(rng);
    let point = private.public_key().to_encoded_point(false);
    let mut bytes = TpmPublic::parse_tpm2b(ECC_EK_PUB)
        .unwrap()
        .as_bytes()
        .to_vec();
    let at = bytes.len() - 68;
    bytes[at + 2..at + 34].copy_from_slice(point.x().unwrap());
    bytes[at + 36..].copy_from_slice(point.y().unwrap());
    (TpmPublic::parse(&bytes).unwrap(), private)
}

#[test]
fn rsa_credential_activates_in_software() {
    let mut rng = StdRng::seed_from_u64(1);
    let (ek, private) = software_rsa_ek(&mut rng);
    let secret = b"a 32-byte secret for the AK .....";
    let secret = &secret[..32];
    let (blob, encrypted) = make_credential(&ek, RSA_AK_NAME, secret, &mut rng).unwrap();
    assert_eq!(encrypted.len(), 256, "one RSA-2048 block");
    assert_eq!(blob.len(), 2 + 32 + 2 + 32);
    assert_eq!(blob[..2], [0, 32]);

    let seed = private
        .decrypt(Oaep::new_with_label::<Sha256, _>("IDENTITY\0"), &encrypted)
        .unwrap();
    assert_eq!(seed.len(), 32);
    assert_eq!(
        activate_with_seed(&seed, RSA_AK_NAME, &blob).unwrap(),
        secret
    );
    // Bound to the AK: the TPM refuses the credential for any other key.
    assert_eq!(activate_with_seed(&seed, ECC_AK_NAME, &blob), None);
    // The label is part of the encryption: without it OAEP decryption fails.
    assert!(private.decrypt(Oaep::new::<Sha256>(), &encrypted).is_err());
}

#[test]
fn ecc_credential_activates_in_software() {
    let mut rng = StdRng::seed_from_u64(2);
    let (ek, private) = software_ecc_ek(&mut rng);
    let secret = [0x5a; 20];
    let (blob, encrypted) = make_credential(&ek, ECC_AK_NAME, &secret, &mut rng).unwrap();
    // TPMS_ECC_POINT: two 32-byte coordinates with their sizes.
    assert_eq!(encrypted.len(), 2 + 32 + 2 + 32);
    assert_eq!(
        (&encrypted[..2], &encrypted[34..36]),
        (&[0, 32][..], &[0, 32][..])
    );
    assert_eq!(blob.len(), 2 + 32 + 2 + 20);

    let (qx, qy) = (&encrypted[2..34], &encrypted[36..]);
    let ephemeral = crate::tpm::quote::p256_public_key(qx, qy).expect("a point on P-256");
    let z = p256::ecdh::diffie_hellman(private.to_nonzero_scalar(), ephemeral.as_affine());
    let ek_x = private
        .public_key()
        .to_encoded_point(false)
        .x()
        .unwrap()
        .to_vec();
    let seed = kdf::kdfe(
        HashAlg::Sha256,
        z.raw_secret_bytes(),
        b"IDENTITY",
        qx,
        &ek_x,
        256,
    )
    .unwrap();
    assert_eq!(
        activate_with_seed(&seed, ECC_AK_NAME, &blob).unwrap(),
        secret
    );
    assert_eq!(activate_with_seed(&seed, RSA_AK_NAME, &blob), None);
}

#[test]
fn every_call_uses_a_fresh_seed() {
    let ek = TpmPublic::parse_tpm2b(RSA_EK_PUB).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let a = make_credential(&ek, RSA_AK_NAME, b"x", &mut rng).unwrap();
    let b = make_credential(&ek, RSA_AK_NAME, b"x", &mut rng).unwrap();
    assert_ne!(a.0, b.0);
    assert_ne!(a.1, b.1);
    let ek = TpmPublic::parse_tpm2b(ECC_EK_PUB).unwrap();
    let a = make_credential(&ek, ECC_AK_NAME, b"x", &mut rng).unwrap();
    let b = make_credential(&ek, ECC_AK_NAME, b"x", &mut rng).unwrap();
    assert_ne!(a.1, b.1);
}

#[test]
fn refuses_keys_names_and_credentials_it_cannot_protect() {
    let ek = TpmPublic::parse_tpm2b(RSA_EK_PUB).unwrap();
    let ak = TpmPublic::parse_tpm2b(RSA_AK_PUB).unwrap();
    let mut rng = StdRng::seed_from_u64(4);
    assert!(matches!(
        make_credential(&ak, RSA_AK_NAME, b"x", &mut rng),
        Err(CredentialError::NotAStorageKey)
    ));
    assert!(matches!(
        make_credential(&ek, RSA_AK_NAME, &[1; 33], &mut rng),
        Err(CredentialError::CredentialSize { size: 33, max: 32 })
    ));
    assert!(matches!(
        make_credential(&ek, RSA_AK_NAME, b"", &mut rng),
        Err(CredentialError::CredentialSize { size: 0, .. })
    ));
    for name in [&RSA_AK_NAME[..33], &[0x00, 0x12, 1, 2][..], &[][..]] {
        assert!(matches!(
            make_credential(&ek, name, b"x", &mut rng),
            Err(CredentialError::BadAkName { .. })
        ));
    }
}

/// Used by capture.sh, not by `cargo test`: makes a credential for the EK public (TPM2B file)
/// in `PALISADE_EK_PUBLIC` and the AK name (binary file) in `PALISADE_AK_NAME`, protecting the
/// bytes of `PALISADE_CREDENTIAL`, and writes it to `PALISADE_OUT` in tpm2-tools' format for
/// `tpm2_activatecredential -i` (magic 0xBADCC0DE, version 1, TPM2B_ID_OBJECT,
/// TPM2B_ENCRYPTED_SECRET; tpm2-tools tools/tpm2_makecredential.c, write_cred_and_secret).
#[test]
#[ignore = "run by evidence/testdata/swtpm/capture.sh against swtpm"]
fn make_credential_for_swtpm() {
    let read = |var: &str| std::fs::read(std::env::var(var).unwrap()).unwrap();
    let ek = TpmPublic::parse_tpm2b(&read("PALISADE_EK_PUBLIC")).unwrap();
    let (blob, secret) = make_credential(
        &ek,
        &read("PALISADE_AK_NAME"),
        &read("PALISADE_CREDENTIAL"),
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    let mut out = Vec::new();
    out.extend_from_slice(&0xBADC_C0DE_u32.to_be_bytes());
    out.extend_from_slice(&1u32.to_be_bytes());
    for part in [&blob, &secret] {
        out.extend_from_slice(&u16::try_from(part.len()).unwrap().to_be_bytes());
        out.extend_from_slice(part);
    }
    std::fs::write(std::env::var("PALISADE_OUT").unwrap(), out).unwrap();
}
