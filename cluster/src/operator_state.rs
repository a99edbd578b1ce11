//! Where an operator runs, its state as read from the cluster: the leader-election Lease (who
//! holds it, how late its renewal is), its replicas' candidate records (who stands by) and, per
//! GuardianPolicy, whether the operator has caught up with the latest spec. Pure, with the clock
//! passed in.

mod candidates;

pub use candidates::{Candidate, Role, candidates};

use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use crate::snapshot::ClusterSnapshot;

/// How fresh the Lease's last renewal is, against its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseHealth {
    /// Renewed within one lease duration.
    Healthy,
    /// Renewed more than one lease duration ago: another replica may take over.
    Late,
    /// The election Lease: renewed more than two lease durations ago, never renewed, or released:
    /// no live leader. A candidate record: renewed more than one duration ago (it has no takeover
    /// grace), or never (see `candidates`).
    Stale,
}

impl LeaseHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseHealth::Healthy => "healthy",
            LeaseHealth::Late => "late",
            LeaseHealth::Stale => "stale",
        }
    }
}

/// The operator's leader, from its Lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Leader {
    /// The holder's identity; none when the lease was released.
    pub holder: Option<String>,
    pub health: LeaseHealth,
    /// Seconds since the last renewal (none if never renewed).
    pub renew_age_seconds: Option<u64>,
    pub lease_duration_seconds: Option<u64>,
    /// How many times leadership changed hands.
    pub transitions: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquired: Option<Timestamp>,
}

/// Whether the operator has acted on a policy's latest spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicySync {
    /// `status.observedGeneration` has reached `metadata.generation`.
    Reconciled,
    /// The spec changed since the operator last wrote the status, or it never did.
    Pending,
}

impl PolicySync {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySync::Reconciled => "reconciled",
            PolicySync::Pending => "pending",
        }
    }
}

/// One status condition, as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionState {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub last_transition: Timestamp,
}

/// One GuardianPolicy's reconcile state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyState {
    pub name: String,
    pub sync: PolicySync,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub conditions: Vec<ConditionState>,
    /// The latest transition of any condition.
    pub last_transition: Option<Timestamp>,
}

/// An operator's state in one cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorState {
    /// None when no operator Lease is found (no operator runs there, or it never led).
    pub leader: Option<Leader>,
    /// The replicas from their candidate records, the holder first; empty where the operator
    /// writes none (an older release).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
    /// Sorted by name.
    pub policies: Vec<PolicyState>,
}

impl OperatorState {
    /// The live standbys: renewed in time and not the holder (not [`Role::Gone`]).
    pub fn standbys(&self) -> impl Iterator<Item = &Candidate> {
        self.candidates.iter().filter(|c| c.is_live_standby())
    }

    /// Policies whose latest spec the operator has not acted on.
    pub fn pending(&self) -> usize {
        self.policies
            .iter()
            .filter(|p| p.sync == PolicySync::Pending)
            .count()
    }
}

/// The operator's state in `snapshot` at `now`.
pub fn operator_state(snapshot: &ClusterSnapshot, now: Timestamp) -> OperatorState {
    let mut policies: Vec<PolicyState> =
        snapshot.policies.iter().map(|p| policy_state(p)).collect();
    policies.sort_by(|a, b| a.name.cmp(&b.name));
    let leader = snapshot.lease.as_deref().map(|lease| leader(lease, now));
    let holder = leader.as_ref().and_then(|l| l.holder.as_deref());
    OperatorState {
        candidates: candidates(&snapshot.candidates, holder, now),
        leader,
        policies,
    }
}

/// The leader from a Lease at `now`.
pub fn leader(lease: &Lease, now: Timestamp) -> Leader {
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.filter(|h| !h.is_empty());
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs);
    let age = spec.renew_time.map(|renewed| elapsed(renewed.0, now));
    let health = match (&holder, age, duration) {
        (Some(_), Some(age), Some(duration)) if age <= duration => LeaseHealth::Healthy,
        (Some(_), Some(age), Some(duration)) if age <= duration * 2 => LeaseHealth::Late,
        _ => LeaseHealth::Stale,
    };
    Leader {
        holder,
        health,
        renew_age_seconds: age.map(|a| a.as_secs()),
        lease_duration_seconds: duration.map(|d| d.as_secs()),
        transitions: spec
            .lease_transitions
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(0),
        acquired: spec.acquire_time.map(|t| t.0),
    }
}

/// A policy's reconcile state from its metadata and status.
pub fn policy_state(policy: &GuardianPolicy) -> PolicyState {
    let generation = policy.metadata.generation;
    let status = policy.status.as_ref();
    let observed_generation = status.and_then(|s| s.observed_generation);
    let sync = match (generation, observed_generation) {
        (Some(generation), Some(observed)) if observed >= generation => PolicySync::Reconciled,
        _ => PolicySync::Pending,
    };
    let conditions: Vec<ConditionState> = status
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|c| ConditionState {
            type_: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_transition: c.last_transition_time.0,
        })
        .collect();
    PolicyState {
        name: policy.metadata.name.clone().unwrap_or_default(),
        sync,
        generation,
        observed_generation,
        last_transition: conditions.iter().map(|c| c.last_transition).max(),
        conditions,
    }
}

