//! One forwarder task per cluster: its snapshots become rows off the UI thread, sent to the
//! loop as deltas over a bounded channel.

use std::sync::Arc;

use guardian_cluster::ClusterSnapshot;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::{mpsc, watch};

use crate::action::{Action, Delta};
use crate::app::{ClusterRows, Deriver};

/// Follows one cluster: each new snapshot becomes rows (formatted here, off the UI thread) and
/// one delta. Ends when the cluster set or the UI is gone.
pub(crate) async fn forward(
    cluster: usize,
    mut receiver: watch::Receiver<Arc<ClusterSnapshot>>,
    deltas: mpsc::Sender<Action>,
) {
    let mut rows = Rows::default();
    let mut last_state = "";
    loop {
        let snapshot = receiver.borrow_and_update().clone();
        let state = snapshot.connection.state.name();
        if state != last_state {
            tracing::info!(context = %snapshot.context, state, "cluster state");
            last_state = state;
        }
        let (rows, derived) = rows.of(snapshot, Timestamp::now());
        if derived {
            let (context, generation) = (&rows.snapshot.context, rows.generation());
            tracing::debug!(%context, generation, "rows derived");
        }
        let delta = Delta { cluster, rows };
        if deltas.send(Action::Delta(Box::new(delta))).await.is_err() {
            return;
        }
        if receiver.changed().await.is_err() {
            return;
        }
    }
}

/// A cluster's rows for each of its snapshots. Derived only when the findings, policies or
/// exceptions changed: an operator renews its Lease every 2 s and each renewal publishes a
/// snapshot; with the same data, the last rows and orders are kept with the new snapshot (its
/// Lease and connection), and the reducer leaves the table as it is.
#[derive(Debug, Default)]
struct Rows {
    deriver: Deriver,
    last: Option<Arc<ClusterRows>>,
}

impl Rows {
    /// The snapshot's rows, and whether they were derived (not kept).
    fn of(&mut self, snapshot: Arc<ClusterSnapshot>, now: Timestamp) -> (Arc<ClusterRows>, bool) {
        let (rows, derived) = match &self.last {
            Some(last) if last.snapshot.same_findings(&snapshot) => {
                let kept = ClusterRows {
                    snapshot,
                    ..ClusterRows::clone(last)
                };
                (kept, false)
            }
            _ => (self.deriver.derive(snapshot, now), true),
        };
        let rows = Arc::new(rows);
        self.last = Some(Arc::clone(&rows));
        (rows, derived)
    }
}

#[cfg(test)]
mod tests {
    use guardian_core::model::Severity;

    use super::*;
    use crate::app::{prepare, update};
    use crate::testing::{at, deployment, finding, lease, state, synced};
    use crate::views::Screen;

    fn with_findings() -> ClusterSnapshot {
        let mut s = synced("demo-a");
        let f = finding("restricted", "run-as-non-root", Severity::High);
        s.evaluations = vec![deployment("shop", "web", &["restricted"], vec![f])];
        s
    }

    /// The snapshot a Lease renewal publishes: the same findings, a newer Lease.
    fn renewed(s: &ClusterSnapshot, seconds: i64) -> Arc<ClusterSnapshot> {
        let mut s = s.clone();
        s.generation += 1;
        s.lease = Some(lease("demo-a-1", at(seconds)));
        Arc::new(s)
    }

    #[test]
    fn a_lease_renewal_keeps_the_rows_and_only_new_findings_derive_them() {
        let mut rows = Rows::default();
        let first = with_findings();
        let (derived, fresh) = rows.of(Arc::new(first.clone()), at(0));
        assert!(fresh);
        let renewal = renewed(&first, 2);
        let (kept, fresh) = rows.of(Arc::clone(&renewal), at(2));
        assert!(!fresh, "a Lease renewal must not derive the rows again");
        assert!(
            Arc::ptr_eq(&kept.snapshot, &renewal),
            "the new snapshot is shown"
        );
        assert_eq!(kept.violations, derived.violations);
        // A changed finding is a new evaluation: derived.
        let (_, fresh) = rows.of(Arc::new(with_findings()), at(4));
        assert!(fresh);
    }

    #[test]
    fn a_lease_renewal_leaves_the_table_as_it_is_and_new_findings_outdate_it() {
        let first = with_findings();
        let mut s = state(vec![first.clone()], at(0));
        update(
            &mut s,
            Action::Command(crate::action::Command::Show(Screen::Violations)),
        );
        prepare(&mut s);
        assert!(!s.violations.outdated);
        let mut rows = Rows::default();
        rows.of(Arc::new(first.clone()), at(0));
        let delta = |rows: Arc<ClusterRows>| Action::Delta(Box::new(Delta { cluster: 0, rows }));
        // `state` fed its own rows: the renewal compares with that snapshot's findings.
        let shown = Arc::clone(&s.clusters[0].rows.snapshot);
        let (kept, _) = rows.of(renewed(&shown, 2), at(2));
        assert!(
            update(&mut s, delta(kept)),
            "the Lease changed: a redraw is due"
        );
        assert!(
            !s.violations.outdated,
            "the same findings must not rebuild the table"
        );
        let renewed_at = s.clusters[0]
            .rows
            .snapshot
            .lease
            .as_ref()
            .map(|l| l.spec.clone());
        assert_eq!(renewed_at, Some(lease("demo-a-1", at(2)).spec.clone()));
        let mut changed = with_findings();
        changed.generation = shown.generation + 2;
        let (derived, _) = rows.of(Arc::new(changed), at(4));
        update(&mut s, delta(derived));
        assert!(s.violations.outdated);
    }
}
