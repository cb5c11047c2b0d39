//! `TPMT_SIGNATURE`: the signature a TPM returns with a quote.

use super::alg::alg_id;
use super::params::read_hash;
use super::reader::Reader;
use super::{HashAlg, ParseError};

/// Largest RSA signature (`TPM2B_PUBLIC_KEY_RSA`, 4096-bit keys).
const MAX_RSA_SIG: usize = 512;
/// Largest ECC scalar (`TPM2B_ECC_PARAMETER`, P-521).
const MAX_ECC_PARAM: usize = 66;

/// The signature algorithms palisade verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// `TPM_ALG_RSASSA` (0x0014): RSASSA-PKCS1-v1_5.
    RsaSsa,
    /// `TPM_ALG_RSAPSS` (0x0016): RSASSA-PSS.
    RsaPss,
    /// `TPM_ALG_ECDSA` (0x0018).
    Ecdsa,
}

impl SignatureScheme {
    /// The `TPM_ALG_ID`.
    pub fn tpm_id(self) -> u16 {
        match self {
            Self::RsaSsa => alg_id::RSASSA,
            Self::RsaPss => alg_id::RSAPSS,
            Self::Ecdsa => alg_id::ECDSA,
        }
    }
}

/// The signature value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureValue {
    /// RSA signature, big-endian, the size of the modulus.
    Rsa(Vec<u8>),
    /// ECDSA `(r, s)`, big-endian, as the TPM sent them (at most the curve's scalar size).
    Ecc {
        /// r.
        r: Vec<u8>,
        /// s.
        s: Vec<u8>,
    },
}

/// A parsed `TPMT_SIGNATURE` of a scheme palisade verifies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    scheme: SignatureScheme,
    hash: HashAlg,
    value: SignatureValue,
}

impl Signature {
    /// The signature algorithm.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// The hash the TPM signed with (also the hash of the quote's PCR digest).
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// The signature value; its variant always fits [`Self::scheme`].
    pub fn value(&self) -> &SignatureValue {
        &self.value
    }
}

/// Parses a `TPMT_SIGNATURE` (what `tpm2_quote -s` writes by default and tss-esapi marshals):
/// RSASSA, RSAPSS or ECDSA with a hash palisade implements. Rejects trailing bytes.
pub fn parse_signature(bytes: &[u8]) -> Result<Signature, ParseError> {
    let mut r = Reader::new(bytes);
    let id = r.u16("TPMT_SIGNATURE.sigAlg")?;
    let (scheme, hash, value) = match id {
        alg_id::RSASSA | alg_id::RSAPSS => {
            let hash = read_hash(&mut r, "TPMS_SIGNATURE_RSA.hash")?;
            let sig = r.tpm2b_max("TPMS_SIGNATURE_RSA.sig", MAX_RSA_SIG)?.to_vec();
            let scheme = if id == alg_id::RSASSA {
                SignatureScheme::RsaSsa
            } else {
                SignatureScheme::RsaPss
            };
            (scheme, hash, SignatureValue::Rsa(sig))
        }
        alg_id::ECDSA => {
            let hash = read_hash(&mut r, "TPMS_SIGNATURE_ECC.hash")?;
            let sig_r = r
                .tpm2b_max("TPMS_SIGNATURE_ECC.signatureR", MAX_ECC_PARAM)?
                .to_vec();
            let sig_s = r
                .tpm2b_max("TPMS_SIGNATURE_ECC.signatureS", MAX_ECC_PARAM)?
                .to_vec();
            (
                SignatureScheme::Ecdsa,
                hash,
                SignatureValue::Ecc { r: sig_r, s: sig_s },
            )
        }
        id => {
            return Err(ParseError::UnsupportedAlgorithm {
                what: "TPMT_SIGNATURE.sigAlg",
                id,
            })
        }
    };
    r.finish("TPMT_SIGNATURE")?;
    Ok(Signature {
        scheme,
        hash,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rsassa_and_ecdsa() {
        let rsa = hex::decode("0014000b0003aabbcc").unwrap();
        let sig = parse_signature(&rsa).unwrap();
        assert_eq!(sig.scheme(), SignatureScheme::RsaSsa);
        assert_eq!(sig.hash(), HashAlg::Sha256);
        assert_eq!(sig.value(), &SignatureValue::Rsa(vec![0xaa, 0xbb, 0xcc]));

        let ecc = hex::decode("0018000c00010100020202").unwrap();
        let sig = parse_signature(&ecc).unwrap();
        assert_eq!(sig.scheme(), SignatureScheme::Ecdsa);
        assert_eq!(sig.hash(), HashAlg::Sha384);
        assert_eq!(
            sig.value(),
            &SignatureValue::Ecc {
                r: vec![1],
                s: vec![2, 2]
            }
        );
    }

    #[test]
    fn rejects_unknown_schemes_hashes_and_trailing_bytes() {
        // TPM_ALG_HMAC signature, TPM_ALG_NULL signature.
        for bytes in ["0005000b", "0010"] {
            assert!(matches!(
                parse_signature(&hex::decode(bytes).unwrap()),
                Err(ParseError::UnsupportedAlgorithm {
                    what: "TPMT_SIGNATURE.sigAlg",
                    ..
                })
            ));
        }
        // SM3 hash.
        assert!(matches!(
            parse_signature(&hex::decode("001400120000").unwrap()),
            Err(ParseError::UnsupportedAlgorithm { id: 0x0012, .. })
        ));
        assert_eq!(
            parse_signature(&hex::decode("0014000b000000").unwrap()),
            Err(ParseError::TrailingBytes {
                what: "TPMT_SIGNATURE",
                count: 1
            })
        );
        assert!(matches!(
            parse_signature(&hex::decode("0014000b0201").unwrap()),
            Err(ParseError::TooLarge { size: 513, .. })
        ));
        assert!(matches!(
            parse_signature(&[0x00]),
            Err(ParseError::Truncated { .. })
        ));
    }
}
