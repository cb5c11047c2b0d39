//! Push mode, for agents the verifier cannot reach: the agent asks for a challenge
//! (`POST /v1/agents/{id}/attestations` with its [`PushCapabilities`]), the verifier answers with
//! a [`PushChallenge`] — the same nonce, PCR selection, log offset and event cursor a pull
//! request carries, plus how long it stays valid — and the agent sends the evidence
//! (`PATCH /v1/agents/{id}/attestations/latest`), which the verifier accepts with 202 and a
//! [`PushAccepted`] saying when to come back. Too early: 429 with `Retry-After`.

use serde::{Deserialize, Serialize};

use super::{QuoteQuery, QuoteRequest, RequestError};

/// What a push-mode agent tells the verifier when it asks for a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushCapabilities {
    /// The dedicated PCR the agent extends.
    pub pcr: u8,
    /// Entries in the agent's dedicated log now.
    pub log_entries: u64,
}

/// A challenge: what to quote and which log entries to send, valid for `expires_in_s`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushChallenge {
    /// Hex nonce for the quote's qualifying data.
    pub nonce: String,
    /// Comma-separated PCR indices of the SHA-256 bank.
    pub pcrs: String,
    /// First dedicated-log entry to send.
    pub log_offset: u64,
    /// Where the runtime events to send start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_cursor: Option<String>,
    /// First IMA measurement-list entry to send (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ima_offset: Option<u64>,
    /// Send the UEFI boot event log too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub boot_log: bool,
    /// Seconds the challenge stays valid.
    pub expires_in_s: u64,
}

impl PushChallenge {
    /// The challenge for `request`, valid `expires_in_s` seconds.
    pub fn new(request: &QuoteRequest, expires_in_s: u64) -> Self {
        let pcrs: Vec<String> = request.pcrs.iter().map(u8::to_string).collect();
        Self {
            nonce: hex::encode(&request.nonce),
            pcrs: pcrs.join(","),
            log_offset: request.log_offset,
            event_cursor: request.event_cursor.clone(),
            ima_offset: request.ima_offset,
            boot_log: request.boot_log,
            expires_in_s,
        }
    }

    /// The quote request it asks for, validated exactly as a pull request is.
    pub fn request(&self) -> Result<QuoteRequest, RequestError> {
        QuoteRequest::parse(&QuoteQuery {
            nonce: self.nonce.clone(),
            pcrs: self.pcrs.clone(),
            log_offset: self.log_offset,
            event_cursor: self.event_cursor.clone(),
            ima_offset: self.ima_offset,
            boot_log: self.boot_log,
        })
    }
}

/// The verifier accepted the evidence (202); the result comes asynchronously.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushAccepted {
    /// When to ask for the next challenge, in seconds.
    pub next_attestation_in_s: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_round_trips_to_the_request_it_was_made_from() {
        let request = QuoteRequest {
            nonce: vec![7; 20],
            pcrs: vec![10, 15],
            log_offset: 42,
            event_cursor: None,
            ima_offset: Some(7),
            boot_log: true,
        };
        let challenge = PushChallenge::new(&request, 60);
        let json = serde_json::to_string(&challenge).unwrap();
        let back: PushChallenge = serde_json::from_str(&json).unwrap();
        assert_eq!(back.request().unwrap(), request);
    }

    #[test]
    fn a_malformed_challenge_is_refused_like_a_pull_request() {
        let mut challenge = PushChallenge::new(
            &QuoteRequest {
                nonce: vec![7; 20],
                pcrs: vec![15],
                log_offset: 0,
                event_cursor: None,
                ima_offset: None,
                boot_log: false,
            },
            60,
        );
        challenge.nonce = "zz".into();
        assert_eq!(challenge.request(), Err(RequestError::BadNonce));
    }
}
