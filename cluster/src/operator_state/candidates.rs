//! The replicas standing for the operator's election, from their candidate records (see
//! `crate::lease`): which one holds the Lease, which stand by, and which are gone. Pure, with the
//! clock passed in.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;

use super::{LeaseHealth, elapsed};

/// A candidate's part in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// It holds the election Lease.
    Holder,
    /// It renews its record and does not hold the Lease: it takes over when the holder goes.
    Standby,
    /// Not the holder, and its record was not renewed within its duration (crashed, cut off, or
    /// stopped without deleting it): not a live standby. The leader prunes such records later.
    Gone,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Holder => "holder",
            Role::Standby => "standby",
            Role::Gone => "gone",
        }
    }
}

/// One replica, from its candidate record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub identity: String,
    /// The candidate record's namespace and name.
    pub namespace: String,
    pub record: String,
    pub role: Role,
    /// `healthy` while its record was renewed within its duration; `stale` after (the replica
    /// is gone or cannot reach the API server: not a live standby). One duration, not the
    /// election's two: a record has no takeover grace, so `late` does not apply.
    pub health: LeaseHealth,
    /// Seconds since the record's last renewal (none if never renewed).
    pub renew_age_seconds: Option<u64>,
    pub lease_duration_seconds: Option<u64>,
}

impl Candidate {
    /// A standby that could take over: renewed in time and not the holder.
    pub fn is_live_standby(&self) -> bool {
        self.role == Role::Standby
    }
}

/// The candidates from their records at `now`, `holder` (the election Lease's) marked, the others
/// standing by or gone (record not renewed within its duration): the holder first, then the
/// standbys, then the gone, each by identity. Records without an identity are left out.
pub fn candidates(records: &[Arc<Lease>], holder: Option<&str>, now: Timestamp) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = records
        .iter()
        .filter_map(|record| {
            let spec = record.spec.as_ref()?;
            let identity = spec.holder_identity.clone().filter(|i| !i.is_empty())?;
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .filter(|&s| s > 0)
                .map(Duration::from_secs);
            let age = spec.renew_time.as_ref().map(|t| elapsed(t.0, now));
            let health = match (age, duration) {
                (Some(age), Some(duration)) if age <= duration => LeaseHealth::Healthy,
                _ => LeaseHealth::Stale,
            };
            let role = if holder == Some(identity.as_str()) {
                Role::Holder
            } else if health == LeaseHealth::Healthy {
                Role::Standby
            } else {
                Role::Gone
            };
            Some(Candidate {
                role,
                identity,
                namespace: record.metadata.namespace.clone().unwrap_or_default(),
                record: record.metadata.name.clone().unwrap_or_default(),
                health,
                renew_age_seconds: age.map(|a| a.as_secs()),
                lease_duration_seconds: duration.map(|d| d.as_secs()),
            })
        })
        .collect();
    let rank = |role: Role| match role {
        Role::Holder => 0,
        Role::Standby => 1,
        Role::Gone => 2,
    };
    candidates.sort_by(|a, b| (rank(a.role), &a.identity).cmp(&(rank(b.role), &b.identity)));
    candidates
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("in range")
    }

    fn record(identity: Option<&str>, renewed: Option<i64>, duration: Option<i32>) -> Arc<Lease> {
        Arc::new(Lease {
            metadata: kube::api::ObjectMeta {
                name: identity.map(|i| format!("lease-candidate-{i}")),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: identity.map(str::to_owned),
                renew_time: renewed.map(|s| MicroTime(at(s))),
                lease_duration_seconds: duration,
                ..LeaseSpec::default()
            }),
        })
    }

    #[test]
    fn the_holder_comes_first_and_live_others_stand_by() {
        let records = [
            record(Some("pod-c"), Some(100), Some(15)),
            record(Some("pod-b"), Some(110), Some(15)),
            record(Some("pod-a"), Some(80), Some(15)),
            record(None, Some(110), Some(15)),
        ];
        let list = candidates(&records, Some("pod-b"), at(112));
        let rows: Vec<_> = list
            .iter()
            .map(|c| (c.identity.as_str(), c.role, c.health, c.renew_age_seconds))
            .collect();
        assert_eq!(
            rows,
            [
                ("pod-b", Role::Holder, LeaseHealth::Healthy, Some(2)),
                ("pod-c", Role::Standby, LeaseHealth::Healthy, Some(12)),
                ("pod-a", Role::Gone, LeaseHealth::Stale, Some(32)),
            ]
        );
        let live: Vec<_> = list.iter().filter(|c| c.is_live_standby()).collect();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].identity, "pod-c");
        assert_eq!(list[0].record, "lease-candidate-pod-b");
        assert_eq!(list[0].lease_duration_seconds, Some(15));
    }

    #[test]
    fn a_record_past_its_duration_or_without_timing_is_stale_and_gone_not_a_standby() {
        let health = |renewed, duration, now| {
            let list = candidates(&[record(Some("pod-a"), renewed, duration)], None, at(now));
            let expected = match list[0].health {
                LeaseHealth::Healthy => Role::Standby,
                _ => Role::Gone,
            };
            assert_eq!(list[0].role, expected, "{renewed:?} {duration:?} {now}");
            list[0].health
        };
        assert_eq!(health(Some(100), Some(15), 115), LeaseHealth::Healthy);
        assert_eq!(health(Some(100), Some(15), 116), LeaseHealth::Stale);
        assert_eq!(
            health(Some(100), Some(15), 90),
            LeaseHealth::Healthy,
            "skew"
        );
        assert_eq!(health(None, Some(15), 100), LeaseHealth::Stale);
        assert_eq!(health(Some(100), None, 100), LeaseHealth::Stale);
        assert_eq!(health(Some(100), Some(0), 100), LeaseHealth::Stale);
        assert!(candidates(&[], Some("pod-a"), at(0)).is_empty());
        // The holder stays the holder even with a late record: the election Lease decides.
        let late = candidates(
            &[record(Some("pod-a"), Some(0), Some(15))],
            Some("pod-a"),
            at(99),
        );
        assert_eq!(late[0].role, Role::Holder);
        assert_eq!(
            serde_json::to_value(Role::Gone).expect("json"),
            serde_json::json!("gone")
        );
    }
}
