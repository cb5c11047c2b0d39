//! Wire types of the agent and verifier APIs (JSON over mutual TLS), with their validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::digest::{base64_bytes, Sha256Digest};

pub mod push;
use crate::log::LogEntry;
use crate::runtime::{parse_cursor, EventSlice};

/// Shortest nonce the agent accepts, in bytes.
pub const MIN_NONCE_LEN: usize = 16;
/// Longest nonce: TPM2B_DATA qualifying data holds at most one SHA-512 digest.
pub const MAX_NONCE_LEN: usize = 64;
/// Highest PCR index on a PC-client TPM.
pub const MAX_PCR: u8 = 23;

/// A request that does not make sense, with a message for the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// The nonce is not hex or has the wrong size.
    #[error("nonce must be {MIN_NONCE_LEN}-{MAX_NONCE_LEN} bytes of lowercase hex")]
    BadNonce,
    /// The PCR list is not a comma-separated list of indices 0-23.
    #[error("pcrs must be a comma-separated list of PCR indices 0-{MAX_PCR}, got {0:?}")]
    BadPcrs(String),
    /// The event cursor is not `run:next`.
    #[error("event_cursor must be `run:next` from a previous answer, got {0:?}")]
    BadCursor(String),
}

/// Raw query string of `GET /v1/quote`.
#[derive(Debug, Clone, Deserialize)]
pub struct QuoteQuery {
    /// Hex nonce to put in the quote's qualifying data.
    pub nonce: String,
    /// Comma-separated PCR indices of the SHA-256 bank.
    pub pcrs: String,
    /// First dedicated-log entry to return.
    #[serde(default)]
    pub log_offset: u64,
    /// Where the runtime events the verifier has not seen start (`run:next` from the previous
    /// evidence's [`EventSlice::cursor`]); absent: every event the agent holds.
    #[serde(default)]
    pub event_cursor: Option<String>,
    /// First IMA measurement-list entry to return; absent: no IMA list.
    #[serde(default)]
    pub ima_offset: Option<u64>,
    /// Return the UEFI boot event log too.
    #[serde(default)]
    pub boot_log: bool,
}

/// Longest event cursor accepted (`run:next`).
pub const MAX_CURSOR_LEN: usize = 64;

/// A validated quote request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    /// The verifier's nonce.
    pub nonce: Vec<u8>,
    /// PCR indices, ascending, without duplicates.
    pub pcrs: Vec<u8>,
    /// First dedicated-log entry to return.
    pub log_offset: u64,
    /// Where the runtime events to return start (see [`QuoteQuery::event_cursor`]).
    pub event_cursor: Option<String>,
    /// First IMA measurement-list entry to return (`None`: no IMA list).
    pub ima_offset: Option<u64>,
    /// Return the UEFI boot event log.
    pub boot_log: bool,
}

impl QuoteRequest {
    /// Validates a raw query.
    pub fn parse(q: &QuoteQuery) -> Result<Self, RequestError> {
        let event_cursor = match &q.event_cursor {
            None => None,
            Some(c) if c.len() <= MAX_CURSOR_LEN && parse_cursor(c).is_some() => Some(c.clone()),
            Some(c) => return Err(RequestError::BadCursor(c.chars().take(64).collect())),
        };
        Ok(Self {
            nonce: parse_nonce(&q.nonce)?,
            pcrs: parse_pcrs(&q.pcrs)?,
            log_offset: q.log_offset,
            event_cursor,
            ima_offset: q.ima_offset,
            boot_log: q.boot_log,
        })
    }

    /// The query string that [`Self::parse`] reads back.
    pub fn to_query(&self) -> String {
        let pcrs: Vec<String> = self.pcrs.iter().map(u8::to_string).collect();
        let mut q = format!(
            "nonce={}&pcrs={}&log_offset={}",
            hex::encode(&self.nonce),
            pcrs.join(","),
            self.log_offset
        );
        if let Some(c) = &self.event_cursor {
            // A valid cursor is `[A-Za-z0-9-]+:[0-9]+`: nothing to escape but the colon.
            q.push_str("&event_cursor=");
            q.push_str(&c.replace(':', "%3A"));
        }
        if let Some(offset) = self.ima_offset {
            q.push_str(&format!("&ima_offset={offset}"));
        }
        if self.boot_log {
            q.push_str("&boot_log=true");
        }
        q
    }
}

