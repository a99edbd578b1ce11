//! What each change leads to: the workload-change task (each watch change or requeued object
//! decided on its own, the policies it concerns sent to the controller), and which namespace and
//! exception changes reconcile every policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt, stream};
use guardian_cluster::cache::{self, CacheChange, ObjectKey, WorkloadCache};
use guardian_core::crd::{GuardianException, GuardianPolicy};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::incremental::{self, Change};
use crate::metrics::CHANGE;

/// Where the workload-change task sends what it decided.
#[derive(Debug)]
pub(crate) struct Outputs {
    /// The policies a change concerns, to reconcile.
    pub refs: mpsc::Sender<ObjectRef<GuardianPolicy>>,
    /// A (re)list of a workload kind: every policy reconciled.
    pub relist: mpsc::Sender<()>,
    /// Objects to re-evaluate later (those fetched when their owner went away).
    pub requeue: mpsc::UnboundedSender<ObjectKey>,
}

/// One workload watch change, and whether it is a relist after its kind's first list.
#[derive(Debug)]
pub(crate) struct Watched {
    pub change: CacheChange,
    /// A later relist distrusts every kept result when the workload task reaches it: the changes
    /// queued before it are stale (the relist may have dropped or replaced their objects), so a
    /// policy evaluated in full before they are handled would take them into trusted results. A
    /// kind's first list was distrusted as it was cached, before the caches counted as synced.
    pub later_relist: bool,
}

/// One workload kind's watch changes, its relists after the first marked.
pub(crate) fn relists_marked(
    changes: impl Stream<Item = CacheChange>,
) -> impl Stream<Item = Watched> {
    let mut listed = false;
    changes.map(move |change| {
        let later_relist =
            matches!(change, CacheChange::Relisted) && std::mem::replace(&mut listed, true);
        Watched {
            change,
            later_relist,
        }
    })
}

/// How many watch changes wait, timestamped, for the workload task before the watches wait too.
const WAITING: usize = 4096;

/// The workload watches' changes, each with the moment its watch yielded it. The watches are
/// driven by their own task, so a change waiting behind earlier ones is timed from its arrival
/// (its queueing is part of the decision latency), not from when the workload task got to it.
pub(crate) fn timestamped(
    watches: impl Stream<Item = Watched> + Send + 'static,
    shutdown: CancellationToken,
) -> impl Stream<Item = (Watched, Option<Instant>)> + Unpin {
    stamped_by(watches, shutdown, Instant::now)
}