/// Time from `then` to `now`; zero when `then` is in the future (clock skew).
fn elapsed(then: Timestamp, now: Timestamp) -> Duration {
    let millis = now
        .as_millisecond()
        .saturating_sub(then.as_millisecond())
        .max(0);
    Duration::from_millis(millis.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use guardian_core::crd::{GuardianPolicySpec, GuardianPolicyStatus};
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, MicroTime, Time};

    use super::*;
    use crate::testing::snapshot;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("in range")
    }

    fn lease(holder: Option<&str>, renewed: Option<i64>, duration: Option<i32>) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: renewed.map(|s| MicroTime(at(s))),
                acquire_time: Some(MicroTime(at(0))),
                lease_duration_seconds: duration,
                lease_transitions: Some(3),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn renew_age_against_the_lease_duration_sets_the_health() {
        let health = |now: i64| leader(&lease(Some("pod-1"), Some(100), Some(15)), at(now)).health;
        assert_eq!(health(100), LeaseHealth::Healthy);
        assert_eq!(health(115), LeaseHealth::Healthy, "exactly 1x is on time");
        assert_eq!(health(116), LeaseHealth::Late);
        assert_eq!(health(130), LeaseHealth::Late, "exactly 2x is late");
        assert_eq!(health(131), LeaseHealth::Stale);
        // A renewal in the future (clock skew) counts as just renewed.
        assert_eq!(health(90), LeaseHealth::Healthy);

        let one = leader(&lease(Some("pod-1"), Some(100), Some(15)), at(120));
        assert_eq!(one.holder.as_deref(), Some("pod-1"));
        assert_eq!(one.renew_age_seconds, Some(20));
        assert_eq!(one.lease_duration_seconds, Some(15));
        assert_eq!(one.transitions, 3);
        assert_eq!(one.acquired, Some(at(0)));
    }

    #[test]
    fn a_released_unrenewed_or_unbounded_lease_is_stale() {
        for lease in [
            lease(None, Some(100), Some(15)),
            lease(Some(""), Some(100), Some(15)),
            lease(Some("pod-1"), None, Some(15)),
            lease(Some("pod-1"), Some(100), None),
            Lease::default(),
        ] {
            assert_eq!(
                leader(&lease, at(100)).health,
                LeaseHealth::Stale,
                "{lease:?}"
            );
        }
    }

    fn policy(name: &str, generation: i64, status: Option<GuardianPolicyStatus>) -> GuardianPolicy {
        let mut policy = GuardianPolicy::new(name, GuardianPolicySpec::default());
        policy.metadata.generation = Some(generation);
        policy.status = status;
        policy
    }

    fn condition(type_: &str, seconds: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: "True".into(),
            reason: "Reconciled".into(),
            message: "ok".into(),
            last_transition_time: Time(at(seconds)),
            observed_generation: None,
        }
    }

    #[test]
    fn policies_are_reconciled_when_observed_generation_catches_up() {
        let mut snap = snapshot("a", Vec::new());
        snap.policies = vec![
            Arc::new(policy(
                "z-current",
                2,
                Some(GuardianPolicyStatus {
                    observed_generation: Some(2),
                    conditions: vec![condition("Ready", 5), condition("Degraded", 9)],
                    summary: None,
                }),
            )),
            Arc::new(policy(
                "b-behind",
                3,
                Some(GuardianPolicyStatus {
                    observed_generation: Some(2),
                    ..GuardianPolicyStatus::default()
                }),
            )),
            Arc::new(policy("a-new", 1, None)),
        ];
        snap.lease = Some(Arc::new(lease(Some("pod-1"), Some(0), Some(15))));
        let mut record = lease(Some("pod-2"), Some(1), Some(15));
        record.metadata.name = Some("kube-guardian-operator-candidate-pod-2".into());
        snap.candidates = vec![
            Arc::new(lease(Some("pod-1"), Some(1), Some(15))),
            Arc::new(record),
        ];
        let state = operator_state(&snap, at(1));
        let rows: Vec<(&str, PolicySync)> = state
            .policies
            .iter()
            .map(|p| (p.name.as_str(), p.sync))
            .collect();
        assert_eq!(
            rows,
            [
                ("a-new", PolicySync::Pending),
                ("b-behind", PolicySync::Pending),
                ("z-current", PolicySync::Reconciled),
            ]
        );
        assert_eq!(state.pending(), 2);
        let current = &state.policies[2];
        assert_eq!(current.conditions.len(), 2);
        assert_eq!(current.conditions[1].type_, "Degraded");
        assert_eq!(current.last_transition, Some(at(9)));
        assert_eq!(state.policies[0].last_transition, None);
        let standbys: Vec<&str> = state.standbys().map(|c| c.identity.as_str()).collect();
        assert_eq!(standbys, ["pod-2"]);
        assert_eq!(state.candidates[0].role, Role::Holder);
        assert_eq!(state.candidates[0].identity, "pod-1");
        assert_eq!(state.leader.map(|l| l.health), Some(LeaseHealth::Healthy));
        assert_eq!(
            operator_state(&snapshot("b", Vec::new()), at(0)).leader,
            None
        );
    }
}
