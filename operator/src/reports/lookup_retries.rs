//! The namespaces whose report could not be looked up after it left the restore watch: each is
//! looked up again on its own deadline, backing off, and said once until a lookup there works.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

/// The wait after a namespace's first failed lookup; doubled by each further failure.
const FIRST_WAIT: Duration = Duration::from_secs(5);
/// The longest wait between lookups: a lookup refused for good costs one request per 5 min.
const LONGEST_WAIT: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Retry {
    due: Instant,
    wait: Duration,
}

#[derive(Debug, Default)]
pub(super) struct LookupRetries {
    pending: BTreeMap<String, Retry>,
}

impl LookupRetries {
    /// Records a failed lookup of `namespace`'s report at `now`; returns whether it is to be
    /// said (the first failure there since a lookup worked). A failure before the deadline (a
    /// lookup for a new deletion) leaves the deadline where it is, so that events cannot put
    /// it off.
    pub(super) fn failed(&mut self, namespace: &str, now: Instant) -> bool {
        let Some(retry) = self.pending.get_mut(namespace) else {
            let retry = Retry {
                due: now + FIRST_WAIT,
                wait: FIRST_WAIT,
            };
            self.pending.insert(namespace.to_owned(), retry);
            return true;
        };
        if retry.due <= now {
            retry.wait = (retry.wait * 2).min(LONGEST_WAIT);
            retry.due = now + retry.wait;
        }
        false
    }

    /// Nothing more to look up in `namespace` (a lookup worked, or there is nothing to write).
    pub(super) fn forget(&mut self, namespace: &str) {
        self.pending.remove(namespace);
    }

    /// The earliest deadline, if any namespace waits.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|r| r.due).min()
    }

    /// The namespaces due for a lookup at `now`. They stay recorded until [`Self::failed`]
    /// moves their deadline or [`Self::forget`] drops them.
    pub(super) fn due(&self, now: Instant) -> Vec<String> {
        let due = self.pending.iter().filter(|(_, r)| r.due <= now);
        due.map(|(ns, _)| ns.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_lookup_backs_off_to_five_minutes_and_is_said_once_until_one_works() {
        let secs = Duration::from_secs;
        let t0 = Instant::now();
        let mut retries = LookupRetries::default();
        assert!(retries.failed("a", t0), "the first failure is said");
        assert_eq!(retries.next_due(), Some(t0 + secs(5)));
        // A lookup for a new deletion fails before the deadline: the deadline stays.
        assert!(!retries.failed("a", t0 + secs(1)));
        assert_eq!(retries.next_due(), Some(t0 + secs(5)));
        assert!(retries.due(t0 + secs(4)).is_empty());
        assert_eq!(retries.due(t0 + secs(5)), ["a"]);
        let mut now = t0 + secs(5);
        let mut waits = Vec::new();
        for _ in 0..8 {
            assert!(!retries.failed("a", now), "said once");
            let due = retries.next_due().expect("a waits");
            waits.push((due - now).as_secs());
            now = due;
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
        retries.forget("a");
        assert_eq!(retries.next_due(), None);
        assert!(retries.failed("a", now), "said again once a lookup worked");
    }
}