/// [`timestamped`] with its clock given (the tests read it).
fn stamped_by<T: Send + 'static>(
    watches: impl Stream<Item = T> + Send + 'static,
    shutdown: CancellationToken,
    now: impl Fn() -> Instant + Send + 'static,
) -> impl Stream<Item = (T, Option<Instant>)> + Unpin {
    let (mut tx, rx) = mpsc::channel(WAITING);
    tokio::spawn(async move {
        let mut watches = std::pin::pin!(watches);
        loop {
            let change = tokio::select! {
                () = shutdown.cancelled() => return,
                change = watches.next() => change,
            };
            let Some(change) = change else { return };
            let arrived = Some(now());
            // Closed: the workload task ended.
            if tx.send((change, arrived)).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// Runs until the changes end or the controller stops listening. `watches` are the workload
/// watches' changes, each with the moment the watch yielded it; `requeued` are keys of objects
/// to re-evaluate, read from the cache when handled.
pub(crate) async fn run(
    ctx: Arc<Context>,
    watches: impl Stream<Item = (Watched, Option<Instant>)> + Unpin,
    requeued_rx: mpsc::UnboundedReceiver<ObjectKey>,
    outputs: Outputs,
    shutdown: CancellationToken,
) {
    let mut changes = stream::select(
        watches,
        requeued_rx.filter_map({
            let workloads = ctx.workloads.clone();
            // Not from a watch event: not timed.
            move |key| {
                let change = requeued(&workloads, &key).map(|change| Watched {
                    change,
                    later_relist: false,
                });
                std::future::ready(change.map(|c| (c, None)))
            }
        }),
    );
    let Outputs {
        refs: mut refs_tx,
        relist: mut relist_tx,
        requeue: requeued_tx,
    } = outputs;
    let fetching = Arc::new(AtomicBool::new(false));
    while let Some((watched, received)) = changes.next().await {
        let sent = match watched.change {
            CacheChange::Relisted => {
                if watched.later_relist {
                    ctx.kept.invalidate_all();
                }
                relist_tx.send(()).await.is_ok()
            }
            CacheChange::Orphaned => {
                // One fetch at a time, after the garbage collector had its chance. The
                // objects fetched come back as changes, re-evaluated on their own.
                if !fetching.swap(true, Ordering::SeqCst) {
                    let (workloads, client) = (ctx.workloads.clone(), ctx.client.clone());
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

/// Whether an exception watch event reconciles every policy (`Some`), and whether it distrusts
/// every kept result (`Some(true)`: a relist).
pub(crate) fn exception_trigger(
    event: &Result<watcher::Event<GuardianException>, watcher::Error>,
) -> Option<bool> {
    match event {
        Ok(watcher::Event::InitDone) => Some(true),
        Ok(watcher::Event::Apply(_) | watcher::Event::Delete(_)) => Some(false),
        _ => None,
    }
}

/// A namespace watch change: a namespace whose labels changed has its objects requeued (no
/// trigger); a relist of the namespaces (`None`) reconciles every policy and distrusts every kept
/// result (`Some(true)`).
pub(crate) fn namespace_trigger(
    workloads: &WorkloadCache,
    requeue: &mpsc::UnboundedSender<ObjectKey>,
    change: Option<String>,
) -> Option<bool> {
    let relisted = match change {
        None => true,
        Some(namespace) => {
            for key in workloads.namespace_keys(&namespace) {
                // Closed only when the workload task ended: nothing left to do.
                let _ = requeue.unbounded_send(key);
            }
            false
        }
    };
    relisted.then_some(true)
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
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_change_waiting_behind_others_is_timed_from_its_watch_event() {
        // A clock that moves one second at each read: each stamp says which read it was.
        let start = Instant::now();
        let reads = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let clock = {
            let reads = reads.clone();
            move || start + Duration::from_secs(reads.fetch_add(1, Ordering::SeqCst))
        };
        let mut changes = stamped_by(
            stream::iter(["first", "second"]),
            CancellationToken::new(),
            clock,
        );
        // On this single-threaded runtime the watches' task yields both changes before the
        // first is handed over: the second is stamped as it arrives, while the workload task
        // is still busy with the first.
        let (_, first) = changes.next().await.expect("first change");
        assert_eq!(first, Some(start));
        assert_eq!(reads.load(Ordering::SeqCst), 2, "both stamped on arrival");
        let (_, second) = changes.next().await.expect("second change");
        assert_eq!(second, Some(start + Duration::from_secs(1)));
    }

    #[test]
    fn a_kinds_relists_after_its_first_list_are_marked() {
        let object = || CacheChange::Object {
            old: None,
            new: None,
        };
        let changes = [
            CacheChange::Relisted,
            object(),
            CacheChange::Relisted,
            CacheChange::Relisted,
        ];
        let marked: Vec<bool> =
            futures::executor::block_on_stream(relists_marked(stream::iter(changes)))
                .map(|w| w.later_relist)
                .collect();
        assert_eq!(marked, [false, false, true, true]);
    }

    #[tokio::test]
    async fn a_later_relist_distrusts_the_kept_results_when_the_task_reaches_it() {
        // Never contacted: no policy, and relists ask nothing of the API server.
        let config = kube::Config::new("http://127.0.0.1:9".parse().expect("url"));
        let client = kube::Client::try_from(config).expect("client");
        let ctx = Context::offline(client, tokio::sync::watch::channel(true).1);
        let (mut watches_tx, watches_rx) = mpsc::channel(4);
        let (refs, _refs_rx) = mpsc::channel(4);
        let (relist, mut relist_rx) = mpsc::channel(4);
        let (requeue, requeued_rx) = mpsc::unbounded();
        let task = tokio::spawn(run(
            ctx.clone(),
            watches_rx,
            requeued_rx,
            Outputs {
                refs,
                relist,
                requeue,
            },
            CancellationToken::new(),
        ));
        let epoch = ctx.kept.epoch();
        for later_relist in [false, true] {
            let relisted = Watched {
                change: CacheChange::Relisted,
                later_relist,
            };
            watches_tx.send((relisted, None)).await.expect("task runs");
            relist_rx.next().await.expect("every policy reconciled");
        }
        // The first list was distrusted as it was cached; the later relist in order, here, so
        // the changes queued before it were handled on results it then distrusted.
        assert_eq!(ctx.kept.epoch(), epoch + 1);
        task.abort();
    }

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
}
