//! Measurements: the dedicated log and the current documents, appended, persisted and extended
//! under one lock, so a quote always sees a log and documents that agree with the PCR.

use std::collections::BTreeMap;
use std::sync::Arc;

use palisade_evidence::log::{
    kind, Annotations, BootBinding, EventLog, LogEntry, LogError, BOOT_BINDING_NAME,
};
use palisade_evidence::verify::doc_key;
use palisade_evidence::wire::{
    BootLog, Document, Evidence, ImaSlice, LogSlice, Quote, QuoteRequest,
};
use palisade_evidence::{Canonical, CanonicalError, Sha256Digest};
use serde_json::value::RawValue;
use tokio::sync::Mutex;

use crate::host_logs::{self, HostLogPaths};
use crate::recovery::{self, Decision, RecoveryError};
use crate::store::{LogStore, StoreError};
use crate::tpm::TpmError;
use crate::tpm_actor::TpmHandle;

/// How often to retry a quote whose PCRs moved while it was taken.
const QUOTE_ATTEMPTS: usize = 3;

/// Failure to measure or to produce evidence.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The TPM failed.
    #[error(transparent)]
    Tpm(#[from] TpmError),
    /// The log on disk failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An entry was malformed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The agent must not start (PCR not where the log says).
    #[error(transparent)]
    Recovery(#[from] RecoveryError),
    /// A document could not be canonicalised.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// PCRs kept changing while quoting.
    #[error("PCRs kept changing during {QUOTE_ATTEMPTS} quote attempts")]
    Unstable,
    /// A host log (IMA list, boot log) could not be read.
    #[error("reading a host log: {0}")]
    HostLog(#[from] std::io::Error),
    /// A blocking task failed.
    #[error("background task failed: {0}")]
    Task(String),
}

#[derive(Debug, Default)]
struct Inner {
    log: EventLog,
    /// Current document per `kind/name`, with the sequence number that measured it.
    documents: BTreeMap<String, (u64, Canonical)>,
}

/// The agent's measurement state.
#[derive(Debug)]
pub struct Measurer {
    tpm: TpmHandle,
    pcr: u8,
    agent_id: String,
    store: LogStore,
    host_logs: HostLogPaths,
    inner: Mutex<Inner>,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MeasureError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MeasureError::Task(e.to_string()))
}

impl Measurer {
    /// Loads the stored log, checks it against the TPM, and resumes it or starts a new one with
    /// a boot-binding entry.
    pub async fn start(
        tpm: TpmHandle,
        pcr: u8,
        agent_id: String,
        store: LogStore,
        boot_id: String,
        host_logs: HostLogPaths,
    ) -> Result<Arc<Self>, MeasureError> {
        let loader = store.clone();
        let stored = blocking(move || loader.load()).await??;
        let value = tpm.call(move |t| t.read_pcrs(&[pcr])).await?;
        let value = value.first().map(|v| Sha256Digest(*v)).unwrap_or_default();
        let clock = tpm.call(|t| t.clock()).await?;
        let binding: Option<BootBinding> = stored
            .entries
            .first()
            .filter(|e| e.kind == kind::BOOT)
            .and_then(|e| stored.documents.get(&e.seq))
            .and_then(|bytes| serde_json::from_slice(bytes).ok());
        let decision = recovery::decide(
            pcr,
            stored.entries,
            binding.as_ref(),
            value,
            clock.reset_count,
        )?;
        let me = Arc::new(Self {
            tpm,
            pcr,
            agent_id: agent_id.clone(),
            store,
            host_logs,
            inner: Mutex::new(Inner::default()),
        });
        match decision {
            Decision::Resume { log, drop_tail } => {
                if drop_tail {
                    tracing::warn!(
                        "dropping the last log entry: it was written but never extended (crash?)"
                    );
                    let s = me.store.clone();
                    blocking(move || s.truncate_last()).await??;
                }
                let mut inner = me.inner.lock().await;
                inner.documents = restore_documents(&log, &stored.documents);
                tracing::info!(entries = log.len(), pcr = %log.pcr(), "resumed the dedicated log");
                inner.log = log;
            }
            Decision::StartNew { archive_old } => {
                if archive_old {
                    tracing::info!(
                        "TPM was reset since the stored log was written: starting a new log"
                    );
                    let s = me.store.clone();
                    blocking(move || s.archive()).await??;
                }
                let binding = BootBinding {
                    boot_id,
                    tpm_reset_count: clock.reset_count,
                    pcr,
                    agent_id,
                };
                let doc = Canonical::from_serialize(&binding)?;
                me.record(kind::BOOT, BOOT_BINDING_NAME, doc, annotations("startup"))
                    .await?;
            }
        }
        Ok(me)
    }

    /// Records a document: if its digest differs from the latest measurement of `kind/name`,
    /// persists a new entry, extends the PCR, and makes it current. Returns the new entry.
    pub async fn record(
        &self,
        kind: &str,
        name: &str,
        doc: Canonical,
        annotations: Annotations,
    ) -> Result<Option<LogEntry>, MeasureError> {
        let key = doc_key(kind, name);
        let mut inner = self.inner.lock().await;
        if let Some(latest) = inner.log.latest(kind, name) {
            if latest.digest == doc.digest() {
                let seq = latest.seq;
                inner.documents.entry(key).or_insert((seq, doc));
                return Ok(None);
            }
        }
        let entry = inner
            .log
            .next_entry(kind, name, doc.digest(), annotations)?;
        let (store, e, bytes) = (self.store.clone(), entry.clone(), doc.as_bytes().to_vec());
        blocking(move || store.append(&e, &bytes)).await??;
        let (pcr, value) = (self.pcr, entry.extend_value());
        if let Err(error) = self
            .tpm
            .call(move |t| t.extend(pcr, value.as_bytes()))
            .await
        {
            let store = self.store.clone();
            blocking(move || store.truncate_last()).await??;
            return Err(error.into());
        }
        inner.log.push(entry.clone())?;
        if let Some((old_seq, _)) = inner.documents.insert(key, (entry.seq, doc)) {
            self.store.forget_document(old_seq);
        }
        tracing::info!(seq = entry.seq, kind, name, digest = %entry.digest, "measured");
        Ok(Some(entry))
    }

    /// Quotes and assembles evidence while holding the lock: the log and the documents returned
    /// are exactly those the quoted PCR value covers (plus nothing newer).
    pub async fn evidence(&self, req: &QuoteRequest) -> Result<Evidence, MeasureError> {
        let inner = self.inner.lock().await;
        let (quote, values) = self.stable_quote(req).await?;
        let (ima, boot_log) = self.host_logs(req).await?;
        let pcrs = req
            .pcrs
            .iter()
            .copied()
            .zip(values.into_iter().map(Sha256Digest))
            .collect();
        let mut documents = Vec::with_capacity(inner.documents.len());
        for (key, (seq, doc)) in &inner.documents {
            let (kind, name) = key.split_once('/').unwrap_or((key, ""));
            let content = RawValue::from_string(doc.as_str().to_owned())
                .map_err(|e| MeasureError::Task(e.to_string()))?;
            documents.push(Document {
                kind: kind.to_owned(),
                name: name.to_owned(),
                seq: *seq,
                content,
            });
        }
        Ok(Evidence {
            agent_id: self.agent_id.clone(),
            quote,
            pcrs,
            log: LogSlice {
                pcr: self.pcr,
                offset: req.log_offset,
                entries: inner.log.since(req.log_offset).to_vec(),
            },
            documents,
            events: None,
            ima,
            boot_log,
        })
    }

    /// The host logs `req` asks for, read after the quote (the IMA list then covers at least
    /// the quoted PCR 10). A log the host does not have is absent.
    async fn host_logs(
        &self,
        req: &QuoteRequest,
    ) -> Result<(Option<ImaSlice>, Option<BootLog>), MeasureError> {
        let ima = match (req.ima_offset, &self.host_logs.ima_list) {
            (Some(offset), Some(path)) => {
                let path = path.clone();
                blocking(move || host_logs::read_ima(&path, offset)).await??
            }
            _ => None,
        };
        let boot = match (req.boot_log, &self.host_logs.boot_log) {
            (true, Some(path)) => {
                let path = path.clone();
                blocking(move || host_logs::read_boot(&path)).await??
            }
            _ => None,
        };
        Ok((ima, boot))
    }

    /// Reads the PCRs, quotes, reads again; retries if something (the kernel, for PCR 10)
    /// extended a selected PCR in between.
    async fn stable_quote(
        &self,
        req: &QuoteRequest,
    ) -> Result<(Quote, Vec<[u8; 32]>), MeasureError> {
        for _ in 0..QUOTE_ATTEMPTS {
            let (nonce, pcrs) = (req.nonce.clone(), req.pcrs.clone());
            let (before, blob, after) = self
                .tpm
                .call(move |t| {
                    let before = t.read_pcrs(&pcrs)?;
                    let blob = t.quote(&nonce, &pcrs)?;
                    let after = t.read_pcrs(&pcrs)?;
                    Ok((before, blob, after))
                })
                .await?;
            if before == after {
                return Ok((
                    Quote {
                        attest: blob.attest,
                        signature: blob.signature,
                    },
                    after,
                ));
            }
        }
        Err(MeasureError::Unstable)
    }

    /// The dedicated PCR.
    pub fn pcr(&self) -> u8 {
        self.pcr
    }

    /// Number of entries in the log.
    pub async fn log_len(&self) -> usize {
        self.inner.lock().await.log.len()
    }
}

fn restore_documents(
    log: &EventLog,
    stored: &BTreeMap<u64, Vec<u8>>,
) -> BTreeMap<String, (u64, Canonical)> {
    let mut latest: BTreeMap<String, &LogEntry> = BTreeMap::new();
    for e in log.entries() {
        latest.insert(doc_key(&e.kind, &e.name), e);
    }
    latest
        .into_iter()
        .filter_map(|(key, e)| {
            let bytes = stored.get(&e.seq)?;
            match Canonical::check_bytes(bytes) {
                Ok(doc) if doc.digest() == e.digest => Some((key, (e.seq, doc))),
                _ => {
                    tracing::warn!(seq = e.seq, %key, "stored document missing or altered; it will be re-measured");
                    None
                }
            }
        })
        .collect()
}

/// Annotations stamped with the current time and a cause.
pub fn annotations(cause: &str) -> Annotations {
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .ok();
    Annotations {
        time,
        cause: Some(cause.to_owned()),
        ..Annotations::default()
    }
}

#[cfg(test)]
mod tests;
