//! The verifier's TLS material in `<state_dir>/tls`: a CA (kept), and from it a server
//! certificate (re-issued at every start for the configured names), the client certificate the
//! verifier presents to agents, and the operator certificate the `palisade` CLI presents.

use std::path::{Path, PathBuf};

use palisade_transport::pki::{self, PemPair, Usage};
use palisade_transport::TlsError;

/// All of the verifier's TLS material.
#[derive(Debug, Clone)]
pub struct Material {
    /// The CA agents trust.
    pub ca: PemPair,
    /// The API's server certificate.
    pub server: PemPair,
    /// Presented to agents when pulling quotes.
    pub client: PemPair,
    /// The `palisade` CLI's certificate in the state directory: the first admin credential.
    pub operator: PemPair,
}

/// Where the CA certificate is written (agents are given this file).
pub fn ca_path(state_dir: &Path) -> PathBuf {
    state_dir.join("tls").join("ca.crt")
}

/// Loads the CA (creating it on first start) and issues the leaf certificates.
pub fn ensure(state_dir: &Path, names: &[String]) -> Result<Material, TlsError> {
    let dir = state_dir.join("tls");
    std::fs::create_dir_all(&dir).map_err(|source| TlsError::Io {
        path: dir.clone(),
        source,
    })?;
    let ca = match PemPair::read(&dir, "ca")? {
        Some(ca) => ca,
        None => {
            let ca = pki::new_ca("palisade verifier CA")?;
            ca.write(&dir, "ca")?;
            ca
        }
    };
    let server = pki::issue(&ca, "palisade-verifier", names, Usage::Server)?;
    server.write(&dir, "server")?;
    let client = reuse_or_issue(&dir, &ca, "client", "palisade-verifier")?;
    let operator = reuse_or_issue(&dir, &ca, "operator", "palisade-operator")?;
    Ok(Material {
        ca,
        server,
        client,
        operator,
    })
}

fn reuse_or_issue(dir: &Path, ca: &PemPair, file: &str, cn: &str) -> Result<PemPair, TlsError> {
    if let Some(pair) = PemPair::read(dir, file)? {
        return Ok(pair);
    }
    let pair = pki::issue(ca, cn, &[], Usage::Client)?;
    pair.write(dir, file)?;
    Ok(pair)
}
