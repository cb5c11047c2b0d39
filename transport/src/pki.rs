//! Certificate generation: the verifier's CA and the certificates it issues, and the agent's
//! self-signed server certificate (pinned by the verifier at enrolment).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// A certificate and its private key, PEM-encoded.
#[derive(Clone)]
pub struct PemPair {
    /// Certificate (PEM).
    pub cert: String,
    /// PKCS#8 private key (PEM). Never logged.
    pub key: String,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemPair")
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// TLS server (`serverAuth`).
    Server,
    /// TLS client (`clientAuth`).
    Client,
}

fn leaf_params(
    common_name: &str,
    names: &[String],
    usage: Usage,
) -> Result<CertificateParams, TlsError> {
    let mut params = CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![match usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    Ok(params)
}

/// A new CA (ECDSA P-256).
pub fn new_ca(common_name: &str) -> Result<PemPair, TlsError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A leaf certificate signed by `ca`, valid for `names` (DNS names or IP addresses).
pub fn issue(
    ca: &PemPair,
    common_name: &str,
    names: &[String],
    usage: Usage,
) -> Result<PemPair, TlsError> {
    let ca_key = KeyPair::from_pem(&ca.key)?;
    let ca_cert = CertificateParams::from_ca_cert_pem(&ca.cert)?.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let cert = leaf_params(common_name, names, usage)?.signed_by(&key, &ca_cert, &ca_key)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// A self-signed server certificate (the agent's; the verifier pins it).
pub fn self_signed_server(common_name: &str, names: &[String]) -> Result<PemPair, TlsError> {
    let key = KeyPair::generate()?;
    let cert = leaf_params(common_name, names, Usage::Server)?.self_signed(&key)?;
    Ok(PemPair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

impl PemPair {
    /// Writes `NAME.crt` and `NAME.key` (mode 0600) into `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> Result<(), TlsError> {
        write_file(&dir.join(format!("{name}.crt")), &self.cert, 0o644)?;
        write_file(&dir.join(format!("{name}.key")), &self.key, 0o600)
    }

    /// Reads `NAME.crt` and `NAME.key` from `dir`, or `None` if either is absent.
    pub fn read(dir: &Path, name: &str) -> Result<Option<Self>, TlsError> {
        let (cert_path, key_path) = (
            dir.join(format!("{name}.crt")),
            dir.join(format!("{name}.key")),
        );
        if !cert_path.exists() || !key_path.exists() {
            return Ok(None);
        }
        Ok(Some(Self {
            cert: read_file(&cert_path)?,
            key: read_file(&key_path)?,
        }))
    }

    /// The certificate chain in DER.
    pub fn cert_der(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        certs_from_pem(&self.cert, Path::new("<memory>"))
    }

    /// The private key in DER.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        let mut reader = self.key.as_bytes();
        rustls_pemfile::private_key(&mut reader)
            .ok()
            .flatten()
            .ok_or_else(|| TlsError::Pem {
                path: "<memory>".into(),
                reason: "no private key".into(),
            })
    }
}

/// Parses every certificate in a PEM text.
pub fn certs_from_pem(pem: &str, origin: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut reader = pem.as_bytes();
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: origin.to_path_buf(),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

/// Reads a PEM file of certificates.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certs_from_pem(&read_file(path)?, path)
}

fn read_file(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: PathBuf::from(path),
        source,
    })
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| TlsError::Io {
        path: PathBuf::from(path),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Lowercase hex SHA-256 of a DER certificate: how pinned certificates are shown and compared.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(der))
}
