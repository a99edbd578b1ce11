//! Reconnection delays of one cluster: doubling from 1 s to 60 s, each stretched by a random
//! part of up to a quarter so that clusters (or consoles) that failed together do not retry in
//! lockstep against a recovering API server.

use std::time::Duration;

/// The first delay.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest delay.
pub const MAX: Duration = Duration::from_secs(60);

/// Consecutive failures of one cluster, the bounds, and the random source of the jitter.
#[derive(Debug)]
pub struct Backoff {
    failures: u32,
    first: Duration,
    max: Duration,
    rng: fastrand::Rng,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(FIRST, MAX, fastrand::Rng::new())
    }
}

impl Backoff {
    /// Delays from `first` doubling up to `max`, jittered from `rng` (tests seed it).
    pub fn new(first: Duration, max: Duration, rng: fastrand::Rng) -> Self {
        Backoff {
            failures: 0,
            first,
            max: max.max(first),
            rng,
        }
    }

    /// A backoff with the default bounds and a given random source.
    pub fn with_rng(rng: fastrand::Rng) -> Self {
        Backoff::new(FIRST, MAX, rng)
    }

    /// Counts a failure; returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        // 2^20 times the first delay exceeds any sensible maximum; the shift stays small.
        let doublings = (self.failures - 1).min(20);
        let nominal = self.first.saturating_mul(1u32 << doublings).min(self.max);
        let jitter = nominal.mul_f64(self.rng.f64() * 0.25);
        // At the ceiling the jitter goes below it: clusters lost together long ago must not
        // all retry every 60 s in step.
        if nominal + jitter <= self.max {
            nominal + jitter
        } else {
            self.max - jitter
        }
    }

    /// The connection is back: the next failure waits [`FIRST`] again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_to_a_minute_with_jitter() {
        let mut backoff = Backoff::with_rng(fastrand::Rng::with_seed(7));
        let delays: Vec<Duration> = (0..10).map(|_| backoff.next_delay()).collect();
        let nominal = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60];
        for (delay, nominal) in delays.iter().zip(nominal) {
            let nominal = Duration::from_secs(nominal);
            let (low, high) = if nominal * 5 / 4 <= MAX {
                (nominal, nominal * 5 / 4)
            } else {
                (MAX * 3 / 4, MAX)
            };
            assert!(*delay >= low && *delay <= high, "{delays:?}");
        }
        let at_the_cap: std::collections::BTreeSet<_> = delays[6..].iter().collect();
        assert!(at_the_cap.len() > 1, "jittered at the cap too: {delays:?}");
        backoff.reset();
        assert!(backoff.next_delay() < Duration::from_millis(1250));
    }

    #[test]
    fn jitter_spreads_clusters_that_failed_together() {
        let firsts: Vec<Duration> = (0..20)
            .map(|seed| Backoff::with_rng(fastrand::Rng::with_seed(seed)).next_delay())
            .collect();
        let distinct: std::collections::BTreeSet<_> = firsts.iter().collect();
        assert!(distinct.len() > 10, "{firsts:?}");
        assert!(firsts.iter().all(|d| *d >= FIRST && *d < FIRST * 5 / 4));
    }
}
