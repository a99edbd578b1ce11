//! What the operator works on in the RBAC tests: policies, a privileged Pod, owners with their
//! children, and a PolicyReport from before reports were labelled.

use guardian_core::crd::GuardianPolicy;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::CronJob;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use serde_json::{Value, json};

use crate::support::apply;

pub(crate) async fn create_policy(client: &kube::Client, name: &str, ns: &str, enforcement: &str) {
    let policy: GuardianPolicy = serde_json::from_value(json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": name},
        "spec": {"enforcement": enforcement, "match": {"namespaces": [ns]},
                 "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("policy");
    Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy created");
}

/// A privileged Pod template.
fn template(restart: &str) -> Value {
    json!({
        "metadata": {"labels": {"app": "owned"}},
        "spec": {"restartPolicy": restart,
                 "containers": [{"name": "c", "image": "registry.example.com/c:1",
                                 "securityContext": {"privileged": true}}]}
    })
}

/// The three kinds the operator judges through their owner, each with a privileged owner:
/// a ReplicaSet's Pod, a Deployment's ReplicaSet and a CronJob's Job. Returns (owner kind,
/// owner name, child name) for each; the owners are what the audit counts.
pub(crate) async fn seed_owned(
    client: &kube::Client,
    ns: &str,
) -> Vec<(&'static str, String, String)> {
    let selector = json!({"matchLabels": {"app": "owned"}});
    let pairs = [
        (
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
            json!({"apiVersion": "v1", "kind": "Pod", "spec": template("Always")["spec"]}),
        ),
        (
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                   "spec": {"replicas": 1, "selector": selector, "template": template("Always")}}),
        ),
        (
            json!({"apiVersion": "batch/v1", "kind": "CronJob",
                   "spec": {"schedule": "0 0 1 1 *",
                            "jobTemplate": {"spec": {"template": template("Never")}}}}),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "spec": {"template": template("Never")}}),
        ),
    ];
    let mut seeded = Vec::new();
    for (mut owner, mut child) in pairs {
        let kind = ["ReplicaSet", "Deployment", "CronJob"]
            .into_iter()
            .find(|k| owner["kind"] == *k)
            .expect("an owner kind");
        let owner_name = format!("{}-owner", kind.to_lowercase());
        let child_name = format!(
            "{}-orphan",
            child["kind"].as_str().expect("kind").to_lowercase()
        );
        owner["metadata"] =
            json!({"name": owner_name, "namespace": ns, "labels": {"app": "owned"}});
        let created = apply(client, &owner, false).await.expect("owner created");
        child["metadata"] = json!({
            "name": child_name, "namespace": ns, "labels": {"app": "owned"},
            "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": kind,
                                 "name": owner_name, "uid": created["metadata"]["uid"],
                                 "controller": true}]
        });
        apply(client, &child, false)
            .await
            .expect("owned child created");
        seeded.push((kind, owner_name, child_name));
    }
    seeded
}

/// Deletes an owner (nothing garbage-collects its child here).
pub(crate) async fn delete_owner(client: &kube::Client, ns: &str, kind: &str, name: &str) {
    let params = DeleteParams::default();
    let result = match kind {
        "ReplicaSet" => Api::<ReplicaSet>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
        "Deployment" => Api::<Deployment>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
        _ => Api::<CronJob>::namespaced(client.clone(), ns)
            .delete(name, &params)
            .await
            .map(|_| ()),
    };
    result.expect("owner deleted");
}

/// A PolicyReport named like the operator's, without its label, with only its results.
pub(crate) fn legacy_report(namespace: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
        "metadata": {"name": "kube-guardian", "namespace": namespace},
        "results": [{"source": "kube-guardian", "policy": "gone", "rule": "pss-privileged",
                     "result": "fail"}]
    }))
    .expect("report")
}
