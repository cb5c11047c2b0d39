//! HTTPS clients (reqwest over the rustls configurations in [`crate::tls`]).

use std::time::Duration;

use rustls::pki_types::CertificateDer;

use crate::pki::PemPair;
use crate::{tls, TlsError};

/// A client for servers certified by `cas`, optionally presenting `identity`.
pub fn ca_client(
    cas: &[CertificateDer<'static>],
    identity: Option<&PemPair>,
    timeout: Duration,
) -> Result<reqwest::Client, TlsError> {
    build(tls::client_config_ca(cas, identity)?, timeout)
}

/// A client for long-lived streams (server-sent events) from a server signed by one of `cas`:
/// no limit on the whole response, but one on connecting and on each read (`idle`), so a
/// silently dead connection is noticed.
pub fn stream_client(
    cas: &[CertificateDer<'static>],
    identity: Option<&PemPair>,
    idle: Duration,
) -> Result<reqwest::Client, TlsError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls::client_config_ca(cas, identity)?)
        .connect_timeout(idle)
        .read_timeout(idle)
        .build()?)
}

/// A client for exactly one pinned server certificate, presenting `identity`.
pub fn pinned_client(
    pinned: CertificateDer<'static>,
    identity: Option<&PemPair>,
    timeout: Duration,
) -> Result<reqwest::Client, TlsError> {
    build(tls::client_config_pinned(pinned, identity)?, timeout)
}

fn build(config: rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, TlsError> {
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()?)
}
