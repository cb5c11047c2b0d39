//! Results in the store: each stored with the documents it judged, its durable record and the
//! agent's new verification state in one transaction, and read back by agent, id or chain.

use std::collections::BTreeMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::tips::PreviousVerified;
use super::writer::{Job, Writer};
use super::{corrupt, ResultRecord, Seal, Store, StoreError};
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
        let tip = self.tips.current(&result.agent_id, seal.last_result_id);
        let (job, done) = Job::new(result, contents, state, seal, tip, self.alerts);
        self.result_writer()
            .send(job)
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        done.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// The result writer, started on first use.
    fn result_writer(&self) -> &tokio::sync::mpsc::Sender<Job> {
        self.results.get_or_init(|| {
            Writer {
                pool: self.writer.clone(),
                backend: self.backend,
                tips: self.tips.clone(),
            }
            .spawn()
        })
    }

    /// The agent's latest verified result, `last_result_id` being its latest result as its row
    /// names it: from the remembered tip when that is current, else from the database.
    pub async fn previous_verified_since(
        &self,
        agent_id: &str,
        last_result_id: Option<i64>,
    ) -> Result<Option<Arc<PreviousVerified>>, StoreError> {
        if let Some(tip) = self.tips.current(agent_id, last_result_id) {
            return Ok(tip.verified);
        }
        Ok(self.previous_verified(agent_id).await?.map(|r| {
            Arc::new(PreviousVerified {
                id: r.id,
                documents: r.documents,
            })
        }))
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
