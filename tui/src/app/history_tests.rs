use std::sync::Arc;

use guardian_cluster::{ClusterState, Connection};
use guardian_core::crd::{GuardianPolicy, GuardianPolicySpec, GuardianPolicyStatus};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use super::*;
use crate::testing::warning;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("in range")
}

fn ready(status: &str, reason: &str, seconds: i64) -> Condition {
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message: format!("{reason} message"),
        last_transition_time: Time(at(seconds)),
        observed_generation: None,
    }
}

fn snapshot(conditions: Vec<Condition>, holder: Option<&str>) -> ClusterSnapshot {
    let mut policy = GuardianPolicy::new("p", GuardianPolicySpec::default());
    policy.status = Some(GuardianPolicyStatus {
        conditions,
        ..GuardianPolicyStatus::default()
    });
    let mut snapshot = ClusterSnapshot::connecting("a", at(0));
    snapshot.connection = Connection {
        state: ClusterState::Synced,
        since: at(0),
        last_synced: Some(at(0)),
        next_retry: None,
    };
    snapshot.policies = vec![Arc::new(policy)];
    snapshot.lease = holder.map(|h| {
        Arc::new(Lease {
            spec: Some(LeaseSpec {
                holder_identity: Some(h.into()),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        })
    });
    snapshot
}

#[test]
fn condition_changes_are_recorded_once_per_change() {
    let mut history = History::default();
    history.observe(&snapshot(vec![ready("True", "Reconciled", 1)], None), at(2));
    // The same condition again is no transition.
    history.observe(&snapshot(vec![ready("True", "Reconciled", 1)], None), at(3));
    assert_eq!(history.transitions("a", "p").count(), 1);

    history.observe(
        &snapshot(vec![ready("False", "InvalidRule", 5)], None),
        at(6),
    );
    history.observe(&snapshot(vec![ready("True", "Reconciled", 8)], None), at(9));
    let seen: Vec<(&str, &str, Timestamp, bool)> = history
        .transitions("a", "p")
        .map(|t| (t.status.as_str(), t.reason.as_str(), t.time, t.failing()))
        .collect();
    assert_eq!(
        seen,
        [
            ("True", "Reconciled", at(1), false),
            ("False", "InvalidRule", at(5), true),
            ("True", "Reconciled", at(8), false)
        ]
    );
    assert_eq!(history.transitions("b", "p").count(), 0);
    assert_eq!(
        history.events().count(),
        0,
        "conditions have their own timeline"
    );
}

#[test]
fn warning_events_enter_the_ring_once_and_again_when_they_repeat() {
    let mut history = History::default();
    let mut s = snapshot(Vec::new(), None);
    s.warnings = vec![warning("p", "u1", 1, at(5)), warning("p", "u0", 1, at(3))];
    history.observe(&s, at(6));
    history.observe(&s, at(7));
    s.warnings = vec![warning("p", "u1", 2, at(9))];
    history.observe(&s, at(10));
    let events: Vec<(&str, &str, Timestamp)> = history
        .events()
        .map(|e| (e.object.as_str(), e.message.as_str(), e.time))
        .collect();
    assert_eq!(
        events,
        [
            ("GuardianPolicy/p", "a rule does not compile", at(3)),
            ("GuardianPolicy/p", "a rule does not compile", at(5)),
            ("GuardianPolicy/p", "a rule does not compile (x2)", at(9)),
        ]
    );
}

#[test]
fn leader_changes_are_counted_but_a_lease_gone_from_view_is_not_a_change() {
    let mut history = History::default();
    // Connecting: no Lease yet; the first holder seen is no change.
    history.observe(&snapshot(Vec::new(), None), at(0));
    history.observe(&snapshot(Vec::new(), Some("pod-1")), at(1));
    history.observe(&snapshot(Vec::new(), None), at(2));
    history.observe(&snapshot(Vec::new(), Some("pod-1")), at(3));
    assert_eq!(history.leader("a").map(|l| l.changes), Some(0));
    history.observe(&snapshot(Vec::new(), Some("pod-2")), at(4));
    let log = history.leader("a").expect("seen");
    assert_eq!(
        (log.holder.as_deref(), log.changes, log.last_change),
        (Some("pod-2"), 1, Some(at(4)))
    );
    let last = history.events().last().expect("an event");
    assert_eq!(last.message, "leader pod-1 → pod-2");
}

#[test]
fn the_event_ring_and_each_timeline_are_bounded() {
    let mut history = History::default();
    let mut s = snapshot(Vec::new(), None);
    for i in 0..(EVENTS as i64 + 10) {
        let (status, reason) = if i % 2 == 0 {
            ("True", "Ok")
        } else {
            ("False", "Bad")
        };
        s.policies = snapshot(vec![ready(status, reason, i)], None).policies;
        s.warnings = vec![warning("p", &format!("u{i}"), 1, at(i))];
        history.observe(&s, at(i));
    }
    assert_eq!(history.events().count(), EVENTS);
    assert_eq!(history.transitions("a", "p").count(), TRANSITIONS);
    // The oldest went first.
    let first = history.events().next().expect("events");
    assert_eq!(first.time, at(10));
}

#[test]
fn connection_state_changes_are_events() {
    let mut history = History::default();
    let mut s = snapshot(Vec::new(), None);
    history.observe(&s, at(1));
    s.connection.state = ClusterState::Unreachable {
        reason: guardian_cluster::UnreachableReason::Refused,
        detail: "refused".into(),
    };
    history.observe(&s, at(2));
    let event = history.events().last().expect("an event");
    assert_eq!(
        (event.object.as_str(), event.message.as_str(), event.warning),
        ("Cluster", "Synced → Unreachable", true)
    );
}
