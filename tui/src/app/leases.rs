//! The rows of the Leases screen: per cluster, the operator's leader-election Lease as
//! guardian-cluster's operator state reads it (holder, renew age against duration, health), then
//! one row per other replica from its candidate record (a standby, or one gone: its record not
//! renewed within its duration), and the leader changes the console saw since it started. A
//! cluster whose operator writes no candidate records (an older release) shows its holder alone.

use guardian_cluster::ClusterSnapshot;
use guardian_cluster::operator_state::{LeaseHealth, Role, candidates, leader};
use k8s_openapi::jiff::Timestamp;

use super::history::History;
use super::screens::visible;
use super::state::State;
use crate::views::Screen;

/// One row of the Leases screen.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseRow {
    pub cluster: String,
    /// `namespace/name` of the Lease; on a candidate's row, its record's name after the election
    /// Lease's (`…-candidate-<pod>`), the part that tells the rows apart. None when no operator
    /// Lease is found.
    pub lease: Option<String>,
    /// As guardian-cluster's `candidates` judges it. None on the holder's row of a released
    /// Lease, and where no Lease is found.
    pub role: Option<Role>,
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

/// The rows the Leases screen shows: those of the clusters the scope and filter leave. The
/// cursor moves over these, so it reaches every standby's row, not one line per cluster.
pub fn shown(state: &State) -> Vec<LeaseRow> {
    let snapshots: Vec<_> = visible(state, Screen::Leases)
        .iter()
        .filter_map(|&i| state.clusters.get(i).map(|c| c.snapshot()))
        .collect();
    rows(&snapshots, &state.screens.history, state.now)
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
        let election = lease.metadata.name.as_deref().unwrap_or_default();
        row.lease = lease.metadata.name.as_ref().map(|name| {
            format!(
                "{}/{name}",
                lease.metadata.namespace.as_deref().unwrap_or_default()
            )
        });
        row.role = leader.holder.as_ref().map(|_| Role::Holder);
        row.holder = leader.holder.clone();
        row.health = Some(leader.health);
        row.renew_age_seconds = leader.renew_age_seconds;
        row.duration_seconds = leader.lease_duration_seconds;
        row.transitions = Some(leader.transitions);
        row.acquired = leader.acquired;
        let holder = row.clone();
        rows.push(holder);
        // Standbys, then the gone, each by identity: as `candidates` sorts them.
        let others = candidates(&snapshot.candidates, leader.holder.as_deref(), now)
            .into_iter()
            .filter(|c| c.role != Role::Holder)
            .map(|c| LeaseRow {
                lease: Some(match c.record.strip_prefix(election) {
                    Some(rest) if !election.is_empty() => format!("…{rest}"),
                    _ => format!("{}/{}", c.namespace, c.record),
                }),
                role: Some(c.role),
                holder: Some(c.identity),
                health: Some(c.health),
                renew_age_seconds: c.renew_age_seconds,
                duration_seconds: c.lease_duration_seconds,
                transitions: None,
                acquired: None,
                ..row.clone()
            });
        rows.extend(others);
    }
    rows
}
