//! Wiring: watch caches, the GuardianPolicy controller, and the triggers between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt, stream};
use guardian_cluster::cache::{
    self, CacheChange, NamespaceCache, ObjectKey, WatchSignal, WorkloadCache,
};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use kube::api::{Api, ListParams};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::config::InitialListFlag;
use crate::context::Context;
use crate::converge;
use crate::events::EventPublisher;
use crate::incremental::{self, Change};
use crate::metrics::{CHANGE, Metrics};
use crate::reconcile::{error_policy, reconcile};

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub resync: Duration,
    pub concurrency: u16,
    pub initial_list: InitialListFlag,
    /// The reporting instance in Events (the pod name).
    pub identity: String,
}

/// Fails fast, with an install hint, when the CRDs are missing.
pub async fn check_crds(client: &Client) -> Result<(), Error> {
    let probe = ListParams::default().limit(1);
    let missing = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 404);
    match Api::<GuardianPolicy>::all(client.clone())
        .list(&probe)
        .await
    {
        Err(e) if missing(&e) => {
            return Err(Error::CrdMissing {
                crd: "guardianpolicies.guardian.kube-guardian.dev",
            });
        }
        Err(source) => {
            return Err(Error::Kube {
                context: "listing GuardianPolicies".into(),
                source,
            });
        }
        Ok(_) => {}
    }
    match Api::<GuardianException>::all(client.clone())
        .list(&probe)
        .await
    {
        Err(e) if missing(&e) => Err(Error::CrdMissing {
            crd: "guardianexceptions.guardian.kube-guardian.dev",
        }),
        Err(source) => Err(Error::Kube {
            context: "listing GuardianExceptions".into(),
            source,
        }),
        Ok(_) => Ok(()),
    }
}

/// Counts caches to sync; calls `on_ready` once all have listed.
fn sync_tracker(
    total: usize,
    on_ready: Arc<dyn Fn() + Send + Sync>,
) -> impl Fn() + Clone + Send + Sync + 'static {
    let done = Arc::new(AtomicUsize::new(0));
    move || {
        if done.fetch_add(1, Ordering::SeqCst) + 1 == total {
            on_ready();
        }
    }
}

/// An `inspect` callback that reports a watch stream's first complete list, once.
fn on_first_list<K>(synced: impl Fn()) -> impl FnMut(&Result<watcher::Event<K>, watcher::Error>) {
    let mut first = true;
    move |event| {
        if first && matches!(event, Ok(watcher::Event::InitDone)) {
            first = false;
            synced();
        }
    }
}

