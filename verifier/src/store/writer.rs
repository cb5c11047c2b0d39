//! The store's result writer: one task stores every result, and the results that arrive while a
//! transaction is being written wait for the next, which stores them all (group commit). A
//! commit, with its `fsync`, was the largest single cost of storing a result; under load it is
//! now shared. A result is acknowledged only once its transaction committed; a batch that fails
//! is written again one result per transaction, so one bad result fails alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use palisade_evidence::verify::VerifiedState;
use sqlx::{Any, AnyPool, Row as _, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::tips::{PreviousVerified, Tip, Tips};
use super::{json, outbox, records, ResultRecord, Seal, StoreError};
use crate::audit::key::RecordKey;
use crate::audit::Check;

/// Most results in one transaction.
const MAX_BATCH: usize = 64;
/// Results waiting for the writer before `record` waits for room.
const QUEUE: usize = 1024;

/// One result to store, with everything it needs, owned.
pub(super) struct Job {
    pub result: ResultRecord,
    /// Documents by digest, without those the agent's tip says are stored.
    pub contents: BTreeMap<String, Vec<u8>>,
    pub state: Option<VerifiedState>,
    pub key: RecordKey,
    pub labels: BTreeMap<String, String>,
    pub check: Option<Check>,
    /// The agent's tip, if current when the result was handed over.
    pub tip: Option<Tip>,
    /// Whether state changes queue alerts (the store's setting when the result was handed over).
    pub alerts: bool,
    pub reply: oneshot::Sender<Result<i64, StoreError>>,
}

impl Job {
    /// Copies what storing needs; documents the tip knows are stored are left out.
    pub fn new(
        result: &ResultRecord,
        contents: &BTreeMap<String, Vec<u8>>,
        state: Option<&VerifiedState>,
        seal: &Seal<'_>,
        tip: Option<Tip>,
        alerts: bool,
    ) -> (Self, oneshot::Receiver<Result<i64, StoreError>>) {
        // Documents are never deleted: those the latest verified result judged are stored.
        let stored: BTreeSet<&str> = tip
            .iter()
            .filter_map(|t| t.verified.as_deref())
            .flat_map(|v| v.documents.values().map(String::as_str))
            .collect();
        let contents = contents
            .iter()
            .filter(|(digest, _)| !stored.contains(digest.as_str()))
            .map(|(d, c)| (d.clone(), c.clone()))
            .collect();
        let (reply, done) = oneshot::channel();
        let job = Self {
            result: result.clone(),
            contents,
            state: state.cloned(),
            key: seal.key.clone(),
            labels: seal.labels.clone(),
            check: seal.check.cloned(),
            tip,
            alerts,
            reply,
        };
        (job, done)
    }

    fn seal(&self) -> Seal<'_> {
        Seal {
            key: &self.key,
            labels: &self.labels,
            check: self.check.as_ref(),
            last_result_id: None,
        }
    }
}

/// What the writer needs of the store.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    pub pool: AnyPool,
    pub tips: Arc<Tips>,
}

impl Writer {
    /// Starts the writer task; it ends when every sender is dropped.
    pub fn spawn(self) -> mpsc::Sender<Job> {
        let (send, receive) = mpsc::channel(QUEUE);
        tokio::spawn(self.run(receive));
        send
    }

    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.store(std::mem::take(&mut batch)).await;
        }
    }

    /// Stores `batch` in one transaction, or each job in its own if that fails.
    async fn store(&self, batch: Vec<Job>) {
        if batch.len() > 1 {
            if let Ok(written) = self.write(&batch).await {
                for (job, tip) in batch.into_iter().zip(written) {
                    self.finish(job, Ok(tip));
                }
                return;
            }
        }
        for job in batch {
            let written = self.write_single(&job).await;
            self.finish(job, written);
        }
    }

    /// Remembers the agent's new tip and answers the job.
    fn finish(&self, job: Job, written: Result<Tip, StoreError>) {
        let agent = job.result.agent_id.as_str();
        let answer = written.map(|tip| {
            let id = tip.result_id;
            let verified = if job.result.documents.is_empty() {
                job.tip.map(|t| t.verified)
            } else {
                Some(Some(Arc::new(PreviousVerified {
                    id,
                    documents: job.result.documents.clone(),
                })))
            };
            match verified {
                Some(verified) => self.tips.set(agent, Tip { verified, ..tip }),
                // An error result with nothing remembered: the latest verified one is unknown.
                None => self.tips.forget(agent),
            }
            id
        });
        // The caller may have gone away; the result is stored either way.
        let _ = job.reply.send(answer);
    }

    /// Writes `jobs` in one transaction; each one's tip (its `verified` not yet decided).
    async fn write(&self, jobs: &[Job]) -> Result<Vec<Tip>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut written = Vec::with_capacity(jobs.len());
        for job in jobs {
            written.push(self.write_one(&mut tx, job).await?);
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn write_single(&self, job: &Job) -> Result<Tip, StoreError> {
        let mut tx = self.pool.begin().await?;
        let tip = self.write_one(&mut tx, job).await?;
        tx.commit().await?;
        Ok(tip)
    }

    async fn write_one(&self, tx: &mut Transaction<'_, Any>, job: &Job) -> Result<Tip, StoreError> {
        let result = &job.result;
        let agent = result.agent_id.as_str();
        let id: i64 = sqlx::query(
            "INSERT INTO results (agent_id, at, outcome, reasons, error, policy, duration_us, changes, events)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(agent)
        .bind(&result.at)
        .bind(result.outcome.as_str())
        .bind(json(&result.reasons))
        .bind(&result.error)
        .bind(result.policy.as_ref().map(json))
        .bind(result.duration_us)
        .bind(result.changes.as_ref().map(json))
        .bind(result.events.as_ref().map(json))
        .fetch_one(&mut **tx)
        .await?
        .try_get("id")?;
        for (digest, content) in &job.contents {
            sqlx::query("INSERT INTO documents (digest, content) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING")
                .bind(digest)
                .bind(content)
                .execute(&mut **tx)
                .await?;
        }
        link_documents(tx, id, &result.documents).await?;
        let head = job.tip.as_ref().map(|t| (t.seq, t.hash.clone()));
        let seal = job.seal();
        let (record, seq) = records::append(tx, result, id, &seal, head).await?;
        if job.alerts {
            outbox::queue_change(tx, result, id, &seal).await?;
        }
        sqlx::query(
            "UPDATE agents SET last_outcome = $2, last_result_id = $3, verified_state = COALESCE($4, verified_state),
                    missed_at = NULL
             WHERE id = $1",
        )
        .bind(agent)
        .bind(result.outcome.as_str())
        .bind(id)
        .bind(job.state.as_ref().map(json))
        .execute(&mut **tx)
        .await?;
        Ok(Tip {
            result_id: id,
            seq,
            hash: record.hash,
            verified: None,
        })
    }
}

/// Links a result to the documents it judged, in one statement (rows in chunks well under
/// SQLite's limit of bound parameters).
async fn link_documents(
    tx: &mut Transaction<'_, Any>,
    result_id: i64,
    documents: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    let rows: Vec<(&String, &String)> = documents.iter().collect();
    for chunk in rows.chunks(LINKS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
            .collect();
        let sql = format!(
            "INSERT INTO result_documents (result_id, key, digest) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (key, digest) in chunk {
            query = query.bind(result_id).bind(*key).bind(*digest);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Rows of `result_documents` per `INSERT` (3 parameters each).
const LINKS_PER_STATEMENT: usize = 100;
