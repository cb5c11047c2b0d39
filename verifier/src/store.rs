//! Durable state in SQLite (WAL, embedded) or PostgreSQL: enrolled agents, their verification
//! state, and every result. Queries are plain `sqlx::query` with `$N` parameters through sqlx's
//! `Any` driver, written in the SQL both databases share; each has its schema in
//! `migrations/<backend>/`, with the same migration numbers.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use palisade_cluster_policy::PolicyRef;

use crate::alerts;
use palisade_evidence::verify::VerifiedState;
use palisade_evidence::wire::RegisterRequest;
use palisade_evidence::Reason;
use serde::{Deserialize, Serialize};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database or the driver failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The database URL names no supported backend.
    #[error("database URL scheme {0:?} is not supported (use sqlite: or postgres://)")]
    Url(String),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A record could not be put in canonical form and signed.
    #[error("sealing the durable record: {0}")]
    Seal(String),
    /// The task that stores results is gone (the runtime is shutting down).
    #[error("the result writer stopped")]
    WriterStopped,
    /// A stored JSON column does not decode.
    #[error("database column {column} is corrupt: {reason}")]
    Corrupt {
        /// Which column.
        column: &'static str,
        /// Decode error.
        reason: String,
    },
}

/// Lifecycle of an enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Challenge issued, not yet activated.
    Registered,
    /// Activated and monitored.
    Active,
}

/// Result of one attestation attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check passed.
    Pass,
    /// The evidence was judged and rejected.
    Fail,
    /// The verifier could not judge (unreachable agent, timeout): never a pass, never tamper.
    Error,
}

impl Outcome {
    /// Stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }
}

/// An enrolled agent.
#[derive(Debug, Clone, Serialize)]
pub struct AgentRecord {
    /// Identifier.
    pub id: String,
    /// EK public area (TPMT_PUBLIC).
    #[serde(skip)]
    pub ek_public: Vec<u8>,
    /// EK certificate (base64 DER), if sent.
    #[serde(skip)]
    pub ek_certificate: Option<String>,
    /// AK public area (TPMT_PUBLIC).
    #[serde(skip)]
    pub ak_public: Vec<u8>,
    /// Pull API base URL.
    pub contact: String,
    /// Pinned TLS certificate (PEM).
    #[serde(skip)]
    pub tls_certificate: String,
    /// Dedicated PCR.
    pub pcr: u8,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Enrolment status.
    pub status: AgentStatus,
    /// Verification state.
    #[serde(skip)]
    pub state: VerifiedState,
    /// Outcome of the latest attestation (`pending` before the first).
    pub last_outcome: String,
    /// When it registered.
    pub registered_at: String,
    /// When it was activated.
    pub activated_at: Option<String>,
    /// The EK certificate check (`verified: …` or `unverified: <why>`).
    pub ek_status: String,
    /// Push mode: the agent sends its evidence; it is never pulled.
    pub push: bool,
    /// Since when a push-mode agent's evidence is overdue (its state is `missed`).
    pub missed_at: Option<String>,
    /// Its latest stored result, when it has one (the store checks its remembered chain tip
    /// against it).
    #[serde(skip)]
    pub last_result_id: Option<i64>,
    /// It proved its TPM but waits for an operator's approval (`require_approval`).
    pub awaiting_approval: bool,
}

impl AgentRecord {
    /// An active, pending agent with no keys (unit tests of logic around agents).
    #[cfg(test)]
    pub fn for_tests(id: &str, pcr: u8) -> Self {
        Self {
            id: id.into(),
            ek_public: Vec::new(),
            ek_certificate: None,
            ak_public: Vec::new(),
            contact: String::new(),
            tls_certificate: String::new(),
            pcr,
            labels: BTreeMap::new(),
            status: AgentStatus::Active,
            state: Default::default(),
            last_outcome: "pending".into(),
            registered_at: String::new(),
            activated_at: None,
            ek_status: "unverified: test".into(),
            push: false,
            missed_at: None,
            last_result_id: None,
            awaiting_approval: false,
        }
    }

    /// `registered`, `awaiting_approval`, `missed`, or the latest outcome (`pending` before
    /// the first).
    pub fn state(&self) -> &str {
        match (self.status, &self.missed_at) {
            (AgentStatus::Registered, _) => "registered",
            _ if self.awaiting_approval => "awaiting_approval",
            (_, Some(_)) => "missed",
            _ => &self.last_outcome,
        }
    }

    /// Activated and not waiting for approval: attested, pulled or pushed.
    pub fn monitored(&self) -> bool {
        self.status == AgentStatus::Active && !self.awaiting_approval
    }
}

/// A registration awaiting activation.
#[derive(Debug, Clone)]
pub struct Pending {
    /// What the agent sent.
    pub request: RegisterRequest,
    /// The challenge secret.
    pub secret: Vec<u8>,
    /// Expiry (RFC 3339).
    pub expires: String,
}

