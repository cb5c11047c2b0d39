//! Assembling an export from the store: a page of records with every document and policy they
//! name, and the verifier's public key.

use std::collections::BTreeSet;

use super::{Export, RecordBody, SignedRecord, EXPORT_FORMAT};
use crate::store::{now, Store, StoreError};

/// Most records one export page carries.
pub const MAX_PAGE: u32 = 10_000;

/// Which records to export.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// One agent, or every agent (removed ones included).
    pub agent: Option<String>,
    /// First sequence number (per agent).
    pub from_seq: u64,
    /// At most this many records.
    pub limit: u32,
}

/// An export of `selection`, signed records verbatim.
pub async fn export(
    store: &Store,
    verifier_key: String,
    selection: &Selection,
) -> Result<Export, StoreError> {
    let limit = selection.limit.clamp(1, MAX_PAGE);
    let records = store
        .records(selection.agent.as_deref(), selection.from_seq, limit)
        .await?;
    let (documents, policies) = referenced(&records);
    let mut export = Export {
        format: EXPORT_FORMAT.to_owned(),
        exported_at: now(),
        verifier_key,
        records,
        ..Export::default()
    };
    for digest in documents {
        if let Some(bytes) = store.document(&digest).await? {
            // Documents are canonical JSON (UTF-8); anything else is left out and reported by
            // `audit verify` as missing.
            if let Ok(text) = String::from_utf8(bytes) {
                export.documents.insert(digest, text);
            }
        }
    }
    for hash in policies {
        if let Some(source) = store.policy_source(&hash).await? {
            export.policies.insert(hash, source);
        }
    }
    Ok(export)
}

/// Document digests and policy hashes the records name. A body that does not parse names
/// nothing (the verifier wrote it; `audit verify` reports it).
fn referenced(records: &[SignedRecord]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut documents = BTreeSet::new();
    let mut policies = BTreeSet::new();
    for record in records {
        let Ok(body) = serde_json::from_str::<RecordBody>(&record.body) else {
            continue;
        };
        documents.extend(body.documents.into_values());
        if let Some(check) = body.check {
            documents.extend(check.documents.into_iter().map(|d| d.digest));
        }
        if let Some(policy) = body.policy {
            policies.insert(policy.hash);
        }
    }
    (documents, policies)
}
