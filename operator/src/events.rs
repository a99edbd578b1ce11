//! Kubernetes Events on meaningful transitions of a policy, rate-bounded per policy and reason.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// The same reason is not repeated for a policy more often than this.
const MIN_INTERVAL: Duration = Duration::from_secs(60);

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

/// Publishes events through kube's recorder (which also folds repeats into series).
pub struct EventPublisher {
    recorder: Recorder,
    last: Mutex<HashMap<(String, Transition), Instant>>,
}

impl std::fmt::Debug for EventPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventPublisher").finish_non_exhaustive()
    }
}

impl EventPublisher {
    pub fn new(client: Client, instance: String) -> Self {
        let reporter = Reporter {
            controller: "kube-guardian".to_owned(),
            instance: Some(instance),
        };
        EventPublisher {
            recorder: Recorder::new(client, reporter),
            last: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes unless the same transition was published for this policy within a minute.
    /// Failures are logged, never fatal: events are a courtesy, not state.
    pub async fn publish(&self, policy: &GuardianPolicy, transition: Transition, note: String) {
        let name = policy.meta().name.clone().unwrap_or_default();
        {
            let Ok(mut last) = self.last.lock() else {
                return;
            };
            let key = (name.clone(), transition);
            if last.get(&key).is_some_and(|t| t.elapsed() < MIN_INTERVAL) {
                return;
            }
            last.insert(key, Instant::now());
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
