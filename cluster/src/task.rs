//! One cluster's task: connect, watch, publish snapshots; on losing the connection keep the last
//! data (stale from `last_synced`), wait a jittered backoff (announced as `next_retry`), and
//! connect again. Every cluster has its own task, client and timeouts, so a slow or dead one
//! never delays another.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::cache::{CacheChange, InitialList, ORPHAN_GRACE, WatchSignal, watch_kind};
use crate::classify::{Failure, classify, classify_watch};
use crate::kubeconfig::Target;
use crate::set::ClusterOptions;
use crate::snapshot::ClusterSnapshot;
use crate::state::{ClusterState, UnreachableReason};
use crate::watches::Update;

mod data;
mod leases;
mod memo;
use data::{Data, Resource};

/// Past an exception's expiry before its objects are judged again, so the expiry has passed by
/// the clock the evaluation reads.
const EXPIRY_MARGIN: SignedDuration = SignedDuration::from_millis(100);

/// Runs one cluster until dropped (its `JoinHandle` aborted), publishing on `publish`.
pub async fn run(
    target: Target,
    options: ClusterOptions,
    publish: watch::Sender<Arc<ClusterSnapshot>>,
) {
    let mut task = Task {
        data: Data::new(&options),
        snapshot: ClusterSnapshot::connecting(target.context.clone(), Timestamp::now()),
        target,
        backoff: Backoff::new(
            options.backoff_first,
            options.backoff_max,
            fastrand::Rng::new(),
        ),
        options,
        publish,
    };
    loop {
        let failure = match task.connect().await {
            Ok(client) => task.watch(client).await,
            Err(failure) => failure,
        };
        task.wait_retry(failure).await;
    }
}

struct Task {
    target: Target,
    options: ClusterOptions,
    backoff: Backoff,
    data: Data,
    snapshot: ClusterSnapshot,
    publish: watch::Sender<Arc<ClusterSnapshot>>,
}

impl Task {
    /// A client whose credentials the API server accepts, or why there is none.
    async fn connect(&self) -> Result<Client, Failure> {
        let mut config = self
            .target
            .config()
            .await
            .map_err(|e| Failure::Unreachable {
                reason: UnreachableReason::Other,
                detail: crate::classify::chain(&e),
            })?;
        config.connect_timeout = Some(self.options.connect_timeout);
        let client = Client::try_from(config).map_err(|e| classify(&e))?;
        self.probe(&client).await?;
        Ok(client)
    }

    /// One cheap request (`/version`) within the request timeout. Only a connection failure
    /// (unreachable, credentials rejected) is an error: anything else the watches will name.
    async fn probe(&self, client: &Client) -> Result<(), Failure> {
        match tokio::time::timeout(self.options.request_timeout, client.apiserver_version()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => match classify(&e) {
                failure if failure.is_connection() => Err(failure),
                _ => Ok(()),
            },
            Err(_) => Err(Failure::Unreachable {
                reason: UnreachableReason::Timeout,
                detail: format!(
                    "GET /version did not answer within {:?}",
                    self.options.request_timeout
                ),
            }),
        }
    }

    /// Publishes the failure with the time of the next attempt, then waits until then.
    async fn wait_retry(&mut self, failure: Failure) {
        let delay = self.backoff.next_delay();
        let state = match failure {
            Failure::Unauthorized { detail } => ClusterState::Unauthorized { detail },
            Failure::Unreachable { reason, detail } => ClusterState::Unreachable { reason, detail },
            // Not produced for a connection; shown as unreachable for another reason.
            Failure::Forbidden { detail, .. } | Failure::Other { detail } => {
                ClusterState::Unreachable {
                    reason: UnreachableReason::Other,
                    detail,
                }
            }
            Failure::NotFound => ClusterState::Unreachable {
                reason: UnreachableReason::Other,
                detail: "the API server answered 404 for /version".to_owned(),
            },
        };
        let now = Timestamp::now();
        let next_retry = SignedDuration::try_from(delay)
            .ok()
            .and_then(|d| now.checked_add(d).ok());
        self.set_state(state, now, next_retry);
        tokio::time::sleep(delay).await;
    }

