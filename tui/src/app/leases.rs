//! The rows of the Leases screen: per cluster, the operator's leader-election Lease as
//! guardian-cluster's operator state reads it (holder, renew age against duration, health), and
//! the leader changes the console saw since it started.

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::operator_state::{LeaseHealth, leader};
use k8s_openapi::jiff::Timestamp;

use super::history::History;

/// One row of the Leases screen.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRow {
    pub cluster: String,
    /// `namespace/name` of the Lease; none when no operator Lease is found.
    pub lease: Option<String>,
    pub holder: Option<String>,
    pub health: Option<LeaseHealth>,
    pub renew_age_seconds: Option<u64>,
    pub duration_seconds: Option<u64>,
    pub transitions: u32,
    pub acquired: Option<Timestamp>,
    /// Leader changes seen since the console started.
    pub changes_seen: u32,
    pub last_change: Option<Timestamp>,
}

impl LeaseRow {
    /// `12s / 15s`: the renew age against the lease duration.
    pub fn renew(&self) -> String {
        let show = |s: Option<u64>| s.map_or("-".to_owned(), |s| format!("{s}s"));
        format!(
            "{} / {}",
            show(self.renew_age_seconds),
            show(self.duration_seconds)
        )
    }
}

/// One row per cluster of `snapshots`, in their order, at `now`.
pub fn rows(snapshots: &[&ClusterSnapshot], history: &History, now: Timestamp) -> Vec<LeaseRow> {
    snapshots
        .iter()
        .map(|snapshot| {
            let log = history.leader(&snapshot.context);
            let mut row = LeaseRow {
                cluster: snapshot.context.clone(),
                lease: None,
                holder: None,
                health: None,
                renew_age_seconds: None,
                duration_seconds: None,
                transitions: 0,
                acquired: None,
                changes_seen: log.map_or(0, |l| l.changes),
                last_change: log.and_then(|l| l.last_change),
            };
            if let Some(lease) = &snapshot.lease {
                let leader = leader(lease, now);
                row.lease = lease.metadata.name.as_ref().map(|name| {
                    format!(
                        "{}/{name}",
                        lease.metadata.namespace.as_deref().unwrap_or_default()
                    )
                });
                row.holder = leader.holder;
                row.health = Some(leader.health);
                row.renew_age_seconds = leader.renew_age_seconds;
                row.duration_seconds = leader.lease_duration_seconds;
                row.transitions = leader.transitions;
                row.acquired = leader.acquired;
            }
            row
        })
        .collect()
}
