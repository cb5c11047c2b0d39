//! The store's result writer: one task stores every result, and the results that arrive while a
//! transaction is being written wait for the next, which stores them all (group commit). A
//! commit, with its `fsync`, was the largest single cost of storing a result; under load it is
//! now shared. A result is acknowledged only once its transaction committed; a batch that fails
//! is written again one result per transaction, so one bad result fails alone.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use palisade_evidence::verify::VerifiedState;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Row as _, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::tips::{PreviousVerified, Tip, Tips};
use super::{json, outbox, records, Backend, ResultRecord, Seal, StoreError};
use crate::audit::key::RecordKey;
use crate::audit::{Check, SignedRecord};

/// Stores a sealed record: `$1` agent, `$2` seq, `$3` result id, `$4` body, `$5` hash, `$6`
/// signature. A macro, so that [`SQLITE_FINISH`] can include it.
macro_rules! insert_record {
    () => {
        "INSERT INTO records (agent_id, seq, result_id, body, hash, signature) VALUES ($1, $2, $3, $4, $5, $6)"
    };
}

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
    pub backend: Backend,
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
        let row = sqlx::query(INSERT_RESULT)
            .bind(result.agent_id.as_str())
            .bind(&result.at)
            .bind(result.outcome.as_str())
            .bind(json(&result.reasons))
            .bind(&result.error)
            .bind(result.policy.as_ref().map(json))
            .bind(result.duration_us)
            .bind(result.changes.as_ref().map(json))
            .bind(result.events.as_ref().map(json))
            .fetch_one(&mut **tx)
            .await?;
        let id: i64 = row.try_get("id")?;
        let previous: Option<String> = row.try_get("previous_outcome")?;
        let missed_at: Option<String> = row.try_get("previous_missed_at")?;
        for (digest, content) in &job.contents {
            sqlx::query("INSERT INTO documents (digest, content) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING")
                .bind(digest)
                .bind(content)
                .execute(&mut **tx)
                .await?;
        }
        let head = job.tip.as_ref().map(|t| (t.seq, t.hash.clone()));
        let seal = job.seal();
        let (record, seq) = records::seal_next(tx, result, id, &seal, head).await?;
        // No previous outcome: the agent has no row (and the result's foreign key refuses it).
        if let (true, Some(previous)) = (job.alerts, previous.as_deref()) {
            outbox::queue_change(tx, result, id, &seal, (previous, missed_at.as_deref())).await?;
        }
        let state = job.state.as_ref().map(json);
        match self.backend {
            Backend::Sqlite => {
                // One round trip to the connection's thread for the three statements.
                bind_record(sqlx::query(SQLITE_FINISH), &record, seq, id)
                    .bind(json(&result.documents))
                    .bind(result.outcome.as_str())
                    .bind(state)
                    .execute(&mut **tx)
                    .await?;
            }
            Backend::Postgres => {
                bind_record(sqlx::query(insert_record!()), &record, seq, id)
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(POSTGRES_LINK_DOCUMENTS)
                    .bind(id)
                    .bind(json(&result.documents))
                    .execute(&mut **tx)
                    .await?;
                sqlx::query(POSTGRES_UPDATE_AGENT)
                    .bind(&record.agent)
                    .bind(result.outcome.as_str())
                    .bind(id)
                    .bind(state)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        Ok(Tip {
            result_id: id,
            seq,
            hash: record.hash,
            verified: None,
        })
    }
}

/// `query` with [`insert_record`]'s parameters `$1`–`$6` bound for `record`, the `seq`th of
/// its agent's chain, sealing result `result_id`.
fn bind_record<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    record: &'q SignedRecord,
    seq: i64,
    result_id: i64,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(&record.agent)
        .bind(seq)
        .bind(result_id)
        .bind(&record.body)
        .bind(&record.hash)
        .bind(&record.signature)
}

/// Stores a result; returns its id and the agent's outcome and missed mark before it (the row
/// is updated later in the transaction), from which the alerts it raises follow.
const INSERT_RESULT: &str =
    "INSERT INTO results (agent_id, at, outcome, reasons, error, policy, duration_us, changes, events)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     RETURNING id, (SELECT last_outcome FROM agents WHERE id = $1) AS previous_outcome,
               (SELECT missed_at FROM agents WHERE id = $1) AS previous_missed_at";

/// On SQLite, the rest of a result in one statement list, so one round trip to sqlx's
/// connection thread (each round trip is two thread wake-ups): the record
/// ([`insert_record`]'s parameters `$1`–`$6`), the links to the judged documents (`$7`, a JSON object of key to digest), and the
/// agent's row (`$8` outcome, `$9` verified state or NULL to keep it).
const SQLITE_FINISH: &str = concat!(
    insert_record!(),
    ";
     INSERT INTO result_documents (result_id, key, digest) SELECT $3, key, value FROM json_each($7);
     UPDATE agents SET last_outcome = $8, last_result_id = $3, verified_state = COALESCE($9, verified_state),
                       missed_at = NULL
     WHERE id = $1"
);

/// On PostgreSQL, links of result `$1` to its documents, `$2` a JSON object of key to digest.
const POSTGRES_LINK_DOCUMENTS: &str = "INSERT INTO result_documents (result_id, key, digest)
     SELECT $1, key, value FROM json_each_text($2::json)";

/// On PostgreSQL, the agent's row after result `$3`: `$2` outcome, `$4` verified state or NULL.
const POSTGRES_UPDATE_AGENT: &str =
    "UPDATE agents SET last_outcome = $2, last_result_id = $3, verified_state = COALESCE($4, verified_state),
                       missed_at = NULL
     WHERE id = $1";
