//! What a snapshot holds besides the evaluation, on a cluster with kube-controller-manager: the
//! objects of a Deployment are judged through it (its ReplicaSet and Pods are not listed again),
//! the operator's Lease is found, PolicyReports and Warning Events about policies are counted.

use guardian_cluster::{ClusterSet, ClusterSnapshot};
use guardian_testenv::ControlPlane;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::json;

use crate::support::{create_pod, evaluates, options, targets, wait_for};

async fn create<K>(api: Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).expect("a valid object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("the object is created");
}

fn in_namespace(snapshot: &ClusterSnapshot, ns: &str) -> Vec<String> {
    snapshot
        .evaluations
        .iter()
        .filter(|e| e.resource.namespace.as_deref() == Some(ns))
        .map(|e| format!("{}/{}", e.resource.kind, e.resource.name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_objects_are_judged_through_their_owner_and_operator_objects_are_read() {
    let cp = ControlPlane::builder()
        .context_name("objects")
        .use_existing_cluster(false)
        .with_controller_manager()
        .start()
        .await
        .expect("the control plane starts");
    guardian_testenv::demo::install_crds(&cp)
        .await
        .expect("the CRDs install");
    let client = cp.client().expect("admin client");
    let ns = cp.create_namespace("objects").await.expect("namespace");

    create(
        Api::<Deployment>::namespaced(client.clone(), &ns),
        json!({
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}
                }
            }
        }),
    )
    .await;
    create(
        Api::<Lease>::namespaced(client.clone(), &ns),
        json!({
            "metadata": {"name": "kube-guardian-operator"},
            "spec": {"holderIdentity": "operator-0", "leaseDurationSeconds": 15}
        }),
    )
    .await;
    let reports = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", "PolicyReport"),
        "policyreports",
    );
    create(
        Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &reports),
        json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
            "metadata": {"name": "report"},
            "results": []
        }),
    )
    .await;
    // Events about a cluster-scoped object live in `default`, as the operator's do.
    create(
        Api::<Event>::namespaced(client.clone(), "default"),
        json!({
            "metadata": {"name": guardian_testenv::unique_name("policy-broken")},
            "type": "Warning", "reason": "InvalidPolicy", "message": "a rule does not compile",
            "involvedObject": {
                "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
                "kind": "GuardianPolicy", "name": "broken"
            }
        }),
    )
    .await;

    // The Deployment's Pods exist before the check below, so their watch events come first.
    let pods = Api::<Pod>::namespaced(client.clone(), &ns);
    let deadline = tokio::time::Instant::now() + crate::support::DEADLINE;
    while pods
        .list(&ListParams::default().labels("app=web"))
        .await
        .expect("pods")
        .items
        .len()
        < 2
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Deployment makes Pods"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    create_pod(&cp, &ns, "solo", false).await;

    let set = ClusterSet::start(targets(&[cp.kubeconfig_path()]), options());
    let mut rx = set.subscribe().remove(0);
    let snapshot = wait_for(&mut rx, "synced with the solo Pod", |s| {
        s.connection.state.is_live() && evaluates(s, "Pod", &ns, "solo")
    })
    .await;
    let mut listed = in_namespace(&snapshot, &ns);
    listed.sort();
    assert_eq!(listed, ["Deployment/web", "Pod/solo"]);
    let lease = snapshot.lease.as_ref().expect("the operator's Lease");
    assert_eq!(
        lease
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.as_deref()),
        Some("operator-0")
    );
    assert_eq!(snapshot.policy_reports, Some(1));
    assert_eq!(snapshot.warning_events, Some(1));
    // The console shows the Warning Events themselves.
    let warning = snapshot
        .warnings
        .first()
        .expect("the Warning Event, read whole");
    assert_eq!(
        (warning.reason.as_deref(), warning.message.as_deref()),
        (Some("InvalidPolicy"), Some("a rule does not compile"))
    );
}
