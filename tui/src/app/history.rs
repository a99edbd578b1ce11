//! What the console saw while it runs, per cluster: policy condition transitions (a timeline per
//! policy), and in a bounded ring the Warning Events about GuardianPolicies, leader changes and
//! connection state changes.
//! The cluster layer keeps only the present; the Reconcile, Leases and Events screens need the
//! past.

use std::collections::{HashMap, HashSet, VecDeque};

use guardian_cluster::ClusterSnapshot;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;

/// Events kept in the ring; the oldest go first.
pub const EVENTS: usize = 500;
/// Condition transitions kept per policy.
pub const TRANSITIONS: usize = 16;

/// One condition of one policy changing status or reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The condition's own `lastTransitionTime`.
    pub time: Timestamp,
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Transition {
    /// A transition that counts as a failure: not Ready, or Degraded.
    pub fn failing(&self) -> bool {
        (self.type_ == "Ready" && self.status != "True")
            || (self.type_ == "Degraded" && self.status == "True")
    }
}

/// Leadership as seen by the console in one cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderLog {
    pub holder: Option<String>,
    /// Changes of holder seen since the console started.
    pub changes: u32,
    pub last_change: Option<Timestamp>,
}

/// One line of the Events screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub time: Timestamp,
    pub cluster: String,
    /// `GuardianPolicy/name` (an Event's involved object, or a condition's policy), `Lease`,
    /// or `Cluster`.
    pub object: String,
    pub reason: String,
    pub message: String,
    pub warning: bool,
}

/// Everything observed, keyed by cluster context.
#[derive(Debug, Clone, Default)]
pub struct History {
    conditions: HashMap<(String, String), VecDeque<Transition>>,
    leaders: HashMap<String, LeaderLog>,
    states: HashMap<String, &'static str>,
    /// Per cluster, the Events of its last snapshot (uid and count: a repeat is seen again).
    warnings: HashMap<String, HashSet<(String, i32)>>,
    events: VecDeque<Seen>,
    /// Transitions and events recorded so far (the ring's length stops growing once full).
    recorded: u64,
}

impl History {
    /// Records what changed in `snapshot` since the previous one of its cluster. Returns
    /// whether anything was recorded (a transition or an event): the Reconcile rows count them.
    pub fn observe(&mut self, snapshot: &ClusterSnapshot, now: Timestamp) -> bool {
        let cluster = snapshot.context.as_str();
        let before = self.recorded;
        self.observe_state(snapshot);
        self.observe_warnings(snapshot, now);
        for policy in &snapshot.policies {
            let name = policy.metadata.name.clone().unwrap_or_default();
            let conditions = policy.status.as_ref().map(|s| s.conditions.as_slice());
            for condition in conditions.unwrap_or_default() {
                let transition = Transition {
                    time: condition.last_transition_time.0,
                    type_: condition.type_.clone(),
                    status: condition.status.clone(),
                    reason: condition.reason.clone(),
                    message: condition.message.clone(),
                };
                self.record(cluster, &name, transition);
            }
        }
        self.observe_leader(snapshot, now);
        self.recorded != before
    }

    fn observe_leader(&mut self, snapshot: &ClusterSnapshot, now: Timestamp) {
        let cluster = snapshot.context.as_str();
        let holder = snapshot
            .lease
            .as_ref()
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.holder_identity.clone())
            .filter(|h| !h.is_empty());
        // No holder seen now (no Lease yet, stale data, released) changes nothing; the first
        // holder seen is where the console starts counting, not a change.
        let Some(holder) = holder else {
            return;
        };
        let log = self.leaders.entry(cluster.to_owned()).or_default();
        match &log.holder {
            None => log.holder = Some(holder),
            Some(before) if *before != holder => {
                let message = format!("leader {before} → {holder}");
                log.holder = Some(holder);
                log.changes += 1;
                log.last_change = Some(now);
                self.push(cluster, "Lease", "LeaderChanged", message, true, now);
            }
            Some(_) => {}
        }
    }

    fn observe_state(&mut self, snapshot: &ClusterSnapshot) {
        let cluster = snapshot.context.as_str();
        let state = snapshot.connection.state.name();
        let previous = self.states.insert(cluster.to_owned(), state);
        if previous.is_some_and(|p| p != state) {
            let message = format!("{} → {state}", previous.unwrap_or_default());
            let warning = !snapshot.connection.state.is_live();
            // When it changed, not when the console heard of it.
            let since = snapshot.connection.since;
            self.push(cluster, "Cluster", state, message, warning, since);
        }
    }

    fn observe_warnings(&mut self, snapshot: &ClusterSnapshot, now: Timestamp) {
        let cluster = snapshot.context.as_str();
        let before = self.warnings.remove(cluster).unwrap_or_default();
        let mut current = HashSet::with_capacity(snapshot.warnings.len());
        let mut new: Vec<&Event> = Vec::new();
        for event in &snapshot.warnings {
            let key = (
                event.metadata.uid.clone().unwrap_or_default(),
                event.count.unwrap_or(1),
            );
            if !before.contains(&key) {
                new.push(event);
            }
            current.insert(key);
        }
        new.sort_by_key(|e| event_time(e, now));
        for event in new {
            let involved = &event.involved_object;
            let object = format!(
                "{}/{}",
                involved.kind.as_deref().unwrap_or_default(),
                involved.name.as_deref().unwrap_or_default()
            );
            let count = event.count.unwrap_or(1);
            let mut message = event.message.clone().unwrap_or_default();
            if count > 1 {
                message = format!("{message} (x{count})");
            }
            let reason = event.reason.clone().unwrap_or_default();
            let time = event_time(event, now);
            self.push(cluster, &object, &reason, message, true, time);
        }
        // A stale cluster shows its last Events: nothing to forget.
        self.warnings.insert(cluster.to_owned(), current);
    }

    /// Adds `transition` to the policy's timeline when its status or reason changed (not to the
    /// event ring: the operator reports a failing condition with an Event of its own).
    fn record(&mut self, cluster: &str, policy: &str, transition: Transition) {
        let timeline = self
            .conditions
            .entry((cluster.to_owned(), policy.to_owned()))
            .or_default();
        let last = timeline.iter().rev().find(|t| t.type_ == transition.type_);
        if last.is_some_and(|l| l.status == transition.status && l.reason == transition.reason) {
            return;
        }
        if timeline.len() == TRANSITIONS {
            timeline.pop_front();
        }
        timeline.push_back(transition);
        self.recorded += 1;
    }

    fn push(
        &mut self,
        cluster: &str,
        object: &str,
        reason: &str,
        message: String,
        warning: bool,
        time: Timestamp,
    ) {
        if self.events.len() == EVENTS {
            self.events.pop_front();
        }
        self.recorded += 1;
        self.events.push_back(Seen {
            time,
            cluster: cluster.to_owned(),
            object: object.to_owned(),
            reason: reason.to_owned(),
            message,
            warning,
        });
    }

    /// The policy's condition transitions seen, oldest first.
    pub fn transitions(&self, cluster: &str, policy: &str) -> impl Iterator<Item = &Transition> {
        self.conditions
            .get(&(cluster.to_owned(), policy.to_owned()))
            .into_iter()
            .flatten()
    }

    pub fn leader(&self, cluster: &str) -> Option<&LeaderLog> {
        self.leaders.get(cluster)
    }

    /// Events seen, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Seen> + ExactSizeIterator {
        self.events.iter()
    }
}

/// When an Event last happened: its last timestamp, event time or creation, else `now`.
fn event_time(event: &Event, now: Timestamp) -> Timestamp {
    event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(now)
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
