//! EFI_SIGNATURE_LIST / EFI_SIGNATURE_DATA (the contents of PK, KEK, db, dbx and authorities).

use std::fmt;

use serde::{Serialize, Serializer};

use super::read::{Guid, Reader};

/// The kind of entries a signature list holds, by its SignatureType GUID.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureType {
    X509,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Rsa2048,
    X509Sha256,
    X509Sha384,
    X509Sha512,
    Other(Guid),
}

/// Signature types: variant, SignatureType GUID (text form), name.
const TYPES: [(SignatureType, &str, &str); 10] = [
    (
        SignatureType::X509,
        "a5c059a1-94e4-4aa7-87b5-ab155c2bf072",
        "x509",
    ),
    (
        SignatureType::Sha1,
        "826ca512-cf10-4ac9-b187-be01496631bd",
        "sha1",
    ),
    (
        SignatureType::Sha224,
        "0b6e5233-a65c-44c9-9407-d9ab83bfc8bd",
        "sha224",
    ),
    (
        SignatureType::Sha256,
        "c1c41626-504c-4092-aca9-41f936934328",
        "sha256",
    ),
    (
        SignatureType::Sha384,
        "ff3e5307-9fd0-48c9-85f1-8ad56c701e01",
        "sha384",
    ),
    (
        SignatureType::Sha512,
        "093e0fae-a6c4-4f50-9f1b-d41e2b89c19a",
        "sha512",
    ),
    (
        SignatureType::Rsa2048,
        "3c5766e8-269c-4e34-aa14-ed776e85b3b6",
        "rsa2048",
    ),
    (
        SignatureType::X509Sha256,
        "3bd2a492-96c0-4079-b420-fcf98ef103ed",
        "x509_sha256",
    ),
    (
        SignatureType::X509Sha384,
        "7076876e-80c2-4ee6-aad2-28b349a6865b",
        "x509_sha384",
    ),
    (
        SignatureType::X509Sha512,
        "446dbf63-2502-4cda-bcfa-2465d2b0fe9d",
        "x509_sha512",
    ),
];

impl SignatureType {
    pub fn from_guid(guid: Guid) -> Self {
        let text = guid.to_string();
        TYPES
            .iter()
            .find(|t| t.1 == text)
            .map_or(Self::Other(guid), |t| t.0)
    }

    /// `x509`, `sha256`, ...; `None` for an unknown type.
    pub fn name(self) -> Option<&'static str> {
        TYPES.iter().find(|t| t.0 == self).map(|t| t.2)
    }

    /// True for the plain hash types (entries are digests of images).
    pub fn is_hash(self) -> bool {
        matches!(
            self,
            Self::Sha1 | Self::Sha224 | Self::Sha256 | Self::Sha384 | Self::Sha512
        )
    }
}

impl fmt::Display for SignatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, Self::Other(guid)) => write!(f, "{guid}"),
            (None, _) => f.write_str("unknown"),
        }
    }
}

impl fmt::Debug for SignatureType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for SignatureType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One EFI_SIGNATURE_LIST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureList {
    pub signature_type: SignatureType,
    #[serde(with = "hex::serde", skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<u8>,
    pub signatures: Vec<SignatureEntry>,
}

/// One EFI_SIGNATURE_DATA: who owns it, and the certificate (DER) or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureEntry {
    pub owner: Guid,
    #[serde(with = "hex::serde")]
    pub data: Vec<u8>,
}

/// Parses a variable's data as consecutive EFI_SIGNATURE_LISTs.
pub(crate) fn parse_signature_lists(data: &[u8]) -> Result<Vec<SignatureList>, String> {
    let mut r = Reader::new(data);
    let mut lists = Vec::new();
    while !r.is_empty() {
        let at = r.pos();
        let s = |e: super::read::Short| format!("signature list at byte {at}: {e}");
        let signature_type = SignatureType::from_guid(r.guid("SignatureType").map_err(s)?);
        let list_size = r.u32("SignatureListSize").map_err(s)?;
        let header_size = r.u32("SignatureHeaderSize").map_err(s)?;
        let sig_size = r.u32("SignatureSize").map_err(s)?;
        let body = u64::from(list_size)
            .checked_sub(28 + u64::from(header_size))
            .ok_or_else(|| format!("signature list at byte {at}: size {list_size} too small"))?;
        let header = r
            .take(u64::from(header_size), "SignatureHeader")
            .map_err(s)?
            .to_vec();
        let body = r.take(body, "signatures").map_err(s)?;
        if body.is_empty() {
            lists.push(SignatureList {
                signature_type,
                header,
                signatures: Vec::new(),
            });
            continue;
        }
        if sig_size < 16 || !body.len().is_multiple_of(sig_size as usize) {
            return Err(format!(
                "signature list at byte {at}: {} bytes of signatures are not a multiple of \
                 SignatureSize {sig_size} (at least 16)",
                body.len()
            ));
        }
        let signatures = body
            .chunks_exact(sig_size as usize)
            .filter_map(signature_data)
            .collect();
        lists.push(SignatureList {
            signature_type,
            header,
            signatures,
        });
    }
    Ok(lists)
}

/// Splits EFI_SIGNATURE_DATA into owner and data; `None` if shorter than a GUID.
pub(crate) fn signature_data(bytes: &[u8]) -> Option<SignatureEntry> {
    let owner: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
    Some(SignatureEntry {
        owner: Guid(owner),
        data: bytes.get(16..)?.to_vec(),
    })
}
