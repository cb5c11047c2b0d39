//! rustls configurations: servers that require (or accept) client certificates from one CA,
//! clients that trust one CA or exactly one pinned server certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::pki::PemPair;
use crate::{provider, TlsError};

/// Which client certificates a server asks for.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// Every client must present a certificate issued by one of these CAs.
    Required(Vec<CertificateDer<'static>>),
    /// Clients may present one (it is then verified against these CAs) or none; handlers decide.
    Optional(Vec<CertificateDer<'static>>),
}

fn roots(cas: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for ca in cas {
        store.add(ca.clone())?;
    }
    Ok(Arc::new(store))
}

/// A server configuration with our identity and the given client authentication.
pub fn server_config(identity: &PemPair, auth: &ClientAuth) -> Result<Arc<ServerConfig>, TlsError> {
    let verifier = match auth {
        ClientAuth::Required(cas) => {
            WebPkiClientVerifier::builder_with_provider(roots(cas)?, provider()).build()?
        }
        ClientAuth::Optional(cas) => {
            WebPkiClientVerifier::builder_with_provider(roots(cas)?, provider())
                .allow_unauthenticated()
                .build()?
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_der()?, identity.key_der()?)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client configuration that trusts servers certified by `cas`.
pub fn client_config_ca(
    cas: &[CertificateDer<'static>],
    identity: Option<&PemPair>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(cas)?);
    with_identity(builder, identity)
}

/// A client configuration that accepts exactly one server certificate (pinned at enrolment),
/// whatever name it is reached by.
pub fn client_config_pinned(
    pinned: CertificateDer<'static>,
    identity: Option<&PemPair>,
) -> Result<ClientConfig, TlsError> {
    let verifier = Arc::new(PinnedServer {
        pinned,
        provider: provider(),
    });
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    with_identity(builder, identity)
}

fn with_identity(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
    identity: Option<&PemPair>,
) -> Result<ClientConfig, TlsError> {
    Ok(match identity {
        Some(id) => builder.with_client_auth_cert(id.cert_der()?, id.key_der()?)?,
        None => builder.with_no_client_auth(),
    })
}

/// Accepts the one pinned end-entity certificate; handshake signatures are still verified with
/// its key, so only the holder of the pinned key can complete the handshake.
#[derive(Debug)]
struct PinnedServer {
    pinned: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
