//! Kubernetes Events on meaningful transitions of a policy, rate-bounded per policy and reason.
//!
//! The rate limit remembers when each (policy, reason) last published, and forgets it once the
//! minute has passed or the policy is deleted, so its memory is bounded by the events of the last
//! minute. kube's recorder keeps its own series cache, which drops entries after 6 minutes.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// The same reason is not repeated for a policy more often than this.
const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The longest `reportingInstance` the API server accepts in an Event (events.k8s.io
/// validation). The instance is the replica's identity, its pod's name (up to 253 characters)
/// and a suffix: a longer one is cut, its tail replaced by a hash.
const MAX_INSTANCE: usize = 128;

/// A transition worth telling `kubectl describe` readers about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    BecameDegraded,
    BecameReady,
    ViolationsAppeared,
    ViolationsCleared,
}

impl Transition {
    fn reason(self) -> &'static str {
        match self {
            Transition::BecameDegraded => "PolicyDegraded",
            Transition::BecameReady => "PolicyReady",
            Transition::ViolationsAppeared => "ViolationsFound",
            Transition::ViolationsCleared => "ViolationsCleared",
        }
    }

    fn type_(self) -> EventType {
        match self {
            Transition::BecameDegraded | Transition::ViolationsAppeared => EventType::Warning,
            Transition::BecameReady | Transition::ViolationsCleared => EventType::Normal,
        }
    }
}

/// The longest policy name an Event can be about: kube's recorder names an Event
/// `<policy>.<nanoseconds in hex, 16 digits>`, and an Event's name is at most 253 characters.
const MAX_POLICY_NAME: usize = 253 - 17;

/// When each (policy, transition) last published, within the last [`MIN_INTERVAL`].
#[derive(Debug, Default)]
struct RateLimit {
    last: HashMap<(String, Transition), Instant>,
    /// The policies named too long for an Event, said once each.
    too_long: HashSet<String>,
}

impl RateLimit {
    /// `None` when an Event about `policy` can be named; else whether to say so (the first
    /// time only).
    fn too_long(&mut self, policy: &str) -> Option<bool> {
        (policy.len() > MAX_POLICY_NAME).then(|| self.too_long.insert(policy.to_owned()))
    }

    /// True (and noted) unless the same transition was let through for the policy within the
    /// interval. Expired entries go on the way, so the map never outgrows one interval's events.
    fn allow(&mut self, policy: &str, transition: Transition, now: Instant) -> bool {
        let fresh = |at: &Instant| now.saturating_duration_since(*at) < MIN_INTERVAL;
        self.last.retain(|_, at| fresh(at));
        let key = (policy.to_owned(), transition);
        if self.last.get(&key).is_some_and(fresh) {
            return false;
        }
        self.last.insert(key, now);
        true
    }

    fn forget(&mut self, policy: &str) {
        self.last.retain(|(p, _), _| p != policy);
        self.too_long.remove(policy);
    }

    fn retain_policies(&mut self, live: &dyn Fn(&str) -> bool) {
        self.last.retain(|(p, _), _| live(p));
        self.too_long.retain(|p| live(p));
    }
}

/// Publishes events through kube's recorder (which also folds repeats into series).
pub struct EventPublisher {
    recorder: Recorder,
    limit: Mutex<RateLimit>,
}

impl std::fmt::Debug for EventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPublisher").finish_non_exhaustive()
    }
}

impl EventPublisher {
    /// `instance`: the replica's identity, cut to what an Event holds.
    pub fn new(client: Client, instance: &str) -> Self {
        let reporter = Reporter {
            controller: "kube-guardian".to_owned(),
            instance: Some(reporting_instance(instance)),
        };
        EventPublisher {
            recorder: Recorder::new(client, reporter),
            limit: Mutex::new(RateLimit::default()),
        }
    }

    /// Drops what the rate limit remembers of a deleted policy.
    pub fn forget(&self, policy: &str) {
        if let Ok(mut limit) = self.limit.lock() {
            limit.forget(policy);
        }
    }

    /// Keeps only what the rate limit remembers of policies `live` accepts (for deletions the
    /// controller never saw, like a finalizer removed by hand).
    pub fn retain_policies(&self, live: &dyn Fn(&str) -> bool) {
        if let Ok(mut limit) = self.limit.lock() {
            limit.retain_policies(live);
        }
    }

