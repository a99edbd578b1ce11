//! Leader election on a `coordination.k8s.io/v1` Lease: only the leader reconciles and writes, the
//! standbys keep their caches warm and watch [`LeaderElection::start`]'s channel.
//!
//! The lease protocol itself (acquire by server-side apply, so two candidates cannot both win;
//! renew; release; take over an expired lease) is `kube-lease-manager`'s. On top of it this module
//! adds what the operator's safety needs:
//! - a renew deadline: the channel turns false once the Lease has not been renewed for
//!   `renew_deadline`, judged by the Lease's own `renewTime` as seen on a watch. The deadline is
//!   shorter than `lease_duration`, so writes stop before any standby may take the lease, even when
//!   a renewal request hangs instead of failing;
//! - prompt takeover: a standby watches the Lease and re-reads it the moment it is released, where
//!   the crate alone would sleep until the old lease expired;
//! - no crash on API errors: each one is logged, counted and retried with a capped backoff.
//!
//! Besides, each replica keeps a candidate record (`candidate`), so a watcher sees the standbys
//! too, not only the holder; `--lease-candidates=false` turns that off.
//!
//! RBAC: `get, list, watch, create, patch, delete` on `coordination.k8s.io` leases in the lease
//! namespace (list: the leader prunes stale candidate records; delete: the own record, on
//! shutdown). The chart narrows the writes to these Leases with an admission policy. Without
//! candidate records: `create`, and `get, watch, patch` on the election Lease.

mod candidate;
mod config;
mod handle;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use config::{
    DEFAULT_CANDIDATE_RENEW, DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD,
    LeaseConfig, default_identity, default_namespace, pod_name,
};
pub use handle::LeaderHandle;

use candidate::Candidate;

use crate::Error;
use crate::metrics::Metrics;

/// Upper bound for releasing the lease on shutdown: a dead apiserver must not stall SIGTERM.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay after an API error; it doubles up to the retry period.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// A timer that never fires in practice, for "nothing to re-check".
const FAR_FUTURE: Duration = Duration::from_secs(3600);

/// The state of one replica's election; runs as a task owned by its [`LeaderHandle`].
pub struct LeaderElection {
    client: Client,
    config: LeaseConfig,
    metrics: Metrics,
    leader: Arc<watch::Sender<bool>>,
    abandoned: Arc<AtomicBool>,
    /// The crate's manager; `None` while one is being built (that reads the Lease afresh).
    manager: Option<Arc<LeaseManager>>,
    /// What the crate last reported: whether it believes this replica holds the lease.
    holds: bool,
    lease: Observed,
    /// The manager's view of the Lease is at least as fresh as this observation.
    fresh_as_of: u64,
    retry: Duration,
}

impl std::fmt::Debug for LeaderElection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderElection")
            .field("config", &self.config)
            .field("holds", &self.holds)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// The Lease as last seen on the watch.
#[derive(Debug, Default)]
struct Observed {
    /// Counts observations, so a standby re-reads the Lease once per change, not in a loop.
    seq: u64,
    exists: bool,
    holder: Option<String>,
    renewed: Option<SystemTime>,
}

/// What the crate's manager finished doing.
enum Step {
    Built(Result<Arc<LeaseManager>, LeaseManagerError>),
    Changed(Result<bool, LeaseManagerError>),
}

/// The manager's current operation. It is kept across loop turns rather than re-created, because
/// cancelling `changed()` right after a renewal would skip the re-read that schedules the next one.
type Driver = Pin<Box<dyn Future<Output = Step> + Send>>;

