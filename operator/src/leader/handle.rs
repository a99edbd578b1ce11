//! The handle a replica keeps to its running election.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::metrics::Metrics;

/// Controls a running election. Dropping it without [`LeaderHandle::release`] stops the elector
/// as a crash would: the channel turns false, the lease is left to expire.
#[derive(Debug)]
pub struct LeaderHandle {
    pub(super) identity: String,
    pub(super) leader: Arc<watch::Sender<bool>>,
    pub(super) abandoned: Arc<AtomicBool>,
    pub(super) metrics: Metrics,
    pub(super) stop: CancellationToken,
    pub(super) task: Option<JoinHandle<Result<(), Error>>>,
}

impl LeaderHandle {
    /// A handle for a single replica without election (`--leader-elect` off): always the leader.
    pub fn standalone(
        identity: impl Into<String>,
        metrics: Metrics,
    ) -> (Self, watch::Receiver<bool>) {
        let (leader, rx) = watch::channel(true);
        metrics.set_leader(true);
        let handle = LeaderHandle {
            identity: identity.into(),
            leader: Arc::new(leader),
            abandoned: Arc::new(AtomicBool::new(false)),
            metrics,
            stop: CancellationToken::new(),
            task: None,
        };
        (handle, rx)
    }

    /// The holder identity this replica writes into the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// False while the elector runs (it never gives up on API errors); true once it has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops leading at once (the channel turns false before anything else), then clears the
    /// Lease's holder so a standby takes over immediately instead of after the lease expires.
    /// Call it on SIGTERM, after the controller has stopped writing.
    pub async fn release(mut self) -> Result<(), Error> {
        self.stop.cancel();
        let Some(task) = self.task.take() else {
            self.step_down();
            return Ok(());
        };
        let result = task
            .await
            .map_err(|source| Error::Task {
                what: "leader election",
                source,
            })
            .and_then(|released| released);
        self.step_down();
        result
    }

    fn step_down(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
        self.leader.send_replace(false);
        self.metrics.set_leader(false);
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        // `abandoned` first: the elector checks it under the channel's lock, so it cannot publish
        // `true` after this even if it runs on another thread until the abort lands.
        self.step_down();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
