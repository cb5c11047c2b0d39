//! The verifier's Prometheus metrics: attestation outcomes, latency histogram, failures by
//! reason, scheduler queue depth and attestations in flight, agents by state (read from the
//! store at scrape time). Rendered in the text exposition format by hand: a few counters do not
//! need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use palisade_evidence::Reason;

use crate::store::Outcome;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Live counters, shared by the scheduler, the pipeline and `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Cumulative bucket counts; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    outcomes: Mutex<BTreeMap<&'static str, u64>>,
    reasons: Mutex<BTreeMap<&'static str, u64>>,
    waiting: AtomicI64,
    running: AtomicI64,
}

/// Counts one attestation as waiting for a slot, then running, until dropped.
#[derive(Debug)]
pub struct Queued<'a> {
    metrics: &'a Metrics,
    running: bool,
}

impl Queued<'_> {
    /// The attestation got its slot.
    pub fn started(&mut self) {
        if !self.running {
            self.running = true;
            self.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
            self.metrics.running.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let gauge = if self.running {
            &self.metrics.running
        } else {
            &self.metrics.waiting
        };
        gauge.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// An attestation enters the queue.
    pub fn queued(&self) -> Queued<'_> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Queued {
            metrics: self,
            running: false,
        }
    }

    /// One finished attestation.
    pub fn observe(&self, outcome: Outcome, reasons: &[Reason], took: Duration) {
        let seconds = took.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        if let Some(bucket) = self.buckets.get(slot) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        bump(&self.outcomes, outcome.as_str());
        for r in reasons {
            bump(&self.reasons, r.code.as_str());
        }
    }

    /// The exposition text; `agents` is (state, count) and `outbox` the undelivered alerts,
    /// both from the store.
    pub fn render(&self, agents: &[(String, i64)], outbox: i64) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "palisade_agents",
            "gauge",
            "Enrolled agents by state (registered, pending, pass, fail, error).",
        );
        for (state, n) in agents {
            let _ = writeln!(out, "palisade_agents{{state=\"{}\"}} {n}", escape(state));
        }
        header(
            &mut out,
            "palisade_attestations_total",
            "counter",
            "Attestations by outcome.",
        );
        for (outcome, n) in snapshot(&self.outcomes) {
            let _ = writeln!(
                out,
                "palisade_attestations_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        header(
            &mut out,
            "palisade_attestation_failures_total",
            "counter",
            "Failed checks by reason code.",
        );
        for (reason, n) in snapshot(&self.reasons) {
            let _ = writeln!(
                out,
                "palisade_attestation_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        self.render_latency(&mut out);
        gauge(
            &mut out,
            "palisade_attestations_waiting",
            "Attestations waiting for a concurrency slot (queue depth).",
            self.waiting.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "palisade_attestations_running",
            "Attestations in flight.",
            self.running.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "palisade_alert_outbox_depth",
            "Alerts not yet delivered to the webhook.",
            outbox,
        );
        out
    }

    fn render_latency(&self, out: &mut String) {
        let name = "palisade_attestation_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Time of one attestation, request to stored result.",
        );
        let mut cumulative = 0u64;
        for (i, bucket) in self.buckets.iter().enumerate() {
            cumulative += bucket.load(Ordering::Relaxed);
            let le = BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        let sum = self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {cumulative}");
    }
}

fn bump(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *map.entry(key).or_default() += 1;
}

fn snapshot(map: &Mutex<BTreeMap<&'static str, u64>>) -> BTreeMap<&'static str, u64> {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Label values escape `\`, `"` and newlines.
/// One unlabelled gauge: its header and its value.
fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_evidence::ReasonCode;

    #[test]
    fn observations_land_in_cumulative_buckets_and_counters() {
        let m = Metrics::default();
        m.observe(Outcome::Pass, &[], Duration::from_millis(3));
        let nonce = Reason::new(ReasonCode::NonceMismatch, "x");
        m.observe(Outcome::Fail, &[nonce], Duration::from_secs(9));
        let text = m.render(&[("pass".into(), 2), ("we\"ird".into(), 1)], 3);
        for line in [
            "palisade_agents{state=\"pass\"} 2",
            "palisade_agents{state=\"we\\\"ird\"} 1",
            "palisade_attestations_total{outcome=\"fail\"} 1",
            "palisade_attestations_total{outcome=\"pass\"} 1",
            "palisade_attestation_failures_total{reason=\"nonce_mismatch\"} 1",
            "palisade_attestation_duration_seconds_bucket{le=\"0.0025\"} 0",
            "palisade_attestation_duration_seconds_bucket{le=\"0.005\"} 1",
            "palisade_attestation_duration_seconds_bucket{le=\"5\"} 1",
            "palisade_attestation_duration_seconds_bucket{le=\"+Inf\"} 2",
            "palisade_attestation_duration_seconds_count 2",
            "palisade_attestation_duration_seconds_sum 9.003",
            "palisade_alert_outbox_depth 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    #[test]
    fn queue_gauges_follow_an_attestation_from_waiting_to_done() {
        let m = Metrics::default();
        let gauges = |m: &Metrics| {
            (
                m.waiting.load(Ordering::Relaxed),
                m.running.load(Ordering::Relaxed),
            )
        };
        {
            let mut q = m.queued();
            let _other = m.queued();
            assert_eq!(gauges(&m), (2, 0));
            q.started();
            assert_eq!(gauges(&m), (1, 1));
        }
        assert_eq!(gauges(&m), (0, 0));
    }
}
