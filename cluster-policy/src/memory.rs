//! The memory limit of policy evaluations. regorus stops an evaluation (a `LimitError`, so
//! "could not evaluate") once the heap counted by its allocator passes a process-wide ceiling,
//! checked every few evaluation steps. Each running evaluation registers the heap when it
//! started plus its budget; the ceiling is the highest registration, so one evaluation never
//! cuts another short, and a runaway one is stopped after growing the heap by at most its
//! budget (plus what evaluations running beside it allocate meanwhile). An evaluation without
//! a limit lifts the ceiling while it runs. The check runs between evaluation steps, so a
//! single builtin call that builds a huge value at once (`numbers.range(1, 1e8)`: ~2.4 GB) is
//! stopped only after it returns; templates are written by administrators, not by agents.
//!
//! The counters are those of regorus's allocator (`regorus_mimalloc`), which regorus, built with
//! `allocator-memory-limits`, installs as the global allocator of every binary that links it.

use std::sync::{Mutex, PoisonError};

use regorus_mimalloc::mimalloc::global_allocation_stats_snapshot;

/// The ceilings of the evaluations running now.
static RUNNING: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// Bytes on the heap, as regorus's allocator counts them.
pub fn heap_bytes() -> u64 {
    regorus::flush_thread_memory_counters();
    global_allocation_stats_snapshot().allocated
}

/// One evaluation's registration; dropping it lifts its ceiling.
#[derive(Debug)]
pub(crate) struct Budget {
    ceiling: u64,
}

impl Budget {
    /// Registers an evaluation that may grow the heap by `bytes` (`None`: without limit).
    pub(crate) fn enter(bytes: Option<u64>) -> Self {
        let ceiling = bytes.map_or(u64::MAX, |b| heap_bytes().saturating_add(b));
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        running.push(ceiling);
        publish(&running);
        Self { ceiling }
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = running.iter().position(|c| *c == self.ceiling) {
            running.swap_remove(i);
        }
        publish(&running);
    }
}

/// Sets regorus's ceiling to the highest registration.
fn publish(running: &[u64]) {
    regorus::set_global_memory_limit(ceiling(running));
}

/// The ceiling while `running` evaluations run: the highest, none when idle or when one runs
/// without limit (`u64::MAX`).
fn ceiling(running: &[u64]) -> Option<u64> {
    running.iter().max().copied().filter(|c| *c != u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_is_the_highest_registration_and_none_when_idle_or_unlimited() {
        assert_eq!(ceiling(&[]), None);
        assert_eq!(ceiling(&[10, 30, 20]), Some(30));
        assert_eq!(ceiling(&[10, u64::MAX]), None);
    }

    #[test]
    fn the_test_binary_counts_allocations() {
        // The thread's own counter: other tests allocate and free beside this one.
        let before = regorus_mimalloc::current_thread_live_bytes();
        let block = vec![1u8; 4 << 20];
        assert!(
            regorus_mimalloc::current_thread_live_bytes() >= before + (4 << 20),
            "regorus installs its allocator"
        );
        drop(block);
    }
}
