//! Enrolment with the verifier (registrar role): send EK + AK, answer the MakeCredential
//! challenge with TPM2_ActivateCredential, prove it with an HMAC over the agent id.

use std::time::Duration;

use palisade_evidence::wire::{
    activation_tag, ActivateRequest, ErrorBody, RegisterChallenge, RegisterRequest,
};

use crate::tpm::TpmError;
use crate::tpm_actor::TpmHandle;

/// Longest wait between attempts when the verifier is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Why enrolment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    /// The verifier could not be reached (retried).
    #[error("verifier unreachable: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// The verifier refused the request (not retried).
    #[error("verifier refused {step}: {status}: {message}")]
    Refused {
        /// Which request.
        step: &'static str,
        /// HTTP status.
        status: u16,
        /// The verifier's message.
        message: String,
    },
    /// The TPM could not activate the credential.
    #[error(transparent)]
    Tpm(#[from] TpmError),
}

/// Everything the enrolment needs.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// HTTPS client trusting the verifier's CA.
    pub client: reqwest::Client,
    /// Verifier base URL.
    pub verifier_url: String,
    /// What to register.
    pub request: RegisterRequest,
}

impl Enrolment {
    /// Enrols, retrying with exponential backoff while the verifier is unreachable or answers
    /// 5xx; a 4xx is final.
    pub async fn run(&self, tpm: &TpmHandle) -> Result<(), EnrolError> {
        let mut backoff = Duration::from_millis(200);
        loop {
            match self.once(tpm).await {
                Ok(()) => return Ok(()),
                Err(
                    refused @ EnrolError::Refused {
                        status: 400..=499, ..
                    },
                ) => return Err(refused),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "enrolment failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One registration + activation round.
    pub async fn once(&self, tpm: &TpmHandle) -> Result<(), EnrolError> {
        let base = self.verifier_url.trim_end_matches('/');
        let id = &self.request.agent_id;
        let resp = self
            .client
            .post(format!("{base}/v1/agents"))
            .json(&self.request)
            .send()
            .await?;
        let challenge: RegisterChallenge = decode(resp, "registration").await?;
        let secret = tpm
            .call(move |t| {
                t.activate_credential(&challenge.credential_blob, &challenge.encrypted_secret)
            })
            .await?;
        let body = ActivateRequest {
            auth_tag: hex::encode(activation_tag(&secret, id)),
        };
        let resp = self
            .client
            .post(format!("{base}/v1/agents/{id}/activate"))
            .json(&body)
            .send()
            .await?;
        let activated: serde_json::Value = decode(resp, "activation").await?;
        if activated.get("status").and_then(serde_json::Value::as_str) == Some("awaiting_approval")
        {
            // Proven, not yet monitored: an operator approves with `palisade agents enroll`.
            tracing::warn!(agent_id = %id, "enrolled with the verifier; it awaits an operator's approval");
        } else {
            tracing::info!(agent_id = %id, "enrolled with the verifier");
        }
        Ok(())
    }
}

/// The JSON of a success, or the verifier's refusal with its message.
pub(crate) async fn decode<T: serde::de::DeserializeOwned>(
    resp: reqwest::Response,
    step: &'static str,
) -> Result<T, EnrolError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp.json().await?);
    }
    let message = match resp.json::<ErrorBody>().await {
        Ok(body) => body.message,
        Err(_) => "(no error body)".to_owned(),
    };
    Err(EnrolError::Refused {
        step,
        status: status.as_u16(),
        message,
    })
}
