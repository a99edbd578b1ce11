//! Server-side dry runs against the testenv API server: what it would store for a manifest.

use guardian_core::workload::WorkloadKind;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::Value;

/// The API path of a namespaced collection, for the workload kinds (core's list) and ConfigMaps.
pub fn collection(kind: &str, namespace: &str) -> String {
    let (prefix, api_version, plural) =
        match WorkloadKind::ALL.into_iter().find(|k| k.kind() == kind) {
            Some(k) if k.group().is_empty() => ("api", k.api_version(), k.plural()),
            Some(k) => ("apis", k.api_version(), k.plural()),
            None if kind == "ConfigMap" => ("api", "v1", "configmaps"),
            None => ("api", "v1", "pods"),
        };
    format!("/{prefix}/{api_version}/namespaces/{namespace}/{plural}")
}

/// What the API server would store for `body` (a dry-run create with strict field validation,
/// what `kubectl apply` sends by default), or its error.
pub async fn dry_run(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    body: Vec<u8>,
    content_type: &str,
) -> Result<Value, String> {
    let uri = format!(
        "{}?dryRun=All&fieldValidation=Strict",
        collection(kind, namespace)
    );
    let request = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| e.to_string())?;
    client
        .request::<Value>(request)
        .await
        .map_err(|e| e.to_string())
}

/// Creates the namespace (if missing) and its `default` ServiceAccount, which Pod admission
/// needs (the shared control plane runs no controller-manager to create it).
pub async fn ensure_namespace(client: &kube::Client, name: &str) {
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"kube-guardian.dev/testenv": "true"}}
    }))
    .expect("namespace object");
    ignore_conflict(
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await,
    );
    let account: ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}}))
            .expect("service account object");
    ignore_conflict(
        Api::<ServiceAccount>::namespaced(client.clone(), name)
            .create(&PostParams::default(), &account)
            .await,
    );
}

fn ignore_conflict<T>(result: kube::Result<T>) {
    match result {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(e) => panic!("creating a test object: {e}"),
    }
}
