//! Delivery of the alert outbox: every due alert is POSTed to the webhook, signed; a 2xx marks it
//! delivered, anything else reschedules it with exponential backoff. At-least-once: a crash
//! between the receiver's 2xx and the mark redelivers, with the same `x-palisade-alert-id`.

use std::time::Duration;

use crate::store::{now_ms, PendingAlert, Store};

use super::{sign, ID_HEADER, SIGNATURE_HEADER};

/// How often the outbox is read for due alerts.
pub const POLL: Duration = Duration::from_millis(200);
/// First retry delay; doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Where alerts go.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The receiver's URL.
    pub url: String,
    /// The HMAC key the receiver checks signatures with.
    pub secret: Vec<u8>,
    /// The HTTP client (its TLS roots trust the receiver).
    pub client: reqwest::Client,
}

/// Delay before attempt `attempts + 1`.
pub fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF
        .checked_mul(2u32.saturating_pow(attempts.min(16)))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

/// Delivers due alerts forever.
pub async fn run(store: Store, webhook: Webhook) {
    loop {
        match store.due_alerts(64).await {
            Ok(due) => {
                for alert in due {
                    deliver(&store, &webhook, &alert).await;
                }
            }
            Err(error) => tracing::error!(%error, "cannot read the alert outbox"),
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn deliver(store: &Store, webhook: &Webhook, alert: &PendingAlert) {
    let sent = webhook
        .client
        .post(&webhook.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(ID_HEADER, alert.id.to_string())
        .header(
            SIGNATURE_HEADER,
            sign(&webhook.secret, alert.payload.as_bytes()),
        )
        .body(alert.payload.clone())
        .send()
        .await;
    let failure = match sent {
        Ok(r) if r.status().is_success() => None,
        Ok(r) => Some(format!("receiver answered {}", r.status())),
        Err(e) => Some(format!("cannot reach the receiver: {e}")),
    };
    let stored = match &failure {
        None => {
            tracing::info!(alert = alert.id, agent_id = %alert.agent_id, "alert delivered");
            store.alert_delivered(alert.id).await
        }
        Some(error) => {
            let delay = backoff(alert.attempts);
            tracing::warn!(alert = alert.id, agent_id = %alert.agent_id, %error, retry_in = ?delay, "alert not delivered");
            let retry_at = now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
            store.alert_failed(alert.id, error, retry_at).await
        }
    };
    if let Err(error) = stored {
        tracing::error!(%error, alert = alert.id, "cannot update the alert outbox");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(500));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(7), Duration::from_secs(60));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(60));
    }
}
