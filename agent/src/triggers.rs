//! Change triggers and the debounced measurement loop.
//!
//! A measured object (the nftables ruleset, later the network configuration) is re-measured
//! whenever something says it may have changed. Those somethings are *trigger sources*: a kernel
//! event subscription on its own thread (nfnetlink, rtnetlink), an eBPF ring buffer, and always a
//! slow periodic poll as the safety net, because events can be lost. Every source sends
//! [`Trigger`]s into one channel per measured object; [`spawn_measure_loop`] owns that channel,
//! coalesces bursts and calls the object's measure function once per burst.
//!
//! **Coalescing.** The first trigger of a burst opens a window (the object's own: [`COALESCE_WINDOW`]
//! for the ruleset, [`NETWORK_COALESCE_WINDOW`] by default for the network configuration) counted from
//! the trigger's *arrival* ([`Trigger::at`]), not from when the loop got to it; every trigger that
//! arrives before the window closes (and everything already queued when it closes) joins the
//! burst; then the object is measured once. A burst therefore costs one measurement, and the
//! latency from the first commit to the measurement is at most the window plus the time a
//! previous measurement was still running. Triggers that arrive during the measurement form the
//! next burst, whose window has usually already elapsed.
//!
//! **Attribution.** A burst is recorded with [`Burst::annotations`]: the cause is the most telling
//! one (`overrun`: events were lost, so the writers listed may be incomplete; else the event
//! source's name, e.g. `nfnetlink`; else `poll`), the generation and writer are the last ones
//! announced, and the other writers of the burst are listed (at most [`MAX_OTHER_WRITERS`]).
//! A loop may give a burst that names no writer a short extra wait for one ([`Window`]): the
//! network configuration does while the eBPF monitor runs, because rtnetlink announces a change
//! without its writer and the monitor's event naming it can be read a moment later.
//!
//! Adding an object: write its measure function and its sources, then in `app.rs`
//! `let tx = spawn_measure_loop("network", interval, window, measure_fn);` and hand `tx` to each
//! source (`network.rs` is the second example after `nftables.rs`).

use std::future::Future;
use std::time::Duration;

use palisade_evidence::log::{Annotations, Writer};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a burst collects triggers after its first one.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(15);
/// The default window of the network configuration: one `ip address add` is announced as an
/// address and two or three routes, a link going down as a link, its addresses and routes.
pub const NETWORK_COALESCE_WINDOW: Duration = Duration::from_millis(25);
/// How long the network configuration's unattributed burst waits for the eBPF event naming its
/// writer when the runtime monitor runs (rtnetlink names nobody; see [`Window::attribution`]).
pub const ATTRIBUTION_GRACE: Duration = Duration::from_millis(50);
/// Triggers queued per measured object before sources wait (a full queue means a measurement is
/// due anyway; the kernel socket then overruns and reports it).
pub const TRIGGER_QUEUE: usize = 1024;
/// Most writers listed besides the last one in one entry.
pub const MAX_OTHER_WRITERS: usize = 16;

/// Why a measurement is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A change event; the name is recorded as the cause (`nfnetlink`, `rtnetlink`).
    Change(&'static str),
    /// Events were lost: something changed, the writer is unknown; the name is recorded
    /// (`overrun`).
    Lost(&'static str),
    /// The periodic safety net.
    Poll,
}

impl Cause {
    /// The name written into the log entry's `cause`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Change(name) | Self::Lost(name) => name,
            Self::Poll => "poll",
        }
    }

    /// Which cause describes a burst: lost events > a change event > poll.
    fn rank(self) -> u8 {
        match self {
            Self::Lost(_) => 2,
            Self::Change(_) => 1,
            Self::Poll => 0,
        }
    }
}

/// One reason to re-measure, with what the source knows about the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Why.
    pub cause: Cause,
    /// The state generation the source announced (nftables: the ruleset generation id).
    pub generation: Option<u32>,
    /// The process that made the change, if the source knows it.
    pub writer: Option<Writer>,
    /// When the source saw it.
    pub at: Instant,
}

impl Trigger {
    /// A change event seen now.
    pub fn change(source: &'static str) -> Self {
        Self::new(Cause::Change(source))
    }

    /// Lost events, noticed now.
    pub fn lost(source: &'static str) -> Self {
        Self::new(Cause::Lost(source))
    }

    /// A periodic re-measurement, now.
    pub fn poll() -> Self {
        Self::new(Cause::Poll)
    }

    fn new(cause: Cause) -> Self {
        Self {
            cause,
            generation: None,
            writer: None,
            at: Instant::now(),
        }
    }

    /// With the generation the change produced.
    pub fn with_generation(mut self, generation: u32) -> Self {
        self.generation = Some(generation);
        self
    }

    /// With the process that made the change.
    pub fn with_writer(mut self, pid: u32, comm: impl Into<String>) -> Self {
        self.writer = Some(Writer {
            pid,
            comm: comm.into(),
        });
        self
    }
}

/// Triggers coalesced into one measurement. Holds a summary, not every trigger, so a storm of
/// events costs constant memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    cause: Cause,
    first_at: Instant,
    count: usize,
    generation: Option<u32>,
    writer: Option<Writer>,
    other_writers: Vec<Writer>,
}