/// A cache watch's signal handler: `synced` on its first complete list, once; `failed` on each
/// failure (the watcher retries on its own).
fn once_listed(
    synced: impl Fn() + Send + 'static,
    failed: impl Fn(&watcher::Error) + Send + 'static,
) -> impl FnMut(WatchSignal<'_>) + Send + 'static {
    let mut first = true;
    move |signal| match signal {
        WatchSignal::Listed => {
            if std::mem::take(&mut first) {
                synced();
            }
        }
        WatchSignal::Failed(e) => failed(e),
    }
}

/// Runs the controller until `shutdown` is cancelled. Every replica runs it (caches stay warm);
/// only the leader writes (see `reconcile`).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    client: Client,
    options: ControllerOptions,
    store: Arc<PolicyStore>,
    workloads: Arc<WorkloadCache>,
    namespaces: Arc<NamespaceCache>,
    metrics: Metrics,
    leader: watch::Receiver<bool>,
    on_ready: Arc<dyn Fn() + Send + Sync>,
    shutdown: CancellationToken,
) {
    let resources = cache::workload_resources();
    let (synced_tx, synced_rx) = watch::channel(false);
    let (policy_reader, policy_writer) = reflector::store();
    let (exception_reader, exception_writer) = reflector::store();
    let ctx = Arc::new(Context::new(
        client.clone(),
        store,
        policy_reader.clone(),
        exception_reader,
        workloads.clone(),
        namespaces.clone(),
        metrics,
        EventPublisher::new(client.clone(), options.identity.clone()),
        leader.clone(),
        options.resync,
    ));
    // Workload kinds, namespaces, policies and exceptions. Ready means the policy set is built
    // from the synced policies and exceptions: the webhook admits nothing before that.
    let on_synced: Arc<dyn Fn() + Send + Sync> = {
        let ctx = ctx.clone();
        Arc::new(move || {
            let snapshot = ctx.fresh_snapshot();
            tracing::debug!(
                version = snapshot.version,
                "policy set built from the synced caches"
            );
            // Convergence of the reports waits for the same moment.
            synced_tx.send_replace(true);
            on_ready();
        })
    };
    let synced = sync_tracker(resources.len() + 3, on_synced);

    let policy_stream = reflector::reflector(
        policy_writer,
        watcher::watcher(
            Api::<GuardianPolicy>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .inspect(on_first_list(synced.clone()))
    .touched_objects()
    // The reconcile's own status writes must not start another evaluation of every object.
    .predicate_filter(
        crate::reconcile_inputs::reconcile_trigger,
        PredicateConfig::default(),
    );
    // Any exception change can change outcomes of every policy: each is reconciled. An edit of
    // one is seen by the per-policy version (uid, generation, deletion), so only a relist (which
    // may hide any edit) distrusts every kept result.
    let exception_changes = reflector::reflector(
        exception_writer,
        watcher::watcher(
            Api::<GuardianException>::all(client.clone()),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .inspect(on_first_list(synced.clone()))
    .filter_map(|e| std::future::ready(exception_trigger(&e)));
    // Objects the workload task re-evaluates besides the watches' changes: those fetched when
    // their owner went away, and those of a namespace whose labels changed. Keys only: the
    // object's own watch events may be handled first, so its body is read when handled.
    let (requeued_tx, requeued_rx) = mpsc::unbounded::<ObjectKey>();
    // A namespace's labels re-evaluate that namespace's objects; a relist of the namespaces,
    // every policy.
    let namespace_changes = namespaces
        .clone()
        .watch_names(
            client.clone(),
            once_listed(synced.clone(), |e| {
                tracing::warn!(error = %e, "namespace watch error, retrying");
            }),
        )
        .filter_map({
            let (workloads, requeued_tx) = (workloads.clone(), requeued_tx.clone());
            move |change| {
                let relisted = match change {
                    None => true,
                    Some(namespace) => {
                        for key in workloads.namespace_keys(&namespace) {
                            // Closed only when the workload task ended: nothing left to do.
                            let _ = requeued_tx.unbounded_send(key);
                        }
                        false
                    }
                };
                std::future::ready(relisted.then_some(true))
            }
        });

    // A workload change re-evaluates the changed object only; the policies it changed are
    // reconciled (written from their kept results).
    let (refs_tx, refs_rx) = mpsc::channel::<ObjectRef<GuardianPolicy>>(1024);
    let (relist_tx, relist_rx) = mpsc::channel::<()>(16);
    // Each leadership term reconciles the PolicyReports once every policy was evaluated.
    let converge_task = {
        let converge = converge::run(ctx.clone(), leader.clone(), synced_rx, refs_tx.clone());
        async move {
            converge.await;
            std::future::pending::<()>().await;
        }
    };
    let initial_list = match options.initial_list {
        InitialListFlag::Auto => cache::InitialList::for_server(&client).await,
        InitialListFlag::Streaming => cache::InitialList::Streaming,
        InitialListFlag::Paged => cache::InitialList::Paged,
    };
    let workload_task = {
        let ctx = ctx.clone();
        let watches = resources.into_iter().map(|ar| {
            let kind = ar.kind.clone();
            let signal = once_listed(synced.clone(), move |e| {
                tracing::warn!(kind = %kind, error = %e, "workload watch error, retrying");
            });
            // Timed from the moment the watch yields the change (the decision histogram).
            cache::watch_kind(client.clone(), ar, initial_list, workloads.clone(), signal)
                .map(|change| (change, Some(Instant::now())))
                .boxed()
        });
        let mut changes = stream::select(
            stream::select_all(watches),
            requeued_rx.filter_map({
                let workloads = workloads.clone();
                // Not from a watch event: not timed.
                move |key| std::future::ready(requeued(&workloads, &key).map(|c| (c, None)))
            }),
        );
        let mut refs_tx = refs_tx;
        let mut relist_tx = relist_tx;
        let fetching = Arc::new(AtomicBool::new(false));
        let client = client.clone();
        let shutdown = shutdown.clone();
        async move {
            while let Some((change, received)) = changes.next().await {
                let sent = match change {
                    CacheChange::Relisted => relist_tx.send(()).await.is_ok(),
                    CacheChange::Orphaned => {
                        // One fetch at a time, after the garbage collector had its chance. The
                        // objects fetched come back as changes, re-evaluated on their own.
                        if !fetching.swap(true, Ordering::SeqCst) {
                            let (workloads, client) = (ctx.workloads.clone(), client.clone());
                            let (fetching, fetched_tx) = (fetching.clone(), requeued_tx.clone());
                            let shutdown = shutdown.clone();
                            tokio::spawn(async move {
                                tokio::select! {
                                    () = shutdown.cancelled() => return,
                                    () = tokio::time::sleep(cache::ORPHAN_GRACE) => {}
                                }
                                fetching.store(false, Ordering::SeqCst);
                                for key in workloads.fetch_orphan_keys(&client).await {
                                    if fetched_tx.unbounded_send(key).is_err() {
                                        return;
                                    }
                                }
                            });
                        }
                        true
                    }
                    CacheChange::Object { old, new } => {
                        let names = match decide(&ctx, (old, new), received).await {
                            Ok(names) => names,
                            Err(e) => {
                                // Its results may be half recorded, or not at all: distrust
                                // every kept result (each policy is evaluated in full again).
                                tracing::warn!(error = %e, "deciding on a workload change failed");
                                ctx.kept.invalidate_all();
                                ctx.policies.state().iter().map(|p| p.name_any()).collect()
                            }
                        };
                        let mut ok = true;
                        for name in names {
                            ok &= refs_tx.send(ObjectRef::new(&name)).await.is_ok();
                        }
                        ok
                    }
                };
                if !sent {
                    return;
                }
            }
        }
    };

    // Becoming leader re-evaluates everything (the previous leader's writes may be stale).
    let leader_gained = stream::unfold((leader, false), |(mut rx, mut was)| async move {
        loop {
            let now = *rx.borrow_and_update();
            let gained = now && !was;
            was = now;
            if gained {
                return Some((true, (rx, was)));
            }
            if rx.changed().await.is_err() {
                return None;
            }
        }
    });

    // Each of these can change outcomes without an event of the objects concerned: every policy
    // is reconciled, and (`true`) every kept result distrusted: each policy evaluated in full.
    let triggers = stream::select_all([
        exception_changes.boxed(),
        namespace_changes.boxed(),
        relist_rx.map(|()| true).boxed(),
        leader_gained.boxed(),
    ])
    .map({
        let kept = ctx.kept.clone();
        move |distrust| {
            if distrust {
                kept.invalidate_all();
            }
        }
    });

    let config = controller::Config::default()
        .concurrency(options.concurrency)
        .debounce(Duration::from_millis(300));
    let controller = Controller::for_stream(policy_stream, policy_reader)
        .with_config(config)
        .reconcile_all_on(triggers)
        .reconcile_on(refs_rx)
        .graceful_shutdown_on({
            let shutdown = shutdown.clone();
            async move { shutdown.cancelled().await }
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            if let Err(e) = result {
                tracing::debug!(error = %e, "controller event");
            }
            std::future::ready(())
        });

    tokio::select! {
        () = controller => {}
        () = workload_task => {}
        () = converge_task => {}
    }
}

/// Whether an exception watch event reconciles every policy (`Some`), and whether it distrusts
/// every kept result (`Some(true)`: a relist).
fn exception_trigger(
    event: &Result<watcher::Event<GuardianException>, watcher::Error>,
) -> Option<bool> {
    match event {
        Ok(watcher::Event::InitDone) => Some(true),
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Some(false),
        _ => None,
    }
}

/// A requeued object's change, read from the cache now; `None` when it is gone (its own delete
/// event removes its results).
fn requeued(workloads: &WorkloadCache, key: &ObjectKey) -> Option<CacheChange> {
    let object = workloads.get(key)?;
    Some(CacheChange::Object {
        old: Some(object.clone()),
        new: Some(object),
    })
}

/// Which policies one workload change concerns. The leader evaluates the changed object once
/// against every policy with kept results and names those whose status or reports changed (plus
/// those to evaluate in full); a standby, which keeps no results, names those selecting the
/// object before or after. CPU-bound: off the async runtime.
async fn decide(
    ctx: &Arc<Context>,
    change: Change,
    received: Option<Instant>,
) -> Result<Vec<String>, tokio::task::JoinError> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let (snapshot, inputs) = ctx.fresh_build();
        let labels = ctx.namespaces.snapshot();
        if !ctx.is_leader() {
            // Not recorded in the kept results: the next term must not trust them.
            ctx.kept.stand_by();
            return incremental::matching(&change, &snapshot.set, &*labels);
        }
        let decision = ctx.kept.apply(&change, &snapshot.set, &inputs, &*labels);
        ctx.metrics.objects_evaluated(CHANGE, decision.evaluated);
        if let Some(received) = received {
            ctx.metrics.decision(decision.outcome(), received.elapsed());
        }
        let mut names = decision.write;
        names.extend(decision.evaluate);
        names
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_relist_of_the_exceptions_distrusts_every_kept_result() {
        let exception: GuardianException = serde_json::from_value(serde_json::json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianException",
            "metadata": { "name": "legacy", "namespace": "a" },
            "spec": {
                "policy": "base", "rules": ["pss-privileged"], "resources": { "names": ["p1"] },
                "owner": "team-a", "justification": "migrating", "expiresAt": "2999-01-01T00:00:00Z"
            }
        }))
        .expect("exception");
        assert_eq!(exception_trigger(&Ok(watcher::Event::InitDone)), Some(true));
        let edited = Ok(watcher::Event::Apply(exception.clone()));
        assert_eq!(exception_trigger(&edited), Some(false));
        assert_eq!(
            exception_trigger(&Ok(watcher::Event::Delete(exception))),
            Some(false)
        );
        assert_eq!(exception_trigger(&Ok(watcher::Event::Init)), None);
    }

    #[test]
    fn a_requeued_object_gone_from_the_cache_is_skipped() {
        let key = ObjectKey {
            kind: "Pod",
            namespace: "shop".into(),
            name: "web".into(),
        };
        assert!(requeued(&WorkloadCache::default(), &key).is_none());
    }

    #[test]
    fn a_cache_counts_as_synced_on_its_first_list_only_and_every_failure_is_reported() {
        let synced = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let mut signal = once_listed(
            {
                let synced = synced.clone();
                move || {
                    synced.fetch_add(1, Ordering::SeqCst);
                }
            },
            {
                let failed = failed.clone();
                move |_| {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            },
        );
        let error = watcher::Error::NoResourceVersion;
        signal(WatchSignal::Failed(&error));
        signal(WatchSignal::Listed);
        signal(WatchSignal::Failed(&error));
        // A relist after a failure: the sync tracker must not count this cache twice.
        signal(WatchSignal::Listed);
        assert_eq!(synced.load(Ordering::SeqCst), 1);
        assert_eq!(failed.load(Ordering::SeqCst), 2);
    }
}
