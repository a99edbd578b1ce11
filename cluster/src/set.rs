//! Several clusters at once: one task per cluster, each publishing its own snapshots.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::kubeconfig::Target;
use crate::snapshot::ClusterSnapshot;
use crate::state::ClusterState;
use crate::{backoff, task};

/// How each cluster is followed; the same for every cluster of a set.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Limit for a TCP connection and TLS handshake.
    pub connect_timeout: Duration,
    /// Limit for the `/version` probe that tells a live server from a dead or hanging one.
    pub request_timeout: Duration,
    /// How often a connected cluster is probed: a server that hangs ends no watch.
    pub health_interval: Duration,
    /// The first reconnection delay; it doubles (jittered) up to `backoff_max`.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// The operator's leader-election Lease, looked for in every namespace.
    pub lease_name: String,
    /// Changes are gathered for this long before a new snapshot is published.
    pub publish_interval: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            health_interval: Duration::from_secs(15),
            backoff_first: backoff::FIRST,
            backoff_max: backoff::MAX,
            lease_name: crate::lease::DEFAULT_LEASE_NAME.to_owned(),
            publish_interval: Duration::from_millis(200),
        }
    }
}

/// The clusters followed, each by its own task. Dropping the set (or [`ClusterSet::shutdown`])
/// stops every task and the watches they run.
#[derive(Debug)]
pub struct ClusterSet {
    receivers: Vec<watch::Receiver<Arc<ClusterSnapshot>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl ClusterSet {
    /// Starts one task per target. Call it inside a tokio runtime (the tasks run on it).
    pub fn start(targets: Vec<Target>, options: ClusterOptions) -> ClusterSet {
        let now = Timestamp::now();
        let mut receivers = Vec::with_capacity(targets.len());
        let mut tasks = Vec::with_capacity(targets.len());
        for target in targets {
            let first = ClusterSnapshot::connecting(target.context.clone(), now);
            let (publish, receiver) = watch::channel(Arc::new(first));
            receivers.push(receiver);
            tasks.push(tokio::spawn(task::run(target, options.clone(), publish)));
        }
        ClusterSet { receivers, tasks }
    }

    /// One receiver per cluster, in target order; a new snapshot whenever something changed.
    pub fn subscribe(&self) -> Vec<watch::Receiver<Arc<ClusterSnapshot>>> {
        self.receivers.clone()
    }

    /// The latest snapshot of every cluster, in target order.
    pub fn snapshots(&self) -> Vec<Arc<ClusterSnapshot>> {
        self.receivers.iter().map(|r| r.borrow().clone()).collect()
    }

    /// Waits until every cluster has left `Connecting` (synced, or its first attempt failed),
    /// or `timeout` passed; returns the latest snapshots either way.
    pub async fn settled(&self, timeout: Duration) -> Vec<Arc<ClusterSnapshot>> {
        let waits = self
            .receivers
            .iter()
            .cloned()
            .map(|mut receiver| async move {
                // An error means the task ended; its last snapshot is what there is.
                let _ = receiver
                    .wait_for(|s| s.connection.state != ClusterState::Connecting)
                    .await;
            });
        let _ = tokio::time::timeout(timeout, futures::future::join_all(waits)).await;
        self.snapshots()
    }

    /// Stops every cluster's task.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ClusterSet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
