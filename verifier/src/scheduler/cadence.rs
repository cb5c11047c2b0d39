//! When each agent is attested next: the interval with jitter, exponential backoff after
//! errors (agent unreachable), and a spread-out first attestation so a restarted verifier does
//! not attest its whole fleet in the same instant. Pure arithmetic; randomness is passed in.

use std::time::Duration;

/// Fraction of the delay added or removed at random (±10 %).
pub const JITTER: f64 = 0.1;
/// Longest backoff after repeated errors when the configuration names none.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The attestation cadence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// The normal interval between two attestations of one agent.
    pub interval: Duration,
    /// The longest delay after repeated errors (never shorter than `interval`).
    pub max_backoff: Duration,
}

impl Cadence {
    /// A cadence of `interval` with backoff capped at `max_backoff`.
    pub fn new(interval: Duration, max_backoff: Duration) -> Self {
        Self {
            interval,
            max_backoff: max_backoff.max(interval),
        }
    }

    /// The delay before an agent's first attestation: `unit` (uniform in [0, 1)) of one
    /// interval, so a fleet is spread over the interval instead of attested at once.
    pub fn first(&self, unit: f64) -> Duration {
        self.interval.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// The delay after an attestation, given the agent's consecutive errors so far (0 when the
    /// last attestation was judged, pass or fail): `interval × 2^errors` capped at
    /// `max_backoff`, then ±[`JITTER`] scaled by `unit` (uniform in [0, 1)).
    pub fn next(&self, errors: u32, unit: f64) -> Duration {
        let factor = 2f64.powi(i32::try_from(errors.min(30)).unwrap_or(30));
        let base = (self.interval.as_secs_f64() * factor).min(self.max_backoff.as_secs_f64());
        let jitter = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64(base * jitter)
    }

    /// How often the scheduler looks for due agents: a twentieth of the interval, within
    /// [10 ms, 500 ms].
    pub fn tick(&self) -> Duration {
        (self.interval / 20).clamp(Duration::from_millis(10), Duration::from_millis(500))
    }

    /// How long a push-mode agent may stay silent before it is `missed`: three intervals, at
    /// least 5 s.
    pub fn missed_after(&self) -> Duration {
        (self.interval * 3).max(Duration::from_secs(5))
    }

    /// How often the scheduler re-reads the list of active agents (new enrolments, removals).
    pub fn refresh(&self) -> Duration {
        self.interval.min(Duration::from_secs(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cadence() -> Cadence {
        Cadence::new(Duration::from_secs(2), Duration::from_secs(60))
    }

    #[test]
    fn judged_attestations_keep_the_interval_within_jitter() {
        let c = cadence();
        assert_eq!(c.next(0, 0.5), Duration::from_secs(2));
        assert_eq!(c.next(0, 0.0), Duration::from_secs_f64(1.8));
        assert!(c.next(0, 0.999_999) <= Duration::from_secs_f64(2.2));
        assert!(c.next(0, 0.999_999) > Duration::from_secs_f64(2.19));
    }

    #[test]
    fn errors_back_off_exponentially_up_to_the_cap() {
        let c = cadence();
        let at = |e| c.next(e, 0.5).as_secs_f64();
        assert_eq!([at(1), at(2), at(3), at(4)], [4.0, 8.0, 16.0, 32.0]);
        assert_eq!(at(5), 60.0);
        assert_eq!(at(u32::MAX), 60.0);
    }

    #[test]
    fn backoff_cap_is_never_below_the_interval() {
        let c = Cadence::new(Duration::from_secs(120), Duration::from_secs(60));
        assert_eq!(c.next(3, 0.5), Duration::from_secs(120));
    }

    #[test]
    fn first_attestations_spread_over_one_interval() {
        let c = cadence();
        assert_eq!(c.first(0.0), Duration::ZERO);
        assert_eq!(c.first(0.25), Duration::from_millis(500));
        assert!(c.first(0.999) < c.interval);
        assert_eq!(c.first(7.0), c.interval);
    }

    #[test]
    fn tick_and_refresh_stay_in_bounds() {
        let fast = Cadence::new(Duration::from_millis(50), Duration::ZERO);
        assert_eq!(fast.tick(), Duration::from_millis(10));
        assert_eq!(fast.refresh(), Duration::from_millis(50));
        let slow = Cadence::new(Duration::from_secs(600), Duration::ZERO);
        assert_eq!(slow.tick(), Duration::from_millis(500));
        assert_eq!(slow.refresh(), Duration::from_secs(2));
        assert_eq!(fast.missed_after(), Duration::from_secs(5));
        assert_eq!(slow.missed_after(), Duration::from_secs(1800));
    }
}
