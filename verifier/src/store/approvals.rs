//! Operator approvals (`require_approval`): given before an agent registers (pinning its EK by
//! fingerprint, from an inventory) or after it proved its TPM and waits; an approval's labels
//! override the ones the agent claims.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{corrupt, json, Store, StoreError};

/// An operator's approval of one agent id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The agent it approves.
    pub agent_id: String,
    /// The only EK (SHA-256 of its public area, hex) this id may enrol with, if pinned.
    pub ek_fingerprint: Option<String>,
    /// Labels set on the agent, over the ones it claims.
    pub labels: BTreeMap<String, String>,
    /// The credential that approved it.
    pub approved_by: String,
    /// When (RFC 3339).
    pub approved_at: String,
}

impl Approval {
    /// `claimed` with this approval's labels set over it.
    pub fn labels_over(&self, claimed: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut labels = claimed.clone();
        labels.extend(self.labels.clone());
        labels
    }
}

impl Store {
    /// Stores `approval` (replacing an earlier one for the id) and, if the agent is enrolled,
    /// clears its wait and sets the approval's labels over its own, in one transaction.
    /// Returns whether an enrolled agent was released.
    pub async fn approve(&self, approval: &Approval) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO approvals (agent_id, ek_fingerprint, labels, approved_by, approved_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (agent_id) DO UPDATE SET ek_fingerprint = $2, labels = $3,
                    approved_by = $4, approved_at = $5",
        )
        .bind(&approval.agent_id)
        .bind(&approval.ek_fingerprint)
        .bind(json(&approval.labels))
        .bind(&approval.approved_by)
        .bind(&approval.approved_at)
        .execute(&mut *tx)
        .await?;
        let stored: Option<String> = sqlx::query_scalar("SELECT labels FROM agents WHERE id = $1")
            .bind(&approval.agent_id)
            .fetch_optional(&mut *tx)
            .await?;
        let released = match stored {
            None => false,
            Some(stored) => {
                let claimed = serde_json::from_str(&stored).map_err(corrupt("labels"))?;
                sqlx::query("UPDATE agents SET awaiting_approval = 0, labels = $2 WHERE id = $1")
                    .bind(&approval.agent_id)
                    .bind(json(&approval.labels_over(&claimed)))
                    .execute(&mut *tx)
                    .await?;
                true
            }
        };
        tx.commit().await?;
        Ok(released)
    }

    /// The approval of `agent_id`, if any.
    pub async fn approval(&self, agent_id: &str) -> Result<Option<Approval>, StoreError> {
        let row = sqlx::query("SELECT * FROM approvals WHERE agent_id = $1")
            .bind(agent_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(approval_from_row).transpose()
    }

    /// Every approval, by agent id.
    pub async fn approvals(&self) -> Result<Vec<Approval>, StoreError> {
        let rows = sqlx::query("SELECT * FROM approvals ORDER BY agent_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(approval_from_row).collect()
    }
}

fn approval_from_row(row: &AnyRow) -> Result<Approval, StoreError> {
    let labels: String = row.try_get("labels")?;
    Ok(Approval {
        agent_id: row.try_get("agent_id")?,
        ek_fingerprint: row.try_get("ek_fingerprint")?,
        labels: serde_json::from_str(&labels).map_err(corrupt("labels"))?,
        approved_by: row.try_get("approved_by")?,
        approved_at: row.try_get("approved_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    fn approval(id: &str, labels: &[(&str, &str)]) -> Approval {
        Approval {
            agent_id: id.into(),
            ek_fingerprint: Some("ab".repeat(32)),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            approved_by: "operator".into(),
            approved_at: super::super::now(),
        }
    }

    testing::on_each_backend!(an_approval_releases_a_waiting_agent_and_its_labels_win);

    async fn an_approval_releases_a_waiting_agent_and_its_labels_win(db: &testing::Db) {
        let store = db.open().await;
        // Given before the agent exists: stored, nothing released.
        assert!(!store.approve(&approval("early", &[])).await.unwrap());
        assert_eq!(
            store.approval("early").await.unwrap().unwrap().agent_id,
            "early"
        );

        testing::register(&store, &testing::request("a1", "https://x")).await;
        let pending = store.pending("a1").await.unwrap().unwrap();
        store
            .activate(&pending, "unverified: test", None, true)
            .await
            .unwrap();
        let waiting = store.agent("a1").await.unwrap().unwrap();
        assert_eq!(waiting.state(), "awaiting_approval");
        assert!(
            store.active_ids().await.unwrap().is_empty(),
            "a waiting agent is scheduled"
        );

        assert!(store
            .approve(&approval("a1", &[("role", "db"), ("zone", "b")]))
            .await
            .unwrap());
        let released = store.agent("a1").await.unwrap().unwrap();
        assert_eq!(released.state(), "pending");
        assert_eq!(released.labels["role"], "db", "the approval's label wins");
        assert_eq!(released.labels["zone"], "b");
        assert_eq!(
            store.active_ids().await.unwrap(),
            [("a1".to_owned(), false)]
        );
        let ids: Vec<String> = store
            .approvals()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.agent_id)
            .collect();
        assert_eq!(ids, ["a1", "early"]);
    }
}
