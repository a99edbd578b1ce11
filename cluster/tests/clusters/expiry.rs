//! An exception that expires turns its findings into violations at its expiry, with no other
//! change in the cluster (nothing but the clock says so).

use std::time::Duration;

use guardian_cluster::{ClusterOptions, ClusterSet, ClusterSnapshot};
use guardian_core::crd::{GuardianException, GuardianPolicy};
use guardian_core::model::Outcome;
use guardian_testenv::ControlPlane;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;

use crate::support::{create_pod, is, options, targets, wait_for};

/// The outcome of the Pod's `pss-privileged` finding by `policy`, if it is in the snapshot. Of
/// that policy: other tests' policies in the shared control plane (the examples' restricted one)
/// find the same, and the exception waives none of theirs.
fn outcome(
    snapshot: &ClusterSnapshot,
    policy: &str,
    namespace: &str,
    pod: &str,
) -> Option<&'static str> {
    snapshot
        .evaluations
        .iter()
        .filter(|e| e.resource.namespace.as_deref() == Some(namespace) && e.resource.name == pod)
        .flat_map(|e| e.findings.iter())
        .find(|f| f.rule_id() == "pss-privileged" && f.policy() == policy)
        .map(|f| match f.outcome {
            Outcome::Skip { .. } => "skip",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
        })
}

#[tokio::test]
async fn an_expired_exception_stops_waiving_at_its_expiry_without_any_other_change() {
    let cp = ControlPlane::shared()
        .await
        .expect("the control plane starts");
    cp.install_crds().await.expect("CRDs");
    let ns = cp.create_namespace("expiry").await.expect("namespace");
    let client = cp.client().expect("admin client");
    let policy: GuardianPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": guardian_testenv::unique_name("expiry")},
        "spec": {"enforcement": "Audit", "match": {"namespaces": [ns]}, "profiles": ["pss-baseline"]}
    }))
    .expect("a policy");
    let policy = Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("the policy is created");
    let name = policy
        .metadata
        .name
        .clone()
        .expect("a created policy has its name");
    create_pod(cp, &ns, "agent", true).await;

    // Probed far more often than it evaluates, the task's loop keeps coming around without
    // evaluating, as on a busy cluster: the expiry's wake-up must survive that.
    let options = ClusterOptions {
        health_interval: Duration::from_millis(30),
        ..options()
    };
    let set = ClusterSet::start(targets(&[cp.kubeconfig_path()]), options);
    let mut receiver = set.subscribe().remove(0);
    // Synced first, however long that takes on a loaded machine: the exception's expiry is then
    // counted from when it can be seen at once.
    wait_for(&mut receiver, "the violation before the exception", |s| {
        is("Synced")(s) && outcome(s, &name, &ns, "agent") == Some("fail")
    })
    .await;

    // Whole seconds: that is what the API server keeps of a metav1.Time.
    let expires =
        Timestamp::from_second((Timestamp::now() + SignedDuration::from_secs(30)).as_second())
            .expect("a time");
    let exception: GuardianException = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianException",
        "metadata": {"name": "privileged-until-soon", "namespace": ns},
        "spec": {
            "policy": name, "rules": ["pss-privileged"],
            "resources": {"kinds": ["Pod"], "names": ["agent"]},
            "owner": "team-a", "justification": "migrating",
            "expiresAt": expires.to_string()
        }
    }))
    .expect("an exception");
    Api::<GuardianException>::namespaced(client, &ns)
        .create(&PostParams::default(), &exception)
        .await
        .expect("the exception is created");
    // Only an evaluation before the expiry waives; when the test sees it does not matter.
    wait_for(&mut receiver, "the waived finding", |s| {
        outcome(s, &name, &ns, "agent") == Some("skip")
    })
    .await;
    let failed = wait_for(&mut receiver, "the violation after the expiry", |s| {
        outcome(s, &name, &ns, "agent") == Some("fail")
    })
    .await;
    let seen = Timestamp::now();
    assert!(
        seen >= expires,
        "a violation at {seen}, before the expiry at {expires}: {:?}",
        failed
            .evaluations
            .iter()
            .filter(|e| e.resource.name == "agent")
            .collect::<Vec<_>>()
    );
    set.shutdown();
}
