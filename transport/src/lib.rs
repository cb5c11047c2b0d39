//! Daemon plumbing shared by the agent and the verifier. TLS lives here and nowhere else: certificate
//! generation ([`pki`]), rustls configurations with peer pinning ([`tls`]), the HTTPS listener
//! that tells handlers who the peer is ([`server`]), and HTTPS clients ([`client`]).
//!
//! One crypto provider (ring) is used throughout. [`config`] loads both daemons'
//! TOML configuration with environment overrides; [`logging`] sets up their logs.
#![forbid(unsafe_code)]

pub mod client;
pub mod config;
pub mod logging;
pub mod pki;
pub mod server;
pub mod tls;

pub use server::PeerCertificate;

/// Failure to build TLS material or configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a PEM file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file has no usable certificate or key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file (or `<memory>`).
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rcgen could not generate a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls rejected the configuration.
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client certificate verifier: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// The one crypto provider palisade uses.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
