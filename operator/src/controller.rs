//! Wiring: watch caches, the GuardianPolicy controller, and the triggers between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{StreamExt, stream};
use guardian_cluster::cache::{self, NamespaceCache, ObjectKey, WatchSignal, WorkloadCache};
use guardian_cluster::store::PolicyStore;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::changes;
use crate::config::InitialListFlag;
use crate::context::Context;
use crate::converge;
use crate::events::EventPublisher;
use crate::metrics::Metrics;
use crate::reconcile::{error_policy, reconcile};

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub resync: Duration,
    pub concurrency: u16,
    pub initial_list: InitialListFlag,
    /// The reporting instance in Events (the pod name).
    pub identity: String,
    /// The first and the longest wait between retries of a refused PolicyReport write
    /// ([`reports::FIRST_RETRY`](crate::reports::FIRST_RETRY) and
    /// [`reports::MAX_RETRY`](crate::reports::MAX_RETRY) in the binary; shorter in tests).
    pub report_retry: (Duration, Duration),
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

/// An `inspect` callback after a policy or exception reflector: each event it applied may change
/// what the compiled set is built from (the cheap check on every workload change), so `note` is
/// called first; then `synced` on the first complete list. In the other order, the build made
/// when the last cache synced could see an unmoved count and keep a set built before the list
/// was swapped in (even empty), and the webhook would be marked ready with it.
fn noted_then_listed<K>(
    note: impl Fn(),
    synced: impl Fn(),
) -> impl FnMut(&Result<watcher::Event<K>, watcher::Error>) {
    let mut listed = on_first_list(synced);
    move |event| {
        if event.is_ok() {
            note();
        }
        listed(event);
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
    let rebuild_synced = synced_rx.clone();
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
        EventPublisher::new(client.clone(), &options.identity),
        leader.clone(),
        options.resync,
        options.report_retry,
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
    .inspect(noted_then_listed(
        {
            let ctx = ctx.clone();
            move || ctx.note_policy_cache_change()
        },
        synced.clone(),
    ))
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
    .inspect(noted_then_listed(
        {
            let ctx = ctx.clone();
            move || ctx.note_policy_cache_change()
        },
        synced.clone(),
    ))
    .filter_map(|e| std::future::ready(changes::exception_trigger(&e)));
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
                std::future::ready(changes::namespace_trigger(&workloads, &requeued_tx, change))
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
    // A PolicyReport deleted by someone else is written again by the leader: the watch runs
    // during each leadership term only.
    let restore_task = {
        let restore = crate::reports::restore_deleted(ctx.clone());
        async move {
            restore.await;
            std::future::pending::<()>().await;
        }
    };
    // Once the caches synced (the webhook is not ready before), each policy or exception change
    // rebuilds the set the webhook enforces.
    let rebuild_task = {
        let (ctx, mut synced) = (ctx.clone(), rebuild_synced);
        async move {
            if synced.wait_for(|s| *s).await.is_ok() {
                ctx.rebuild_on_change().await;
            }
            std::future::pending::<()>().await;
        }
    };

    let initial_list = match options.initial_list {
        InitialListFlag::Auto => cache::InitialList::for_server(&client).await,
        InitialListFlag::Streaming => cache::InitialList::Streaming,
        InitialListFlag::Paged => cache::InitialList::Paged,
    };
    let watches = resources.into_iter().map(|ar| {
        let kind = ar.kind.clone();
        let (kept, synced) = (ctx.kept.clone(), synced.clone());
        // A kind's first list distrusts every kept result the moment the cache holds it, before
        // the cache counts as synced: the report pass, which starts once every cache synced,
        // then evaluates each policy over the lists, and no first list still on its way to the
        // workload task distrusts that pass's results afterwards. A later relist is distrusted
        // in order by the workload task (see `changes::Watched`).
        let signal = once_listed(
            move || {
                kept.invalidate_all();
                synced();
            },
            move |e| {
                tracing::warn!(kind = %kind, error = %e, "workload watch error, retrying");
            },
        );
        changes::relists_marked(cache::watch_kind(
            client.clone(),
            ar,
            initial_list,
            workloads.clone(),
            signal,
        ))
        .boxed()
    });
    let workload_task = changes::run(
        ctx.clone(),
        // Timed from the moment a watch yields the change (the decision histogram).
        changes::timestamped(stream::select_all(watches), shutdown.clone()),
        requeued_rx,
        changes::Outputs {
            refs: refs_tx,
            relist: relist_tx,
            requeue: requeued_tx,
        },
        shutdown.clone(),
    );

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
        // Distrusted already, by the workload task or as the kind was first listed.
        relist_rx.map(|()| false).boxed(),
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
        .run(reconcile, error_policy, ctx.clone())
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
        () = restore_task => {}
        () = rebuild_task => {}
    }
    // Pending report writes are dropped: the next leader's pass writes every report.
    ctx.writer.stop();
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_set_built_when_the_policies_synced_is_built_from_their_list() {
        use guardian_cluster::store::PolicyStore;

        use crate::policy_build::BuildTracker;

        let (tracker, store) = (
            Arc::new(BuildTracker::default()),
            Arc::new(PolicyStore::new()),
        );
        let policy: GuardianPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": { "name": "base", "uid": "uid-base", "generation": 1 },
            "spec": { "profiles": ["pss-baseline"] }
        }))
        .expect("policy");
        // What the reflector holds: empty until the list is swapped in at `InitDone`.
        let cached = Arc::new(std::sync::Mutex::new(Vec::new()));
        let read = {
            let cached = cached.clone();
            move || (cached.lock().expect("cache").clone(), Vec::new())
        };
        let built = Arc::new(std::sync::Mutex::new(None));
        let mut hooks = noted_then_listed(
            {
                let tracker = tracker.clone();
                move || tracker.note_change()
            },
            {
                let (tracker, store, built, read) =
                    (tracker.clone(), store.clone(), built.clone(), read.clone());
                move || *built.lock().expect("built") = Some(tracker.fresh(&store, &read).snapshot)
            },
        );
        hooks(&Ok(watcher::Event::<GuardianPolicy>::Init));
        hooks(&Ok(watcher::Event::InitApply(policy.clone())));
        // A workload change builds between the list's objects and its end: the store is not
        // swapped yet, so it builds the empty set at the count so far.
        tracker.fresh(&store, &read);
        cached.lock().expect("cache").push(Arc::new(policy));
        hooks(&Ok(watcher::Event::InitDone));
        let built = built
            .lock()
            .expect("built")
            .clone()
            .expect("built when synced");
        let names: Vec<_> = built.set.policies().map(|p| p.name.to_owned()).collect();
        assert_eq!(names, ["base"]);
    }
}
