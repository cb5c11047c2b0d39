//! Results in the store: each stored with the documents it judged, its durable record and the
//! agent's new verification state in one transaction, and read back by agent, id or chain.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::{corrupt, json, records, ResultRecord, Seal, Store, StoreError};
use palisade_evidence::verify::VerifiedState;

impl Store {
    /// Stores a result, the documents it judged or received (`contents` by digest,
    /// deduplicated), its durable record (appended to the agent's chain) and, when given, the
    /// agent's new verification state, atomically.
    pub async fn record(
        &self,
        result: &ResultRecord,
        contents: &BTreeMap<String, Vec<u8>>,
        state: Option<&VerifiedState>,
        seal: &Seal<'_>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO results (agent_id, at, outcome, reasons, error, policy, duration_us, changes, events)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(&result.agent_id)
        .bind(&result.at)
        .bind(result.outcome.as_str())
        .bind(json(&result.reasons))
        .bind(&result.error)
        .bind(result.policy.as_ref().map(json))
        .bind(result.duration_us)
        .bind(result.changes.as_ref().map(json))
        .bind(result.events.as_ref().map(json))
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for (digest, content) in contents {
            sqlx::query("INSERT INTO documents (digest, content) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING")
                .bind(digest)
                .bind(content)
                .execute(&mut *tx)
                .await?;
        }
        for (key, digest) in &result.documents {
            sqlx::query(
                "INSERT INTO result_documents (result_id, key, digest) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(key)
            .bind(digest)
            .execute(&mut *tx)
            .await?;
        }
        records::append(&mut tx, result, id, seal).await?;
        if self.alerts {
            self.queue_change(&mut tx, result, id, seal).await?;
        }
        let state = state.map(json);
        sqlx::query(
            "UPDATE agents SET last_outcome = $2, last_result_id = $3, verified_state = COALESCE($4, verified_state),
                    missed_at = NULL
             WHERE id = $1",
        )
        .bind(&result.agent_id)
        .bind(result.outcome.as_str())
        .bind(id)
        .bind(state)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The latest `limit` results of an agent, newest first.
    pub async fn results(
        &self,
        agent_id: &str,
        limit: u32,
    ) -> Result<Vec<ResultRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM results WHERE agent_id = $1 ORDER BY id DESC LIMIT $2")
                .bind(agent_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        let mut results: Vec<ResultRecord> =
            rows.iter().map(result_from_row).collect::<Result<_, _>>()?;
        for r in &mut results {
            r.documents = self.result_documents(r.id).await?;
        }
        Ok(results)
    }

    /// One result by id.
    pub async fn result(
        &self,
        agent_id: &str,
        id: i64,
    ) -> Result<Option<ResultRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM results WHERE agent_id = $1 AND id = $2")
            .bind(agent_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        self.with_documents(row).await
    }

    /// `row` as a result, with the digests of the documents it judged.
    async fn with_documents(
        &self,
        row: Option<AnyRow>,
    ) -> Result<Option<ResultRecord>, StoreError> {
        let Some(mut r) = row.as_ref().map(result_from_row).transpose()? else {
            return Ok(None);
        };
        r.documents = self.result_documents(r.id).await?;
        Ok(Some(r))
    }

    /// The document digests a result judged.
    pub async fn result_documents(
        &self,
        result_id: i64,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT key, digest FROM result_documents WHERE result_id = $1")
            .bind(result_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("key")?, r.try_get("digest")?)))
            .collect()
    }

    /// A stored document's bytes.
    pub async fn document(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT content FROM documents WHERE digest = $1")
            .bind(digest)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.try_get("content"))
            .transpose()
            .map_err(StoreError::from)
    }

    /// The newest result of `agent_id` that judged documents (a verified chain).
    pub async fn previous_verified(
        &self,
        agent_id: &str,
    ) -> Result<Option<ResultRecord>, StoreError> {
        let row = sqlx::query(
            // A correlated EXISTS walks the agent's results newest first and stops at the first
            // verified one; `id IN (SELECT ...)` built a set of every result ever stored.
            "SELECT * FROM results r WHERE r.agent_id = $1
               AND EXISTS (SELECT 1 FROM result_documents d WHERE d.result_id = r.id)
             ORDER BY r.id DESC LIMIT 1",
        )
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await?;
        self.with_documents(row).await
    }
}

fn result_from_row(row: &AnyRow) -> Result<ResultRecord, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    let reasons: String = row.try_get("reasons")?;
    let policy: Option<String> = row.try_get("policy")?;
    let changes: Option<String> = row.try_get("changes")?;
    let events: Option<String> = row.try_get("events")?;
    Ok(ResultRecord {
        id: row.try_get("id")?,
        agent_id: row.try_get("agent_id")?,
        at: row.try_get("at")?,
        outcome: serde_json::from_value(serde_json::Value::String(outcome))
            .map_err(corrupt("outcome"))?,
        reasons: serde_json::from_str(&reasons).map_err(corrupt("reasons"))?,
        error: row.try_get("error")?,
        policy: policy
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(corrupt("policy"))?,
        duration_us: row.try_get("duration_us")?,
        documents: BTreeMap::new(),
        changes: changes
            .map(|c| serde_json::from_str(&c))
            .transpose()
            .map_err(corrupt("changes"))?,
        events: events
            .map(|e| serde_json::from_str(&e))
            .transpose()
            .map_err(corrupt("events"))?,
    })
}
