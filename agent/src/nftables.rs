//! The nftables ruleset as a measured object: its measure function (read the canonical ruleset,
//! record it) and its change-event source (`NFNLGRP_NFTABLES` on a dedicated thread, forwarded
//! as [`Trigger`]s into the object's measurement loop, see [`crate::triggers`]).

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use palisade_collectors::nftables::events::{EventError, NftEvent, NftEvents};
use palisade_collectors::nftables::{NftError, NftReader};
use palisade_collectors::NetNs;
use palisade_evidence::log::{kind, Annotations, LogEntry};
use tokio::sync::mpsc;

use crate::measure::{MeasureError, Measurer};
use crate::triggers::{Burst, Trigger};

/// Cause recorded for a measurement after an nftables commit.
pub const CAUSE_COMMIT: &str = "nfnetlink";
/// Cause recorded when nftables events were lost.
pub const CAUSE_OVERRUN: &str = "overrun";
/// Pause before subscribing again after the event socket failed.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// Failure to measure the ruleset.
#[derive(Debug, thiserror::Error)]
pub enum NftMeasureError {
    /// The ruleset could not be read.
    #[error(transparent)]
    Read(#[from] NftError),
    /// It could not be recorded (store, TPM).
    #[error(transparent)]
    Record(#[from] MeasureError),
    /// The blocking read task failed.
    #[error("reading the ruleset: background task failed: {0}")]
    Task(String),
}

/// Failure to start the event source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The subscription failed.
    #[error(transparent)]
    Subscribe(#[from] EventError),
    /// The reader thread could not be started.
    #[error("cannot start the nftables event thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Reads the ruleset of `netns` (off the async workers) and records it with `annotations`.
/// Returns the new entry, or `None` when the ruleset is unchanged.
pub async fn measure(
    measurer: &Measurer,
    netns: &NetNs,
    annotations: Annotations,
) -> Result<Option<LogEntry>, NftMeasureError> {
    let ns = netns.clone();
    let doc = tokio::task::spawn_blocking(move || NftReader::default().measure(&ns))
        .await
        .map_err(|e| NftMeasureError::Task(e.to_string()))??;
    Ok(measurer
        .record(kind::NFTABLES, &netns.label(), doc, annotations)
        .await?)
}

/// Measures once for a burst of triggers and logs a failure (the next trigger or poll retries):
/// the measure function of the ruleset's loop in [`crate::triggers::spawn_measure_loop`].
pub async fn on_burst(measurer: Arc<Measurer>, netns: NetNs, burst: Burst) {
    match measure(&measurer, &netns, burst.annotations()).await {
        Ok(Some(entry)) => tracing::debug!(
            seq = entry.seq,
            cause = burst.cause().name(),
            triggers = burst.len(),
            generation = burst.generation(),
            since_first_trigger_us = burst.first_at().elapsed().as_micros(),
            "ruleset re-measured"
        ),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, netns = %netns.label(), "ruleset measurement failed");
        }
    }
}

/// The trigger an event becomes.
pub fn trigger(event: NftEvent) -> Trigger {
    match event {
        NftEvent::Committed {
            generation,
            pid,
            comm,
        } => Trigger::change(CAUSE_COMMIT)
            .with_generation(generation)
            .with_writer(pid, comm),
        NftEvent::Overrun => Trigger::lost(CAUSE_OVERRUN),
    }
}

/// Subscribes to nftables events in `netns` now (so the caller's next measurement misses
/// nothing), then forwards them as triggers into `tx` from a dedicated thread until `tx`'s
/// receiver is gone. If the socket fails later, the thread reports lost events and subscribes
/// again.
pub fn spawn_event_source(netns: &NetNs, tx: mpsc::Sender<Trigger>) -> Result<(), SourceError> {
    let events = NftEvents::subscribe(netns)?;
    let netns = netns.clone();
    thread::Builder::new()
        .name("nft-events".to_owned())
        .spawn(move || forward(events, &netns, &tx))
        .map_err(SourceError::Thread)?;
    Ok(())
}

fn forward(mut events: NftEvents, netns: &NetNs, tx: &mpsc::Sender<Trigger>) {
    loop {
        match events.recv() {
            Ok(event) => {
                if tx.blocking_send(trigger(event)).is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, netns = %netns.label(), "nftables event socket failed; subscribing again");
                events = loop {
                    thread::sleep(RESUBSCRIBE_DELAY);
                    if tx.is_closed() {
                        return;
                    }
                    match NftEvents::subscribe(netns) {
                        Ok(events) => break events,
                        Err(error) => tracing::warn!(%error, "nftables events unavailable"),
                    }
                };
                if tx.blocking_send(Trigger::lost(CAUSE_OVERRUN)).is_err() {
                    return;
                }
            }
        }
    }
}
