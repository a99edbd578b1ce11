//! Per-policy exponential backoff for failed reconciles: 1 s, 2 s, 4 s, … up to 5 minutes.
//!
//! One counter per failing policy; a success, a deletion or a policy vanishing from the cache
//! removes it, so the map holds only policies failing right now.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The first retry delay.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest retry delay.
pub const MAX: Duration = Duration::from_secs(300);

/// Consecutive failures per policy.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Counts a failure of `policy`; returns how long to wait before retrying it.
    pub fn next(&self, policy: &str) -> Duration {
        let Ok(mut failures) = self.failures.lock() else {
            return MAX;
        };
        let n = failures.entry(policy.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        delay(*n)
    }

    /// Forgets `policy`'s failures (it succeeded, or was deleted).
    pub fn reset(&self, policy: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(policy);
        }
    }

    /// Keeps only the policies `live` accepts.
    pub fn retain_policies(&self, live: &dyn Fn(&str) -> bool) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.retain(|p, _| live(p));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.failures.lock().map_or(0, |f| f.len())
    }
}

/// The delay after `failures` consecutive failures (at least one).
fn delay(failures: u32) -> Duration {
    delay_within(failures, FIRST, MAX)
}

/// The delay after `failures` consecutive failures (at least one): `first`, doubling with each
/// failure, at most `max`. Also the report writer's retries (with its own bounds).
pub fn delay_within(failures: u32, first: Duration, max: Duration) -> Duration {
    // 2^20 times any first delay worth waiting already exceeds any maximum; the shift stays small
    // whatever the count, and the product saturates.
    let doublings = failures.saturating_sub(1).min(20);
    first.saturating_mul(1u32 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_one_second_up_to_five_minutes() {
        let backoff = Backoff::default();
        let delays: Vec<u64> = (0..12).map(|_| backoff.next("p").as_secs()).collect();
        assert_eq!(
            delays,
            vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
        );
        assert_eq!(delay(u32::MAX), MAX);
        let (first, max) = (Duration::from_millis(250), Duration::from_secs(3));
        let within: Vec<u128> = (1..7)
            .map(|n| delay_within(n, first, max).as_millis())
            .collect();
        assert_eq!(within, vec![250, 500, 1000, 2000, 3000, 3000]);
        assert_eq!(delay_within(u32::MAX, Duration::MAX, max), max);
        // Another policy has its own count.
        assert_eq!(backoff.next("q"), FIRST);
        backoff.reset("p");
        assert_eq!(backoff.next("p"), FIRST);
    }

    #[test]
    fn counts_of_deleted_policies_are_dropped() {
        let backoff = Backoff::default();
        for i in 0..100 {
            backoff.next(&format!("p{i}"));
        }
        backoff.retain_policies(&|p| p == "p7");
        assert_eq!(backoff.len(), 1);
        backoff.reset("p7");
        assert_eq!(backoff.len(), 0);
    }
}
