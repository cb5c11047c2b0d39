//! Push mode, agent side, for hosts the verifier cannot reach: after enrolment the agent asks
//! the verifier for a challenge, answers it with the same evidence the pull API would serve,
//! and waits as long as the verifier says (`palisade_evidence::wire::push` has the shapes).
//! A 429 waits its `Retry-After`; a refused or failed round is retried with backoff.

use std::sync::Arc;
use std::time::Duration;

use palisade_evidence::wire::push::{PushAccepted, PushCapabilities, PushChallenge};

use crate::enrol::{decode, EnrolError};
use crate::events::EventLog;
use crate::measure::{MeasureError, Measurer};

/// Longest wait between failed rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Why one push round failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The verifier answered 429.
    #[error("too early: retry in {0:?}")]
    TooEarly(Duration),
    /// The request failed or was refused.
    #[error(transparent)]
    Verifier(#[from] EnrolError),
    /// The challenge is malformed or does not select the dedicated PCR.
    #[error("unusable challenge: {0}")]
    Challenge(String),
    /// No evidence could be produced.
    #[error("cannot produce evidence: {0}")]
    Measure(#[from] MeasureError),
}

/// Everything the push loop needs.
#[derive(Debug, Clone)]
pub struct Pusher {
    /// HTTPS client trusting the verifier's CA.
    pub client: reqwest::Client,
    /// Verifier base URL.
    pub verifier_url: String,
    /// This agent.
    pub agent_id: String,
    /// Its measurements.
    pub measurer: Arc<Measurer>,
    /// Its attributed runtime events.
    pub events: Arc<EventLog>,
}

impl Pusher {
    /// Attests forever.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(500);
        loop {
            let wait = match self.once().await {
                Ok(next) => {
                    backoff = Duration::from_millis(500);
                    next
                }
                Err(PushError::TooEarly(wait)) => wait,
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "push attestation failed");
                    let wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One round: challenge, evidence, the verifier's next-attestation delay.
    pub async fn once(&self) -> Result<Duration, PushError> {
        let base = format!(
            "{}/v1/agents/{}/attestations",
            self.verifier_url.trim_end_matches('/'),
            self.agent_id
        );
        let caps = PushCapabilities {
            pcr: self.measurer.pcr(),
            log_entries: self.measurer.log_len().await as u64,
        };
        let resp = self
            .client
            .post(&base)
            .json(&caps)
            .send()
            .await
            .map_err(EnrolError::from)?;
        if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let secs = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1);
            return Err(PushError::TooEarly(Duration::from_secs(secs)));
        }
        let challenge: PushChallenge = decode(resp, "push challenge").await?;
        let request = challenge
            .request()
            .map_err(|e| PushError::Challenge(e.to_string()))?;
        if !request.pcrs.contains(&self.measurer.pcr()) {
            return Err(PushError::Challenge(format!(
                "it does not select the dedicated PCR {}",
                self.measurer.pcr()
            )));
        }
        let mut evidence = self.measurer.evidence(&request).await?;
        evidence.events = Some(self.events.slice(request.event_cursor.as_deref()));
        let resp = self
            .client
            .patch(format!("{base}/latest"))
            .json(&evidence)
            .send()
            .await
            .map_err(EnrolError::from)?;
        let accepted: PushAccepted = decode(resp, "push evidence").await?;
        tracing::debug!(
            log_offset = request.log_offset,
            next_in_s = accepted.next_attestation_in_s,
            "evidence pushed"
        );
        Ok(Duration::from_secs(accepted.next_attestation_in_s.max(1)))
    }
}
