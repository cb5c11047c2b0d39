//! The agent's bounded buffer of attributed runtime events, numbered within one agent run, from
//! which each piece of evidence carries what its verifier has not seen yet (a cursor `run:next`,
//! like the dedicated log's offset). Events are advisory: they say who, the measured documents
//! say what.

use std::collections::VecDeque;
use std::sync::Mutex;

use palisade_evidence::runtime::{parse_cursor, EventSlice, RuntimeEvent};
use sha2::{Digest as _, Sha256};

/// Most events one piece of evidence carries; the rest follow with the next.
pub const MAX_SLICE: usize = 1000;

/// The buffer.
#[derive(Debug)]
pub struct EventLog {
    run: String,
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<RuntimeEvent>,
    next: u64,
    monitoring: bool,
    monitor_error: Option<String>,
}

impl EventLog {
    /// An empty buffer holding at most `capacity` events, for a new agent run.
    pub fn new(capacity: usize) -> Self {
        let seed = format!(
            "{}/{}/{:?}",
            std::process::id(),
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            std::time::SystemTime::now()
        );
        let run = hex::encode(Sha256::digest(seed.as_bytes()).get(..6).unwrap_or_default());
        Self {
            run,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                monitor_error: Some("not started".into()),
                ..Inner::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent buffer: keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// This run's identifier.
    pub fn run(&self) -> &str {
        &self.run
    }

    /// Records whether the eBPF monitor runs, and why not.
    pub fn set_monitor(&self, status: Result<(), String>) {
        let mut inner = self.lock();
        inner.monitoring = status.is_ok();
        inner.monitor_error = status.err();
    }

    /// Appends the event `make` builds for the next sequence number; returns that number.
    pub fn push(&self, make: impl FnOnce(u64) -> RuntimeEvent) -> u64 {
        let mut inner = self.lock();
        let seq = inner.next;
        inner.next += 1;
        inner.events.push_back(make(seq));
        while inner.events.len() > self.capacity {
            inner.events.pop_front();
        }
        seq
    }

    /// Events after `cursor` (all held, if it names another run or none), at most
    /// [`MAX_SLICE`].
    pub fn slice(&self, cursor: Option<&str>) -> EventSlice {
        let inner = self.lock();
        let oldest = inner.events.front().map_or(inner.next, |e| e.seq);
        let from = match cursor.and_then(parse_cursor) {
            Some((run, next)) if run == self.run => next.min(inner.next),
            _ => 0,
        };
        let missed = oldest.saturating_sub(from);
        let events: Vec<RuntimeEvent> = inner
            .events
            .iter()
            .filter(|e| e.seq >= from)
            .take(MAX_SLICE)
            .cloned()
            .collect();
        let next = events.last().map_or(from.max(oldest), |e| e.seq + 1);
        EventSlice {
            run: self.run.clone(),
            next,
            missed,
            monitoring: inner.monitoring,
            monitor_error: inner.monitor_error.clone(),
            events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> RuntimeEvent {
        RuntimeEvent {
            seq,
            time: String::new(),
            kind: "listen".into(),
            process: Default::default(),
            netns: None,
            details: Default::default(),
            summary: format!("event {seq}"),
        }
    }

    #[test]
    fn slices_continue_where_the_cursor_left_off_and_count_what_fell_out() {
        let log = EventLog::new(3);
        for _ in 0..2 {
            log.push(event);
        }
        let first = log.slice(None);
        assert_eq!(first.events.len(), 2);
        assert_eq!((first.next, first.missed), (2, 0));
        assert!(log.slice(Some(&first.cursor())).events.is_empty());
        for _ in 0..4 {
            log.push(event);
        }
        // Seqs 2..=5 were pushed; the buffer holds 3..=5: seq 2 was missed.
        let second = log.slice(Some(&first.cursor()));
        assert_eq!(
            second.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!((second.next, second.missed), (6, 1));
        // Another run's cursor: everything held, from this run's start.
        let other = log.slice(Some("ffff:1"));
        assert_eq!(other.events.len(), 3);
        assert_eq!(other.missed, 3);
        assert!(!other.monitoring);
    }

    #[test]
    fn a_slice_is_bounded_and_the_rest_follows() {
        let log = EventLog::new(5000);
        for _ in 0..(MAX_SLICE + 10) {
            log.push(event);
        }
        let a = log.slice(None);
        assert_eq!(a.events.len(), MAX_SLICE);
        let b = log.slice(Some(&a.cursor()));
        assert_eq!(b.events.len(), 10);
        assert_eq!(b.missed, 0);
    }
}
