//! The verifier's record-signing key: ECDSA P-256, kept in a file of the state directory
//! (`0600`, hex scalar), created on first start. Its public half is published with every export
//! so that records can be checked without the verifier.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// A key file that cannot be read or written, or a key text that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or created.
    #[error("record-signing key {path}: {source}")]
    Io {
        /// The key file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key text is not a P-256 key.
    #[error("record-signing key {what} does not decode: {reason}")]
    Decode {
        /// Which key (file path or "public key").
        what: String,
        /// Why.
        reason: String,
    },
}

/// The private record-signing key. Records are signed with ring's P-256 (one signature per
/// stored result, so on the verifier's hot path; ~3× faster than the `p256` crate here), which
/// holds the same key as `signing`.
#[derive(Clone)]
pub struct RecordKey {
    signing: SigningKey,
    pair: Arc<EcdsaKeyPair>,
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKey")
            .field("public", &self.public_hex())
            .finish()
    }
}

impl RecordKey {
    /// A fresh random key (tests, and the first start).
    pub fn generate() -> Self {
        loop {
            // ring accepts every scalar `p256` generates; the loop only makes that total.
            if let Ok(key) = Self::new(SigningKey::random(&mut rand::rngs::OsRng)) {
                return key;
            }
        }
    }

    fn new(signing: SigningKey) -> Result<Self, String> {
        let public = signing.verifying_key().to_encoded_point(false);
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &signing.to_bytes(),
            public.as_bytes(),
            &SystemRandom::new(),
        )
        .map_err(|e| format!("ring refuses the key: {e}"))?;
        Ok(Self {
            signing,
            pair: Arc::new(pair),
        })
    }

    /// Loads the key at `path`, creating it (mode `0600`) if there is none.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim()).map_err(|reason| KeyError::Decode {
                what: path.display().to_string(),
                reason,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut file = create_private(path).map_err(io)?;
                file.write_all(hex::encode(key.signing.to_bytes()).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }

    fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text).map_err(|e| e.to_string())?;
        let signing = SigningKey::from_slice(&bytes).map_err(|e| e.to_string())?;
        Self::new(signing)
    }

    /// Signs `message` (SHA-256, fixed-size `r‖s`, hex).
    pub fn sign(&self, message: &[u8]) -> String {
        match self.pair.sign(&SystemRandom::new(), message) {
            Ok(signature) => hex::encode(signature.as_ref()),
            // Only if the system's random source fails: the deterministic (RFC 6979) signer.
            Err(_) => {
                let signature: Signature = self.signing.sign(message);
                hex::encode(signature.to_bytes())
            }
        }
    }

    /// The public key as a SEC1 uncompressed point, hex.
    pub fn public_hex(&self) -> String {
        hex::encode(
            self.signing
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes(),
        )
    }
}

/// A published record-signing key.
#[derive(Debug, Clone)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Decodes a SEC1 point in hex.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let decode = |reason: String| KeyError::Decode {
            what: "public key".to_owned(),
            reason,
        };
        let bytes = hex::decode(text).map_err(|e| decode(e.to_string()))?;
        VerifyingKey::from_sec1_bytes(&bytes)
            .map(Self)
            .map_err(|e| decode(e.to_string()))
    }

    /// Whether `signature` (hex `r‖s`) is this key's signature over `message`.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.0.verify(message, &signature).is_ok()
    }
}

/// Creates `path` for writing with mode `0600`; fails if it exists.
#[cfg(unix)]
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_loaded_back_and_verifies_its_signatures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.key");
        let key = RecordKey::load_or_create(&path).unwrap();
        let again = RecordKey::load_or_create(&path).unwrap();
        assert_eq!(key.public_hex(), again.public_hex());
        let public = PublicKey::from_hex(&again.public_hex()).unwrap();
        let sig = key.sign(b"record");
        assert!(public.verifies(b"record", &sig));
        assert!(!public.verifies(b"recorD", &sig));
        assert!(!public.verifies(b"record", "00"));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.key");
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(
            RecordKey::load_or_create(&path),
            Err(KeyError::Decode { .. })
        ));
    }
}