    /// Publishes unless the same transition was published for this policy within a minute.
    /// Failures are logged, never fatal: events are a courtesy, not state.
    pub async fn publish(&self, policy: &GuardianPolicy, transition: Transition, note: String) {
        let name = policy.meta().name.clone().unwrap_or_default();
        let (too_long, allowed) = match self.limit.lock() {
            Ok(mut limit) => {
                let too_long = limit.too_long(&name);
                let allowed = too_long.is_none() && limit.allow(&name, transition, Instant::now());
                (too_long, allowed)
            }
            Err(_) => (None, false),
        };
        if too_long == Some(true) {
            tracing::warn!(policy = %name, "publishing no Events about this GuardianPolicy: its name is longer than the {MAX_POLICY_NAME} characters an Event's name leaves for it (its status and metrics still say everything)");
        }
        if !allowed {
            return;
        }
        let event = Event {
            type_: transition.type_(),
            reason: transition.reason().to_owned(),
            note: Some(note.chars().take(1024).collect()),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &policy.object_ref(&())).await {
            tracing::warn!(policy = %name, error = %e, "failed to publish an event");
        }
    }
}

/// The Events' `reportingInstance` for a replica's identity: as it is when it fits, else its
/// head and a hash of the whole (so two replicas of long pod names still tell apart).
fn reporting_instance(identity: &str) -> String {
    guardian_cluster::names::fit(identity, MAX_INSTANCE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reporting_instance_fits_an_event_for_any_pod_name() {
        assert_eq!(reporting_instance("op-a-0a1b2c3d"), "op-a-0a1b2c3d");
        let pod = "p".repeat(253);
        let (a, b) = (
            reporting_instance(&format!("{pod}-0a1b2c3d")),
            reporting_instance(&format!("{pod}-0a1b2c3e")),
        );
        assert!(a.len() <= MAX_INSTANCE && a.starts_with("ppp"), "{a}");
        assert_ne!(a, b, "two replicas of one long pod name");
    }

    #[test]
    fn a_policy_named_too_long_for_an_event_is_said_once() {
        let mut limit = RateLimit::default();
        let longest = "p".repeat(MAX_POLICY_NAME);
        // As kube's recorder names the Event now: it fits.
        let since_epoch = std::time::UNIX_EPOCH.elapsed().expect("a clock after 1970");
        let nanos = format!("{:x}", since_epoch.as_nanos());
        assert!(format!("{longest}.{nanos}").len() <= 253);
        assert_eq!(limit.too_long(&longest), None);
        let long = "p".repeat(MAX_POLICY_NAME + 1);
        assert_eq!(limit.too_long(&long), Some(true));
        assert_eq!(limit.too_long(&long), Some(false));
        limit.forget(&long);
        assert_eq!(
            limit.too_long(&long),
            Some(true),
            "a new policy of that name"
        );
    }

    #[test]
    fn one_event_per_policy_and_reason_a_minute() {
        let mut limit = RateLimit::default();
        let t0 = Instant::now();
        assert!(limit.allow("p", Transition::BecameDegraded, t0));
        assert!(!limit.allow(
            "p",
            Transition::BecameDegraded,
            t0 + Duration::from_secs(59)
        ));
        // Another reason, or another policy, is not held back.
        assert!(limit.allow("p", Transition::BecameReady, t0 + Duration::from_secs(1)));
        assert!(limit.allow("q", Transition::BecameDegraded, t0 + Duration::from_secs(1)));
        assert!(limit.allow("p", Transition::BecameDegraded, t0 + MIN_INTERVAL));
    }

    #[test]
    fn the_rate_limit_forgets_expired_entries_and_deleted_policies() {
        let mut limit = RateLimit::default();
        let t0 = Instant::now();
        for i in 0..1000 {
            limit.allow(&format!("p{i}"), Transition::ViolationsAppeared, t0);
        }
        assert_eq!(limit.last.len(), 1000);
        // A minute later the old entries are gone as soon as anything publishes.
        limit.allow("late", Transition::ViolationsAppeared, t0 + MIN_INTERVAL);
        assert_eq!(limit.last.len(), 1);

        limit.allow("late", Transition::BecameDegraded, t0 + MIN_INTERVAL);
        limit.allow("other", Transition::BecameDegraded, t0 + MIN_INTERVAL);
        limit.forget("late");
        assert_eq!(limit.last.len(), 1);
        limit.retain_policies(&|p| p != "other");
        assert!(limit.last.is_empty());
    }
}
