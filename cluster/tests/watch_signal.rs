//! The watch caches tell their owner how they are doing: `Listed` after each complete list,
//! `Failed` with the watcher's error (here a 403) while the watcher retries.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use guardian_cluster::cache::{
    InitialList, NamespaceCache, WatchSignal, WorkloadCache, watch_kind, workload_resources,
};
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::watcher;
use tokio::sync::mpsc;

/// Generous: the CI machine has two loaded cores.
const DEADLINE: Duration = Duration::from_secs(90);

/// What a signal said, owned, so that it can cross a channel.
#[derive(Debug, PartialEq)]
enum Heard {
    Listed,
    /// The HTTP status of the failure, when the API server answered one.
    Failed(Option<u16>),
}

fn status_code(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

/// A signal callback forwarding to a channel, and its receiving end.
fn recorder() -> (
    impl FnMut(WatchSignal<'_>) + Send + 'static,
    mpsc::UnboundedReceiver<Heard>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let signal = move |signal: WatchSignal<'_>| {
        let _ = tx.send(match signal {
            WatchSignal::Listed => Heard::Listed,
            WatchSignal::Failed(e) => Heard::Failed(status_code(e)),
        });
    };
    (signal, rx)
}

/// Polls a watch stream in the background (the watch only runs while polled).
fn drive<S: Stream + Send + 'static>(stream: S) -> tokio::task::JoinHandle<()> {
    tokio::spawn(stream.for_each(|_| std::future::ready(())))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Heard>) -> Heard {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a signal within the deadline")
        .expect("the watch is still running")
}

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    }))
    .expect("a Pod")
}

#[tokio::test]
async fn a_workload_watch_signals_listed_once_its_objects_are_cached() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace("signal").await.expect("namespace");
    Api::<Pod>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &pod("web"))
        .await
        .expect("the Pod is created");

    let cache = Arc::new(WorkloadCache::default());
    let pods = workload_resources()
        .into_iter()
        .find(|ar| ar.kind == "Pod")
        .expect("Pods are a workload kind");
    let (signal, mut heard) = recorder();
    let task = drive(watch_kind(
        client,
        pods,
        InitialList::Paged,
        cache.clone(),
        signal,
    ));

    assert_eq!(next(&mut heard).await, Heard::Listed);
    // Listed comes after the list is in the cache, not before.
    let cached = cache.snapshot().iter().any(|o| {
        o.value().is_some_and(|v| {
            v["metadata"]["namespace"] == ns.as_str() && v["metadata"]["name"] == "web"
        })
    });
    assert!(
        cached,
        "the listed Pod is in the cache when Listed is signalled"
    );
    task.abort();
}

#[tokio::test]
async fn watches_without_list_rights_signal_forbidden_failures_and_keep_retrying() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    // A user RBAC grants nothing.
    let client = cp
        .client_for_user("signal-nobody", &[])
        .await
        .expect("a client for the user");

    let pods = workload_resources().remove(0);
    let (signal, mut heard) = recorder();
    let workload_task = drive(watch_kind(
        client.clone(),
        pods,
        InitialList::Paged,
        Arc::new(WorkloadCache::default()),
        signal,
    ));
    assert_eq!(next(&mut heard).await, Heard::Failed(Some(403)));
    // The watcher retries with backoff and says so again.
    assert_eq!(next(&mut heard).await, Heard::Failed(Some(403)));
    workload_task.abort();

    let (signal, mut heard) = recorder();
    let namespace_task = drive(Arc::new(NamespaceCache::default()).watch(client, signal));
    assert_eq!(next(&mut heard).await, Heard::Failed(Some(403)));
    namespace_task.abort();
}

#[tokio::test]
async fn a_namespace_watch_signals_listed_with_the_labels_cached() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    let ns = cp.create_namespace("signal-ns").await.expect("namespace");
    let cache = Arc::new(NamespaceCache::default());
    let (signal, mut heard) = recorder();
    let task = drive(cache.clone().watch(cp.client().expect("client"), signal));

    assert_eq!(next(&mut heard).await, Heard::Listed);
    use guardian_core::engine::NamespaceLabels;
    assert_eq!(
        cache.with_labels(&ns, &mut |_| true),
        Some(true),
        "the namespace is known when Listed is signalled"
    );
    task.abort();
}