/// A stored result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResultRecord {
    /// Row id (increasing).
    pub id: i64,
    /// Agent.
    pub agent_id: String,
    /// When (RFC 3339).
    pub at: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Failed checks.
    pub reasons: Vec<Reason>,
    /// Why the verifier could not judge.
    pub error: Option<String>,
    /// The policy that judged.
    pub policy: Option<PolicyRef>,
    /// Duration of the attestation in microseconds.
    pub duration_us: i64,
    /// Digests of the verified documents this result judged, by `kind/name`.
    #[serde(default)]
    pub documents: BTreeMap<String, String>,
    /// Semantic changes of documents since the previous verified result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<serde_json::Value>,
    /// The attributed runtime events the evidence carried (its event slice), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<serde_json::Value>,
}

/// The database.
#[derive(Debug, Clone)]
pub struct Store {
    /// The database it runs on.
    backend: Backend,
    /// Reads.
    pool: AnyPool,
    /// Writes. On SQLite one connection: writers queue for it instead of meeting each other at
    /// the database's write lock, where SQLite's busy handler sleeps in steps of milliseconds.
    /// On PostgreSQL the same pool as reads.
    writer: AnyPool,
    /// Whether state changes queue alerts in the outbox (a webhook is configured).
    alerts: bool,
    /// Each agent's latest stored result, as far as this process stored it.
    tips: Arc<tips::Tips>,
    /// The task that stores results (`store/writer`), started by the first one.
    results: Arc<OnceLock<tokio::sync::mpsc::Sender<writer::Job>>>,
}

fn corrupt(column: &'static str) -> impl FnOnce(serde_json::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_owned())
}

/// RFC 3339 UTC now.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The databases the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite in WAL mode (`sqlite:` URLs), the default.
    Sqlite,
    /// A PostgreSQL server (`postgres://` or `postgresql://` URLs).
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Url(
                url.split(':').next().unwrap_or_default().to_owned(),
            ))
        }
    }
}

/// Set on every SQLite connection: write-ahead log, durable commits, enforced foreign keys,
/// and waiting (not failing with "database is locked") while another connection writes.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                              PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Set on the writing connection too: a page cache of up to 32 MiB (SQLite's default of 2 MiB
/// had the writer reading index pages back from the file at 10k agents). Not on readers: a
/// reader drops its whole cache whenever another connection has committed, which a bigger cache
/// only makes slower.
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA cache_size = -32768;";

/// Connections reading a SQLite store.
const SQLITE_READERS: u32 = 4;

/// A pool of `connections` to a SQLite file, each with [`SQLITE_PRAGMAS`] and `more`.
async fn sqlite_pool(
    url: &str,
    connections: u32,
    more: &'static str,
) -> Result<AnyPool, StoreError> {
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        // An embedded file has no connection to lose: pinging it before every query only
        // doubled the round trips to sqlx's connection threads.
        .test_before_acquire(false)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                sqlx::Executor::execute(&mut *conn, SQLITE_PRAGMAS).await?;
                if !more.is_empty() {
                    sqlx::Executor::execute(conn, more).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?)
}

