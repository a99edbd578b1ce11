//! What every reconcile shares: clients, caches, the policy store, metrics and leader state.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::cache::{NamespaceCache, WorkloadCache};
use guardian_cluster::store::{PolicySnapshot, PolicyStore};
use guardian_core::crd::{GuardianException, GuardianPolicy};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::events::EventPublisher;
use crate::incremental::KeptFindings;
use crate::metrics::Metrics;
use crate::policy_build::BuildTracker;
pub use crate::policy_build::PolicyInputs;
use crate::reconcile::PendingCleanups;
use crate::reports::{self, ReportState, ReportWriter};

/// Shared by every reconcile, behind an `Arc`.
pub struct Context {
    pub client: Client,
    pub store: Arc<PolicyStore>,
    pub policies: Store<GuardianPolicy>,
    pub exceptions: Store<GuardianException>,
    pub workloads: Arc<WorkloadCache>,
    pub namespaces: Arc<NamespaceCache>,
    pub metrics: Metrics,
    pub events: EventPublisher,
    pub leader: watch::Receiver<bool>,
    pub resync: Duration,
    /// Held to update rows and build bodies, never across a write (see [`ReportWriter`]).
    pub reports: tokio::sync::Mutex<ReportState>,
    /// Writes the bodies built under `reports`, one namespace at a time each.
    pub writer: ReportWriter,
    /// Consecutive failures per policy, for per-object backoff.
    pub failures: Backoff,
    /// Deleted policies whose cleanup waits on report writes, to say one stuck once.
    pub(crate) cleanups: PendingCleanups,
    /// Each policy's latest results per object, updated as workloads change.
    pub kept: Arc<KeptFindings>,
    /// What the store was last built from, and what each policy's results depend on in that
    /// build.
    built: BuildTracker,
    /// Woken by each policy or exception cache change: the set is rebuilt then, with no
    /// reconcile or workload change needed (see [`rebuild_on_change`](Self::rebuild_on_change)).
    policy_changed: tokio::sync::Notify,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("resync", &self.resync)
            .finish_non_exhaustive()
    }
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        store: Arc<PolicyStore>,
        policies: Store<GuardianPolicy>,
        exceptions: Store<GuardianException>,
        workloads: Arc<WorkloadCache>,
        namespaces: Arc<NamespaceCache>,
        metrics: Metrics,
        events: EventPublisher,
        leader: watch::Receiver<bool>,
        resync: Duration,
        report_retry: (Duration, Duration),
    ) -> Self {
        let writer = report_writer(
            client.clone(),
            leader.clone(),
            metrics.clone(),
            report_retry,
        );
        Context {
            client,
            store,
            policies,
            exceptions,
            workloads,
            namespaces,
            metrics,
            events,
            leader,
            resync,
            reports: tokio::sync::Mutex::new(ReportState::default()),
            writer,
            failures: Backoff::default(),
            cleanups: PendingCleanups::default(),
            kept: Arc::new(KeptFindings::default()),
            built: BuildTracker::default(),
            policy_changed: tokio::sync::Notify::new(),
        }
    }

    /// A context with empty caches and a fresh policy store, for unit tests: `client` names the
    /// API server the test stands in for (or an unreachable one), `leader` the leadership state.
    /// Its report writer retries after 20 ms, doubling up to 80 ms.
    #[cfg(test)]
    pub(crate) fn offline(client: Client, leader: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(Context::new(
            client.clone(),
            Arc::new(PolicyStore::new()),
            kube::runtime::reflector::store::<GuardianPolicy>().0,
            kube::runtime::reflector::store::<GuardianException>().0,
            Arc::new(WorkloadCache::default()),
            Arc::new(NamespaceCache::default()),
            Metrics::new().expect("metrics"),
            EventPublisher::new(client, "test"),
            leader,
            Duration::from_secs(300),
            (Duration::from_millis(20), Duration::from_millis(80)),
        ))
    }

    /// True while this replica may write.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// The compiled policies, rebuilt first if a policy or exception changed since the last build
    /// (reconciles and the watch tasks race; whoever sees the change first rebuilds).
    pub fn fresh_snapshot(&self) -> Arc<PolicySnapshot> {
        self.fresh_build().0
    }

    /// [`fresh_snapshot`](Self::fresh_snapshot), with what each policy's results depend on in
    /// that very build (see [`policy_inputs`](crate::reconcile_inputs::policy_inputs)). Cheap
    /// when no policy or exception changed: asked on every workload change.
    pub fn fresh_build(&self) -> (Arc<PolicySnapshot>, Arc<PolicyInputs>) {
        let fresh = self.built.fresh(&self.store, || {
            (self.policies.state(), self.exceptions.state())
        });
        if fresh.rebuilt {
            // Policies gone from the cache (deleted, even without the finalizer running) leave
            // the per-policy memories too.
            let live: HashSet<String> =
                self.policies.state().iter().map(|p| p.name_any()).collect();
            let live = |name: &str| live.contains(name);
            self.failures.retain_policies(&live);
            self.cleanups.retain_policies(&live);
            self.events.retain_policies(&live);
        }
        (fresh.snapshot, fresh.inputs)
    }

    /// Called after the policy or exception cache applied a watch event.
    pub fn note_policy_cache_change(&self) {
        self.built.note_change();
        self.policy_changed.notify_one();
    }

    /// Rebuilds the compiled set after each policy or exception cache change, until the task is
    /// dropped. A deleted policy the controller never reconciles again (no finalizer, or gone
    /// during a watch gap) would otherwise stay enforced by the webhook until some workload
    /// changed. Changes arriving during a build wake one more build: a burst costs two at most.
    pub async fn rebuild_on_change(self: Arc<Self>) {
        loop {
            self.policy_changed.notified().await;
            let ctx = self.clone();
            // Compiling is CPU-bound: off the async runtime. A panic is the build's own (the
            // next change builds again).
            if let Err(e) = tokio::task::spawn_blocking(move || ctx.fresh_snapshot()).await {
                tracing::warn!(error = %e, "rebuilding the policy set failed");
            }
        }
    }

    /// The names of the policies not being deleted: what a report pass must evaluate.
    pub fn live_policies(&self) -> Vec<String> {
        self.policies
            .state()
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(|p| p.name_any())
            .collect()
    }

    /// When each cached exception expires: kept results older than an expiry are not trusted.
    pub fn exception_expiries(&self) -> Vec<Timestamp> {
        self.exceptions
            .state()
            .iter()
            .map(|e| e.spec.expires_at.0)
            .collect()
    }

    /// Backoff for a failing policy: 1 s, 2 s, 4 s, … up to 5 minutes.
    pub fn backoff(&self, policy: &str) -> Duration {
        self.failures.next(policy)
    }

    pub fn reset_backoff(&self, policy: &str) {
        self.failures.reset(policy);
    }

    pub fn note_reports_unavailable(&self) {
        self.writer.note_unavailable();
    }
}

/// The writer of the reports through `client`, while `leader` holds.
fn report_writer(
    client: Client,
    leader: watch::Receiver<bool>,
    metrics: crate::metrics::Metrics,
    retry: (Duration, Duration),
) -> ReportWriter {
    let write: reports::WriteFn = Arc::new(move |ns, body, empty| {
        let client = client.clone();
        Box::pin(async move { reports::write(&client, &ns, &body, empty).await })
    });
    ReportWriter::new(write, leader, metrics, retry)
}
