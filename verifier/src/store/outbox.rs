//! The alert outbox in the store: alerts are inserted inside the transaction of the result or
//! activation that caused them, then claimed, marked delivered or rescheduled by the deliverer.

use sqlx::{Any, Row as _, Transaction};

use super::{ResultRecord, Seal, Store, StoreError};
use crate::alerts;

/// One undelivered alert.
#[derive(Debug, Clone)]
pub struct PendingAlert {
    /// Outbox id (the receiver's deduplication key).
    pub id: i64,
    /// The agent.
    pub agent_id: String,
    /// The webhook body, verbatim.
    pub payload: String,
    /// Attempts so far.
    pub attempts: u32,
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Queues `payload` for `agent_id` inside `tx`, due at once.
pub(super) async fn enqueue(
    tx: &mut Transaction<'_, Any>,
    agent_id: &str,
    at: &str,
    payload: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO alerts (agent_id, at, payload, next_attempt_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(agent_id)
    .bind(at)
    .bind(payload.to_string())
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Queues `payload` about `agent_id` (cluster findings: the constraint) on its own, when
    /// alerts are on. Returns whether it was queued.
    pub async fn queue_alert(
        &self,
        agent_id: &str,
        payload: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        if !self.alerts {
            return Ok(false);
        }
        let mut tx = self.writer.begin().await?;
        enqueue(&mut tx, agent_id, &super::now(), payload).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Undelivered alerts due now, oldest first.
    pub async fn due_alerts(&self, limit: u32) -> Result<Vec<PendingAlert>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agent_id, payload, attempts FROM alerts
             WHERE delivered_at IS NULL AND next_attempt_ms <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now_ms())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let attempts: i64 = r.try_get("attempts")?;
                Ok(PendingAlert {
                    id: r.try_get("id")?,
                    agent_id: r.try_get("agent_id")?,
                    payload: r.try_get("payload")?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// Marks an alert delivered.
    pub async fn alert_delivered(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts SET delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1")
            .bind(id)
            .bind(super::now())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn alert_failed(
        &self,
        id: i64,
        error: &str,
        retry_at_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE alerts SET attempts = attempts + 1, last_error = $2, next_attempt_ms = $3 WHERE id = $1")
            .bind(id)
            .bind(error)
            .bind(retry_at_ms)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Undelivered alerts (the outbox depth).
    pub async fn outbox_depth(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query("SELECT COUNT(*) AS n FROM alerts WHERE delivered_at IS NULL")
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?,
        )
    }
}

/// Queues the alerts `result` raises: a change from the agent's `previous` outcome (as its row
/// held it before this result), and "heard from again" when the row had it marked missed.
pub(super) async fn queue_change(
    tx: &mut Transaction<'_, Any>,
    result: &ResultRecord,
    id: i64,
    seal: &Seal<'_>,
    (previous, missed_at): (&str, Option<&str>),
) -> Result<(), StoreError> {
    let heard = missed_at.is_some().then_some(alerts::Change::Heard);
    let changed = alerts::Change::between(previous, result.outcome);
    let subject = alerts::Subject {
        agent: &result.agent_id,
        labels: seal.labels,
        at: &result.at,
        result_id: Some(id),
        reasons: &result.reasons,
        error: result.error.as_deref(),
        changes: result.changes.as_ref(),
    };
    for change in heard.into_iter().chain(changed) {
        let payload = alerts::payload(change, &subject);
        enqueue(tx, &result.agent_id, &result.at, &payload).await?;
    }
    Ok(())
}
