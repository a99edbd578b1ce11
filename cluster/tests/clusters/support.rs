//! Shared by the ClusterSet tests: targets of real control planes, waiting on snapshots, objects.

use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::{ClusterOptions, ClusterSnapshot, ContextSelection, Target, kubeconfig};
use guardian_testenv::ControlPlane;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;

/// Generous: two or three control planes share two loaded cores.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Options for tests: quick publishing, a short backoff ceiling so a restarted cluster is
/// retried within seconds (the 1 s → 60 s bounds are the backoff's unit tests).
pub fn options() -> ClusterOptions {
    ClusterOptions {
        backoff_max: Duration::from_secs(4),
        publish_interval: Duration::from_millis(100),
        health_interval: Duration::from_secs(5),
        ..ClusterOptions::default()
    }
}

/// The current context of each kubeconfig file, read as `kube-guardian --kubeconfig a
/// --kubeconfig b --all-contexts` reads them.
pub fn targets(kubeconfigs: &[&std::path::Path]) -> Vec<Target> {
    kubeconfig::select(&ContextSelection {
        kubeconfigs: kubeconfigs.iter().map(|p| p.to_path_buf()).collect(),
        contexts: Vec::new(),
        all_contexts: true,
    })
    .expect("the kubeconfigs select")
}

/// Waits until the cluster's snapshot satisfies `condition`; on timeout, fails naming `what`
/// and showing the last snapshot's state and kinds.
pub async fn wait_for(
    receiver: &mut watch::Receiver<Arc<ClusterSnapshot>>,
    what: &str,
    condition: impl FnMut(&Arc<ClusterSnapshot>) -> bool,
) -> Arc<ClusterSnapshot> {
    let waited = tokio::time::timeout(DEADLINE, async {
        receiver.wait_for(condition).await.map(|s| Arc::clone(&s))
    })
    .await;
    match waited {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(_)) => panic!("the cluster's task ended while waiting for {what}"),
        Err(_) => {
            let last = receiver.borrow();
            panic!(
                "{what}: not within {DEADLINE:?}; last state of {}: {:?}\nkinds: {:?}",
                last.context, last.connection, last.kinds
            )
        }
    }
}

pub fn is(state: &str) -> impl Fn(&Arc<ClusterSnapshot>) -> bool + '_ {
    move |s| s.connection.state.name() == state
}

/// Whether the snapshot lists `namespace/name` of `kind` among its evaluated objects.
pub fn evaluates(snapshot: &ClusterSnapshot, kind: &str, namespace: &str, name: &str) -> bool {
    snapshot.evaluations.iter().any(|e| {
        e.resource.kind == kind
            && e.resource.namespace.as_deref() == Some(namespace)
            && e.resource.name == name
    })
}

pub fn pod(name: &str, privileged: bool) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"containers": [{
            "name": "app", "image": "nginx:1.27",
            "securityContext": {"privileged": privileged}
        }]}
    }))
    .expect("a Pod")
}

pub async fn create_pod(cp: &ControlPlane, namespace: &str, name: &str, privileged: bool) {
    Api::<Pod>::namespaced(cp.client().expect("admin client"), namespace)
        .create(&PostParams::default(), &pod(name, privileged))
        .await
        .expect("the Pod is created");
}
