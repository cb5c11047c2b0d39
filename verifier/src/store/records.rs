//! The durable-record half of the store: appending a result's record to its agent's chain (in
//! the result's own transaction), the policies results name, and reading both back for export.

use std::collections::BTreeMap;

use palisade_cluster_policy::PolicyRef;
use sqlx::{Any, Row as _, Transaction};

use super::{corrupt, json, now, ResultRecord, Store, StoreError};
use crate::audit::key::RecordKey;
use crate::audit::{seal, Check, PolicySource, RecordBody, SignedRecord, GENESIS, RECORD_FORMAT};

/// What sealing a result into a record needs besides the result.
#[derive(Debug, Clone, Copy)]
pub struct Seal<'a> {
    /// The verifier's record-signing key.
    pub key: &'a RecordKey,
    /// The agent's labels, as the policy saw them.
    pub labels: &'a BTreeMap<String, String>,
    /// Expectations and evidence, when evidence was received.
    pub check: Option<&'a Check>,
    /// The agent's `last_result_id` when the attestation began: the store trusts the chain
    /// head it remembers only when that is still the agent's latest result.
    pub last_result_id: Option<i64>,
}

/// Seals the record of result `result_id` as the next link of its agent's chain: after `head`
/// (sequence number and hash of the chain's last record) or, when not known, after the head read
/// from the table inside `tx`. Attestations of one agent are serial (scheduler), and the primary
/// key refuses a fork if they ever were not. Returns the new record and its sequence number, for
/// the writer to store in the same transaction.
pub(super) async fn seal_next(
    tx: &mut Transaction<'_, Any>,
    result: &ResultRecord,
    result_id: i64,
    seal_with: &Seal<'_>,
    head: Option<(i64, String)>,
) -> Result<(SignedRecord, i64), StoreError> {
    let head = match head {
        Some(head) => Some(head),
        None => sqlx::query(
            "SELECT seq, hash FROM records WHERE agent_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .bind(&result.agent_id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|row| Ok::<_, sqlx::Error>((row.try_get("seq")?, row.try_get("hash")?)))
        .transpose()?,
    };
    let (seq, prev) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let body = RecordBody {
        format: RECORD_FORMAT.to_owned(),
        agent: result.agent_id.clone(),
        seq: u64::try_from(seq).unwrap_or_default(),
        prev,
        result_id,
        at: result.at.clone(),
        outcome: result.outcome,
        reasons: result.reasons.clone(),
        error: result.error.clone(),
        policy: result.policy.clone(),
        labels: seal_with.labels.clone(),
        documents: result.documents.clone(),
        check: seal_with.check.cloned(),
    };
    let record = seal(&body, seal_with.key).map_err(|e| StoreError::Seal(e.to_string()))?;
    Ok((record, seq))
}

impl Store {
    /// Remembers a policy's modules under its hash (once).
    pub async fn save_policy(
        &self,
        reference: &PolicyRef,
        modules: &[(String, String)],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO policies (hash, name, version, modules, added_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&reference.hash)
        .bind(&reference.name)
        .bind(i64::from(reference.version))
        .bind(json(&modules))
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A stored policy by hash.
    pub async fn policy_source(&self, hash: &str) -> Result<Option<PolicySource>, StoreError> {
        let row = sqlx::query("SELECT * FROM policies WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let modules: String = row.try_get("modules")?;
        let version: i64 = row.try_get("version")?;
        Ok(Some(PolicySource {
            reference: PolicyRef {
                name: row.try_get("name")?,
                version: u32::try_from(version).map_err(|e| StoreError::Corrupt {
                    column: "policies.version",
                    reason: e.to_string(),
                })?,
                hash: row.try_get("hash")?,
            },
            modules: serde_json::from_str(&modules).map_err(corrupt("policies.modules"))?,
        }))
    }

    /// Every agent with records, removed agents included.
    pub async fn record_agents(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT agent_id FROM records ORDER BY agent_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get("agent_id").map_err(StoreError::from))
            .collect()
    }

    /// Records in chain order: of one agent or of all, from `from_seq` on, at most `limit`.
    pub async fn records(
        &self,
        agent: Option<&str>,
        from_seq: u64,
        limit: u32,
    ) -> Result<Vec<SignedRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, seq, body, hash, signature FROM records
             WHERE ($1 IS NULL OR agent_id = $1) AND seq >= $2
             ORDER BY agent_id, seq LIMIT $3",
        )
        .bind(agent)
        .bind(i64::try_from(from_seq).unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                Ok(SignedRecord {
                    agent: row.try_get("agent_id")?,
                    seq: u64::try_from(seq).unwrap_or_default(),
                    body: row.try_get("body")?,
                    hash: row.try_get("hash")?,
                    signature: row.try_get("signature")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
impl Seal<'static> {
    /// A seal with a fresh key, no labels and no check (tests; the key is leaked).
    pub(crate) fn for_tests() -> Self {
        Self {
            key: Box::leak(Box::new(RecordKey::generate())),
            labels: Box::leak(Box::default()),
            check: None,
            last_result_id: None,
        }
    }
}
