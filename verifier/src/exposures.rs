//! Exposure facts by ruleset digest. Computing them is the most expensive step of judging a
//! large firewall (seconds at 100k rules, BENCHMARKS.md), and a host's ruleset rarely changes
//! between attestations, so facts are kept per canonical digest, least recently used first
//! out, within a byte budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Default budget of [`ExposureCache`]: what the cached facts take serialised.
pub const DEFAULT_BUDGET_BYTES: usize = 256 << 20;

/// Facts (or why there are none) for one digest.
pub type Facts = Result<Arc<Value>, String>;

/// Exposure facts by ruleset digest.
#[derive(Debug)]
pub struct ExposureCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    bytes: usize,
    tick: u64,
}

#[derive(Debug)]
struct Entry {
    facts: Facts,
    bytes: usize,
    used: u64,
}

impl Default for ExposureCache {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_BYTES)
    }
}

impl ExposureCache {
    /// A cache holding at most `budget` bytes of serialised facts.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::default(),
        }
    }

    /// The facts of the ruleset with `digest`, computed by `compute` (outside the lock: two
    /// callers may both compute a new digest, and the later insert wins) unless cached.
    pub fn get_or_compute(
        &self,
        digest: &str,
        compute: impl FnOnce() -> Result<(Value, usize), String>,
    ) -> Facts {
        if let Some(hit) = self.get(digest) {
            return hit;
        }
        let (facts, bytes) = match compute() {
            Ok((value, bytes)) => (Ok(Arc::new(value)), bytes),
            Err(e) => {
                let n = e.len();
                (Err(e), n)
            }
        };
        self.insert(digest, facts.clone(), bytes);
        facts
    }

    fn get(&self, digest: &str) -> Option<Facts> {
        let mut inner = self.inner.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(digest)?;
        entry.used = tick;
        Some(entry.facts.clone())
    }

    fn insert(&self, digest: &str, facts: Facts, bytes: usize) {
        if bytes > self.budget {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.tick += 1;
        let used = inner.tick;
        if let Some(old) = inner
            .entries
            .insert(digest.to_owned(), Entry { facts, bytes, used })
        {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.bytes;
            }
        }
    }

    /// Digests cached now.
    pub fn len(&self) -> usize {
        self.inner.lock().map_or(0, |i| i.entries.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::json;

    use super::*;

    #[test]
    fn a_digest_is_computed_once_and_the_oldest_goes_first() {
        let cache = ExposureCache::new(100);
        let calls = Cell::new(0);
        let compute = |n: usize| {
            calls.set(calls.get() + 1);
            Ok((json!(n), 40))
        };
        assert_eq!(*cache.get_or_compute("a", || compute(1)).unwrap(), json!(1));
        assert_eq!(*cache.get_or_compute("a", || compute(9)).unwrap(), json!(1));
        assert_eq!(calls.get(), 1);
        cache.get_or_compute("b", || compute(2)).unwrap();
        // "a" was used after "b" was added? No: "a" is older; touch it so "b" goes.
        cache.get_or_compute("a", || compute(9)).unwrap();
        cache.get_or_compute("c", || compute(3)).unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(*cache.get_or_compute("a", || compute(9)).unwrap(), json!(1));
        assert_eq!(
            *cache.get_or_compute("b", || compute(20)).unwrap(),
            json!(20)
        );
        assert_eq!(calls.get(), 4);
    }

    #[test]
    fn errors_are_cached_and_oversized_facts_are_not() {
        let cache = ExposureCache::new(100);
        let e = cache.get_or_compute("x", || Err("bad".to_owned()));
        assert_eq!(e.unwrap_err(), "bad");
        assert!(cache.get_or_compute("x", || Ok((json!(1), 1))).is_err());
        cache
            .get_or_compute("big", || Ok((json!(0), 1000)))
            .unwrap();
        assert_eq!(cache.len(), 1);
    }
}