    /// Watches everything until the connection is lost; returns why.
    async fn watch(&mut self, client: Client) -> Failure {
        let (updates, mut received) = mpsc::unbounded_channel();
        let mut watches = JoinSet::new();
        self.spawn_watches(&client, &updates, &mut watches).await;
        self.data.kinds.relist();
        self.publish_now(Timestamp::now()).await;

        let interval = self.options.publish_interval;
        let mut health = tokio::time::interval(self.options.health_interval);
        health.tick().await;
        let mut dirty = false;
        let mut last_publish = Instant::now();
        loop {
            // An exception that expires changes verdicts without any watch event: wake then.
            let expiry = self
                .data
                .expiry_due()
                .and_then(|at| deadline(at, Timestamp::now(), Instant::now()));
            tokio::select! {
                update = received.recv() => {
                    let Some(update) = update else {
                        return Failure::Other { detail: "every watch stopped".to_owned() };
                    };
                    if let Some(failure) = self.apply(update, &client).await {
                        return failure;
                    }
                    dirty = true;
                }
                _ = health.tick() => {
                    // A server that stops answering without closing connections ends no watch.
                    if let Err(failure) = self.probe(&client).await {
                        return failure;
                    }
                }
                _ = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                    self.data.changed();
                    dirty = true;
                }
                _ = tokio::time::sleep_until(last_publish + interval), if dirty => {
                    dirty = false;
                    last_publish = Instant::now();
                    self.publish_now(Timestamp::now()).await;
                }
            }
        }
    }

    /// Applies one watch update; a connection failure confirmed by a probe ends the watching.
    async fn apply(&mut self, update: Update, client: &Client) -> Option<Failure> {
        let (i, failure) = self.data.apply_watch(update)?;
        if failure.is_connection() {
            self.probe(client).await.err()?;
        }
        self.data.kinds.failed(i, &failure);
        None
    }

    async fn spawn_watches(
        &self,
        client: &Client,
        updates: &mpsc::UnboundedSender<Update>,
        watches: &mut JoinSet<()>,
    ) {
        let initial_list = match tokio::time::timeout(
            self.options.request_timeout,
            InitialList::for_server(client),
        )
        .await
        {
            Ok(list) => list,
            Err(_) => InitialList::Paged,
        };
        let (orphaned, mut orphans) = mpsc::unbounded_channel::<()>();
        for (index, resource) in self.data.resources.iter().enumerate() {
            let signal = signal(index, updates.clone());
            let changed = updates.clone();
            match resource {
                Resource::Workload(ar) => {
                    let orphaned = orphaned.clone();
                    let stream = watch_kind(
                        client.clone(),
                        ar.clone(),
                        initial_list,
                        Arc::clone(&self.data.workloads),
                        signal,
                    );
                    watches.spawn(stream.for_each(move |change| {
                        if matches!(change, CacheChange::Orphaned) {
                            let _ = orphaned.send(());
                        }
                        let _ = changed.send(Update::Changed(index));
                        std::future::ready(())
                    }));
                }
                Resource::Namespaces => {
                    let stream = Arc::clone(&self.data.namespaces).watch(client.clone(), signal);
                    watches.spawn(stream.for_each(move |()| {
                        let _ = changed.send(Update::Changed(index));
                        std::future::ready(())
                    }));
                }
                Resource::Objects { spawn, .. } => {
                    spawn(client, index, changed, watches);
                }
            }
        }
        // Objects whose owner went away are fetched to be evaluated themselves, as the
        // operator does, after the garbage collector had its chance to delete them.
        let workloads = Arc::clone(&self.data.workloads);
        let client = client.clone();
        let changed = updates.clone();
        watches.spawn(async move {
            while orphans.recv().await.is_some() {
                tokio::time::sleep(ORPHAN_GRACE).await;
                while orphans.try_recv().is_ok() {}
                if workloads.fetch_orphans(&client).await > 0 {
                    let _ = changed.send(Update::Fetched);
                }
            }
        });
    }

    /// Rebuilds what changed and publishes the next snapshot.
    async fn publish_now(&mut self, now: Timestamp) {
        let state = self.data.kinds.state();
        if state.is_live() {
            // Back for real (lists complete), not merely answering /version: the next loss
            // starts the backoff from the first delay again.
            self.backoff.reset();
        }
        self.data.refresh(&mut self.snapshot, now).await;
        self.set_state(state, now, None);
    }

    fn set_state(&mut self, state: ClusterState, now: Timestamp, next_retry: Option<Timestamp>) {
        let connection = &mut self.snapshot.connection;
        if connection.state != state {
            connection.since = now;
        }
        if state.is_live() || connection.state.is_live() {
            // Current until now: the data goes stale from the moment the cluster is lost.
            connection.last_synced = Some(now);
        }
        connection.state = state;
        connection.next_retry = next_retry;
        self.snapshot.kinds = self.data.kinds.statuses().to_vec();
        self.snapshot.generation += 1;
        self.publish.send_replace(Arc::new(self.snapshot.clone()));
    }
}

/// The instant, on the task's clock (`instant` being `now`), [`EXPIRY_MARGIN`] past wall-clock
/// time `at`: at once if that has passed; `None` past what the clock can hold.
fn deadline(at: Timestamp, now: Timestamp, instant: Instant) -> Option<Instant> {
    let wait = at.duration_since(now).saturating_add(EXPIRY_MARGIN);
    instant.checked_add(std::time::Duration::try_from(wait).unwrap_or_default())
}

/// The signal callback of a cache watch: its list and failures, as updates of resource `index`.
fn signal(
    index: usize,
    updates: mpsc::UnboundedSender<Update>,
) -> impl FnMut(WatchSignal<'_>) + Send + 'static {
    move |signal| {
        let update = match signal {
            WatchSignal::Listed => Update::Listed(index),
            WatchSignal::Failed(e) => Update::Failed(index, classify_watch(e)),
        };
        let _ = updates.send(update);
    }
}
