//! The rows of the Leases screen: per cluster, the operator's leader-election Lease as
//! guardian-cluster's operator state reads it (holder, renew age against duration, health), then
//! one row per other replica from its candidate record (a standby, or one gone: its record not
//! renewed within its duration), and the leader changes the console saw since it started. A
//! cluster whose operator writes no candidate records (an older release) shows its holder alone.

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::operator_state::{LeaseHealth, Role, candidates, leader};
use k8s_openapi::jiff::Timestamp;

use super::history::History;

/// What a row's replica does in the election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowRole {
    /// It holds the Lease.
    Holder,
    /// It renews its candidate record and would take over.
    Standby,
    /// Its candidate record was not renewed within its duration: not a live standby.
    Gone,
}

impl RowRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RowRole::Holder => "holder",
            RowRole::Standby => "standby",
            RowRole::Gone => "gone",
        }
    }
}

/// One row of the Leases screen.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRow {
    pub cluster: String,
    /// `namespace/name` of the Lease (of the candidate record on a standby's row); none when no
    /// operator Lease is found.
    pub lease: Option<String>,
    /// None on the holder's row of a released Lease, and where no Lease is found.
    pub role: Option<RowRole>,
    /// The holder's identity, or the standby's.
    pub holder: Option<String>,
    pub health: Option<LeaseHealth>,
    pub renew_age_seconds: Option<u64>,
    pub duration_seconds: Option<u64>,
    /// The election's; none on a standby's row.
    pub transitions: Option<u32>,
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

/// The rows of each cluster of `snapshots`, in their order, at `now`: the holder's, then one per
/// other candidate (standbys, then the gone, each by identity).
pub fn rows(snapshots: &[&ClusterSnapshot], history: &History, now: Timestamp) -> Vec<LeaseRow> {
    let mut rows = Vec::new();
    for snapshot in snapshots {
        let log = history.leader(&snapshot.context);
        let mut row = LeaseRow {
            cluster: snapshot.context.clone(),
            lease: None,
            role: None,
            holder: None,
            health: None,
            renew_age_seconds: None,
            duration_seconds: None,
            transitions: None,
            acquired: None,
            changes_seen: log.map_or(0, |l| l.changes),
            last_change: log.and_then(|l| l.last_change),
        };
        let Some(lease) = &snapshot.lease else {
            rows.push(row);
            continue;
        };
        let leader = leader(lease, now);
        let name = |meta: &kube::api::ObjectMeta| {
            meta.name
                .as_ref()
                .map(|name| format!("{}/{name}", meta.namespace.as_deref().unwrap_or_default()))
        };
        row.lease = name(&lease.metadata);
        row.role = leader.holder.as_ref().map(|_| RowRole::Holder);
        row.holder = leader.holder.clone();
        row.health = Some(leader.health);
        row.renew_age_seconds = leader.renew_age_seconds;
        row.duration_seconds = leader.lease_duration_seconds;
        row.transitions = Some(leader.transitions);
        row.acquired = leader.acquired;
        let holder = row.clone();
        rows.push(holder);
        let mut others: Vec<LeaseRow> =
            candidates(&snapshot.candidates, leader.holder.as_deref(), now)
                .into_iter()
                .filter(|c| c.role == Role::Standby)
                .map(|c| {
                    let role = if c.is_live_standby() {
                        RowRole::Standby
                    } else {
                        RowRole::Gone
                    };
                    let record = snapshot
                        .candidates
                        .iter()
                        .find(|r| r.metadata.name.as_deref() == Some(c.record.as_str()));
                    LeaseRow {
                        lease: record.and_then(|r| name(&r.metadata)),
                        role: Some(role),
                        holder: Some(c.identity),
                        health: Some(c.health),
                        renew_age_seconds: c.renew_age_seconds,
                        duration_seconds: c.lease_duration_seconds,
                        transitions: None,
                        acquired: None,
                        ..row.clone()
                    }
                })
                .collect();
        // Standbys first; `candidates` already sorts by identity.
        others.sort_by_key(|r| r.role == Some(RowRole::Gone));
        rows.extend(others);
    }
    rows
}
