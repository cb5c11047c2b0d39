//! The runtime inventory as measured objects — `bpf` (programs and attachments), `sockets`
//! (listeners, raw and packet sockets), `kernel` (modules, security sysctls) — each with its
//! own measurement loop ([`crate::triggers`]), and the eBPF monitor as their event source:
//! every event the programs report is kept for the evidence ([`crate::events`]) and becomes a
//! trigger, with its writer, for the objects it may have changed. Events lost in the kernel are
//! measured as a record of their own (`event-loss`) and make every object re-read.

mod loads;
mod source;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use palisade_collectors::runtime::{bpf, kernel, sockets};
use palisade_collectors::NetNs;
use palisade_evidence::log::{kind, Annotations, LogEntry};
use palisade_evidence::{Canonical, CanonicalError};

pub use loads::LoadResolver;
pub use source::{route, spawn_monitor, Routes, Targets};

use crate::measure::{MeasureError, Measurer};
use crate::triggers::Burst;

/// Cause recorded for a measurement an eBPF event asked for.
pub const CAUSE_EBPF: &str = "ebpf";
/// Cause recorded when eBPF events were lost.
pub const CAUSE_LOST: &str = "ebpf-overrun";
/// Name of the `event-loss` entry.
pub const LOSS_NAME: &str = "ebpf";
/// Format of the `event-loss` document.
pub const LOSS_FORMAT: &str = "palisade.event-loss/1";

/// The runtime objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// `bpf`, per measured namespace.
    Bpf,
    /// `sockets`, per measured namespace.
    Sockets,
    /// `kernel`, name `host`.
    Kernel,
}

impl Object {
    /// Every object.
    pub const ALL: [Self; 3] = [Self::Bpf, Self::Sockets, Self::Kernel];

    /// The log kind.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Bpf => kind::BPF,
            Self::Sockets => kind::SOCKETS,
            Self::Kernel => kind::KERNEL,
        }
    }

    /// The log name: the namespace's label, or `host` for the kernel.
    pub fn name(self, netns: &NetNs) -> String {
        match self {
            Self::Kernel => "host".to_owned(),
            _ => netns.label(),
        }
    }
}

/// Failure to measure a runtime object.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeMeasureError {
    /// The BPF inventory could not be read.
    #[error(transparent)]
    Bpf(#[from] bpf::BpfError),
    /// The sockets could not be read.
    #[error(transparent)]
    Sockets(#[from] sockets::SocketsError),
    /// The kernel state could not be read.
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    /// A document could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// It could not be recorded (store, TPM).
    #[error(transparent)]
    Record(#[from] MeasureError),
    /// The blocking read task failed.
    #[error("reading the runtime inventory: background task failed: {0}")]
    Task(String),
}

/// Ids of palisade's own programs, set once the monitor runs (the inventory marks them).
pub type OwnPrograms = Arc<RwLock<BTreeSet<u32>>>;

/// Reads `object` now (blocking): its canonical document.
pub fn read(
    object: Object,
    netns: &NetNs,
    own: &OwnPrograms,
) -> Result<Canonical, RuntimeMeasureError> {
    Ok(match object {
        Object::Bpf => {
            let own = own.read().map(|o| o.clone()).unwrap_or_default();
            bpf::read(netns, &own)?.canonical()?
        }
        Object::Sockets => sockets::read(netns)?.canonical()?,
        Object::Kernel => kernel::read()?.canonical()?,
    })
}

/// Reads `object` (off the async workers) and records it; `None` when unchanged.
pub async fn measure(
    object: Object,
    measurer: &Measurer,
    netns: &NetNs,
    own: &OwnPrograms,
    annotations: Annotations,
) -> Result<Option<LogEntry>, RuntimeMeasureError> {
    let (ns, own2) = (netns.clone(), own.clone());
    let doc = tokio::task::spawn_blocking(move || read(object, &ns, &own2))
        .await
        .map_err(|e| RuntimeMeasureError::Task(e.to_string()))??;
    Ok(measurer
        .record(object.kind(), &object.name(netns), doc, annotations)
        .await?)
}

/// The measure function of an object's loop: once per burst; failures are logged (the next
/// trigger or poll retries).
pub async fn on_burst(
    object: Object,
    measurer: Arc<Measurer>,
    netns: NetNs,
    own: OwnPrograms,
    burst: Burst,
) {
    match measure(object, &measurer, &netns, &own, burst.annotations()).await {
        Ok(Some(entry)) => tracing::debug!(
            seq = entry.seq,
            kind = object.kind(),
            cause = burst.cause().name(),
            writer = ?burst.writer(),
            since_first_trigger_us = burst.first_at().elapsed().as_micros(),
            "runtime object re-measured"
        ),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, kind = object.kind(), "runtime measurement failed"),
    }
}

/// The `event-loss` document for `lost` events since the agent started.
pub fn loss_document(lost: u64) -> Result<Canonical, CanonicalError> {
    Canonical::from_value(&serde_json::json!({ "format": LOSS_FORMAT, "lost": lost }))
}

/// The measure function of the `event-loss` loop: records the running total.
pub async fn on_loss(measurer: Arc<Measurer>, total: Arc<AtomicU64>, burst: Burst) {
    let lost = total.load(Ordering::Relaxed);
    let doc = match loss_document(lost) {
        Ok(doc) => doc,
        Err(error) => return tracing::warn!(%error, "event-loss document"),
    };
    match measurer
        .record(kind::EVENT_LOSS, LOSS_NAME, doc, burst.annotations())
        .await
    {
        Ok(Some(entry)) => tracing::warn!(seq = entry.seq, lost, "eBPF events were lost; measured"),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "recording the event loss failed"),
    }
}
