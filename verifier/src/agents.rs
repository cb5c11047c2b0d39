//! HTTPS clients for agents, each pinned to the TLS certificate the agent enrolled with and
//! presenting the verifier's client certificate; built once per (agent, certificate).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use palisade_transport::pki::{self, PemPair};
use palisade_transport::TlsError;

use crate::store::AgentRecord;

/// Cache of pinned clients.
#[derive(Debug)]
pub struct AgentClients {
    identity: PemPair,
    timeout: Duration,
    cache: Mutex<HashMap<String, (String, reqwest::Client)>>,
}

impl AgentClients {
    /// Clients presenting `identity`, with a request timeout.
    pub fn new(identity: PemPair, timeout: Duration) -> Self {
        Self {
            identity,
            timeout,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `agent` (rebuilt when its pinned certificate changed).
    pub fn get(&self, agent: &AgentRecord) -> Result<reqwest::Client, TlsError> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((cert, client)) = cache.get(&agent.id) {
            if *cert == agent.tls_certificate {
                return Ok(client.clone());
            }
        }
        let pinned = pki::certs_from_pem(
            &agent.tls_certificate,
            std::path::Path::new("<enrolled agent certificate>"),
        )?
        .into_iter()
        .next()
        .ok_or_else(|| TlsError::Pem {
            path: "<enrolled agent certificate>".into(),
            reason: "empty".into(),
        })?;
        let client =
            palisade_transport::client::pinned_client(pinned, Some(&self.identity), self.timeout)?;
        cache.insert(
            agent.id.clone(),
            (agent.tls_certificate.clone(), client.clone()),
        );
        Ok(client)
    }
}