/// Parses a hex nonce of acceptable length.
pub fn parse_nonce(s: &str) -> Result<Vec<u8>, RequestError> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(RequestError::BadNonce);
    }
    let nonce = hex::decode(s).map_err(|_| RequestError::BadNonce)?;
    if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) {
        return Err(RequestError::BadNonce);
    }
    Ok(nonce)
}

/// Parses `"10,15"` into sorted, de-duplicated PCR indices.
pub fn parse_pcrs(s: &str) -> Result<Vec<u8>, RequestError> {
    let bad = || RequestError::BadPcrs(s.chars().take(64).collect());
    let mut pcrs = s
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= MAX_PCR)
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<u8>, _>>()?;
    pcrs.sort_unstable();
    pcrs.dedup();
    Ok(pcrs)
}

/// A TPM quote as the TPM produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// TPMS_ATTEST bytes (the signed message).
    #[serde(with = "base64_bytes")]
    pub attest: Vec<u8>,
    /// TPMT_SIGNATURE bytes.
    #[serde(with = "base64_bytes")]
    pub signature: Vec<u8>,
}

/// The part of the dedicated log the verifier asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSlice {
    /// The PCR the log is extended into.
    pub pcr: u8,
    /// Sequence number of the first entry returned.
    pub offset: u64,
    /// Entries from `offset` to the end of the log.
    pub entries: Vec<LogEntry>,
}

/// A measured document in canonical form, as the agent holds it now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    /// Entry kind that measured it.
    pub kind: String,
    /// Entry name that measured it.
    pub name: String,
    /// Sequence number of the log entry that measured exactly these bytes.
    pub seq: u64,
    /// The canonical JSON bytes, embedded verbatim (hash these, never a re-encoding).
    pub content: Box<RawValue>,
}

/// Response of `GET /v1/quote`: the evidence of one attestation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evidence {
    /// The agent's identifier.
    pub agent_id: String,
    /// The quote.
    pub quote: Quote,
    /// SHA-256-bank values of the quoted PCRs.
    pub pcrs: BTreeMap<u8, Sha256Digest>,
    /// The dedicated log from the requested offset.
    pub log: LogSlice,
    /// The current canonical document of every (kind, name) in the log.
    pub documents: Vec<Document>,
    /// Runtime events since the request's cursor (advisory attribution: not bound by the PCR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<EventSlice>,
    /// The IMA measurement list from the requested entry (when asked and the host has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ima: Option<ImaSlice>,
    /// The UEFI boot event log (when asked and the host has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_log: Option<BootLog>,
}

/// The kernel's IMA measurement list (ASCII form) from entry `offset` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImaSlice {
    /// Index (0-based) of the first entry in `list`.
    pub offset: u64,
    /// The entries, one per line, exactly as `ascii_runtime_measurements` lists them.
    pub list: String,
}

/// The TCG2 UEFI event log as the firmware left it (`binary_bios_measurements`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootLog {
    /// The log bytes.
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

/// `POST /v1/agents`: an agent asks to be enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// The agent's identifier (`[A-Za-z0-9._-]`, 1-128 characters).
    pub agent_id: String,
    /// EK public area (TPMT_PUBLIC).
    #[serde(with = "base64_bytes")]
    pub ek_public: Vec<u8>,
    /// EK certificate (base64 of the DER), when the TPM has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ek_certificate: Option<String>,
    /// AK public area (TPMT_PUBLIC).
    #[serde(with = "base64_bytes")]
    pub ak_public: Vec<u8>,
    /// Base URL the verifier reaches the agent's pull API at (`https://host:port`).
    pub contact: String,
    /// The agent's TLS server certificate (PEM), pinned by the verifier.
    pub tls_certificate: String,
    /// The dedicated PCR this agent extends.
    pub pcr: u8,
    /// Operator-assigned labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Push mode: the agent sends evidence itself (`push.rs`) and `contact` is not used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub push: bool,
}

/// The verifier's answer to a registration: a MakeCredential challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterChallenge {
    /// TPM2B_ID_OBJECT buffer (without size prefix).
    #[serde(with = "base64_bytes")]
    pub credential_blob: Vec<u8>,
    /// TPM2B_ENCRYPTED_SECRET buffer (without size prefix).
    #[serde(with = "base64_bytes")]
    pub encrypted_secret: Vec<u8>,
}

/// `POST /v1/agents/{id}/activate`: proof that the agent's TPM activated the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateRequest {
    /// Hex HMAC-SHA256 keyed with the activated secret over the agent id.
    pub auth_tag: String,
}