/// `url` with `mode=rwc` (create the file if missing) unless it sets a mode or is in memory.
fn sqlite_create_if_missing(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite:` is created if missing; `postgres://` must
    /// exist) and runs its migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(url)?;
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let url = sqlite_create_if_missing(url);
                // Every connection to `:memory:` is a database of its own: one for everything.
                let in_memory = url.contains(":memory:");
                let readers = if in_memory { 1 } else { SQLITE_READERS };
                let pool = sqlite_pool(&url, readers, "").await?;
                sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
                let writer = if in_memory {
                    pool.clone()
                } else {
                    sqlite_pool(&url, 1, SQLITE_WRITER_PRAGMAS).await?
                };
                (pool, writer)
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                sqlx::migrate!("./migrations/postgres").run(&pool).await?;
                (pool.clone(), pool)
            }
        };
        Ok(Self {
            backend,
            pool,
            writer,
            alerts: false,
            tips: Arc::default(),
            results: Arc::default(),
        })
    }

    /// Queue an alert in the outbox on every state change from now on (a webhook delivers
    /// them). Off by default: without a receiver the outbox would only grow.
    pub fn with_alerts(mut self, on: bool) -> Self {
        self.alerts = on;
        self
    }

    /// Stores a registration awaiting activation (creating the agent row if new).
    pub async fn register(
        &self,
        req: &RegisterRequest,
        secret: &[u8],
        expires: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agents (id, ek_public, ek_certificate, ak_public, contact, tls_certificate, pcr, labels,
                                 status, pending, challenge_secret, challenge_expires, registered_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'registered', $9, $10, $11, $12)
             ON CONFLICT (id) DO UPDATE SET pending = $9, challenge_secret = $10, challenge_expires = $11",
        )
        .bind(&req.agent_id)
        .bind(&req.ek_public)
        .bind(&req.ek_certificate)
        .bind(&req.ak_public)
        .bind(&req.contact)
        .bind(&req.tls_certificate)
        .bind(i64::from(req.pcr))
        .bind(json(&req.labels))
        .bind(json(req))
        .bind(secret)
        .bind(expires)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The pending registration of an agent.
    pub async fn pending(&self, id: &str) -> Result<Option<Pending>, StoreError> {
        let row = sqlx::query("SELECT pending, challenge_secret, challenge_expires FROM agents WHERE id = $1 AND pending IS NOT NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let request: String = row.try_get("pending")?;
        Ok(Some(Pending {
            request: serde_json::from_str(&request).map_err(corrupt("pending"))?,
            secret: row.try_get("challenge_secret")?,
            expires: row.try_get("challenge_expires")?,
        }))
    }

    /// Applies the pending registration and marks the agent active: monitored, or waiting for
    /// an operator when approval is required and `approval` is `None`. An approval's labels
    /// are set over the ones the agent claims.
    pub async fn activate(
        &self,
        pending: &Pending,
        ek_status: &str,
        approval: Option<&Approval>,
        require_approval: bool,
    ) -> Result<(), StoreError> {
        let req = &pending.request;
        let labels = approval.map_or_else(|| req.labels.clone(), |a| a.labels_over(&req.labels));
        let awaiting = require_approval && approval.is_none();
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE agents SET contact = $2, tls_certificate = $3, labels = $4, ek_certificate = $5,
                    status = 'active', pending = NULL, challenge_secret = NULL, challenge_expires = NULL,
                    activated_at = $6, ek_status = $7, push = $8, missed_at = NULL,
                    awaiting_approval = $9
             WHERE id = $1",
        )
        .bind(&req.agent_id)
        .bind(&req.contact)
        .bind(&req.tls_certificate)
        .bind(json(&labels))
        .bind(&req.ek_certificate)
        .bind(now())
        .bind(ek_status)
        .bind(i64::from(req.push))
        .bind(i64::from(awaiting))
        .execute(&mut *tx)
        .await?;
        if self.alerts {
            let at = now();
            let subject = alerts::Subject {
                agent: &req.agent_id,
                labels: &labels,
                at: &at,
                result_id: None,
                reasons: &[],
                error: None,
                changes: None,
            };
            let payload = alerts::payload(alerts::Change::Enrolled, &subject);
            outbox::enqueue(&mut tx, &req.agent_id, &at, &payload).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One agent.
    pub async fn agent(&self, id: &str) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM agents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Every agent, active or not, by id.
    pub async fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM agents ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// Ids of the monitored agents (activated, not awaiting approval), by id, each with
    /// whether it is in push mode.
    pub async fn active_ids(&self) -> Result<Vec<(String, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, push FROM agents WHERE status = 'active' AND awaiting_approval = 0 ORDER BY id",
        )
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get::<i64, _>("push")? != 0)))
            .collect()
    }

    /// Agents by state: `registered` (never activated), else their latest outcome (`pending`
    /// before the first).
    pub async fn agent_states(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT CASE WHEN status = 'registered' THEN 'registered'
                         WHEN awaiting_approval = 1 THEN 'awaiting_approval'
                         WHEN missed_at IS NOT NULL THEN 'missed' ELSE last_outcome END AS state,
                    COUNT(*) AS n
             FROM agents GROUP BY state ORDER BY state",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("n")?)))
            .collect()
    }

    /// Removes an agent, its results and its approval (its durable records stay).
    pub async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("DELETE FROM agents WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM approvals WHERE agent_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.tips.forget(id);
        Ok(done.rows_affected() > 0)
    }
}

fn agent_from_row(row: &AnyRow) -> Result<AgentRecord, StoreError> {
    let labels: String = row.try_get("labels")?;
    let state: String = row.try_get("verified_state")?;
    let status: String = row.try_get("status")?;
    let pcr: i64 = row.try_get("pcr")?;
    Ok(AgentRecord {
        id: row.try_get("id")?,
        ek_public: row.try_get("ek_public")?,
        ek_certificate: row.try_get("ek_certificate")?,
        ak_public: row.try_get("ak_public")?,
        contact: row.try_get("contact")?,
        tls_certificate: row.try_get("tls_certificate")?,
        pcr: u8::try_from(pcr).map_err(|e| StoreError::Corrupt {
            column: "pcr",
            reason: e.to_string(),
        })?,
        labels: serde_json::from_str(&labels).map_err(corrupt("labels"))?,
        ek_status: row.try_get("ek_status")?,
        push: row.try_get::<i64, _>("push")? != 0,
        missed_at: row.try_get("missed_at")?,
        last_result_id: row.try_get("last_result_id")?,
        awaiting_approval: row.try_get::<i64, _>("awaiting_approval")? != 0,
        status: serde_json::from_value(serde_json::Value::String(status))
            .map_err(corrupt("status"))?,
        state: serde_json::from_str(&state).map_err(corrupt("verified_state"))?,
        last_outcome: row.try_get("last_outcome")?,
        registered_at: row.try_get("registered_at")?,
        activated_at: row.try_get("activated_at")?,
    })
}

mod approvals;
pub use approvals::Approval;
mod cluster_policy;
pub use cluster_policy::{ActiveObject, Source};
mod credentials;
pub use credentials::Credential;
mod labels;
mod liveness;
mod outbox;
mod policies;
pub use policies::PolicyVersion;
mod records;
mod results;
mod tips;
mod writer;
pub use outbox::{now_ms, PendingAlert};
pub use records::Seal;
pub use tips::PreviousVerified;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
