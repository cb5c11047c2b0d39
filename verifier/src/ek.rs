//! EK certificates: an agent's EK certificate (DER, from its TPM's NV) is checked against a
//! directory of trusted TPM-manufacturer CA certificates (`ek_ca_dir`, like Keylime's
//! `tpm_cert_store`): it must parse, be within its validity period, be signed by one of them,
//! and certify exactly the EK the agent enrols with. The outcome is kept per agent as its EK
//! status — `verified`, or `unverified` with why (no certificate, no CA directory) — which
//! operators see and the EAR `hardware` claim reflects. A certificate that is present but fails a
//! check refuses the enrolment: a forged or foreign certificate is worse than none.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use palisade_evidence::tpm::{PublicKey, TpmPublic};
use x509_parser::prelude::{FromDer as _, X509Certificate};
use x509_parser::public_key::PublicKey as CertKey;

/// Prefix of a verified status.
pub const VERIFIED: &str = "verified";

/// Why the CA directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EkTrustError {
    /// Reading the directory or a file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not a certificate.
    #[error("{path} is not a PEM or DER X.509 certificate")]
    NotACertificate {
        /// The file.
        path: PathBuf,
    },
    /// Nothing to trust.
    #[error("{0} holds no CA certificate")]
    Empty(PathBuf),
}

/// The trusted manufacturer CA certificates (DER).
#[derive(Debug, Clone)]
pub struct EkTrust {
    anchors: Vec<Vec<u8>>,
}

impl EkTrust {
    /// Every `*.pem`, `*.crt`, `*.cer` and `*.der` file in `dir` (a PEM file may hold several).
    pub fn load(dir: &Path) -> Result<Self, EkTrustError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| EkTrustError::Io { path, source }
        };
        let mut anchors = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let path = entry.map_err(io(dir))?.path();
            let ext = path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or_default();
            if !matches!(ext, "pem" | "crt" | "cer" | "der") {
                continue;
            }
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            let found = certificates(&bytes);
            if found.is_empty() {
                return Err(EkTrustError::NotACertificate { path });
            }
            anchors.extend(found);
        }
        if anchors.is_empty() {
            return Err(EkTrustError::Empty(dir.to_owned()));
        }
        Ok(Self { anchors })
    }

    /// Trusts exactly these DER certificates (tests and fuzzing; `load` reads a directory).
    pub fn from_der(anchors: Vec<Vec<u8>>) -> Self {
        Self { anchors }
    }

    /// Checks `cert` (DER) for `ek` at unix time `now`: the issuer's subject on success.
    pub fn check(&self, cert: &[u8], ek: &TpmPublic, now: i64) -> Result<String, String> {
        let (_, parsed) = X509Certificate::from_der(cert)
            .map_err(|e| format!("the EK certificate does not parse: {e}"))?;
        let validity = parsed.validity();
        if now < validity.not_before.timestamp() || now > validity.not_after.timestamp() {
            return Err(format!(
                "the EK certificate is valid from {} to {}, not now",
                validity.not_before, validity.not_after
            ));
        }
        let issuer = parsed.issuer();
        let signer = self
            .anchors
            .iter()
            .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
            .find(|ca| {
                ca.subject() == issuer && parsed.verify_signature(Some(ca.public_key())).is_ok()
            })
            .ok_or_else(|| {
                format!("the EK certificate (issuer {issuer}) is not signed by a trusted EK CA")
            })?;
        if !certifies(&parsed, ek)? {
            return Err("the EK certificate certifies another key than the enrolled EK".into());
        }
        Ok(signer.subject().to_string())
    }
}

/// Certificates in `bytes`: PEM blocks, or one DER certificate.
fn certificates(bytes: &[u8]) -> Vec<Vec<u8>> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(pem) = palisade_transport::pki::certs_from_pem(text, Path::new("EK CA")) {
            return pem.iter().map(|c| c.as_ref().to_vec()).collect();
        }
    }
    match X509Certificate::from_der(bytes) {
        Ok(_) => vec![bytes.to_vec()],
        Err(_) => Vec::new(),
    }
}

/// Whether the certificate's subject key is `ek`'s public key.
fn certifies(cert: &X509Certificate<'_>, ek: &TpmPublic) -> Result<bool, String> {
    let key = cert
        .public_key()
        .parsed()
        .map_err(|e| format!("the EK certificate's key does not parse: {e}"))?;
    Ok(match (key, ek.public_key()) {
        (
            CertKey::RSA(rsa),
            PublicKey::Rsa {
                exponent, modulus, ..
            },
        ) => {
            strip(rsa.modulus) == strip(modulus)
                && strip(rsa.exponent) == strip(&exponent.to_be_bytes())
        }
        (CertKey::EC(point), PublicKey::Ecc { x, y, .. }) => {
            let data = point.data();
            let half = data.len().saturating_sub(1) / 2;
            data.first() == Some(&4)
                && data.get(1..=half).map(strip) == Some(strip(x))
                && data.get(1 + half..).map(strip) == Some(strip(y))
        }
        _ => false,
    })
}

fn strip(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The EK status of an enrolment: `Ok(status)` to store, `Err(reason)` to refuse it.
pub fn status(
    trust: Option<&EkTrust>,
    certificate_b64: Option<&str>,
    ek: &TpmPublic,
    require: bool,
    now: i64,
) -> Result<String, String> {
    let Some(b64) = certificate_b64 else {
        return if require {
            Err("this verifier requires an EK certificate and the agent sent none".into())
        } else {
            Ok("unverified: the agent sent no EK certificate".into())
        };
    };
    let Some(trust) = trust else {
        return Ok("unverified: no EK CA directory is configured (ek_ca_dir)".into());
    };
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("ek_certificate is not base64: {e}"))?;
    let issuer = trust.check(&der, ek, now)?;
    Ok(format!("{VERIFIED}: signed by {issuer}"))
}

#[cfg(test)]
mod tests;