impl LeaderElection {
    /// Starts electing in the background. The channel is true exactly while this replica leads;
    /// it turns false at once when the lease is lost or not renewed within the renew deadline.
    /// Must be called inside a tokio runtime.
    pub fn start(
        client: Client,
        config: LeaseConfig,
        metrics: Metrics,
    ) -> Result<(LeaderHandle, watch::Receiver<bool>), Error> {
        config.validate()?;
        let (leader, rx) = watch::channel(false);
        let leader = Arc::new(leader);
        let abandoned = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        metrics.set_leader(false);
        let election = LeaderElection {
            client,
            retry: FIRST_RETRY.min(config.retry_period),
            config: config.clone(),
            metrics: metrics.clone(),
            leader: leader.clone(),
            abandoned: abandoned.clone(),
            manager: None,
            holds: false,
            lease: Observed::default(),
            fresh_as_of: 0,
        };
        let (lease, namespace) = (&config.name, &config.namespace);
        info!(%lease, %namespace, identity = %config.identity, "starting leader election");
        let task = tokio::spawn(election.run(stop.clone()));
        let handle = LeaderHandle {
            identity: config.identity,
            leader,
            abandoned,
            metrics,
            stop,
            task: Some(task),
        };
        Ok((handle, rx))
    }

    async fn run(mut self, stop: CancellationToken) -> Result<(), Error> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.config.namespace);
        // The watch's own backoff is capped at the retry period: after an apiserver restart the
        // leader needs to see its renewals again promptly to resume leading.
        let backoff = RetryBackoff::new(self.config.retry_period);
        let mut events =
            std::pin::pin!(watcher::watch_object(api, &self.config.name).backoff(backoff));
        let candidate = self
            .config
            .candidates
            .then(|| Candidate::new(self.client.clone(), &self.config, self.metrics.clone()));
        // Stopped by its own token between renewals, so a renewal in flight is awaited (not
        // cancelled mid-request) before the record is deleted: no renewal lands after the delete.
        let stop_renewing = CancellationToken::new();
        let leading = self.leader.subscribe();
        let mut renewing = Box::pin(async {
            match &candidate {
                Some(candidate) => candidate.run(leading, stop_renewing.clone()).await,
                None => stop_renewing.cancelled().await,
            }
        });
        let mut driver = self.build_after(Duration::ZERO);
        let driver = loop {
            let check_at = self
                .next_check()
                .unwrap_or_else(|| Instant::now() + FAR_FUTURE);
            tokio::select! {
                biased;
                () = stop.cancelled() => break driver,
                step = &mut driver => driver = self.on_step(step),
                // Returns only once `stop_renewing` is cancelled, after this loop.
                () = &mut renewing => {}
                Some(event) = events.next() => self.on_event(event),
                () = tokio::time::sleep_until(check_at) => {
                    if self.holds && self.own_lease_expired() {
                        // Not renewed for a whole lease duration although the crate still thinks it
                        // holds it: its request may hang. Start over from a fresh read.
                        let lease = &self.config.name;
                        warn!(%lease, "lease not renewed for its full duration; re-reading it");
                        driver = self.build_after(Duration::ZERO);
                    }
                }
            }
            if self.needs_fresh_manager() {
                let lease = &self.config.name;
                debug!(%lease, "lease released or deleted; re-reading it to take over");
                driver = self.build_after(Duration::ZERO);
            }
            self.publish();
        };
        // Stop renewing the candidate record and let a renewal in flight finish before deleting
        // it. Only if that renewal outlasts the bound is it dropped (and may, rarely, land after
        // the delete: the record then turns stale and the leader prunes it).
        stop_renewing.cancel();
        if tokio::time::timeout(RELEASE_TIMEOUT, renewing)
            .await
            .is_err()
        {
            let lease = &self.config.name;
            debug!(%lease, "the candidate record's last renewal did not finish in time");
        }
        self.shutdown(driver, candidate.as_ref()).await
    }

    /// The crate's manager for this Lease. Its grace (how long before expiry the holder renews) is
    /// `lease_duration - retry_period`, so the holder renews every retry period, well within the
    /// renew deadline, and a failed renewal has several retries before the deadline passes.
    fn builder(&self) -> LeaseManagerBuilder {
        let c = &self.config;
        LeaseManagerBuilder::new(self.client.clone(), &c.name)
            .with_namespace(&c.namespace)
            .with_identity(&c.identity)
            .with_duration(c.lease_seconds())
            .with_grace(c.grace_seconds())
    }

    fn build_after(&mut self, delay: Duration) -> Driver {
        self.manager = None;
        self.holds = false;
        let builder = self.builder();
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Step::Built(builder.build().await.map(Arc::new))
        })
    }

    fn changed_after(manager: Arc<LeaseManager>, delay: Duration) -> Driver {
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Step::Changed(manager.changed().await)
        })
    }

    fn on_step(&mut self, step: Step) -> Driver {
        match step {
            Step::Built(Ok(manager)) => {
                // Its first `changed()` reads the Lease after this point.
                self.fresh_as_of = self.lease.seq;
                self.retry = FIRST_RETRY.min(self.config.retry_period);
                self.manager = Some(manager.clone());
                Self::changed_after(manager, Duration::ZERO)
            }
            Step::Built(Err(e)) => {
                self.report("cannot read or create the Lease", e);
                let delay = self.next_retry();
                self.build_after(delay)
            }
            Step::Changed(Ok(holds)) => {
                self.retry = FIRST_RETRY.min(self.config.retry_period);
                self.holds = holds;
                debug!(lease = %self.config.name, holds, "lease state changed");
                self.continue_changed(Duration::ZERO)
            }
            Step::Changed(Err(e @ LeaseManagerError::NonexistentLease(_))) => {
                self.report("the Lease disappeared", e);
                let delay = self.next_retry();
                self.build_after(delay)
            }
            Step::Changed(Err(e)) => {
                self.report("cannot acquire or renew the Lease", e);
                let delay = self.next_retry();
                self.continue_changed(delay)
            }
        }
    }

    fn continue_changed(&mut self, delay: Duration) -> Driver {
        match self.manager.clone() {
            Some(manager) => Self::changed_after(manager, delay),
            None => self.build_after(delay),
        }
    }

    fn on_event(&mut self, event: Result<Option<Lease>, watcher::Error>) {
        match event {
            Ok(lease) => {
                let spec = lease.as_ref().and_then(|l| l.spec.as_ref());
                self.lease = Observed {
                    seq: self.lease.seq + 1,
                    exists: lease.is_some(),
                    holder: spec.and_then(|s| s.holder_identity.clone()),
                    renewed: spec
                        .and_then(|s| s.renew_time.as_ref())
                        .map(|t| SystemTime::from(t.0)),
                };
            }
            // The stream's backoff paces the retries.
            Err(e) => self.report("cannot watch the Lease", e),
        }
    }

    /// A standby re-reads a Lease that was released (or deleted) since its manager last read it;
    /// the crate would otherwise sleep until the old holder's lease expired.
    fn needs_fresh_manager(&self) -> bool {
        let changed_since = self.manager.is_some() && self.lease.seq > self.fresh_as_of;
        changed_since && (!self.lease.exists || (self.lease.holder.is_none() && !self.holds))
    }

    fn renewed_by_me(&self) -> Option<SystemTime> {
        (self.lease.holder.as_deref() == Some(self.config.identity.as_str()))
            .then_some(self.lease.renewed)
            .flatten()
    }

    fn own_lease_expired(&self) -> bool {
        self.renewed_by_me()
            .is_none_or(|renewed| SystemTime::now() >= renewed + self.config.lease_duration)
    }

    fn leads(&self) -> bool {
        self.holds
            && self
                .renewed_by_me()
                .is_some_and(|renewed| SystemTime::now() < renewed + self.config.renew_deadline)
    }

    /// When the passing of time alone can change the outcome: the renew deadline, then the expiry.
    fn next_check(&self) -> Option<Instant> {
        if !self.holds {
            return None;
        }
        let renewed = self.renewed_by_me()?;
        let now = SystemTime::now();
        [self.config.renew_deadline, self.config.lease_duration]
            .into_iter()
            .filter_map(|after| (renewed + after).duration_since(now).ok())
            .find(|left| !left.is_zero())
            .map(|left| Instant::now() + left)
    }

    fn publish(&self) {
        let leads = self.leads();
        let changed = self.leader.send_if_modified(|current| {
            // Checked under the channel's lock: see `LeaderHandle::drop`.
            let leads = leads && !self.abandoned.load(Ordering::SeqCst);
            let changed = *current != leads;
            if changed {
                *current = leads;
                self.metrics.set_leader(leads);
            }
            changed
        });
        if !changed {
            return;
        }
        let (lease, identity) = (&self.config.name, &self.config.identity);
        if *self.leader.borrow() {
            info!(%lease, %identity, "became the leader");
        } else if self.abandoned.load(Ordering::SeqCst) {
            info!(%lease, %identity, "stopped leading: shutting down");
        } else {
            let holder = &self.lease.holder;
            warn!(%lease, %identity, ?holder, "stopped leading: lease lost or not renewed in time");
        }
    }

    /// Steps down, then releases the Lease (if held) and deletes the candidate record, each
    /// within [`RELEASE_TIMEOUT`]. Only a failed release is an error: a candidate record left
    /// behind merely turns stale.
    async fn shutdown(
        mut self,
        driver: Driver,
        candidate: Option<&Candidate>,
    ) -> Result<(), Error> {
        let lease = self.config.name.clone();
        let withdraw = async {
            let Some(candidate) = candidate else { return };
            match tokio::time::timeout(RELEASE_TIMEOUT, candidate.delete()).await {
                Ok(Ok(())) => debug!(%lease, "deleted the candidate record"),
                Ok(Err(error)) => candidate.report(error),
                Err(_) => candidate.report(Error::LeaseCandidate {
                    name: candidate.name().to_owned(),
                    source: Box::new(Error::Timeout {
                        what: "deleting the candidate record",
                        after: RELEASE_TIMEOUT,
                    }),
                }),
            }
        };
        // The release first: it steps down before its first await.
        let (released, ()) = tokio::join!(self.release(driver), withdraw);
        released
    }

    async fn release(&mut self, driver: Driver) -> Result<(), Error> {
        // Whatever the crate was doing is moot now; a half-sent renewal is harmless.
        drop(driver);
        let held =
            self.holds || self.lease.holder.as_deref() == Some(self.config.identity.as_str());
        self.holds = false;
        self.abandoned.store(true, Ordering::SeqCst);
        self.publish();
        if !held {
            return Ok(());
        }
        let release = async {
            let manager = match self.manager.take() {
                Some(manager) => manager,
                None => Arc::new(self.builder().build().await?),
            };
            manager.release().await
        };
        match tokio::time::timeout(RELEASE_TIMEOUT, release).await {
            Ok(Ok(())) => {
                let (lease, identity) = (&self.config.name, &self.config.identity);
                info!(%lease, %identity, "released the lease");
                Ok(())
            }
            Ok(Err(source)) => Err(Error::LeaderElection {
                context: "cannot release the Lease",
                source: Box::new(source),
            }),
            Err(_) => Err(Error::Timeout {
                what: "releasing the Lease",
                after: RELEASE_TIMEOUT,
            }),
        }
    }

    fn next_retry(&mut self) -> Duration {
        let delay = self.retry;
        self.retry = (self.retry * 2).min(self.config.retry_period);
        delay
    }

    fn report(
        &self,
        context: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) {
        let error = Error::LeaderElection {
            context,
            source: Box::new(source),
        };
        self.metrics.error(error.metric_label());
        warn!(lease = %self.config.name, error = %chain(&error), "leader election will retry");
    }
}

/// An error and its sources on one line, for logs.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Doubling from [`FIRST_RETRY`] up to the retry period; reset on success by the watch stream.
#[derive(Debug, Clone)]
struct RetryBackoff {
    next: Duration,
    max: Duration,
}

impl RetryBackoff {
    fn new(max: Duration) -> Self {
        RetryBackoff {
            next: FIRST_RETRY.min(max),
            max,
        }
    }
}

impl Iterator for RetryBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        Some(delay)
    }
}

impl kube::runtime::utils::Backoff for RetryBackoff {
    fn reset(&mut self) {
        self.next = FIRST_RETRY.min(self.max);
    }
}
