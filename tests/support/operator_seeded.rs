//! A namespace for the process tests' operator to find a violation in.

use guardian_testenv::ControlPlane;
use guardian_testenv::policy::TestPolicy;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

/// A namespace holding one privileged Pod, and the policy `<ns>-policy` finding it.
pub async fn seeded(cp: &ControlPlane, prefix: &str) -> (kube::Client, String, String) {
    cp.install_crds().await.expect("CRDs");
    let client = cp.client().expect("client");
    let ns = cp.create_namespace(prefix).await.expect("namespace");
    create_privileged_pod(&client, &ns, "privileged").await;
    let policy = format!("{ns}-policy");
    TestPolicy::new(&policy)
        .namespaces([&ns])
        .rules(["pss-privileged"])
        .created(&client)
        .await;
    (client, ns, policy)
}

/// Creates the privileged Pod `name` in `ns`.
pub async fn create_privileged_pod(client: &kube::Client, ns: &str, name: &str) {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
            "securityContext": {"privileged": true}}]}
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
}
