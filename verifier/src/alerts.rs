//! Alerts on state changes of an agent (pass → fail, fail → pass, → error, enrolment), as
//! Alertmanager-compatible webhook JSON (`version` 4), HMAC-SHA256-signed. Alerts are written to
//! a persisted outbox in the same transaction as the result that caused them
//! (`store/outbox.rs`) and delivered by [`outbox::run`] with retries and backoff, so a restart
//! loses none.

pub mod cluster;
pub mod outbox;

use std::collections::BTreeMap;

use hmac::{Hmac, Mac as _};
use palisade_evidence::Reason;
use serde_json::{json, Value};

use crate::store::Outcome;

/// Header carrying `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "x-palisade-signature";
/// Header carrying the alert's outbox id: a receiver deduplicates redeliveries by it.
pub const ID_HEADER: &str = "x-palisade-alert-id";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The agent was activated (enrolled).
    Enrolled,
    /// Attestation failed (from pass, pending or error).
    Failed,
    /// The verifier could not attest (from pass, pending or fail).
    Unreachable,
    /// Passed again after a failure or an error.
    Recovered {
        /// The outcome it recovered from.
        from: Outcome,
    },
    /// A push-mode agent sent no evidence within its liveness window.
    Missed,
    /// A missed push-mode agent's evidence arrived again.
    Heard,
}

impl Change {
    /// The change from outcome `previous` (`pending` before the first) to `next`, if any
    /// deserves an alert. A first pass is the expected start and is not alerted.
    pub fn between(previous: &str, next: Outcome) -> Option<Self> {
        match (previous, next) {
            (p, n) if p == n.as_str() => None,
            ("pending", Outcome::Pass) => None,
            (_, Outcome::Fail) => Some(Self::Failed),
            (_, Outcome::Error) => Some(Self::Unreachable),
            ("fail", Outcome::Pass) => Some(Self::Recovered {
                from: Outcome::Fail,
            }),
            (_, Outcome::Pass) => Some(Self::Recovered {
                from: Outcome::Error,
            }),
        }
    }

    fn alertname(self) -> &'static str {
        match self {
            Self::Enrolled => "PalisadeAgentEnrolled",
            Self::Failed
            | Self::Recovered {
                from: Outcome::Fail,
            } => "PalisadeAttestationFailed",
            Self::Unreachable | Self::Recovered { .. } => "PalisadeAgentUnreachable",
            Self::Missed | Self::Heard => "PalisadeAgentMissed",
        }
    }

    fn severity(self) -> &'static str {
        match self {
            Self::Enrolled => "info",
            Self::Failed
            | Self::Recovered {
                from: Outcome::Fail,
            } => "critical",
            Self::Unreachable | Self::Recovered { .. } | Self::Missed | Self::Heard => "warning",
        }
    }
}

/// The result (or enrolment) an alert is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The agent.
    pub agent: &'a str,
    /// Its labels (copied into the alert's labels as `label_<name>`).
    pub labels: &'a BTreeMap<String, String>,
    /// When (RFC 3339).
    pub at: &'a str,
    /// The stored result, if the change came from one.
    pub result_id: Option<i64>,
    /// Why it failed.
    pub reasons: &'a [Reason],
    /// Why it could not be judged.
    pub error: Option<&'a str>,
    /// Semantic changes of documents since the previous verified result, with their writers.
    pub changes: Option<&'a Value>,
}

/// The Alertmanager webhook body (`version` 4) for `change` of `subject`; palisade's own detail
/// (reasons with their structured details, the semantic diff and writers) is under `palisade`.
pub fn payload(change: Change, subject: &Subject<'_>) -> Value {
    let status = match change {
        Change::Recovered { .. } | Change::Heard => "resolved",
        _ => "firing",
    };
    let mut labels = BTreeMap::from([
        ("alertname".to_owned(), change.alertname().to_owned()),
        ("agent".to_owned(), subject.agent.to_owned()),
        ("severity".to_owned(), change.severity().to_owned()),
    ]);
    for (k, v) in subject.labels {
        labels.insert(format!("label_{k}"), v.clone());
    }
    let summary = summary(change, subject);
    let description = description(subject);
    let (starts, ends) = match change {
        Change::Recovered { .. } | Change::Heard | Change::Enrolled => (subject.at, subject.at),
        _ => (subject.at, "0001-01-01T00:00:00Z"),
    };
    let alert = json!({
        "status": status,
        "labels": labels,
        "annotations": { "summary": summary, "description": description },
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "",
        "fingerprint": fingerprint(change.alertname(), subject.agent),
    });
    json!({
        "version": "4",
        "groupKey": format!("palisade/{}", subject.agent),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "palisade",
        "groupLabels": { "agent": subject.agent },
        "commonLabels": labels,
        "commonAnnotations": { "summary": summary, "description": description },
        "externalURL": "",
        "alerts": [alert],
        "palisade": {
            "agent": subject.agent,
            "result_id": subject.result_id,
            "reasons": subject.reasons,
            "error": subject.error,
            "changes": subject.changes,
        },
    })
}

fn summary(change: Change, s: &Subject<'_>) -> String {
    match change {
        Change::Enrolled => format!("agent {} enrolled", s.agent),
        Change::Failed => format!("agent {} failed attestation", s.agent),
        Change::Unreachable => format!("agent {} could not be attested", s.agent),
        Change::Recovered {
            from: Outcome::Fail,
        } => {
            format!("agent {} passes attestation again", s.agent)
        }
        Change::Recovered { .. } => format!("agent {} is attested again", s.agent),
        Change::Missed => format!("agent {} sent no evidence in time (missed)", s.agent),
        Change::Heard => format!("agent {} sends evidence again", s.agent),
    }
}

/// The reasons and the error, and the writers the changes name, one per line.
fn description(s: &Subject<'_>) -> String {
    let mut lines: Vec<String> = s.reasons.iter().map(ToString::to_string).collect();
    lines.extend(s.error.map(str::to_owned));
    if let Some(Value::Object(changes)) = s.changes {
        for (key, change) in changes {
            let writers = change
                .get("writers")
                .and_then(Value::as_array)
                .map(|w| {
                    w.iter()
                        .map(|w| {
                            format!("pid {} ({})", w["pid"], w["comm"].as_str().unwrap_or("?"))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|w| !w.is_empty());
            lines.push(match writers {
                Some(w) => format!("changed {key} by {w}"),
                None => format!("changed {key}"),
            });
        }
    }
    lines.join("\n")
}

/// Stable per (alert name, agent): Alertmanager's grouping key for the same problem.
fn fingerprint(alertname: &str, agent: &str) -> String {
    let digest = palisade_evidence::Sha256Digest::of(format!("{alertname}\0{agent}").as_bytes());
    digest.to_string().chars().take(16).collect()
}

/// `sha256=<hex>` HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length; this branch cannot be reached.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The webhook HMAC key in `path` (hex), created (32 random bytes, mode `0600`) if absent.
pub fn load_or_create_secret(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    match std::fs::read_to_string(path) {
        Ok(text) => hex::decode(text.trim()).map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not hex: {e}"))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
            let mut file = crate::audit::key::create_private(path)?;
            file.write_all(hex::encode(&secret).as_bytes())?;
            file.sync_all()?;
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