impl Burst {
    /// A burst opened by `first`.
    pub fn new(first: Trigger) -> Self {
        let mut burst = Self {
            cause: first.cause,
            first_at: first.at,
            count: 0,
            generation: None,
            writer: None,
            other_writers: Vec::new(),
        };
        burst.push(first);
        burst
    }

    /// Folds `trigger` in.
    pub fn push(&mut self, trigger: Trigger) {
        self.count += 1;
        if trigger.cause.rank() >= self.cause.rank() {
            self.cause = trigger.cause;
        }
        if trigger.generation.is_some() {
            self.generation = trigger.generation;
        }
        if let Some(writer) = trigger.writer {
            if let Some(previous) = self.writer.replace(writer) {
                self.other_writers.retain(|w| w != &previous);
                self.other_writers.push(previous);
                if self.other_writers.len() > MAX_OTHER_WRITERS {
                    self.other_writers.remove(0);
                }
            }
            if let Some(last) = &self.writer {
                self.other_writers.retain(|w| w != last);
            }
        }
    }

    /// The cause that describes the burst.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// How many triggers it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Never empty (a burst starts with a trigger); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// When its first trigger arrived.
    pub fn first_at(&self) -> Instant {
        self.first_at
    }

    /// The last generation announced in the burst.
    pub fn generation(&self) -> Option<u32> {
        self.generation
    }

    /// The last writer in the burst.
    pub fn writer(&self) -> Option<&Writer> {
        self.writer.as_ref()
    }

    /// The log annotations for a measurement of this burst, stamped now.
    pub fn annotations(&self) -> Annotations {
        Annotations {
            generation: self.generation,
            writer: self.writer.clone(),
            other_writers: self.other_writers.clone(),
            ..crate::measure::annotations(self.cause.name())
        }
    }
}

/// How a loop groups triggers into bursts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Every trigger arriving within this of a burst's first one joins it.
    pub coalesce: Duration,
    /// A burst that names no writer when `coalesce` ends waits up to this much longer for a
    /// trigger that does (an eBPF event attributing a change another source announced first;
    /// the ring buffer may be read a moment after rtnetlink's notification). Zero: no wait.
    pub attribution: Duration,
}

impl From<Duration> for Window {
    fn from(coalesce: Duration) -> Self {
        Window {
            coalesce,
            attribution: Duration::ZERO,
        }
    }
}

/// Collects one burst starting with `first`: everything that arrives until `first.at +
/// window.coalesce` (and, while no trigger names a writer, until `window.attribution` later),
/// plus whatever is already queued then. `false` in the result means every sender is gone.
async fn collect(
    rx: &mut mpsc::Receiver<Trigger>,
    first: Trigger,
    window: Window,
) -> (Burst, bool) {
    let deadline = first.at + window.coalesce;
    let attributed_by = deadline + window.attribution;
    let mut burst = Burst::new(first);
    // The deadline is checked first, so a flood of triggers cannot hold a burst open.
    loop {
        let now = Instant::now();
        let until = if now < deadline {
            deadline
        } else if burst.writer().is_none() && now < attributed_by {
            attributed_by
        } else {
            break;
        };
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(until) => {}
            next = rx.recv() => match next {
                Some(trigger) => burst.push(trigger),
                None => return (burst, false),
            },
        }
    }
    // What is already queued joins too (bounded: at most one queue's worth).
    for _ in 0..TRIGGER_QUEUE {
        match rx.try_recv() {
            Ok(trigger) => burst.push(trigger),
            Err(_) => break,
        }
    }
    (burst, true)
}

/// Receives triggers until every sender is gone and calls `measure` once per burst (see the
/// module documentation). `measure` handles its own errors: the loop never stops on one.
pub async fn debounced<F, Fut>(mut rx: mpsc::Receiver<Trigger>, window: Window, mut measure: F)
where
    F: FnMut(Burst) -> Fut,
    Fut: Future<Output = ()>,
{
    while let Some(first) = rx.recv().await {
        let (burst, open) = collect(&mut rx, first, window).await;
        measure(burst).await;
        if !open {
            break;
        }
    }
}

/// Sends a [`Trigger::poll`] every `interval` (the first one after `interval`), until the
/// receiver is gone. A poll that finds the queue full is skipped: a measurement is due anyway.
pub async fn periodic(tx: mpsc::Sender<Trigger>, interval: Duration) {
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match tx.try_send(Trigger::poll()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return,
        }
    }
}

/// Starts the measurement loop of one object: a trigger channel, the periodic fallback every
/// `fallback` and the debounced loop calling `measure` once per burst of `window` (a
/// [`Duration`] for a plain coalescing window). Returns the
/// sender its event sources use. `name` labels the tasks' logs.
pub fn spawn_measure_loop<F, Fut>(
    name: &'static str,
    fallback: Duration,
    window: impl Into<Window>,
    measure: F,
) -> mpsc::Sender<Trigger>
where
    F: FnMut(Burst) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let window = window.into();
    let (tx, rx) = mpsc::channel(TRIGGER_QUEUE);
    tokio::spawn(periodic(tx.clone(), fallback));
    tokio::spawn(async move {
        debounced(rx, window, measure).await;
        tracing::debug!(object = name, "measurement loop stopped");
    });
    tracing::info!(
        object = name,
        fallback_ms = fallback.as_millis(),
        window_ms = window.coalesce.as_millis(),
        attribution_ms = window.attribution.as_millis(),
        "measurement loop started"
    );
    tx
}

#[cfg(test)]
mod tests;
