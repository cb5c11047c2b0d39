//! The network configuration as a measured object (kind `network`, document
//! `palisade.network/1`): its measure function (read links, addresses, routes, rules and
//! sysctls over rtnetlink, record the canonical document) and its change-event source (the
//! rtnetlink link/address/route/rule/netconf groups on a dedicated thread, forwarded as
//! [`Trigger`]s into the object's own measurement loop, see [`crate::triggers`]).
//!
//! rtnetlink notifications name no writer and no generation, so the entries carry only the
//! cause (`rtnetlink`, `overrun`, `poll`). Sysctls that netconf does not announce are picked up
//! by the periodic poll.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use palisade_collectors::network::{self, NetworkError, NetworkEvent, NetworkEvents};
use palisade_collectors::NetNs;
use palisade_evidence::log::{kind, Annotations, LogEntry};
use palisade_evidence::CanonicalError;
use tokio::sync::mpsc;

use crate::measure::{MeasureError, Measurer};
use crate::triggers::{Burst, Trigger};

/// Cause recorded for a measurement after an rtnetlink notification.
pub const CAUSE_CHANGE: &str = "rtnetlink";
/// Cause recorded when rtnetlink notifications were lost.
pub const CAUSE_OVERRUN: &str = "overrun";
/// Pause before subscribing again after the event socket failed.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// Failure to measure the network configuration.
#[derive(Debug, thiserror::Error)]
pub enum NetworkMeasureError {
    /// It could not be read.
    #[error(transparent)]
    Read(#[from] NetworkError),
    /// It could not be put in canonical form.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// It could not be recorded (store, TPM).
    #[error(transparent)]
    Record(#[from] MeasureError),
    /// The blocking read task failed.
    #[error("reading the network configuration: background task failed: {0}")]
    Task(String),
}

/// Failure to start the event source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The subscription failed.
    #[error(transparent)]
    Subscribe(#[from] NetworkError),
    /// The reader thread could not be started.
    #[error("cannot start the rtnetlink event thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Reads the network configuration of `netns` (off the async workers) and records it with
/// `annotations`. Returns the new entry, or `None` when it is unchanged.
pub async fn measure(
    measurer: &Measurer,
    netns: &NetNs,
    annotations: Annotations,
) -> Result<Option<LogEntry>, NetworkMeasureError> {
    let ns = netns.clone();
    let config = tokio::task::spawn_blocking(move || network::read(&ns))
        .await
        .map_err(|e| NetworkMeasureError::Task(e.to_string()))??;
    let doc = config.canonical()?;
    Ok(measurer
        .record(kind::NETWORK, &netns.label(), doc, annotations)
        .await?)
}

/// Measures once for a burst of triggers and logs a failure (the next trigger or poll retries):
/// the measure function of the network configuration's loop.
pub async fn on_burst(measurer: Arc<Measurer>, netns: NetNs, burst: Burst) {
    match measure(&measurer, &netns, burst.annotations()).await {
        Ok(Some(entry)) => tracing::debug!(
            seq = entry.seq,
            cause = burst.cause().name(),
            triggers = burst.len(),
            since_first_trigger_us = burst.first_at().elapsed().as_micros(),
            "network configuration re-measured"
        ),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, netns = %netns.label(), "network configuration measurement failed");
        }
    }
}

/// The trigger an event becomes.
pub fn trigger(event: NetworkEvent) -> Trigger {
    match event {
        NetworkEvent::Changed { .. } => Trigger::change(CAUSE_CHANGE),
        NetworkEvent::Overrun => Trigger::lost(CAUSE_OVERRUN),
    }
}

/// Subscribes to rtnetlink notifications in `netns` now (so the caller's next measurement
/// misses nothing), then forwards them as triggers into `tx` from a dedicated thread until
/// `tx`'s receiver is gone. If the socket fails later, the thread reports lost events and
/// subscribes again.
pub fn spawn_event_source(netns: &NetNs, tx: mpsc::Sender<Trigger>) -> Result<(), SourceError> {
    let events = NetworkEvents::subscribe(netns)?;
    let netns = netns.clone();
    thread::Builder::new()
        .name("rtnl-events".to_owned())
        .spawn(move || forward(events, &netns, &tx))
        .map_err(SourceError::Thread)?;
    Ok(())
}

fn forward(mut events: NetworkEvents, netns: &NetNs, tx: &mpsc::Sender<Trigger>) {
    loop {
        match events.recv() {
            Ok(event) => {
                // The queue is bounded; a full queue means a measurement is due anyway, and
                // one notification of a burst is as good as all of them.
                match tx.try_send(trigger(event)) {
                    Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
            }
            Err(error) => {
                tracing::warn!(%error, netns = %netns.label(), "rtnetlink event socket failed; subscribing again");
                events = loop {
                    thread::sleep(RESUBSCRIBE_DELAY);
                    if tx.is_closed() {
                        return;
                    }
                    match NetworkEvents::subscribe(netns) {
                        Ok(events) => break events,
                        Err(error) => tracing::warn!(%error, "rtnetlink events unavailable"),
                    }
                };
                if tx.blocking_send(Trigger::lost(CAUSE_OVERRUN)).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triggers::Cause;

    #[test]
    fn notifications_become_change_triggers_and_overruns_lost_ones() {
        let t = trigger(NetworkEvent::Changed { what: "route" });
        assert_eq!(t.cause, Cause::Change("rtnetlink"));
        assert_eq!((t.generation, t.writer), (None, None));
        assert_eq!(trigger(NetworkEvent::Overrun).cause, Cause::Lost("overrun"));
    }
}
