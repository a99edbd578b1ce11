//! The Pod most tests find a violation in: one container, privileged (`pss-privileged`).

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};

/// The privileged Pod `name`.
pub fn privileged(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
            "securityContext": {"privileged": true}}]}
    }))
    .expect("a Pod from a literal")
}

/// Creates the privileged Pod `name` in `namespace`.
///
/// # Panics
///
/// When the API server refuses it, as a test assertion.
pub async fn create_privileged(client: &kube::Client, namespace: &str, name: &str) {
    Api::<Pod>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &privileged(name))
        .await
        .unwrap_or_else(|e| panic!("creating the privileged Pod {namespace}/{name}: {e}"));
}
