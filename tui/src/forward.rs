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
/// snapshot; with the same data, the last rows and orders are kept (shared, not copied) with
/// the new snapshot (its Lease and connection), and the reducer leaves the tables as they are.
#[derive(Debug, Default)]
struct Rows {
    deriver: Deriver,
    last: Option<Arc<ClusterRows>>,
}

impl Rows {
    /// The snapshot's rows, and whether they were derived (not kept).
    fn of(&mut self, snapshot: Arc<ClusterSnapshot>, now: Timestamp) -> (Arc<ClusterRows>, bool) {
        let (rows, derived) = match &self.last {
            Some(last) if last.snapshot.same_findings(&snapshot) => (last.kept(snapshot), false),
            _ => (self.deriver.derive(snapshot, now), true),
        };
        let rows = Arc::new(rows);
        self.last = Some(Arc::clone(&rows));
        (rows, derived)
    }
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
