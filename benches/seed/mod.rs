//! Seeding a local control plane for the scale benches (scan_scale, operator_scale,
//! tui_memory): namespaces `bench-N`, Pods `pod-NNNNN` spread over them, and GuardianPolicies
//! from their specs. Each bench includes it with `mod seed;`.

use futures::{StreamExt, stream};
use guardian_core::crd::GuardianPolicy;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Client;
use kube::api::{Api, PostParams};

/// The Pods the benches create: every third privileged, every other on a `latest` tag.
/// `extra` adds a `team` label and two env vars (larger objects, the operator's bench).
pub fn pod(i: usize, extra: bool) -> Pod {
    let privileged = i.is_multiple_of(3);
    let mut labels = serde_json::json!({"app.kubernetes.io/name": format!("app-{}", i % 50)});
    let mut container = serde_json::json!({
        "name": "app",
        "image": if i.is_multiple_of(2) { "registry.example.com/app:1.2.3" } else { "nginx:latest" },
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        "securityContext": {"privileged": privileged, "runAsNonRoot": !privileged}
    });
    if extra {
        labels["team"] = "bench".into();
        container["env"] = serde_json::json!([{"name": "MODE", "value": "bench"}, {"name": "INDEX", "value": i.to_string()}]);
    }
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i:05}"), "labels": labels},
        "spec": {"containers": [container]}
    }))
    .expect("pod JSON")
}

/// GuardianPolicies from `(name, spec)` pairs.
pub fn policies(
    specs: impl IntoIterator<Item = (&'static str, serde_json::Value)>,
) -> Vec<GuardianPolicy> {
    specs
        .into_iter()
        .map(|(name, spec)| {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
                "metadata": {"name": name}, "spec": spec
            }))
            .expect("policy JSON")
        })
        .collect()
}

/// Creates the policies.
pub async fn create_policies(client: &Client, policies: Vec<GuardianPolicy>) {
    for policy in policies {
        Api::<GuardianPolicy>::all(client.clone())
            .create(&PostParams::default(), &policy)
            .await
            .expect("policy");
    }
}

/// Creates namespaces `bench-0` .. `bench-{namespaces-1}` and `count` Pods `pod(i, extra)`
/// spread over them, 32 requests in flight.
pub async fn create_pods(client: &Client, count: usize, namespaces: usize, extra: bool) {
    for n in 0..namespaces {
        let ns: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("bench-{n}")}}))
                .expect("ns");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
    }
    stream::iter(0..count)
        .map(|i| {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), &format!("bench-{}", i % namespaces));
            async move {
                api.create(&PostParams::default(), &pod(i, extra))
                    .await
                    .expect("pod created")
            }
        })
        .buffer_unordered(32)
        .for_each(|_| async {})
        .await;
}