/// The proof of activation: HMAC-SHA256 keyed with the secret the TPM recovered, over the
/// agent id. Only a TPM holding the EK the verifier encrypted to can compute it.
pub fn activation_tag(secret: &[u8], agent_id: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac as _};
    match <Hmac<sha2::Sha256>>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(agent_id.as_bytes());
            mac.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length; an all-zero tag never matches a real one.
        Err(_) => [0; 32],
    }
}

/// The JSON body of every API error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable machine-readable error type.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, for a human.
    pub message: String,
}

/// Checks an agent identifier: 1-128 characters of `[A-Za-z0-9._-]`.
pub fn valid_agent_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Convenience: SHA-256 digests of the quoted PCRs in index order.
pub fn pcr_values_in_order(pcrs: &BTreeMap<u8, Sha256Digest>) -> Vec<&[u8]> {
    pcrs.values().map(|d| d.as_bytes().as_slice()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_query_round_trip_and_validation() {
        let q = QuoteRequest {
            nonce: vec![7; 20],
            pcrs: vec![10, 15],
            log_offset: 3,
            event_cursor: None,
            ima_offset: None,
            boot_log: false,
        };
        let s = q.to_query();
        let raw: QuoteQuery = serde_json::from_value(serde_json::json!({
            "nonce": hex::encode(vec![7u8; 20]), "pcrs": "15,10,15", "log_offset": 3
        }))
        .unwrap();
        assert_eq!(QuoteRequest::parse(&raw).unwrap(), q);
        assert!(s.contains("pcrs=10,15"));
    }

    #[test]
    fn event_cursors_are_validated_and_round_trip() {
        let q = QuoteRequest {
            nonce: vec![7; 20],
            pcrs: vec![15],
            log_offset: 0,
            event_cursor: Some("a1b2:17".into()),
            ima_offset: None,
            boot_log: false,
        };
        assert!(q.to_query().ends_with("&event_cursor=a1b2%3A17"));
        let raw = |c: &str| QuoteQuery {
            nonce: hex::encode([7u8; 20]),
            pcrs: "15".into(),
            log_offset: 0,
            event_cursor: Some(c.into()),
            ima_offset: None,
            boot_log: false,
        };
        assert_eq!(QuoteRequest::parse(&raw("a1b2:17")).unwrap(), q);
        assert!(matches!(
            QuoteRequest::parse(&raw("nope")),
            Err(RequestError::BadCursor(_))
        ));
        assert!(QuoteRequest::parse(&raw(&format!("{}:1", "a".repeat(70)))).is_err());
    }

    #[test]
    fn ima_offset_and_boot_log_round_trip_through_the_query() {
        let q = QuoteRequest {
            nonce: vec![7; 20],
            pcrs: vec![0, 10, 15],
            log_offset: 0,
            event_cursor: None,
            ima_offset: Some(42),
            boot_log: true,
        };
        let s = q.to_query();
        assert!(s.ends_with("&ima_offset=42&boot_log=true"), "{s}");
        let raw: QuoteQuery = serde_json::from_value(serde_json::json!({
            "nonce": hex::encode([7u8; 20]), "pcrs": "0,10,15", "ima_offset": 42, "boot_log": true
        }))
        .unwrap();
        assert_eq!(QuoteRequest::parse(&raw).unwrap(), q);
    }

    #[test]
    fn rejects_bad_nonces_and_pcrs() {
        assert_eq!(parse_nonce("zz"), Err(RequestError::BadNonce));
        assert_eq!(parse_nonce(&"ab".repeat(15)), Err(RequestError::BadNonce));
        assert_eq!(parse_nonce(&"ab".repeat(65)), Err(RequestError::BadNonce));
        assert_eq!(parse_nonce(&"AB".repeat(20)), Err(RequestError::BadNonce));
        assert!(parse_nonce(&"ab".repeat(20)).is_ok());
        assert!(parse_pcrs("24").is_err());
        assert!(parse_pcrs("1,,2").is_err());
        assert!(parse_pcrs("").is_err());
        assert_eq!(parse_pcrs(" 15, 10").unwrap(), vec![10, 15]);
    }

    #[test]
    fn agent_ids() {
        assert!(valid_agent_id("web-01.example"));
        assert!(!valid_agent_id(""));
        assert!(!valid_agent_id("a/b"));
        assert!(!valid_agent_id(&"a".repeat(129)));
    }
}
